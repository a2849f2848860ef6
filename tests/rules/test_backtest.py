"""The backtest on small hand-made histories: what opens and raises on which local day, and bad input."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from aftercare.rules.backtest import main, run_backtest
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder

START = date(2026, 3, 1)  # Chicago springs forward on 2026-03-08, inside every history here


def day(n: int) -> str:
    """Local date of day ``n`` (day 1 is START)."""
    return (START + timedelta(days=n - 1)).isoformat()


def checkin(n: int, **answers: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "local_date": day(n),
        "mood": 4,
        "craving": 2,
        "stress": 3,
        "used": False,
        "safety_concern": False,
    }
    return base | answers


def graduate(checkins: list[dict[str, Any]], *, gid: str = "g1", days: int = 20, **extra: Any) -> str:
    line = {
        "graduate": gid,
        "timezone": "America/Chicago",
        "start_date": day(1),
        "end_date": day(days),
        "checkins": checkins,
    }
    return json.dumps(line | extra)


def daily(
    days: int, changes: dict[int, dict[str, Any]] | None = None, *, skip: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    """A steady check-in every day but ``skip``; ``changes[5]`` changes day 5's answers."""
    changes = changes or {}
    return [checkin(n, **changes.get(n, {})) for n in range(1, days + 1) if n not in skip]


def replay(
    *lines: str, resolve_after_days: int = 2, rules: ProgramRules = DEFAULT_RULES
) -> list[dict[str, Any]]:
    out = io.StringIO()
    summary = run_backtest(
        lines, source_name="cohort.jsonl", rules=rules, resolve_after_days=resolve_after_days, out=out
    )
    assert summary.errors == []
    return [json.loads(line) for line in out.getvalue().splitlines()]


def of_rule(events: list[dict[str, Any]], rule: str) -> list[tuple[str, str, str]]:
    return [(e["local_date"], e["event"], e["severity"]) for e in events if e["rule"] == rule]


def test_a_lapse_opens_a_high_alert_on_its_day() -> None:
    events = replay(graduate(daily(20, {10: {"used": True}})))
    assert of_rule(events, "lapse") == [(day(10), "opened", "high")]
    lapse = next(e for e in events if e["rule"] == "lapse")
    assert lapse["graduate"] == "g1" and lapse["reasons"]


def test_a_safety_answer_opens_a_critical_alert_on_its_day() -> None:
    events = replay(graduate(daily(20, {12: {"safety_concern": True}})))
    assert of_rule(events, "safety") == [(day(12), "opened", "critical")]


def test_a_second_lapse_within_14_days_raises_the_open_alert_to_critical() -> None:
    events = replay(graduate(daily(20, {10: {"used": True}, 11: {"used": True}})))
    assert of_rule(events, "lapse") == [(day(10), "opened", "high"), (day(11), "raised", "critical")]


def test_a_late_lapse_raises_the_alert_a_later_lapse_opened_to_critical() -> None:
    # Day 10's lapse syncs on day 13 (18:00 in Chicago), after day 12's lapse opened the alert: two
    # lapses three days apart are a repeat whichever arrived first.
    late = checkin(10, used=True, received_at=f"{day(13)}T23:00:00Z")
    events = replay(graduate([*daily(20, {12: {"used": True}}, skip=frozenset({10})), late]))
    assert of_rule(events, "lapse") == [(day(10), "raised", "critical"), (day(12), "opened", "high")]
    raised = next(e for e in events if e["rule"] == "lapse" and e["event"] == "raised")
    assert f"another lapse within 14 days ({day(12)})" in raised["reasons"]


def test_resolve_after_days_decides_between_a_new_alert_and_a_raise() -> None:
    history = graduate(daily(20, {5: {"used": True}, 8: {"used": True}}))
    # Handled at the start of day 7: the second lapse opens a new alert, critical (within 14 days).
    assert of_rule(replay(history), "lapse") == [(day(5), "opened", "high"), (day(8), "opened", "critical")]
    assert of_rule(replay(history, resolve_after_days=5), "lapse") == [
        (day(5), "opened", "high"),
        (day(8), "raised", "critical"),
    ]


