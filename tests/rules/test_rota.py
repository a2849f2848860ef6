"""The on-call rota, pure: shifts by local day or week from the handoff, overrides, business hours, and
the DST days of 2026 in America/Chicago (a handoff in the spring-forward gap and in the fall-back
overlap happens once)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from aftercare.rules.config import ProgramSettings
from aftercare.rules.rota import OnCallRota, RotaOverride, on_call_at, shift_at

CHICAGO = ZoneInfo("America/Chicago")
PROGRAM = ProgramSettings()  # America/Chicago, Monday to Friday 09:00-17:00
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def local(text: str, *, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO, fold=fold).astimezone(UTC)


def handoffs(rota: OnCallRota, start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Every instant in [start, end) where the person on call changes, found by walking."""
    changes, at, who = [], start, on_call_at(rota, PROGRAM, start).staff_id
    while at < end:
        at += step
        now = on_call_at(rota, PROGRAM, at).staff_id
        if now != who:
            changes.append(at)
            who = now
    return changes


def test_daily_rotation_in_order_and_around() -> None:
    rota = OnCallRota(participants=(A, B, C), rotation="day", handoff="09:00", starts_on=date(2026, 5, 4))
    assert [on_call_at(rota, PROGRAM, local(f"2026-05-{d:02d}T12:00")).staff_id for d in range(4, 11)] == [
        A,
        B,
        C,
        A,
        B,
        C,
        A,
    ]
    # Before the handoff it is still the previous shift; before starts_on the rota runs backwards.
    assert on_call_at(rota, PROGRAM, local("2026-05-05T08:59")).staff_id == A
    assert on_call_at(rota, PROGRAM, local("2026-05-03T12:00")).staff_id == C


def test_weekly_rotation_hands_off_on_the_weekday_of_starts_on() -> None:
    rota = OnCallRota(participants=(A, B), rotation="week", handoff="17:00", starts_on=date(2026, 5, 4))
    answer = on_call_at(rota, PROGRAM, local("2026-05-11T16:59"))
    assert answer.staff_id == A and answer.source == "rota"
    assert answer.start == local("2026-05-04T17:00") and answer.end == local("2026-05-11T17:00")
    assert on_call_at(rota, PROGRAM, local("2026-05-11T17:00")).staff_id == B


def test_spring_forward_handoff_in_the_gap_happens_once_at_the_next_valid_time() -> None:
    # 2026-03-08: 02:00 CST jumps to 03:00 CDT; a 02:30 handoff moves forward by the gap, to 03:30.
    rota = OnCallRota(participants=(A, B), rotation="day", handoff="02:30", starts_on=date(2026, 3, 1))
    changes = handoffs(rota, local("2026-03-07T12:00"), local("2026-03-09T12:00"), timedelta(minutes=5))
    assert changes == [local("2026-03-08T03:30"), local("2026-03-09T02:30")]
    assert changes[0] == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)
    # The day shift across the gap is 23 hours long, and nobody is left uncovered in it.
    _, start, end = shift_at(rota, CHICAGO, local("2026-03-08T12:00"))
    assert (start, end) == (local("2026-03-08T03:30"), local("2026-03-09T02:30"))
    _, _, before_end = shift_at(rota, CHICAGO, local("2026-03-08T01:59"))
    assert before_end == start


def test_fall_back_handoff_in_the_overlap_happens_once_at_its_first_instant() -> None:
    # 2026-11-01: 02:00 CDT falls back to 01:00 CST; 01:30 happens twice, the handoff only at the first.
    rota = OnCallRota(participants=(A, B), rotation="day", handoff="01:30", starts_on=date(2026, 10, 25))
    changes = handoffs(rota, local("2026-10-31T12:00"), local("2026-11-02T12:00"), timedelta(minutes=5))
    assert changes == [local("2026-11-01T01:30"), local("2026-11-02T01:30")]
    assert changes[0] == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # CDT, the first 01:30
    second = local("2026-11-01T01:30", fold=1)  # 07:30 UTC, the repeated hour: no second handoff
    assert on_call_at(rota, PROGRAM, second).staff_id == on_call_at(rota, PROGRAM, changes[0]).staff_id
    _, start, end = shift_at(rota, CHICAGO, second)
    assert end - start == timedelta(hours=25)


