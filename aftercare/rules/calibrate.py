"""Calibrate the program rules on the clinic's own history: the most sensitive early-sign thresholds
whose replayed alert burden stays within a target.

    aftercare calibrate COHORT.jsonl --target-burden B [--rules BASE.json] [--out RULES.json]
                        [--resolve-after-days N] [--workers N]

A counselor keeps reading alerts only while there are few enough of them, and how many a set of
thresholds opens depends on the population it meets. So a program replays its own (consented,
de-identified) histories, in the backtest's input format, and lets this command choose thresholds:

- **What moves.** Only the early-sign rules (craving_rising, mood_falling, support_dropoff,
  medication_missed, isolation, triggers_without_coping, combined), all together along one scale,
  ``strictness`` (``tighten``): 0 is the base rules; each step up multiplies every threshold in
  spreads (z-scores, strengths, scores, slopes) by ``1 + strictness`` and every "fire only if this
  unlikely" chance by ``10 ** (-2 * strictness)``; down (to ``MIN_STRICTNESS``) loosens the same
  way. Values stay within the rules body's bounds. One scale keeps the rules' balance as the
  program set it, and the answer explainable in one number.
- **What never moves.** ``lapse``, ``safety`` and ``silence`` are copied from the base rules,
  enabled or not, thresholds unchanged: they alert on what was reported or on a missed heartbeat,
  and no burden target may quiet them. What they open alone is the floor: a target below it cannot
  be reached, and the command says so (exit status 1) without writing rules.
- **The search.** The burden must not exceed the target; among the strictnesses on a grid of
  ``1/GRID`` that keep it there, the lowest (the most sensitive) is chosen, by bisection (the
  burden falls as thresholds tighten; the chosen rules are replayed, so the target holds for them
  whatever the shape). If even the strictest thresholds open too many, the early-sign rules are
  switched off, with a warning, when that reaches the target.
- **Deterministic.** The same input gives the same rules, byte for byte.
- **Memory for one graduate.** The history is checked in full once, then read again from the file
  for each replay (``Cohort``), so a program's years of check-ins need not fit in memory: reading
  costs about a tenth of a replay.
- **Every core.** Graduates are replayed independently, so each replay is shared among ``--workers``
  processes (default: the cores this process may use), each reading the file and replaying every
  n-th graduate; their figures are added (``Summary.add``), so the rules and the report are the
  same whatever the number of workers.

The chosen rules go to ``--out`` (or stdout): the body of ``PUT /v1/program/rules``. Stderr gets the
backtest's figures for them (burden overall and per rule, alerts per counselor-week at a caseload
of 60, the share of the history's own lapse episodes flagged 1-7 days ahead, and the share of
alerts followed by a reported use within 7 days), with the strictness and the floor. Bad input is
refused exactly as by ``aftercare backtest``: exit status 2, each problem as ``FILE:LINE: FIELD:
message``, nothing written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from aftercare.rules.backtest import (
    DEFAULT_RESOLVE_AFTER_DAYS,
    Cohort,
    CohortChanged,
    History,
    Summary,
    available_cores,
    load_rules,
    replay_events,
    worker_pool,
)
from aftercare.rules.config import ProgramRules
from aftercare.rules.engine import EARLY_SIGN_RULES

MIN_STRICTNESS = -0.3
MAX_STRICTNESS = 3.0
GRID = 64
EXIT_UNREACHABLE = 1
EXIT_BAD_INPUT = 2
PROTECTED = ("lapse", "safety", "silence")


def _scaled(value: float, factor: float, low: float, high: float) -> float:
    """``value * factor`` within the field's bounds, rounded for a reader: spreads to 0.01, chances
    (below 0.1) to two significant digits."""
    scaled = min(high, max(low, value * factor))
    digits = 2 if scaled >= 0.1 else 1 - math.floor(math.log10(scaled))
    return min(high, max(low, round(scaled, digits)))


def tighten(rules: ProgramRules, strictness: float) -> ProgramRules:
    """``rules`` with every early-sign threshold moved ``strictness`` along the scale (0: as given;
    up: stricter; down: looser); lapse, safety and silence untouched, ``enabled`` flags kept."""
    f = 1 + strictness
    chance = 10 ** (-2 * strictness)
    r = rules.rules
    c = r.craving_rising
    z_warning = _scaled(c.z_warning, f, 0.5, 8.0)
    craving = msgspec.structs.replace(
        c,
        z_warning=z_warning,
        z_high=max(z_warning, _scaled(c.z_high, f, 0.5, 8.0)),
        trend_slope=_scaled(c.trend_slope, f, 0.1, 3.0),
        trend_z=_scaled(c.trend_z, f, 0.5, 8.0),
        absolute_max_chance=_scaled(c.absolute_max_chance, chance, 1e-6, 0.5),
    )
    m = r.mood_falling
    mood = msgspec.structs.replace(
        m,
        z_warning=_scaled(m.z_warning, f, 0.5, 8.0),
        absolute_max_chance=_scaled(m.absolute_max_chance, chance, 1e-6, 0.5),
    )
    b = r.combined
    score_warning = _scaled(b.score_warning, f, 0.5, 24.0)
    combined = msgspec.structs.replace(
        b,
        signal_min=_scaled(b.signal_min, f, 0.1, 3.0),
        score_warning=score_warning,
        score_high=max(score_warning, _scaled(b.score_high, f, 0.5, 24.0)),
        single_strength=_scaled(b.single_strength, f, 0.5, 24.0),
    )
    new = msgspec.structs.replace(
        r,
        craving_rising=craving,
        mood_falling=mood,
        support_dropoff=msgspec.structs.replace(
            r.support_dropoff, max_chance=_scaled(r.support_dropoff.max_chance, chance, 1e-6, 0.5)
        ),
        medication_missed=msgspec.structs.replace(
            r.medication_missed, max_chance=_scaled(r.medication_missed.max_chance, chance, 1e-6, 0.5)
        ),
        isolation=msgspec.structs.replace(
            r.isolation, max_chance=_scaled(r.isolation.max_chance, chance, 1e-6, 0.5)
        ),
        triggers_without_coping=msgspec.structs.replace(
            r.triggers_without_coping,
            max_chance=_scaled(r.triggers_without_coping.max_chance, chance, 1e-6, 0.5),
        ),
        combined=combined,
    )
    return msgspec.structs.replace(rules, rules=new)


def without_early_signs(rules: ProgramRules) -> ProgramRules:
    """``rules`` with every early-sign rule switched off: what lapse, safety and silence open alone."""
    r = rules.rules
    off = {name: msgspec.structs.replace(getattr(r, name), enabled=False) for name in EARLY_SIGN_RULES}
    return msgspec.structs.replace(rules, rules=msgspec.structs.replace(r, **off))


def replay_all(histories: Iterable[History], rules: ProgramRules, resolve_after_days: int) -> Summary:
    """The backtest's summary of ``histories`` under ``rules`` (events counted, not kept)."""
    summary = Summary()
    opened: Counter[str] = Counter()
    for history in histories:
        replay_events(history, rules, resolve_after_days, summary, opened)
    summary.opened = dict(opened)
    return summary


