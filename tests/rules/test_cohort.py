"""The synthetic cohort generator: seeded, in the backtest's format, its ground truth consistent."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest

from aftercare.plans.schemas import plan_body_decoder
from aftercare.plans.validation import validate_plan
from tests.rules.bench_modules import load_bench

cohort = load_bench("cohort.py")


def _write(graduates: int, days: int, seed: int) -> tuple[str, str]:
    out, truth = io.StringIO(), io.StringIO()
    cohort.write_cohort(graduates, days, seed, out, truth)
    return out.getvalue(), truth.getvalue()


def test_same_seed_same_bytes_other_seed_other_cohort() -> None:
    first = _write(30, 60, seed=7)
    assert first == _write(30, 60, seed=7)
    assert first[0] != _write(30, 60, seed=8)[0]


def test_a_graduate_does_not_depend_on_how_many_are_generated() -> None:
    few, _ = _write(5, 60, seed=3)
    many, _ = _write(20, 60, seed=3)
    assert many.splitlines()[:5] == few.splitlines()


@pytest.fixture(scope="module")
def generated() -> list[tuple[dict, dict]]:
    return list(cohort.generate(300, 120, seed=11))


def test_every_archetype_appears(generated: list[tuple[dict, dict]]) -> None:
    kinds = Counter(truth["archetype"] for _, truth in generated)
    assert set(kinds) == {"stable", "noisy", "prodromal", "sudden", "dropout"}
    assert len({history["timezone"] for history, _ in generated}) >= 8


def test_plans_are_valid_plans(generated: list[tuple[dict, dict]]) -> None:
    for history, _ in generated:
        if "plan" in history:
            validate_plan(plan_body_decoder.decode(msgspec.json.encode(history["plan"])))


def test_truth_matches_the_history(generated: list[tuple[dict, dict]]) -> None:
    for history, truth in generated:
        by_day = {c["local_date"]: c for c in history["checkins"]}
        assert len(by_day) == len(history["checkins"])
        start, end = date.fromisoformat(history["start_date"]), date.fromisoformat(history["end_date"])
        assert (end - start).days == 119
        assert all(start.isoformat() <= d <= end.isoformat() for d in by_day)
        lapses = {lapse["local_date"] for lapse in truth["lapses"]}
        assert {d for d, c in by_day.items() if c["used"]} == lapses
        assert {d for d, c in by_day.items() if c["safety_concern"]} == set(truth["safety_days"])
        for lapse in truth["lapses"]:
            if lapse["kind"] == "prodromal":
                lead = date.fromisoformat(lapse["local_date"]) - date.fromisoformat(lapse["prodrome_start"])
                assert timedelta(days=5) <= lead <= timedelta(days=14)
                assert len(lapse["signals"]) >= 2
            else:
                assert lapse["prodrome_start"] is None
        if truth["archetype"] == "dropout":
            assert max(by_day) == truth["dropout_last_checkin"]
        else:
            assert truth["dropout_last_checkin"] is None


def test_prodromes_vary_in_which_signals_they_carry(generated: list[tuple[dict, dict]]) -> None:
    signal_sets = {
        tuple(lapse["signals"]) for _, truth in generated for lapse in truth["lapses"] if lapse["signals"]
    }
    assert len(signal_sets) >= 10


def test_some_checkins_sync_late(generated: list[tuple[dict, dict]]) -> None:
    late = 0
    for history, _ in generated:
        for checkin in history["checkins"]:
            if "received_at" in checkin and checkin["received_at"][:10] > checkin["local_date"]:
                late += 1
    assert late > 0


def test_cli_writes_both_files(tmp_path: Path) -> None:
    out, truth = tmp_path / "c.jsonl", tmp_path / "t.jsonl"
    assert cohort.main(["--graduates", "3", "--days", "40", "--out", str(out), "--truth", str(truth)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and len(truth.read_text().splitlines()) == 3
    assert json.loads(lines[0])["graduate"] == json.loads(truth.read_text().splitlines()[0])["graduate"]
