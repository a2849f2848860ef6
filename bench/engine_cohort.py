"""The warning-sign engine measured on five independently made synthetic cohorts, in one command.

    python bench/engine_cohort.py [--generator main|alt|ema|blind|blind2|both|all] [--graduates 1000] [--days 120]
                                  [--seed 7] [--rules RULES.json] [--strictness S]

Generates each cohort (``bench/cohort.py``; ``bench/cohort_alt.py``, designed apart so that an
engine fitted to the first shows it on the second; ``bench/cohort_ema.py``, written from published
descriptions of daily-diary and lapse data and held out while the engine was changed; and
``bench/cohort_blind.py``, written by a helper who never read the engine, its tests or the other
generators, from the issue's description of the population and the literature; and
``bench/cohort_blind2.py``, written the same way by another helper from the relapse-process and
EMA literature, told only what the earlier generators already covered) in a child
process, so its memory is not counted, replays it with the backtest in this process, and scores the
alert events against the truth: how many prodromal lapses were flagged ahead and how often a day
with no lapse coming would look "flagged" by chance, the alert burden overall and by kind of
graduate, how fast dropouts were noticed, that every lapse and safety answer alerted on its day,
and the replay's speed and peak memory. (``both`` is main and alt, ``all`` adds ema, blind and blind2.)
It ends with one table: each cohort against issue 20's targets, met or not.
``--strictness`` moves every early-sign threshold along ``aftercare calibrate``'s one scale (0: the
rules as given; up: stricter; down: looser), to trace what more flags would cost in burden.
The cohort is synthetic: these figures say how the engine behaves on the generator's idea of a
prodrome, not on people. Thresholds must not be tuned to this generator.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from aftercare.rules.aggregates import Aggregates, CheckinFacts, fold
from aftercare.rules.backtest import parse_history, replay_graduate, run_backtest
from aftercare.rules.calibrate import tighten
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder
from aftercare.rules.engine import WINDOW_DAYS, PlanFacts, assess

LEAD_DAYS = 7
DROPOUT_DAYS = 3
# Issue 20's targets for the program defaults: the share of prodromal lapses flagged ahead, the
# alert burden, and how much more often wide but steady graduates are alerted than steady ones.
TARGET_FLAGGED = 0.80
TARGET_BURDEN = 2.0
TARGET_NOISY_OVER_STABLE = 1.5
MAX_COST_RATIO = 1.2
EARLY_EXCLUDED = {"lapse", "safety"}


class Event(msgspec.Struct):
    graduate: str
    local_date: date
    rule: str
    severity: str
    event: str
    reasons: list[str]


class Targets(msgspec.Struct):
    """One cohort's figures that issue 20's targets are read on (None: the cohort has none)."""

    flagged: float | None
    flagged_without_silence: float | None
    burden: float
    noisy_over_stable: float | None
    noisy_over_stable_answers: float | None
    # Lapses and safety answers alerted on their day, dropouts by silence within DROPOUT_DAYS.
    all_caught: bool

    def row(self, name: str) -> str:
        def met(ok: bool) -> str:
            return "met" if ok else "NOT MET"

        def share(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.1f}%"

        def ratio(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f}x"

        flagged = f"{share(self.flagged)} ({share(self.flagged_without_silence)})"
        flagged_met = self.flagged is not None and self.flagged >= TARGET_FLAGGED
        noisy = f"{ratio(self.noisy_over_stable)} ({ratio(self.noisy_over_stable_answers)})"
        noisy_met = self.noisy_over_stable is not None and self.noisy_over_stable <= TARGET_NOISY_OVER_STABLE
        return (
            f"{name:8} {flagged:>16} {met(flagged_met):8} {self.burden:6.3f} "
            f"{met(self.burden <= TARGET_BURDEN):8} {noisy:>15} {met(noisy_met):8} {met(self.all_caught)}"
        )


def _print_targets(targets: dict[str, Targets]) -> None:
    print(
        f"issue 20's targets: >= {TARGET_FLAGGED:.0%} of prodromal lapses flagged 1-{LEAD_DAYS} days ahead "
        f"(in brackets: not counting silence), <= {TARGET_BURDEN} alerts per graduate-month, noisy-but-stable "
        f"graduates <= {TARGET_NOISY_OVER_STABLE}x stable ones (in brackets: not counting silence), and every "
        f"lapse and safety answer alerted on its day and every dropout by silence within {DROPOUT_DAYS} days"
    )
    print(
        f"{'cohort':8} {'flagged ahead':>16} {'':8} {'burden':>6} {'':8} {'noisy/stable':>15} {'':8} caught"
    )
    for name, figures in targets.items():
        print(figures.row(name))


class Truth(msgspec.Struct):
    graduate: str
    archetype: str
    lapses: list[dict[str, Any]]
    dropout_last_checkin: date | None
    safety_days: list[date]


# Whether a graduate's report of a rule on a day reached an alert (``_run_cohort``).
Reached = Callable[[str, str, date], bool]


class _Start(msgspec.Struct):
    graduate: str
    start_date: date


def _share(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100 * hits / total:.1f}%" if total else "n/a (none in cohort)"


GENERATORS = {
    "main": "cohort.py",
    "alt": "cohort_alt.py",
    "ema": "cohort_ema.py",
    "blind": "cohort_blind.py",
    "blind2": "cohort_blind2.py",
}
CHOICES = {"both": ("main", "alt"), "all": ("main", "alt", "ema", "blind", "blind2")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score the warning-sign engine on synthetic cohorts")
    parser.add_argument("--generator", choices=(*GENERATORS, *CHOICES), default="all")
    parser.add_argument("--graduates", type=int, default=1000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--resolve-after-days", type=int, default=2)
    parser.add_argument("--rules", type=Path, help="a GET /v1/program/rules body (default: program defaults)")
    parser.add_argument(
        "--strictness", type=float, default=0.0, help="move the early-sign thresholds along calibrate's scale"
    )
    parser.add_argument("--skip-microbench", action="store_true", help="skip the assess cost micro-bench")
    args = parser.parse_args(argv)
    rules = rules_decoder.decode(args.rules.read_bytes()) if args.rules else DEFAULT_RULES
    if args.strictness:
        rules = tighten(rules, args.strictness)
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(
        f"command: {' '.join(['python', 'bench/engine_cohort.py', *(sys.argv[1:] if argv is None else argv)])}"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    print("These cohorts are SYNTHETIC: the figures describe a generator's idea of a prodrome, not people.")
    generators = CHOICES.get(args.generator, (args.generator,))
    targets: dict[str, Targets] = {}
    for name in generators:
        print()
        figures = _run_cohort(name, args, rules)
        if figures is None:
            return 1
        targets[name] = figures
    print()
    _print_targets(targets)
    if not args.skip_microbench:
        print()
        if not _microbench(rules):
            return 1
    return 0


def _run_cohort(name: str, args: argparse.Namespace, rules: ProgramRules) -> Targets | None:
    """Generate (in a child process, so its memory is not counted), replay, score. None on error."""
    with tempfile.TemporaryDirectory() as tmp:
        cohort_path, truth_path, events_path = (Path(tmp) / n for n in ("c.jsonl", "t.jsonl", "e.jsonl"))
        generator = Path(__file__).with_name(GENERATORS[name])
        subprocess.run(
            [
                *(sys.executable, str(generator), "--graduates", str(args.graduates)),
                *("--days", str(args.days), "--seed", str(args.seed)),
                *("--out", str(cohort_path), "--truth", str(truth_path)),
            ],
            check=True,
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu_started = time.perf_counter(), time.process_time()
        with cohort_path.open(encoding="utf-8") as lines, events_path.open("w", encoding="utf-8") as out:
            summary = run_backtest(
                lines,
                source_name=cohort_path.name,
                rules=rules,
                resolve_after_days=args.resolve_after_days,
                out=out,
            )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if summary.errors:
            print("\n".join(summary.errors[:20]), file=sys.stderr)
            return None
        events: dict[str, list[Event]] = defaultdict(list)
        decoder = msgspec.json.Decoder(Event)
        with events_path.open("rb") as f:
            for line in f:
                event = decoder.decode(line)
                events[event.graduate].append(event)
        truth_decoder = msgspec.json.Decoder(Truth)
        truths = [truth_decoder.decode(line) for line in truth_path.read_bytes().splitlines()]
        start_decoder = msgspec.json.Decoder(_Start)
        starts: dict[str, date] = {}
        offsets: dict[str, int] = {}
        with cohort_path.open("rb") as f:  # line by line: the file is tens of megabytes
            for offset, line in _lines_at(f):
                start = start_decoder.decode(line)
                starts[start.graduate], offsets[start.graduate] = start.start_date, offset

        def reached(graduate: str, rule: str, day: date) -> bool:
            """Whether ``day``'s report of ``rule`` reached an alert: the events above hold only
            openings and raises, so a late-synced report added to an alert already open (opened by a
            later day's report that arrived first) is looked up by replaying that one graduate."""
            with cohort_path.open("rb") as f:
                f.seek(offsets[graduate])
                history = parse_history(f.readline().decode(), where=graduate, seen=set())
            assert not isinstance(history, list)
            changes = replay_graduate(history, rules, args.resolve_after_days)
            return any(c.rule == rule and c.local_date == day for c in changes)

        print(
            f"== cohort {name} (bench/{GENERATORS[name]}): {args.graduates} graduates x {args.days} days, "
            f"seed {args.seed} (synthetic)"
        )
        print(summary.text(), end="")
        print(
            f"replay: {elapsed:.2f} s wall, {cpu:.2f} s CPU, "
            f"{summary.graduate_days / elapsed:,.0f} graduate-days/s"
        )
        print(f"peak RSS: {peak_rss_mib:.1f} MiB (process, before replay {rss_before / 1024:.1f} MiB)")
        return _score(
            truths,
            events,
            starts,
            args.days,
            args.resolve_after_days,
            reached,
            summary.alerts_per_graduate_month,
        )


def _lines_at(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Each line of ``f`` with the offset it starts at."""
    offset = f.tell()
    for line in iter(f.readline, b""):
        yield offset, line
        offset += len(line)


def _microbench(rules: ProgramRules) -> bool:
    """``assess`` with 1,000 days of folded history against a history that just fills the window
    (BASELINES.md: "10 days" read as a full window): both windows hold 28 check-ins."""

    def history(days: int) -> tuple[list[CheckinFacts], Aggregates]:
        rng = random.Random(days)
        start = date(2024, 1, 1)
        checkins = [
            CheckinFacts(
                local_date=start + timedelta(days=i),
                mood=rng.randint(2, 5),
                craving=rng.randint(0, 6),
                stress=rng.randint(1, 7),
                sleep_hours=rng.choice((6.0, 7.0, 8.0)),
                attended_support=rng.random() < 0.85,
                took_medication=rng.random() < 0.95,
                isolating=rng.random() < 0.1,
            )
            for i in range(days)
        ]
        aggregates = Aggregates()
        for checkin in checkins[:-1]:
            aggregates = fold(aggregates, checkin)
        return checkins[-WINDOW_DAYS:], aggregates

    plan = PlanFacts.from_counts(medications=1, sessions_per_week=3)
    timings: dict[int, float] = {}
    for days in (1000, WINDOW_DAYS):
        window, aggregates = history(days)
        runs = []
        for _ in range(7):
            started = time.process_time()
            for _ in range(2000):
                assess(window, aggregates, plan, rules)
            runs.append((time.process_time() - started) / 2000)
        timings[days] = min(runs)
    ratio = timings[1000] / timings[WINDOW_DAYS]
    print(
        f"assess cost: 1,000 days of history {timings[1000] * 1e6:.1f} us, a history that fills the "
        f"{WINDOW_DAYS}-day window {timings[WINDOW_DAYS] * 1e6:.1f} us: ratio {ratio:.2f} (target <= {MAX_COST_RATIO})"
    )
    return ratio <= MAX_COST_RATIO


def _alerted(
    mine: list[Event], rule: str, day: date, resolve_after_days: int, reached: Reached, graduate: str
) -> bool:
    """An event of ``rule`` on ``day``, or its alert already open at critical from the days before
    (a safety answer the day after another updates the open critical alert: nothing to open or raise),
    or else the report added to an alert of its rule that was open when it arrived (``reached``)."""
    if any(e.rule == rule and e.local_date == day for e in mine):
        return True
    since = day - timedelta(days=resolve_after_days - 1)
    if any(e.rule == rule and e.severity == "critical" and since <= e.local_date < day for e in mine):
        return True
    return reached(graduate, rule, day)


def _score(
    truths: list[Truth],
    events: dict[str, list[Event]],
    starts: dict[str, date],
    days: int,
    resolve_after_days: int,
    reached: Reached,
    burden: float,
) -> Targets:
    flagged: Counter[str] = Counter()
    total: Counter[str] = Counter()
    flagged_no_silence = 0
    flagged_no_silence_by_kind: Counter[str] = Counter()
    early_rules: Counter[str] = Counter()
    by_signal_hit: Counter[str] = Counter()
    by_signal_total: Counter[str] = Counter()
    lapse_days = lapse_alerted = safety_days = safety_alerted = 0
    dropouts = dropouts_flagged = 0
    never_lapsing_days = never_lapsing_opened = 0
    by_kind_hit: Counter[str] = Counter()
    by_kind_total: Counter[str] = Counter()
    archetype_days: Counter[str] = Counter()
    archetype_opened: Counter[str] = Counter()
    archetype_opened_no_silence: Counter[str] = Counter()
    chance_days = chance_flagged = chance_flagged_no_silence = 0
    for truth in truths:
        mine = events.get(truth.graduate, [])
        first = starts[truth.graduate]
        archetype_days[truth.archetype] += days
        archetype_opened[truth.archetype] += sum(e.event == "opened" for e in mine)
        archetype_opened_no_silence[truth.archetype] += sum(
            e.event == "opened" and e.rule != "silence" for e in mine
        )
        for lapse in truth.lapses:
            day = date.fromisoformat(lapse["local_date"])
            kind = lapse["kind"]
            lapse_days += 1
            lapse_alerted += _alerted(mine, "lapse", day, resolve_after_days, reached, truth.graduate)
            if kind == "follow_on":
                continue  # follows a lapse that already alerted; not a test of early warning
            ahead = [
                e
                for e in mine
                if e.rule not in EARLY_EXCLUDED and day - timedelta(days=LEAD_DAYS) <= e.local_date < day
            ]
            total[kind] += 1
            flagged[kind] += bool(ahead)
            flagged_no_silence_by_kind[kind] += any(e.rule != "silence" for e in ahead)
            if kind == "prodromal":
                flagged_no_silence += any(e.rule != "silence" for e in ahead)
                early_rules.update({e.rule for e in ahead})
                signals = len(lapse["signals"])
                for label in (f"{signals} signal{'s' if signals > 1 else ''}", lapse.get("shape")):
                    if label:
                        by_kind_total[label] += 1
                        by_kind_hit[label] += bool(ahead)
                for signal in lapse["signals"]:
                    by_signal_total[signal] += 1
                    by_signal_hit[signal] += bool(ahead)
        for day in truth.safety_days:
            safety_days += 1
            safety_alerted += _alerted(mine, "safety", day, resolve_after_days, reached, truth.graduate)
        if truth.dropout_last_checkin is not None:
            last = truth.dropout_last_checkin
            dropouts += 1
            dropouts_flagged += any(
                e.rule == "silence"
                and e.event == "opened"
                and last < e.local_date <= last + timedelta(days=3)
                for e in mine
            )
        if not truth.lapses:
            never_lapsing_days += days
            never_lapsing_opened += sum(e.event == "opened" for e in mine)
            if truth.dropout_last_checkin is None:
                # Chance level: how often a day with no lapse coming has an early-sign event in the
                # 7 days before it, as a lapse that day would have been "flagged" (from day 28 on).
                for offset in range(28, days):
                    chance_days += 1
                    window = [
                        e
                        for e in mine
                        if e.rule not in EARLY_EXCLUDED
                        and 1 <= (first + timedelta(days=offset) - e.local_date).days <= LEAD_DAYS
                    ]
                    chance_flagged += bool(window)
                    chance_flagged_no_silence += any(e.rule != "silence" for e in window)

    print(
        f"prodromal lapses flagged 1-{LEAD_DAYS} days ahead: {_share(flagged['prodromal'], total['prodromal'])}"
    )
    print(f"  of which by a rule other than silence: {_share(flagged_no_silence, total['prodromal'])}")
    print(f"  rules firing ahead: {dict(early_rules.most_common())}")
    for signal in sorted(by_signal_total):
        print(
            f"  prodromes carrying {signal}: {_share(by_signal_hit[signal], by_signal_total[signal])} flagged"
        )
    for label in sorted(by_kind_total):
        print(f"  prodromes, {label}: {_share(by_kind_hit[label], by_kind_total[label])} flagged")
    print(
        "chance level, days with no lapse coming (never-lapsing graduates, day 28 on) with an event in the "
        f"{LEAD_DAYS} days before: {_share(chance_flagged, chance_days)}; without silence: "
        f"{_share(chance_flagged_no_silence, chance_days)}"
    )
    print(f"lapses without prodrome flagged ahead: {_share(flagged['sudden'], total['sudden'])}")
    print(
        "  of which by a rule other than silence: "
        f"{_share(flagged_no_silence_by_kind['sudden'], total['sudden'])}"
    )
    noisy_over_stable = noisy_over_stable_answers = None
    per_archetype = ", ".join(
        f"{a} {archetype_opened[a] / (archetype_days[a] / 30):.2f}" for a in sorted(archetype_days)
    )
    print(f"alerts opened per graduate-month by archetype: {per_archetype}")
    if archetype_opened["stable"] and archetype_days["noisy"]:
        # Issue 20's target: wide but steady graduates alarm at most 1.5x as often as steady ones.
        noisy = archetype_opened["noisy"] / archetype_days["noisy"]
        stable = archetype_opened["stable"] / archetype_days["stable"]
        # Without silence: what the answers alone cost, apart from a generator's missed days.
        noisy_answers = archetype_opened_no_silence["noisy"] / archetype_days["noisy"]
        stable_answers = archetype_opened_no_silence["stable"] / archetype_days["stable"]
        answers = f"{noisy_answers / stable_answers:.2f}x" if stable_answers else "n/a"
        noisy_over_stable = noisy / stable
        noisy_over_stable_answers = noisy_answers / stable_answers if stable_answers else None
        print(
            f"noisy-but-stable over stable graduates, alerts opened: {noisy / stable:.2f}x "
            f"(not counting silence: {answers})"
        )
    months = never_lapsing_days / 30
    rate = never_lapsing_opened / months if months else 0.0
    print(f"alerts opened per graduate-month, never-lapsing graduates: {rate:.3f}")
    print(f"dropouts with silence opened within {DROPOUT_DAYS} days: {_share(dropouts_flagged, dropouts)}")
    print(f"lapses alerted on their day (or added to their open alert): {_share(lapse_alerted, lapse_days)}")
    print(
        f"safety answers alerted on their day (or added to their open alert): {_share(safety_alerted, safety_days)}"
    )
    prodromal = total["prodromal"]
    return Targets(
        flagged=flagged["prodromal"] / prodromal if prodromal else None,
        flagged_without_silence=flagged_no_silence / prodromal if prodromal else None,
        burden=burden,
        noisy_over_stable=noisy_over_stable,
        noisy_over_stable_answers=noisy_over_stable_answers,
        all_caught=(lapse_alerted, safety_alerted, dropouts_flagged) == (lapse_days, safety_days, dropouts),
    )


if __name__ == "__main__":
    sys.exit(main())