def test_a_weekly_shift_across_spring_forward_ends_at_the_moved_handoff() -> None:
    rota = OnCallRota(participants=(A, B), rotation="week", handoff="02:30", starts_on=date(2026, 3, 1))
    _, start, end = shift_at(rota, CHICAGO, local("2026-03-05T12:00"))
    assert (start, end) == (local("2026-03-01T02:30"), local("2026-03-08T03:30"))
    assert end - start == timedelta(days=7, hours=0)  # 02:30 CST to 03:30 CDT is 7 x 24 h exactly


def test_an_override_wins_over_the_rota_and_over_business_hours() -> None:
    swap = RotaOverride(staff_id=C, start=local("2026-05-05T20:00"), end=local("2026-05-06T08:00"))
    rota = OnCallRota(
        participants=(A, B),
        rotation="day",
        handoff="17:00",
        starts_on=date(2026, 5, 4),
        hours="outside_business_hours",
        overrides=(swap,),
    )
    answer = on_call_at(rota, PROGRAM, local("2026-05-05T23:00"))
    assert (answer.staff_id, answer.source) == (C, "override")
    assert on_call_at(rota, PROGRAM, local("2026-05-06T08:00")).staff_id == B  # the override ended
    in_hours = on_call_at(rota, PROGRAM, local("2026-05-06T10:00"))
    assert in_hours.staff_id is None and in_hours.reason == "business_hours"
    weekend = on_call_at(rota, PROGRAM, local("2026-05-09T10:00"))
    assert weekend.staff_id is not None and weekend.source == "rota"


def test_no_rota_means_nobody() -> None:
    answer = on_call_at(None, PROGRAM, local("2026-05-05T23:00"))
    assert answer.staff_id is None and answer.reason == "no_rota"


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"participants": [], "starts_on": "2026-05-04"}, "$.participants", "length >= 1"),
        ({"participants": [str(A), str(A)], "starts_on": "2026-05-04"}, "$", "participants: must not repeat"),
        ({"participants": [str(A)], "starts_on": "2026-05-04", "rotation": "month"}, "$.rotation", ""),
        ({"participants": [str(A)], "starts_on": "2026-05-04", "handoff": "24:00"}, "$.handoff", ""),
        (
            {
                "participants": [str(A)],
                "starts_on": "2026-05-04",
                "overrides": [
                    {"staff_id": str(B), "from": "2026-05-05T10:00:00Z", "until": "2026-05-05T09:00:00Z"}
                ],
            },
            "$.overrides[0]",
            "until: must be after from",
        ),
        (
            {
                "participants": [str(A)],
                "starts_on": "2026-05-04",
                "overrides": [
                    {"staff_id": str(B), "from": "2026-05-05T10:00:00Z", "until": "2026-05-05T12:00:00Z"},
                    {"staff_id": str(C), "from": "2026-05-05T11:00:00Z", "until": "2026-05-05T13:00:00Z"},
                ],
            },
            "$",
            "overrides[1]: overlaps overrides[0]",
        ),
        (
            {
                "participants": [str(A)],
                "starts_on": "2026-05-04",
                "overrides": [
                    {"staff_id": str(B), "from": "2026-05-05T10:00:00", "until": "2026-05-05T12:00:00Z"}
                ],
            },
            "$.overrides[0].from",
            "",
        ),
    ],
)
def test_bad_rotas_are_refused_naming_the_field(body: dict[str, object], path: str, message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.json.decode(msgspec.json.encode(body), type=OnCallRota)
    text = str(refused.value)
    assert message in text
    assert text.endswith(f"- at `{path}`") if path != "$" else " - at " not in text
