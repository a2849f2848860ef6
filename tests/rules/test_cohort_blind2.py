"""The fifth cohort generator, written blind (by a helper who read neither the engine nor the other
generators; built from published descriptions of lapse processes and EMA data): seeded, valid
backtest input, and a truth that matches the histories it describes."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from tests.rules.bench_modules import (
    assert_arrives_on_its_day,
    assert_truth_matches,
    load_bench,
)

cohort_blind2 = load_bench("cohort_blind2.py")
Pair = tuple[dict[str, Any], dict[str, Any]]


def _write(tmp_path: Path, graduates: int, seed: int) -> tuple[bytes, bytes]:
    out, truth = tmp_path / f"c{graduates}-{seed}.jsonl", tmp_path / f"t{graduates}-{seed}.jsonl"
    argv = ["--graduates", str(graduates), "--days", "60", "--seed", str(seed)]
    assert cohort_blind2.main([*argv, "--out", str(out), "--truth", str(truth)]) == 0
    return out.read_bytes(), truth.read_bytes()


def _arrival(history: dict[str, Any], checkin: dict[str, Any]) -> datetime:
    """When the check-in reached the service: ``received_at``, else its day's check-in time."""
    if checkin.get("received_at"):
        return datetime.fromisoformat(checkin["received_at"])
    at = time.fromisoformat(history.get("checkin_time") or "19:00")
    local = datetime.combine(
        date.fromisoformat(checkin["local_date"]), at, tzinfo=ZoneInfo(history["timezone"])
    )
    return local.astimezone(ZoneInfo("UTC"))


def test_same_seed_same_bytes_and_a_graduate_does_not_depend_on_how_many(tmp_path: Path) -> None:
    first = _write(tmp_path, 6, seed=7)
    assert first == _write(tmp_path, 6, seed=7)
    other = _write(tmp_path, 6, seed=8)
    assert first[0] != other[0]
    assert first[1] != other[1]
    fewer = _write(tmp_path, 3, seed=7)
    assert fewer[0].splitlines() == first[0].splitlines()[:3]
    assert fewer[1].splitlines() == first[1].splitlines()[:3]
    assert b'"graduate":"blind2-7-00002"' in first[0].splitlines()[2]


@pytest.fixture(scope="module")
def generated() -> list[Pair]:
    pairs = [cohort_blind2.make_graduate(5, i, 120) for i in range(300)]
    # Through JSON, as the bench reads them.
    return [msgspec.json.decode(msgspec.json.encode(pair)) for pair in pairs]


def test_it_holds_the_kinds_the_issue_names(generated: list[Pair]) -> None:
    kinds = Counter(truth["archetype"] for _, truth in generated)
    assert set(kinds) == {"stable", "noisy", "prodromal", "sudden", "dropout"}
    # Most graduates never lapse; a few percent report a safety concern.
    assert sum(1 for _, t in generated if not t["lapses"]) > len(generated) / 2
    with_safety = sum(1 for _, t in generated if t["safety_days"])
    assert 0 < with_safety < len(generated) / 10
    lapses = [lapse for _, t in generated for lapse in t["lapses"]]
    assert {lapse["kind"] for lapse in lapses} == {"prodromal", "sudden", "follow_on"}
    zones = {h["timezone"] for h, _ in generated}
    assert len(zones) >= 10
    assert zones & {"Australia/Sydney", "Pacific/Auckland", "America/Santiago", "Australia/Adelaide"}
    assert zones & {"America/New_York", "Europe/London", "America/Chicago"}
    # Some answer late (offline phones, next-morning fillers), some have no medication or no groups.
    assert any(
        c.get("received_at")
        and datetime.fromisoformat(c["received_at"]).astimezone(ZoneInfo(h["timezone"])).date().isoformat()
        > c["local_date"]
        for h, _ in generated
        for c in h["checkins"]
    )
    assert any(not h["plan"]["medications"] for h, _ in generated)
    assert any(not h["plan"]["support_groups"] for h, _ in generated)


def test_truth_matches_the_history(generated: list[Pair]) -> None:
    for history, truth in generated:
        assert_truth_matches(history, truth)
        start = date.fromisoformat(history["start_date"])
        assert (date.fromisoformat(history["end_date"]) - start).days == 119
        previous: date | None = None
        for lapse in truth["lapses"]:
            day = date.fromisoformat(lapse["local_date"])
            assert (lapse["prodrome_start"] is not None) == (lapse["kind"] == "prodromal")
            assert lapse["prodrome_start"] is None or lapse["prodrome_start"] < lapse["local_date"]
            assert all(isinstance(s, str) for s in lapse["signals"])
            assert (lapse["signals"] != []) == (lapse["kind"] == "prodromal")
            # A follow-on comes within two weeks of an earlier lapse; a new episode later than that.
            within = previous is not None and (day - previous).days < 14
            assert within == (lapse["kind"] == "follow_on")
            if lapse["prodrome_start"] is not None and previous is not None:
                assert date.fromisoformat(lapse["prodrome_start"]) > previous
            previous = day
        if truth["archetype"] == "prodromal":
            assert any(lapse["kind"] == "prodromal" for lapse in truth["lapses"])
        if truth["archetype"] == "sudden":
            assert truth["lapses"]
            assert all(lapse["kind"] != "prodromal" for lapse in truth["lapses"])


def test_check_ins_arrive_on_or_after_their_day_and_at_most_a_week_late(generated: list[Pair]) -> None:
    for history, _ in generated:
        zone = ZoneInfo(history["timezone"])
        for checkin in history["checkins"]:
            if checkin.get("received_at"):
                assert checkin["received_at"].endswith("Z")
                arrived = datetime.fromisoformat(checkin["received_at"]).astimezone(zone).date()
                late = (arrived - date.fromisoformat(checkin["local_date"])).days
                assert 0 <= late <= 7
                assert arrived.isoformat() <= history["end_date"]


def test_a_dropouts_last_check_in_arrives_on_its_day_and_nothing_after_it(generated: list[Pair]) -> None:
    dropouts = 0
    for history, truth in generated:
        if truth["archetype"] != "dropout":
            # Everyone else is still checking in in the last three days.
            last_day = date.fromisoformat(max(c["local_date"] for c in history["checkins"]))
            assert (date.fromisoformat(history["end_date"]) - last_day).days < 3
            continue
        dropouts += 1
        by_day = {c["local_date"]: c for c in history["checkins"]}
        last = by_day[truth["dropout_last_checkin"]]
        assert_arrives_on_its_day(history, last)
        assert truth["dropout_last_checkin"] < history["end_date"]
        assert all(_arrival(history, c) <= _arrival(history, last) for c in history["checkins"])
    assert dropouts > 0
