"""`aftercare backtest` through the installed console script, as a program would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.rules.test_backtest import checkin, daily, graduate

AFTERCARE = Path(sys.executable).with_name("aftercare")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AFTERCARE), "backtest", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_writes_events_to_out_and_a_summary_to_stderr(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text(
        graduate(daily(20, {10: {"used": True}}), gid="a")
        + "\n"
        + graduate(daily(20, {12: {"safety_concern": True}}), gid="b")
        + "\n"
    )
    out = tmp_path / "events.jsonl"
    done = run(cohort, "--out", out, "--resolve-after-days", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["graduate"], e["rule"], e["event"], e["severity"]) for e in events] == [
        ("a", "lapse", "opened", "high"),
        ("b", "safety", "opened", "critical"),
    ]
    assert "graduates: 2" in done.stderr
    assert "graduate-days: 40" in done.stderr
    assert "check-ins: 40" in done.stderr
    assert "lapse 1" in done.stderr and "safety 1" in done.stderr
    assert "alerts per graduate-month: 1.500" in done.stderr
    # The figures a supervisor compares rules files by.
    assert "alerts per graduate-month by rule: lapse 0.750, safety 0.750" in done.stderr
    assert "alerts per counselor-week at a caseload of 60: 21.0" in done.stderr
    assert "reported lapse episodes" in done.stderr and "(precision)" in done.stderr
    # Each event names every rule whose signs it carries.
    assert [e["rules"] for e in events] == [["lapse"], ["safety"]]


def test_bad_input_exits_2_naming_line_and_field_and_writes_nothing(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    good = graduate(daily(20), gid="a")
    bad = graduate([checkin(1, craving=11), checkin(30)], gid="b")
    cohort.write_text(f"{good}\nnot json\n{bad}\n")
    out = tmp_path / "events.jsonl"
    done = run(cohort, "--out", out, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("cohort.jsonl:2: (line): not JSON")
    assert lines[1] == "cohort.jsonl:3: checkins[0].craving: must be <= 10"
    assert not out.exists()
    # Nothing half-written beside it either (the events are written aside, then renamed).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.jsonl"]


def test_events_go_to_stdout_without_out(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text(graduate(daily(20, {10: {"used": True}})) + "\n")
    done = run(cohort, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["rule"] for line in done.stdout.splitlines()] == ["lapse"]


def test_workers_write_the_events_and_summary_of_one_process_in_the_input_order(tmp_path: Path) -> None:
    # Graduates with none, one or several events, so a share's blocks differ in size.
    lines = [
        graduate(daily(20, {10: {"used": True}}), gid="a"),
        graduate(daily(20), gid="b"),
        graduate(daily(20, {5: {"safety_concern": True}, 12: {"used": True}}), gid="c"),
        graduate(daily(20, skip=frozenset(range(8, 14))), gid="d"),
        graduate(daily(20, {3: {"used": True}, 15: {"used": True}}), gid="e"),
    ]
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("\n".join(lines) + "\n")
    runs = {}
    for workers in ("1", "2", "3"):
        out = tmp_path / f"events-{workers}.jsonl"
        done = run(cohort, "--out", out, "--workers", workers, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        runs[workers] = (out.read_text(), done.stderr)
    events, summary = runs["1"]
    assert [json.loads(line)["graduate"] for line in events.splitlines()] == sorted(
        json.loads(line)["graduate"] for line in events.splitlines()
    )
    assert {json.loads(line)["graduate"] for line in events.splitlines()} == {"a", "c", "d", "e"}
    assert runs["2"] == (events, summary)
    assert runs["3"] == (events, summary)


def test_workers_refuse_bad_input_as_one_process_does(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text(
        f"{graduate(daily(20), gid='a')}\nnot json\n{graduate([checkin(1, craving=11)], gid='b')}\n"
    )
    out = tmp_path / "events.jsonl"
    alone = run(cohort, "--out", out, "--workers", "1", cwd=tmp_path)
    shared = run(cohort, "--out", out, "--workers", "2", cwd=tmp_path)
    assert alone.returncode == shared.returncode == 2
    assert shared.stderr == alone.stderr
    assert "cohort.jsonl:3: checkins[0].craving: must be <= 10" in shared.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.jsonl"]
    zero = run(cohort, "--workers", "0", cwd=tmp_path)
    assert zero.returncode == 2
    assert zero.stderr.strip() == "--workers: must be >= 1"