@contextmanager
def replays(cohort: Cohort, resolve_after_days: int, workers: int) -> Iterator[Replay]:
    """Replays of ``cohort`` shared among ``workers`` processes, for as long as the context lasts
    (one pool for every replay of a calibration: a process starts in about a second)."""
    if workers == 1:
        yield lambda rules: replay_all(cohort, rules, resolve_after_days)
        return
    with worker_pool(workers) as pool:

        def replay(rules: ProgramRules) -> Summary:
            shares = [
                pool.submit(_replay_share, cohort.path, share, workers, rules, resolve_after_days)
                for share in range(workers)
            ]
            total = Summary()
            for share in shares:
                total.add(share.result())
            return total

        yield replay


def _replay_share(
    path: Path, share: int, shares: int, rules: ProgramRules, resolve_after_days: int
) -> Summary:
    """In a worker process: every ``shares``-th graduate of the file, from the ``share``-th."""
    return replay_all(Cohort(path).share(share, shares), rules, resolve_after_days)


class Choice(msgspec.Struct):
    """The calibrated rules, how they were found, and their figures."""

    rules: ProgramRules
    summary: Summary
    strictness: float | None
    """None: the early-sign rules had to be switched off."""
    floor: Summary
    base: Summary


Replay = Callable[[ProgramRules], Summary]
"""The history replayed under the given rules (``replays``)."""


