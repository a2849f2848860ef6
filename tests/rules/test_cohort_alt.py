"""The second, independently designed cohort generator: seeded, valid backtest input, truth consistent."""

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

cohort_alt = load_bench("cohort_alt.py")
Pair = tuple[dict[str, Any], dict[str, Any]]


def _write(graduates: int, days: int, seed: int) -> tuple[str, str]:
    out, truth = io.StringIO(), io.StringIO()
    cohort_alt.write_cohort(graduates, days, seed, out, truth)
    return out.getvalue(), truth.getvalue()


def test_same_seed_same_bytes_other_seed_other_cohort() -> None:
    first = _write(20, 60, seed=7)
    assert first == _write(20, 60, seed=7)
    assert first[0] != _write(20, 60, seed=8)[0]


@pytest.fixture(scope="module")
def generated() -> list[Pair]:
    return [cohort_alt.graduate(5, i, 120) for i in range(300)]


def test_it_differs_where_it_was_meant_to(generated: list[Pair]) -> None:
    kinds = Counter(truth["archetype"] for _, truth in generated)
    assert {"stable", "noisy", "chronic", "prodromal", "sudden", "dropout", "fading"} <= set(kinds)
    prodromes = [lapse for _, t in generated for lapse in t["lapses"] if lapse["kind"] == "prodromal"]
    assert any(len(p["signals"]) == 1 for p in prodromes)
    assert {p["shape"] for p in prodromes} == {"gradual", "step"}
    leads = {
        (date.fromisoformat(p["local_date"]) - date.fromisoformat(p["prodrome_start"])).days
        for p in prodromes
    }
    assert min(leads) <= 4 and max(leads) >= 14
    # Some people answer the optional sleep question only on some days.
    partial = [
        h
        for h, _ in generated
        if 0 < sum("sleep_hours" in c for c in h["checkins"]) < len(h["checkins"]) * 0.7
    ]
    assert partial
    # Offline stretches: check-ins synced two or more days late (whatever the zone).
    assert any(
        (datetime.fromisoformat(c["received_at"]).date() - date.fromisoformat(c["local_date"])).days >= 2
        for h, _ in generated
        for c in h["checkins"]
        if "received_at" in c
    )


def test_truth_matches_the_history(generated: list[Pair]) -> None:
    for history, truth in generated:
        by_day = assert_truth_matches(
            history, truth, dropouts=("dropout", "fading"), never_lapsing=("chronic",)
        )
        if truth["archetype"] in ("dropout", "fading"):
            assert_arrives_on_its_day(history, by_day[max(by_day)])