def test_a_silent_run_is_one_alert_opened_at_two_days_and_raised_at_four() -> None:
    # Days 6-12 silent, a check-in on 13, then silent again from 18.
    events = replay(graduate(daily(17, skip=frozenset(range(6, 13))), days=20))
    assert of_rule(events, "silence") == [
        (day(7), "opened", "warning"),
        (day(9), "raised", "high"),
        (day(19), "opened", "warning"),
    ]
    assert "no check-in for 2 days" in events[0]["reasons"][0]


def often_two_days_away(days: int = 70) -> list[dict[str, Any]]:
    """Check-ins every day but two days in a row every week, and nothing after ``days``."""
    return daily(days, skip=frozenset(n for n in range(1, days + 1) if n % 7 in (3, 4)))


def test_silence_waits_a_day_for_someone_who_is_often_away_two_days() -> None:
    events = of_rule(replay(graduate(often_two_days_away(), days=76)), "silence")
    # Their first month's pairs are alerted (a habit is not read from a few weeks), later ones not.
    assert events[:4] == [(day(n), "opened", "warning") for n in (4, 11, 18, 25)]
    assert not any(day(26) <= event[0] <= day(70) for event in events)
    # The final silence (from day 71): a warning on its third day, high on its fourth, as by default.
    assert events[-2:] == [(day(73), "opened", "warning"), (day(74), "raised", "high")]
    # The same history under rules that never wait: every pair is alerted.
    never_waits = rules_decoder.decode(b'{"rules": {"silence": {"usual_extra_days": 0}}}')
    strict = of_rule(replay(graduate(often_two_days_away(), days=76), rules=never_waits), "silence")
    assert (day(67), "opened", "warning") in strict and strict[-2:] == [
        (day(72), "opened", "warning"),
        (day(74), "raised", "high"),
    ]


def test_a_late_sync_leaves_its_day_silent_but_counts_from_its_arrival() -> None:
    # Day 6's check-in (a lapse) reaches the service on day 8 at 10:00 Chicago (15:00Z, CDT).
    late = checkin(6, used=True, received_at=f"{day(8)}T15:00:00Z")
    on_time = checkin(6, used=True)
    days = [c for c in daily(20) if c["local_date"] not in (day(6), day(7))]
    events = replay(graduate([*days, late]))
    assert of_rule(events, "silence") == [(day(7), "opened", "warning")]
    assert of_rule(events, "lapse") == [(day(6), "opened", "high")]
    # Output is in day order even though the lapse was only known after day 7's silence.
    assert [e["local_date"] for e in events] == sorted(e["local_date"] for e in events)
    assert of_rule(replay(graduate([*days, on_time])), "silence") == []


def test_checkins_in_any_order_give_the_same_events() -> None:
    checkins = daily(20, {15: {"used": True}}, skip=frozenset({3, 4}))
    assert replay(graduate(checkins)) == replay(graduate(list(reversed(checkins))))


def test_events_are_grouped_by_graduate_in_input_order_and_independent() -> None:
    zeta = graduate(daily(20, {4: {"used": True}}), gid="zeta")
    alpha = graduate(daily(20, {3: {"used": True}}), gid="alpha")
    events = replay(zeta, alpha)
    assert [e["graduate"] for e in events] == sorted((e["graduate"] for e in events), reverse=True)
    assert [e for e in events if e["graduate"] == "alpha"] == replay(alpha)


def test_a_disabled_rule_in_the_rules_body_stays_silent() -> None:
    rules = rules_decoder.decode(b'{"rules": {"lapse": {"enabled": false}}}')
    events = replay(graduate(daily(20, {10: {"used": True}})), rules=rules)
    assert of_rule(events, "lapse") == []


def test_a_plan_gives_the_check_ins_their_trigger_and_coping_ids() -> None:
    plan = {
        "coping_skills": [{"id": "walk", "name": "walk"}],
        "triggers": [
            {"id": "bar", "name": "bar", "category": "places", "coping_skill_ids": ["walk"], "risk": "high"}
        ],
        "support_groups": [
            {
                "id": "aa",
                "name": "Home group",
                "fellowship": "AA",
                "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "start_local": f"{day(1)}T19:00"},
            }
        ],
    }
    checkins = daily(20, {n: {"triggers": ["bar"], "coping_used": ["walk"]} for n in (3, 9)})
    assert replay(graduate(checkins, plan=plan)) == []


