"""The synthetic cohort generators of ``bench/`` (scripts, not a package), loaded by path for tests,
and the checks every generator's output must pass."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from aftercare.rules.backtest import History, parse_history, replay_graduate, run_backtest
from aftercare.rules.config import DEFAULT_RULES
from tests.rules.lifecycle_contract import Act, violations

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench(filename: str) -> ModuleType:
    """``bench/<filename>`` as module ``bench_<stem>``, loaded once per test session. It is registered
    in ``sys.modules`` before it runs: its dataclasses look their module up there."""
    name = f"bench_{Path(filename).stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def assert_the_backtest_accepts(histories: Sequence[dict[str, Any]]) -> None:
    """Every history is valid backtest input, as the bench feeds it (one JSON line each)."""
    summary = run_backtest(
        [json.dumps(history) for history in histories],
        source_name="cohort.jsonl",
        rules=DEFAULT_RULES,
        resolve_after_days=2,
        out=io.StringIO(),
    )
    assert summary.errors == []
    assert summary.graduates == len(histories)


def assert_every_change_keeps_the_lifecycle(
    histories: Sequence[dict[str, Any]], *, resolve_after_days: int
) -> None:
    """Every alert change the backtest makes for these graduates obeys the lifecycle of the contract
    (``lifecycle_contract``): the random histories of ``test_lifecycle_property`` on the days and
    late syncs of a whole cohort."""
    broken: dict[str, list[str]] = {}
    for history in histories:
        parsed = parse_history(json.dumps(history), where=history["graduate"], seen=set())
        assert isinstance(parsed, History), parsed
        changes = replay_graduate(parsed, DEFAULT_RULES, resolve_after_days)
        found = violations(map(Act.of, changes), resolve_after_days=resolve_after_days, rules=DEFAULT_RULES)
        if found:
            broken[history["graduate"]] = found
    assert broken == {}


def assert_truth_matches(
    history: dict[str, Any],
    truth: dict[str, Any],
    *,
    dropouts: Collection[str] = ("dropout",),
    never_lapsing: Collection[str] = ("stable", "noisy"),
) -> dict[str, dict[str, Any]]:
    """The truth describes the history: one check-in a day, a ``used`` answer exactly on each lapse
    day and a safety answer on each safety day, a dropout's last check-in on its last day, and no
    lapse for a kind that never lapses. Returns the check-ins by local day, for a generator's own
    further checks."""
    by_day = {c["local_date"]: c for c in history["checkins"]}
    assert len(by_day) == len(history["checkins"])
    lapses = [lapse["local_date"] for lapse in truth["lapses"]]
    assert lapses == sorted(set(lapses))
    assert {d for d, c in by_day.items() if c["used"]} == set(lapses)
    assert {d for d, c in by_day.items() if c["safety_concern"]} == set(truth["safety_days"])
    assert all(history["start_date"] <= d <= history["end_date"] for d in by_day)
    if truth["archetype"] in dropouts:
        assert max(by_day) == truth["dropout_last_checkin"]
    else:
        assert truth["dropout_last_checkin"] is None
    if truth["archetype"] in never_lapsing:
        assert not truth["lapses"]
    return by_day


def assert_arrives_on_its_day(history: dict[str, Any], checkin: dict[str, Any]) -> None:
    """``checkin`` (a dropout's last) arrives on its own local day, so that "silence within 3 days"
    of it is measurable."""
    received = checkin.get("received_at")
    if received is not None:
        local = datetime.fromisoformat(received).astimezone(ZoneInfo(history["timezone"]))
        assert local.date().isoformat() == checkin["local_date"]
