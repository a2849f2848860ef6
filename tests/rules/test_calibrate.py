"""`aftercare calibrate`: thresholds chosen on a history so its replayed burden stays within a target,
lapse, safety and silence never touched, deterministic, and bad input refused like the backtest."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from aftercare.rules.backtest import Cohort, CohortChanged, run_backtest
from aftercare.rules.calibrate import (
    GRID,
    MIN_STRICTNESS,
    main,
    replay_all,
    replays,
    tighten,
)
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder
from tests.rules.bench_modules import load_bench
from tests.rules.test_backtest import checkin, daily, graduate

AFTERCARE = Path(sys.executable).with_name("aftercare")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forty generated graduates, 60 days each: stable, noisy, relapsing, dropping out."""
    generator = load_bench("cohort.py")
    path = tmp_path_factory.mktemp("calibrate") / "cohort.jsonl"
    lines = [json.dumps(generator.graduate(3, i, 60)[0]) for i in range(40)]
    path.write_text("\n".join(lines) + "\n")
    return path


def replayed_burden(cohort: Path, rules: ProgramRules) -> float:
    with cohort.open() as lines:
        summary = run_backtest(lines, source_name="c", rules=rules, resolve_after_days=2, out=io.StringIO())
    return summary.alerts_per_graduate_month


def calibrate(cohort: Path, tmp_path: Path, *extra: str) -> tuple[int, ProgramRules | None, Path]:
    out = tmp_path / "rules.json"
    status = main([str(cohort), "--out", str(out), *extra])
    return status, rules_decoder.decode(out.read_bytes()) if out.exists() else None, out