# --- the CLI: bad input, exit status, nothing written --------------------------------------------


def run_cli(tmp_path: Path, *lines: str, extra: list[str] | None = None) -> tuple[int, Path]:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("\n".join(lines) + "\n")
    out = tmp_path / "events.jsonl"
    return main([str(cohort), "--out", str(out), *(extra or [])]), out


GOOD = graduate(daily(20, {10: {"used": True}}))


def bad(**change: Any) -> str:
    line = json.loads(GOOD)
    line.update(change)
    return json.dumps(line)


def with_checkin(n: int, **answers: Any) -> str:
    line = json.loads(GOOD)
    line["checkins"][n] = line["checkins"][n] | answers
    return json.dumps(line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "cohort.jsonl:2: (line): not JSON"),
        (with_checkin(3, mood=7), "cohort.jsonl:2: checkins[3].mood: must be <= 5"),
        (with_checkin(0, craving=-1), "cohort.jsonl:2: checkins[0].craving: must be >= 0"),
        (with_checkin(0, sleep_hours=25), "cohort.jsonl:2: checkins[0].sleep_hours: must be <= 24"),
        (
            json.dumps({k: v for k, v in json.loads(GOOD).items() if k != "timezone"}),
            "cohort.jsonl:2: timezone: required",
        ),
        (bad(timezone="Mars/Olympus"), "cohort.jsonl:2: timezone: unknown time zone"),
        # Loadable by zoneinfo on most hosts, but the server's own zone, not one a history can mean.
        (bad(timezone="localtime"), "cohort.jsonl:2: timezone: unknown time zone"),
        (bad(timezone="posix/Europe/Berlin"), "cohort.jsonl:2: timezone: unknown time zone"),
        (with_checkin(0, local_date=day(25)), "cohort.jsonl:2: checkins[0].local_date: outside"),
        (with_checkin(1, local_date=day(1)), "cohort.jsonl:2: checkins[1].local_date: a second check-in"),
        (GOOD, "cohort.jsonl:2: graduate: graduate 'g1' appears twice"),
        (with_checkin(2, triggers=["bar"]), "cohort.jsonl:2: checkins[2].triggers[0]: unknown id 'bar'"),
        (
            with_checkin(2, received_at=f"{day(3)}T04:00:00Z"),
            "cohort.jsonl:2: checkins[2].received_at: before",
        ),
        (
            with_checkin(2, received_at=f"{day(3)}T20:00:00"),
            "cohort.jsonl:2: checkins[2].received_at: Expected",
        ),
        (with_checkin(2, surprise=1), "cohort.jsonl:2: checkins[2].surprise: unknown field"),
        (bad(end_date=day(0)), "cohort.jsonl:2: end_date: must not be before start_date"),
        (
            bad(
                plan={
                    "triggers": [
                        {
                            "id": "t",
                            "name": "t",
                            "category": "places",
                            "coping_skill_ids": ["x"],
                            "risk": "low",
                        }
                    ]
                }
            ),
            "cohort.jsonl:2: plan.triggers[0].coping_skill_ids",
        ),
    ],
)
def test_bad_input_exits_2_names_line_and_field_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, expected: str
) -> None:
    status, out = run_cli(tmp_path, GOOD, line)
    assert status == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "cohort.jsonl"]  # no temp file left behind


def test_every_problem_of_every_line_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.loads(graduate(daily(20), gid="g2", timezone="Nowhere/Land"))
    line["checkins"][0]["local_date"] = day(30)
    status, _ = run_cli(tmp_path, with_checkin(3, mood=9), json.dumps(line), "[]")
    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert [e.split(": ")[0:2] for e in err] == [
        ["cohort.jsonl:1", "checkins[3].mood"],
        ["cohort.jsonl:2", "timezone"],
        ["cohort.jsonl:2", "checkins[0].local_date"],
        ["cohort.jsonl:3", "(line)"],
    ]


def test_an_existing_out_file_is_left_alone_on_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    out.write_text("previous run\n")
    status, _ = run_cli(tmp_path, "oops")
    assert status == 2 and out.read_text() == "previous run\n"


