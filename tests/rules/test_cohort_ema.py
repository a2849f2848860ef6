"""The third cohort generator (written from published descriptions of EMA and lapse data): seeded,
valid backtest input, truth consistent with the histories, and the features it was written to have."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, datetime
from typing import Any

import pytest

from tests.rules.bench_modules import (
    assert_arrives_on_its_day,
    assert_truth_matches,
    load_bench,
)

cohort_ema = load_bench("cohort_ema.py")
Pair = tuple[dict[str, Any], dict[str, Any]]


def _write(graduates: int, days: int, seed: int) -> tuple[str, str]:
    out, truth = io.StringIO(), io.StringIO()
    cohort_ema.write_cohort(graduates, days, seed, out, truth)
    return out.getvalue(), truth.getvalue()


def test_same_seed_same_bytes_other_seed_other_cohort() -> None:
    first = _write(20, 60, seed=7)
    assert first == _write(20, 60, seed=7)
    assert first[0] != _write(20, 60, seed=8)[0]


def test_a_graduate_does_not_depend_on_how_many_are_generated() -> None:
    assert cohort_ema.graduate(7, 3, 120) == cohort_ema.graduate(7, 3, 120)
    assert _write(5, 60, seed=7)[0].splitlines()[:3] == _write(3, 60, seed=7)[0].splitlines()


@pytest.fixture(scope="module")
def generated() -> list[Pair]:
    return [cohort_ema.graduate(5, i, 120) for i in range(300)]


def test_it_has_what_it_was_written_to_have(generated: list[Pair]) -> None:
    kinds = Counter(truth["archetype"] for _, truth in generated)
    assert {"stable", "noisy", "drifting", "rhythmic", "prodromal", "sudden", "dropout"} <= set(kinds)
    prodromes = [lapse for _, t in generated for lapse in t["lapses"] if lapse["kind"] == "prodromal"]
    assert {p["shape"] for p in prodromes} == {"ramp", "step", "widening"}
    leads = {
        (date.fromisoformat(p["local_date"]) - date.fromisoformat(p["prodrome_start"])).days
        for p in prodromes
    }
    assert min(leads) <= 4 and max(leads) >= 18
    assert any(lapse["kind"] == "follow_on" for _, t in generated for lapse in t["lapses"])
    # Days missed at personal rates, and check-ins synced days late.
    answered = [len(h["checkins"]) / 120 for h, t in generated if t["archetype"] == "stable"]
    assert min(answered) < 0.8 < max(answered)
    assert any(
        (datetime.fromisoformat(c["received_at"]).date() - date.fromisoformat(c["local_date"])).days >= 2
        for h, _ in generated
        for c in h["checkins"]
        if "received_at" in c
    )
    # Some answer coarsely (even craving only).
    assert any(all(c["craving"] % 2 == 0 for c in h["checkins"]) for h, _ in generated)


def test_truth_matches_the_history(generated: list[Pair]) -> None:
    for history, truth in generated:
        by_day = assert_truth_matches(
            history, truth, never_lapsing=("stable", "noisy", "drifting", "rhythmic", "dropout")
        )
        if truth["archetype"] == "dropout":
            assert_arrives_on_its_day(history, by_day[max(by_day)])
