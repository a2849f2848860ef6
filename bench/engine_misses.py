"""Why prodromes are missed: how far each prodrome's last week sits from the person's normal.

    python bench/engine_misses.py [--generator main|alt|ema] [--graduates 400] [--days 120]
                                  [--seed 21] [--rules RULES.json]

Generates one cohort (as ``engine_cohort.py`` does), replays it with the backtest, and for every
prodromal lapse measures, scale by scale, the mean of the answers of the 7 days before the lapse in
the person's own spreads (warning side positive) against two normals: the baseline as it stood the
day before the prodrome began (clean: it holds none of the prodrome) and the baseline the day before
the lapse (what the engine had, the prodrome folded in). It prints the quartiles of the largest such
deviation for the prodromes flagged 1-7 days ahead by a rule other than lapse, safety or silence and
for those that were not, with the prodromes' lengths and answered days: how much of a prodrome the
baseline absorbs before the lapse, and how weak the missed ones are even against a clean normal.
Synthetic, as every cohort here: it explains the engine's behaviour on a generator's prodromes.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import msgspec
from engine_cohort import GENERATORS, Event, Truth

from aftercare.rules.aggregates import (
    CRAVING,
    MOOD,
    SLEEP,
    STRESS,
    Aggregates,
    CheckinFacts,
    Measure,
    baseline,
    fold,
)
from aftercare.rules.backtest import History, parse_history, run_backtest
from aftercare.rules.config import DEFAULT_RULES, rules_decoder

LEAD_DAYS = 7
SCALES: tuple[tuple[Measure, Callable[[CheckinFacts], float | None]], ...] = (
    (CRAVING, lambda c: c.craving),
    (MOOD, lambda c: c.mood),
    (STRESS, lambda c: c.stress),
    (SLEEP, lambda c: c.sleep_hours),
)
DIRECTION = {"craving": 1, "mood": -1, "stress": 1, "sleep": -1}


class Prodrome(msgspec.Struct, frozen=True):
    flagged: bool
    length: int
    answered: int
    clean: float
    absorbed: float


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="How far missed prodromes sit from the person's normal")
    parser.add_argument("--generator", choices=tuple(GENERATORS), default="ema")
    parser.add_argument("--graduates", type=int, default=400)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--rules", type=Path, help="a GET /v1/program/rules body (default: program defaults)")
    args = parser.parse_args(argv)
    rules = rules_decoder.decode(args.rules.read_bytes()) if args.rules else DEFAULT_RULES
    with tempfile.TemporaryDirectory() as tmp:
        cohort_path, truth_path = Path(tmp) / "c.jsonl", Path(tmp) / "t.jsonl"
        subprocess.run(
            [
                *(sys.executable, str(Path(__file__).with_name(GENERATORS[args.generator]))),
                *("--graduates", str(args.graduates), "--days", str(args.days), "--seed", str(args.seed)),
                *("--out", str(cohort_path), "--truth", str(truth_path)),
            ],
            check=True,
        )
        lines = cohort_path.read_text(encoding="utf-8").splitlines()
        truths = [msgspec.json.decode(line, type=Truth) for line in truth_path.read_bytes().splitlines()]
    out = io.StringIO()
    run_backtest(lines, source_name="cohort", rules=rules, resolve_after_days=2, out=out)
    events: dict[str, list[Event]] = defaultdict(list)
    for line in out.getvalue().splitlines():
        event = msgspec.json.decode(line, type=Event)
        events[event.graduate].append(event)
    seen: set[str] = set()
    histories: dict[str, History] = {}
    for number, line in enumerate(lines):
        parsed = parse_history(line, where=str(number), seen=seen)
        assert isinstance(parsed, History)
        histories[parsed.graduate] = parsed
    prodromes = [
        p
        for truth in truths
        for lapse in truth.lapses
        if lapse["kind"] == "prodromal"
        and (p := _measure(histories[truth.graduate], events[truth.graduate], lapse)) is not None
    ]
    print(
        f"cohort {args.generator}, {args.graduates} graduates x {args.days} days, seed {args.seed} (synthetic): "
        f"{len(prodromes)} prodromal lapses, {sum(p.flagged for p in prodromes)} flagged ahead by a rule "
        "other than lapse, safety or silence"
    )
    print(
        "largest scale deviation of the 7 days before the lapse, in spreads (10/25/50/75/90th percentiles):"
    )
    for label, group in (
        ("flagged", [p for p in prodromes if p.flagged]),
        ("missed", [p for p in prodromes if not p.flagged]),
    ):
        print(f"  {label} ({len(group)}):")
        print(f"    against the normal before the prodrome: {_quantiles([p.clean for p in group])}")
        print(f"    against the normal the day before the lapse: {_quantiles([p.absorbed for p in group])}")
        print(f"    prodrome length in days: {_quantiles([float(p.length) for p in group])}")
        print(
            f"    days answered of the {LEAD_DAYS} before: {_quantiles([float(p.answered) for p in group])}"
        )
    return 0


def _measure(history: History, mine: list[Event], lapse: dict[str, object]) -> Prodrome | None:
    day = date.fromisoformat(str(lapse["local_date"]))
    began = date.fromisoformat(str(lapse["prodrome_start"]))
    lead = day - timedelta(days=LEAD_DAYS)
    flagged = any(e.rule not in ("lapse", "safety", "silence") and lead <= e.local_date < day for e in mine)
    coping = history.plan.trigger_coping if history.plan else {}
    checkins = sorted((a.checkin for a in history.arrivals), key=lambda c: c.local_date)
    aggregates, clean, absorbed = Aggregates(), None, None
    for checkin in checkins:
        if clean is None and checkin.local_date >= began:
            clean = aggregates
        if checkin.local_date >= day:
            absorbed = aggregates
            break
        aggregates = fold(aggregates, checkin, trigger_coping=coping)
    if clean is None or absorbed is None:
        return None
    last = [c for c in checkins if lead <= c.local_date < day]
    deviations: list[tuple[float, float]] = []
    for measure, value in SCALES:
        answers = [v for c in last if (v := value(c)) is not None]
        before, now = (
            baseline(getattr(clean, measure.name), measure),
            baseline(getattr(absorbed, measure.name), measure),
        )
        if not answers or before is None or now is None:
            continue
        mean, sign = statistics.fmean(answers), DIRECTION[measure.name]
        deviations.append((sign * (mean - before.mean) / before.sd, sign * (mean - now.mean) / now.sd))
    if not deviations:
        return None
    return Prodrome(
        flagged=flagged,
        length=(day - began).days,
        answered=len(last),
        clean=max(d[0] for d in deviations),
        absorbed=max(d[1] for d in deviations),
    )


def _quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    return ", ".join(f"{ordered[int(q * (len(ordered) - 1))]:.2f}" for q in (0.1, 0.25, 0.5, 0.75, 0.9))


if __name__ == "__main__":
    sys.exit(main())