def calibrate(replay: Replay, base: ProgramRules, target: float) -> Choice | Summary:
    """The loosest rules on the scale whose replayed burden is at most ``target`` alerts per
    graduate-month; the floor's summary when not even lapse, safety and silence alone fit."""
    floor = replay(without_early_signs(base))
    if floor.alerts_per_graduate_month > target:
        return floor
    tried: dict[int, Summary] = {}

    def burden(step: int) -> float:
        if step not in tried:
            tried[step] = replay(tighten(base, step / GRID))
        return tried[step].alerts_per_graduate_month

    low, high = round(MIN_STRICTNESS * GRID), round(MAX_STRICTNESS * GRID)
    if burden(0) <= target:
        # Within the target as given: how much looser may it be?
        fits, too_many = 0, None
        if burden(low) <= target:
            fits = low
        else:
            too_many = low
    else:
        if burden(high) > target:
            off = without_early_signs(base)
            return Choice(rules=off, summary=floor, strictness=None, floor=floor, base=tried[0])
        fits, too_many = high, 0
    # Invariant: burden(fits) <= target < burden(too_many); the answer lies between them.
    while too_many is not None and abs(fits - too_many) > 1:
        middle = (fits + too_many) // 2
        if burden(middle) <= target:
            fits = middle
        else:
            too_many = middle
    return Choice(
        rules=tighten(base, fits / GRID),
        summary=tried[fits],
        strictness=fits / GRID,
        floor=floor,
        base=tried[0],
    )


def _report(choice: Choice, target: float) -> str:
    floor = choice.floor
    protected = ", ".join(f"{rule} {floor.per_graduate_month(rule):.3f}" for rule in PROTECTED)
    if choice.strictness is None:
        how = (
            "the early-sign rules are SWITCHED OFF: even their strictest thresholds open more than the "
            "target; only lapse, safety and silence remain"
        )
    elif choice.strictness == 0:
        how = "strictness 0: the base rules as given (looser ones open more than the target)"
    else:
        direction = "stricter" if choice.strictness > 0 else "looser"
        how = (
            f"strictness {choice.strictness:+.3f} ({direction} than the base rules: thresholds in spreads "
            f"x{1 + choice.strictness:.3f}, chances x{10 ** (-2 * choice.strictness):.3g})"
        )
    return (
        f"target: at most {target:g} alerts per graduate-month\n"
        f"base rules: {choice.base.alerts_per_graduate_month:.3f} alerts per graduate-month\n"
        f"floor (lapse, safety and silence alone, never changed): "
        f"{floor.alerts_per_graduate_month:.3f} ({protected})\n"
        f"chosen: {how}\n" + choice.summary.text()
    )


def main(argv: list[str] | None = None) -> int:
    """``aftercare calibrate``: exit 0 with the rules written, 1 if the target is below what lapse,
    safety and silence open alone (nothing written), 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="aftercare calibrate",
        description="Choose early-sign thresholds whose replayed burden on a history is within a target.",
    )
    parser.add_argument("cohort", type=Path, help="JSON Lines, one graduate a line (the backtest's input)")
    parser.add_argument(
        "--target-burden", type=float, required=True, help="alerts per graduate-month, at most"
    )
    parser.add_argument("--rules", type=Path, help="base rules: body of GET /v1/program/rules")
    parser.add_argument("--out", type=Path, help="where to write the rules body (default: stdout)")
    parser.add_argument("--resolve-after-days", type=int, default=DEFAULT_RESOLVE_AFTER_DAYS)
    parser.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="processes to replay with (default: every core)",
    )
    args = parser.parse_args(argv)
    if not math.isfinite(args.target_burden) or args.target_burden <= 0:
        print("--target-burden: must be a number > 0", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.resolve_after_days < 1:
        print("--resolve-after-days: must be >= 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.workers < 1:
        print("--workers: must be >= 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    base = load_rules(args.rules)
    if isinstance(base, str):
        print(base, file=sys.stderr)
        return EXIT_BAD_INPUT
    cohort = Cohort(args.cohort)
    problems = cohort.problems()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with replays(cohort, args.resolve_after_days, args.workers) as replay:
            found = calibrate(replay, base, args.target_burden)
    except CohortChanged as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(found, Summary):
        protected = ", ".join(f"{rule} {found.per_graduate_month(rule):.3f}" for rule in PROTECTED)
        print(
            f"target {args.target_burden:g} alerts per graduate-month cannot be reached without changing "
            f"lapse, safety or silence: they alone open {found.alerts_per_graduate_month:.3f} per "
            f"graduate-month on this history ({protected}). No rules written.",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    body = msgspec.json.format(msgspec.json.encode(found.rules), indent=2) + b"\n"
    if args.out is None:
        sys.stdout.buffer.write(body)
    else:
        _write_atomically(args.out, body)
    print(_report(found, args.target_burden), end="", file=sys.stderr)
    return 0


def _write_atomically(path: Path, body: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".calibrate-", suffix=".json", dir=path.resolve().parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
