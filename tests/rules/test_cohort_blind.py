"""The fourth cohort generator, written blind (by a helper who read neither the engine nor the other
generators): seeded, valid backtest input, and a truth that matches the histories it describes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.rules.bench_modules import assert_truth_matches, load_bench

cohort_blind = load_bench("cohort_blind.py")
Pair = tuple[dict[str, Any], dict[str, Any]]


def _write(tmp_path: Path, graduates: int, seed: int) -> tuple[bytes, bytes]:
    out, truth = tmp_path / f"c{graduates}-{seed}.jsonl", tmp_path / f"t{graduates}-{seed}.jsonl"
    argv = ["--graduates", str(graduates), "--days", "60", "--seed", str(seed)]
    assert cohort_blind.main([*argv, "--out", str(out), "--truth", str(truth)]) == 0
    return out.read_bytes(), truth.read_bytes()


def test_same_seed_same_bytes_and_a_graduate_does_not_depend_on_how_many(tmp_path: Path) -> None:
    first = _write(tmp_path, 5, seed=7)
    assert first == _write(tmp_path, 5, seed=7)
    assert first[0] != _write(tmp_path, 5, seed=8)[0]
    assert _write(tmp_path, 3, seed=7)[0].splitlines() == first[0].splitlines()[:3]


@pytest.fixture(scope="module")
def generated() -> list[Pair]:
    pairs = [cohort_blind.make_graduate(5, i, 120) for i in range(300)]
    # Through JSON, as the bench reads them.
    return [msgspec.json.decode(msgspec.json.encode(pair)) for pair in pairs]


def test_it_holds_the_kinds_the_issue_names(generated: list[Pair]) -> None:
    kinds = Counter(truth["archetype"] for _, truth in generated)
    assert {"stable", "noisy", "prodromal", "sudden", "dropout"} <= set(kinds)
    lapses = [lapse for _, t in generated for lapse in t["lapses"]]
    assert {lapse["kind"] for lapse in lapses} == {"prodromal", "sudden", "follow_on"}
    assert any(t["safety_days"] for _, t in generated)
    assert len({h["timezone"] for h, _ in generated}) >= 10


def test_truth_matches_the_history(generated: list[Pair]) -> None:
    for history, truth in generated:
        assert_truth_matches(history, truth)
        for lapse in truth["lapses"]:
            assert (lapse["prodrome_start"] is not None) == (lapse["kind"] == "prodromal")
            assert lapse["prodrome_start"] is None or lapse["prodrome_start"] < lapse["local_date"]