def test_a_bad_rules_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"rules": {"silence": {"warning_days": 0}}}')
    status, out = run_cli(tmp_path, GOOD, extra=["--rules", str(rules)])
    assert status == 2 and not out.exists()
    assert "rules.json: rules.silence.warning_days: must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body",
    [
        # The GET body of today, response targets and program settings included.
        {
            "version": 4,
            "program": {
                "timezone": "Europe/Berlin",
                "business_hours": {"days": ["mon"], "start": "08:00", "end": "12:00"},
            },
            "response_targets": {"critical": {"minutes": 5}, "warning": {"business_days": 3}},
            "escalation": {"max_level": 1},
        },
        # A rules file saved before response targets existed.
        {"escalation": {"critical_minutes": 10, "high_minutes": 60, "warning_minutes": 1440, "max_level": 2}},
    ],
)
def test_response_targets_do_not_change_which_alerts_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: dict[str, Any]
) -> None:
    status, out = run_cli(tmp_path, GOOD)
    assert status == 0
    by_default = out.read_text()
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(body))
    status, out = run_cli(tmp_path, GOOD, extra=["--rules", str(rules)])
    assert status == 0, capsys.readouterr().err
    assert out.read_text() == by_default != ""


def test_a_bad_response_target_in_the_rules_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"response_targets": {"high": {"minutes": 0}}}')
    status, out = run_cli(tmp_path, GOOD, extra=["--rules", str(rules)])
    assert status == 2 and not out.exists()
    assert "rules.json: response_targets.high.minutes: must be >= 1" in capsys.readouterr().err


def test_the_cli_writes_events_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two = graduate(daily(10, {4: {"used": True}}), gid="g2", days=10)
    status, out = run_cli(tmp_path, GOOD, "", two)
    assert status == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["graduate"], e["rule"], e["event"]) for e in events] == [
        ("g1", "lapse", "opened"),
        ("g2", "lapse", "opened"),
    ]
    err = capsys.readouterr().err
    assert "graduates: 2\n" in err and "graduate-days: 30\n" in err and "check-ins: 30\n" in err
    assert "alerts opened: 2 (lapse 2)" in err
    assert "alerts per graduate-month: 2.000" in err


def test_the_summary_measures_alerts_against_the_history_s_own_lapses() -> None:
    # Pulling away on days 24-27 (isolation opens on 27; the same days still count after it is
    # handled on 29, one episode of early signs, so they open nothing more: before episodes, a
    # second alert on 29), then lapses on days 30 and 36 (one lapse episode: within 14 days).
    answers: dict[int, dict[str, Any]] = {n: {"isolating": True} for n in (24, 25, 26, 27)}
    answers |= {30: {"used": True}, 36: {"used": True}}
    summary = run_backtest(
        [graduate(daily(40, answers), days=40)],
        source_name="c",
        rules=DEFAULT_RULES,
        resolve_after_days=2,
        out=io.StringIO(),
    )
    assert summary.opened == {"isolation": 1, "lapse": 2}
    assert summary.alerts_per_counselor_week == pytest.approx(3.0 / 40 * 7 * 60)
    assert (summary.episodes, summary.episodes_flagged) == (1, 1)
    # Days 8-40 but the two days of use: 31; with an isolation alert in the week before: 28, 29,
    # 31-34.
    assert (summary.days_judged, summary.days_flagged) == (31, 6)
    assert (summary.early_alerts, summary.early_alerts_followed) == (1, 1)
    # Days 1-33 have their week after inside the history; 23-33 are followed by a use.
    assert (summary.days_ahead, summary.days_followed) == (33, 11)
    text = summary.text()
    assert "alerts per graduate-month by rule: isolation 0.750, lapse 1.500\n" in text
    assert "alerts per counselor-week at a caseload of 60: 31.5\n" in text
    assert "1 of 1 = 100.0% (a day at random: 19.4%)" in text
    assert "(precision): 1 of 1 = 100.0% (a day at random: 33.3%)" in text


def test_a_lapse_too_early_to_have_been_foreseen_is_no_episode() -> None:
    summary = run_backtest(
        [graduate(daily(20, {3: {"used": True}}))],
        source_name="c",
        rules=DEFAULT_RULES,
        resolve_after_days=2,
        out=io.StringIO(),
    )
    assert summary.episodes == 0
    assert "reported lapse episodes (first use in the lapse rule's window, 7 days of history before): 0" in (
        summary.text()
    )
