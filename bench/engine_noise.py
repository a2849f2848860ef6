"""Does the engine judge each person against their own noise? False alarms and detection per family.

    python bench/engine_noise.py [--graduates 80] [--rules RULES.json]

The cohorts of ``engine_cohort.py`` mix many kinds of people; this bench isolates one question per
noise family. For each family it draws graduates who never lapse (a null history: every early-sign
alert is a false alarm) and counts early-sign alerts opened per graduate-month; then it draws the
same kinds of people with a prodrome injected before day 100 (two measures sliding 1.5 of their own
spreads, or one measure 2.5, over 5-14 days) and counts how often an early-sign alert opened or rose
in the 7 days before. A well-calibrated engine alarms about as often for every family (a wide,
heavy-tailed or slow-swinging person is as "normal" as a steady one) and finds a shift measured in
the person's own spread about as well.

Families (each person: daily check-ins with 8% missed at random, 120 days, answers rounded to the
app's scales): ``iid`` normal days; ``wide`` 1.7x wider; ``ar.5`` and ``ar.7w`` days correlated
0.5 (and 0.7, 1.4x wider) with the day before; ``t3`` and ``t3w`` Student-t(3) days (and 1.7x wider);
``skew`` craving near 0 (floored); ``weekly`` a weekend rise in craving and sleep; ``factor`` the
four measures moving together towards their warning sides (correlation 0.49); ``drift`` a slow benign drift of 1.5 spreads over
the 120 days towards the warning side; ``coarse`` craving and stress answered in even numbers.
Synthetic, and simple on purpose: it measures calibration, not realism.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aftercare.rules.backtest import History, parse_history, replay_graduate
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder

START = date(2026, 1, 5)
DAYS = 120
LAPSE_DAY = 100
LEAD_DAYS = 7
NOT_EARLY = {"lapse", "safety", "silence"}
FAMILIES: dict[str, dict[str, Any]] = {
    "iid": {},
    "wide": {"scale": 1.7},
    "ar.5": {"rho": 0.5},
    "ar.7w": {"rho": 0.7, "scale": 1.4},
    "t3": {"t": True},
    "t3w": {"t": True, "scale": 1.7},
    "skew": {"skew": True},
    "weekly": {"weekly": 1.2},
    "factor": {"factor": 0.7},
    "drift": {"drift": 1.5},
    "coarse": {"coarse": True},
}
SHIFTS = {"two measures 1.5": (("craving", "mood"), 1.5), "one measure 2.5": (("stress",), 2.5)}
DIRECTION = {"craving": 1, "mood": -1, "stress": 1, "sleep": -1}
LOW = {"craving": 0, "mood": 1, "stress": 0, "sleep": 0}
HIGH = {"craving": 10, "mood": 5, "stress": 10, "sleep": 14}


def _t3(rng: random.Random) -> float:
    chi = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
    return rng.gauss(0, 1) / math.sqrt(chi / 3) / math.sqrt(3)


def history(rng: random.Random, family: str, shift: tuple[tuple[str, ...], int, float] | None) -> History:
    """One graduate of ``family``; ``shift``: (measures, days, spreads) of a prodrome ending at day 100."""
    f = FAMILIES[family]
    scale, rho = f.get("scale", 1.0), f.get("rho", 0.0)
    means = {
        "craving": rng.uniform(0.3, 1.0) if f.get("skew") else rng.uniform(1.5, 4.0),
        "mood": rng.uniform(3.2, 4.0),
        "stress": rng.uniform(2.5, 5.0),
        "sleep": rng.uniform(6.2, 7.8),
    }
    spreads = {
        "craving": rng.uniform(1.2, 2.0) if f.get("skew") else rng.uniform(0.9, 1.5) * scale,
        "mood": rng.uniform(0.45, 0.7) * scale,
        "stress": rng.uniform(0.9, 1.5) * scale,
        "sleep": rng.uniform(0.5, 0.9) * scale,
    }
    state = dict.fromkeys(means, 0.0)
    common = 0.0
    checkins = []
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        common = rho * common + math.sqrt(1 - rho * rho) * rng.gauss(0, 1)
        values = {}
        for m in means:
            noise = _t3(rng) if f.get("t") else rng.gauss(0, 1)
            state[m] = rho * state[m] + math.sqrt(1 - rho * rho) * noise
            z = state[m]
            if "factor" in f:
                # One underlying state (negative affect) pushes every measure towards its warning side.
                z = DIRECTION[m] * f["factor"] * common + math.sqrt(1 - f["factor"] ** 2) * state[m]
            x = means[m] + spreads[m] * z
            if "weekly" in f and day.weekday() >= 5 and m in ("craving", "sleep"):
                x += f["weekly"] * spreads[m]
            if "drift" in f:
                x += DIRECTION[m] * f["drift"] * spreads[m] * offset / DAYS
            if shift is not None:
                measures, length, size = shift
                if m in measures and LAPSE_DAY - length <= offset < LAPSE_DAY:
                    x += DIRECTION[m] * size * spreads[m] * (offset - (LAPSE_DAY - length) + 1) / length
            values[m] = min(HIGH[m], max(LOW[m], x))
        if rng.random() < 0.08:
            continue
        coarse = f.get("coarse", False)

        def answer(m: str, values: dict[str, float] = values, coarse: bool = coarse) -> float:
            if m == "sleep":
                return round(values[m] * 2) / 2
            if coarse and m in ("craving", "stress"):
                return int(2 * round(values[m] / 2))
            return round(values[m])

        checkins.append(
            {
                "local_date": day.isoformat(),
                "mood": answer("mood"),
                "craving": answer("craving"),
                "stress": answer("stress"),
                "sleep_hours": answer("sleep"),
                "used": False,
                "safety_concern": False,
                "isolating": rng.random() < 0.08,
            }
        )
    line = {
        "graduate": "x",
        "timezone": "America/Chicago",
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=DAYS - 1)).isoformat(),
        "checkins": checkins,
    }
    parsed = parse_history(json.dumps(line), where="x", seen=set())
    assert isinstance(parsed, History), parsed
    return parsed


def measure(rules: ProgramRules, graduates: int) -> dict[str, tuple[float, dict[str, float]]]:
    """Per family: false early-sign alerts per graduate-month, and the share of each shift detected."""
    results = {}
    for family in FAMILIES:
        rng = random.Random(f"null:{family}")
        opened = 0
        for _ in range(graduates):
            changes = replay_graduate(history(rng, family, None), rules, 2)
            opened += sum(c.kind == "opened" and c.rule not in NOT_EARLY for c in changes)
        rng = random.Random(f"shift:{family}")
        found = dict.fromkeys(SHIFTS, 0)
        lapse = START + timedelta(days=LAPSE_DAY)
        for _ in range(graduates):
            for label, (measures, size) in SHIFTS.items():
                length = rng.choice((5, 7, 10, 14))
                changes = replay_graduate(history(rng, family, (measures, length, size)), rules, 2)
                found[label] += any(
                    c.kind in ("opened", "raised")
                    and c.rule not in NOT_EARLY
                    and 1 <= (lapse - c.local_date).days <= LEAD_DAYS
                    for c in changes
                )
        results[family] = (opened / (graduates * DAYS / 30), {k: v / graduates for k, v in found.items()})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="False alarms and detection per noise family")
    parser.add_argument("--graduates", type=int, default=80, help="per family (and per shift)")
    parser.add_argument("--rules", type=Path, help="a GET /v1/program/rules body (default: program defaults)")
    args = parser.parse_args(argv)
    rules = rules_decoder.decode(args.rules.read_bytes()) if args.rules else DEFAULT_RULES
    started = time.process_time()
    results = measure(rules, args.graduates)
    print(f"{'family':8} {'false alerts/month':>18}  " + "  ".join(f"{k:>16}" for k in SHIFTS))
    for family, (rate, found) in results.items():
        print(f"{family:8} {rate:18.3f}  " + "  ".join(f"{found[k]:16.2f}" for k in SHIFTS))
    rates = [rate for rate, _ in results.values()]
    means = {k: sum(found[k] for _, found in results.values()) / len(results) for k in SHIFTS}
    print(
        f"mean {sum(rates) / len(rates):.3f}, worst {max(rates):.3f}, worst/best {max(rates) / min(rates):.1f}; "
        + ", ".join(f"{k} found {v:.2f}" for k, v in means.items())
        + f" ({time.process_time() - started:.0f} s CPU)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