def test_a_target_below_the_base_burden_tightens_the_early_signs_only(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = replayed_burden(cohort, DEFAULT_RULES)
    target = round(base * 0.8, 2)
    status, rules, _ = calibrate(cohort, tmp_path, "--target-burden", str(target))
    assert status == 0 and rules is not None
    assert replayed_burden(cohort, rules) <= target
    chosen = rules.rules
    assert chosen.combined.score_warning > DEFAULT_RULES.rules.combined.score_warning
    assert chosen.isolation.max_chance < DEFAULT_RULES.rules.isolation.max_chance
    # Never touched: lapse, safety, silence.
    for name in ("lapse", "safety", "silence"):
        assert getattr(chosen, name) == getattr(DEFAULT_RULES.rules, name)
    err = capsys.readouterr().err
    assert "chosen: strictness +" in err
    for figure in (
        "alerts per graduate-month by rule: ",
        "alerts per counselor-week at a caseload of 60: ",
        "reported lapse episodes",
        "flagged 1-7 days before by an alert of another rule",
        "followed by a reported use within 7 days (precision)",
        "floor (lapse, safety and silence alone, never changed): ",
    ):
        assert figure in err


def test_a_generous_target_loosens_within_the_scale(cohort: Path, tmp_path: Path) -> None:
    status, rules, _ = calibrate(cohort, tmp_path, "--target-burden", "50")
    # As loose as the scale goes: the grid step nearest MIN_STRICTNESS.
    assert status == 0 and rules == tighten(DEFAULT_RULES, round(MIN_STRICTNESS * GRID) / GRID)


def test_the_same_input_gives_the_same_rules_and_report_byte_for_byte_on_any_number_of_processes(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written, reports = [], []
    for run, workers in enumerate(("1", "1", "3")):
        out = tmp_path / f"{run}.json"
        assert main([str(cohort), "--target-burden", "1.0", "--out", str(out), "--workers", workers]) == 0
        written.append(out.read_bytes())
        reports.append(capsys.readouterr().err)
    assert written[0] == written[1] == written[2]
    assert reports[0] == reports[1] == reports[2]
    assert "strictness +" in reports[0]  # a search was made: the base rules open more than 1.0


def test_a_replay_shared_among_processes_counts_every_graduate_once(cohort: Path) -> None:
    alone = replay_all(Cohort(cohort), DEFAULT_RULES, 2)
    with replays(Cohort(cohort), 2, workers=3) as replay:
        shared = replay(DEFAULT_RULES)
    assert shared == alone
    shares = [[h.graduate for h in Cohort(cohort).share(k, 3)] for k in range(3)]
    assert sorted(g for share in shares for g in share) == sorted(h.graduate for h in Cohort(cohort))
    assert [len(s) for s in shares] == [14, 13, 13]


def test_a_file_that_changes_under_the_workers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cohort.jsonl"
    path.write_text(f"{graduate(daily(20), gid='a')}\n{graduate(daily(20), gid='b')}\n")
    cohort = Cohort(path)
    assert cohort.problems() == []
    path.write_text(f"{graduate(daily(20), gid='a')}\nnot json\n")
    with replays(cohort, 2, workers=2) as replay, pytest.raises(CohortChanged, match=r"cohort.jsonl:2"):
        replay(DEFAULT_RULES)


def test_a_target_below_what_lapse_safety_and_silence_open_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lapses on days 10 and 30 and a week of silence: a floor of about 2 alerts a month.
    cohort = tmp_path / "c.jsonl"
    checkins = daily(40, {10: {"used": True}, 30: {"used": True}}, skip=frozenset(range(15, 22)))
    cohort.write_text(graduate(checkins, days=40) + "\n")
    status, rules, out = calibrate(cohort, tmp_path, "--target-burden", "0.5")
    assert status == 1 and rules is None and not out.exists()
    err = capsys.readouterr().err
    assert "cannot be reached without changing lapse, safety or silence" in err
    assert "lapse " in err and "silence " in err


def test_the_base_rules_are_the_starting_point(cohort: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(
        '{"rules": {"combined": {"enabled": false}, "silence": {"warning_days": 3, "high_days": 5}}}'
    )
    status, rules, _ = calibrate(cohort, tmp_path, "--target-burden", "0.9", "--rules", str(base))
    assert status == 0 and rules is not None
    assert rules.rules.combined.enabled is False
    assert (rules.rules.silence.warning_days, rules.rules.silence.high_days) == (3, 5)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--target-burden", "0"], "--target-burden: must be a number > 0"),
        (["--target-burden", "nan"], "--target-burden: must be a number > 0"),
        (["--target-burden", "1", "--resolve-after-days", "0"], "--resolve-after-days: must be >= 1"),
        (["--target-burden", "1", "--workers", "0"], "--workers: must be >= 1"),
    ],
)
def test_bad_arguments_exit_2(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    status, _, out = calibrate(cohort, tmp_path, *args)
    assert status == 2 and not out.exists()
    assert expected in capsys.readouterr().err


def test_bad_input_exits_2_like_the_backtest_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = tmp_path / "cohort.jsonl"
    good = graduate(daily(20), gid="a")
    bad = graduate([checkin(1, craving=11), checkin(30)], gid="b")
    cohort.write_text(f"{good}\nnot json\n{bad}\n")
    status, _, out = calibrate(cohort, tmp_path, "--target-burden", "2")
    assert status == 2 and not out.exists()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("cohort.jsonl:2: (line): not JSON")
    assert lines[1] == "cohort.jsonl:3: checkins[0].craving: must be <= 10"
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": {"silence": {"warning_days": 0}}}')
    assert main([str(cohort), "--target-burden", "2", "--rules", str(rules)]) == 2
    assert "rules.json: rules.silence.warning_days: must be >= 1" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.jsonl"), "--target-burden", "2"]) == 2


def test_each_replay_reads_the_history_from_the_file_one_graduate_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "cohort.jsonl"
    path.write_text(f"{graduate(daily(20), gid='a')}\n{graduate(daily(20), gid='b')}\n")
    cohort = Cohort(path)
    assert cohort.problems() == []
    first = iter(cohort)
    assert next(first).graduate == "a"  # lazily: one history, the rest still on disk
    assert [h.graduate for h in cohort] == ["a", "b"]  # and again, from the start
    path.write_text(f"{graduate(daily(20), gid='a')}\nnot json\n")
    with pytest.raises(CohortChanged, match=r"cohort.jsonl:2: \(line\): not JSON.*changed while"):
        list(cohort)


def test_the_console_script_writes_a_body_ready_for_put(cohort: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(AFTERCARE), "calibrate", str(cohort), "--target-burden", "1.5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    body = msgspec.json.decode(done.stdout.encode(), type=ProgramRules)
    assert body.rules.lapse == DEFAULT_RULES.rules.lapse
    assert "alerts per graduate-month: " in done.stderr
