"""Property: on random histories every alert change the backtest makes obeys the lifecycle
(``lifecycle_contract.violations``). The same property through the API, on SQLite and PostgreSQL,
is in ``test_api_equivalence.py`` (fewer examples: each is a few dozen requests)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftercare.rules.backtest import History, parse_history, replay_graduate
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder
from tests.rules.lifecycle_contract import Act, violations

START = date(2026, 3, 1)  # Chicago springs forward on 03-08, London on 03-29, Auckland falls back 04-05
ZONES = ("America/Chicago", "Europe/London", "Pacific/Auckland", "Asia/Kolkata")
PLAN: dict[str, Any] = {
    "coping_skills": [{"id": "walk", "name": "walk"}],
    "triggers": [
        {"id": "bar", "name": "bar", "category": "places", "coping_skill_ids": ["walk"], "risk": "high"}
    ],
    "support_groups": [
        {
            "id": "aa",
            "name": "Home group",
            "fellowship": "AA",
            "schedule": {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "start_local": f"{START}T19:00"},
        }
    ],
    "medications": [
        {
            "id": "m",
            "name": "naltrexone",
            "schedule": {"rrule": "FREQ=DAILY", "start_local": f"{START}T08:00"},
        }
    ],
}

_day = st.fixed_dictionaries(
    {
        "missing": st.integers(0, 7).map(lambda x: x == 1),
        "jitter": st.integers(0, 2),
        "used": st.integers(0, 24).map(lambda x: x == 1),
        "safety": st.integers(0, 49).map(lambda x: x == 1),
        "isolating": st.sampled_from((None, False, False, True)),
        "support": st.sampled_from((None, True, True, False)),
        "medication": st.sampled_from((True, True, True, False)),
        "trigger": st.sampled_from(("none", "none", "coped", "alone")),
        # Days late, and the local hour it arrives (0: on its day).
        "late": st.sampled_from((0, 0, 0, 0, 0, 1, 2, 3)),
        "hour": st.integers(0, 23),
    }
)


@st.composite
def histories(draw: st.DrawFn, max_days: int = 45) -> dict[str, Any]:
    """A graduate's history as the backtest reads it: calm and bad stretches (so rules fire and
    alerts rise), missed days, lapses, safety answers, check-ins synced up to three days late."""
    stretches = draw(st.lists(st.tuples(st.integers(1, 9), st.booleans()), min_size=1, max_size=10))
    bad = [b for length, b in stretches for _ in range(length)][:max_days]
    days = max(len(bad), 8)
    bad += [False] * (days - len(bad))
    zone_name = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone_name)
    with_plan = draw(st.booleans())
    checkins = []
    for n, (is_bad, answers) in enumerate(
        zip(bad, draw(st.lists(_day, min_size=days, max_size=days)), strict=True)
    ):
        local = START + timedelta(days=n)
        if answers["missing"] and not (answers["used"] or answers["safety"]):
            continue
        j = answers["jitter"]
        checkin: dict[str, Any] = {
            "local_date": local.isoformat(),
            "mood": 1 + j % 2 if is_bad else 4 - j % 2,
            "craving": 7 + j if is_bad else 1 + j,
            "stress": 7 + j if is_bad else 2 + j,
            "used": answers["used"],
            "safety_concern": answers["safety"],
            "isolating": answers["isolating"],
        }
        if with_plan:
            checkin["attended_support"] = answers["support"]
            checkin["took_medication"] = answers["medication"]
            if answers["trigger"] != "none":
                checkin["triggers"] = ["bar"]
                checkin["coping_used"] = ["walk"] if answers["trigger"] == "coped" else []
        arrival = datetime.combine(local + timedelta(days=answers["late"]), time(answers["hour"]), tz)
        if answers["late"] or answers["hour"] % 3:
            checkin["received_at"] = arrival.astimezone(UTC).isoformat().replace("+00:00", "Z")
        checkins.append(checkin)
    line: dict[str, Any] = {
        "graduate": "g",
        "timezone": zone_name,
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=days - 1)).isoformat(),
        "checkins": checkins,
    }
    if with_plan:
        line["plan"] = PLAN
    return line


def parsed(line: dict[str, Any]) -> History:
    history = parse_history(json.dumps(line), where="h:1", seen=set())
    assert isinstance(history, History), history
    return history


TIGHT = rules_decoder.decode(
    b'{"rules": {"silence": {"warning_days": 1, "high_days": 2, "usual_extra_days": 0}, "lapse": {"repeat_window_days": 3}}}'
)

# Silence that waits for everyone (no run is unlikely enough), up to two days: the habit's path.
WAITING = rules_decoder.decode(
    b'{"rules": {"silence": {"warning_days": 2, "high_days": 5, "usual_extra_days": 2, "max_chance": 0.0001}}}'
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=histories(),
    resolve_after_days=st.integers(1, 5),
    rules=st.sampled_from((DEFAULT_RULES, TIGHT, WAITING)),
)
def test_every_change_the_backtest_makes_obeys_the_lifecycle(
    line: dict[str, Any], resolve_after_days: int, rules: ProgramRules
) -> None:
    changes = replay_graduate(parsed(line), rules, resolve_after_days)
    assert violations(map(Act.of, changes), resolve_after_days=resolve_after_days, rules=rules) == []


# --- the checker catches what issue 20 found ------------------------------------------------------

D = date(2026, 3, 10)


def silence(on: date, run: date, last: date | None, days: int, kind: str, severity: str) -> Act:
    values = {
        "run_started_on": run.isoformat(),
        "last_checkin_date": last.isoformat() if last else None,
        "silent_days": days,
    }
    return Act(on, on, "silence", kind, severity, {"local_dates": [], "values": values})


def test_the_checker_finds_issue_20_a() -> None:
    # Day D's check-in arrives on D+2 and opens; D+1's, the same morning, opened a second alert.
    acts = [
        Act(D + timedelta(days=2), D, "combined", "opened", "warning", {}),
        Act(D + timedelta(days=2), D + timedelta(days=1), "combined", "opened", "high", {}),
    ]
    assert violations(acts, resolve_after_days=2, rules=DEFAULT_RULES) == [
        "2026-03-12 (2026-03-11) combined opened high: opened while combined (opened 2026-03-12) is open"
    ]


def test_the_checker_finds_issue_20_b() -> None:
    last = D
    acts = [
        silence(last + timedelta(days=2), last + timedelta(days=1), last, 2, "opened", "warning"),
        # Day L+1's check-in arrives late on L+3: the run from L+1 is over, a new one from L+2.
        silence(
            last + timedelta(days=3),
            last + timedelta(days=2),
            last + timedelta(days=1),
            2,
            "updated",
            "warning",
        ),
        silence(
            last + timedelta(days=5), last + timedelta(days=2), last + timedelta(days=1), 4, "raised", "high"
        ),
    ]
    assert violations(acts, resolve_after_days=2, rules=DEFAULT_RULES) == [
        "2026-03-15 (2026-03-15) silence raised high: no open alert to raised"
    ]


def test_the_checker_accepts_the_ordinary_silent_run() -> None:
    last = D
    acts = [
        silence(last + timedelta(days=2), last + timedelta(days=1), last, 2, "opened", "warning"),
        silence(last + timedelta(days=4), last + timedelta(days=1), last, 4, "raised", "high"),
    ]
    assert violations(acts, resolve_after_days=2, rules=DEFAULT_RULES) == []
    twice = [*acts, silence(last + timedelta(days=9), last + timedelta(days=1), last, 9, "opened", "high")]
    assert violations(twice, resolve_after_days=2, rules=DEFAULT_RULES) == [
        "2026-03-19 (2026-03-19) silence opened high: opened while silence (opened 2026-03-12) is open",
        "2026-03-19 (2026-03-19) silence opened high: a second alert for the silent run from 2026-03-11",
    ]
