"""``GET /v1/program/response-times`` on a small hand-made history, and ``summarise`` alone.

The history is in January 2031 (no other test writes alerts there), in the program's default zone
(America/Chicago, CST = UTC-6) and business hours (Monday to Friday, 09:00-17:00):

    alert  counselor  severity  opened (Z)      answer                               overdue
    a1     A          critical  Tue 07 15:00    acknowledged 15:05 (300 s)           no
    a2     A          high      Tue 07 15:00    acknowledged 20:00 (18,000 s)        yes (due 19:00)
    a3     A          warning   Tue 07 15:00    resolved by A 17:00 (7,200 s)        no (due 23:00)
    a4     B          critical  Wed 08 12:00    none, still open                     yes (due 12:15)
    a5     B          high      Wed 08 12:00    acknowledged 12:30, raised to critical Thu 09 12:00,
                                                acknowledged again 12:10 (600 s from the raise)  no
    a6     nobody     warning   Wed 08 12:00    none; closed by the system Fri 10 12:00  yes (due Wed 23:00)

A reaches out on a1 at 15:20 (1,200 s after it opened) and B on a5 at Wed 12:00 + 1 h (3,600 s),
both after acknowledging, so the acknowledgement figures stay the table's.

and two alerts just outside ``[from, to)``. The report is read on Fri 10 at 18:00Z.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import select, update

from aftercare.alerts.models import Alert
from aftercare.alerts.service import AlertChanges
from aftercare.audit.models import AuditEvent
from aftercare.flows.response_times import AlertResponse, durations, summarise
from aftercare.program.service import current_rules
from aftercare.rules.engine import RuleHit, RuleName, Severity
from tests.conftest import Account, Program

FROM, TO = "2031-01-06T00:00:00Z", "2031-01-13T00:00:00Z"
AS_OF = datetime(2031, 1, 10, 18, 0, tzinfo=UTC)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def open_alert(
    program: Program,
    graduate_id: uuid.UUID,
    counselor_id: uuid.UUID | None,
    rule: RuleName,
    severity: Severity,
    now: datetime,
) -> uuid.UUID:
    """Open (or raise) an alert as the check-in path would, at ``now``, with the program's rules."""
    async with program.app.state.session_factory() as session, session.begin():
        rules = await current_rules(session)
        changes = await AlertChanges.load(session, [graduate_id], rules)
        (alert_id,) = changes.apply(
            graduate_id=graduate_id,
            counselor_id=counselor_id,
            hits=[RuleHit(rule=rule, severity=severity, reasons=("hand-made",))],
            local_date=now.date(),
            now=now,
        )
        await changes.write(session)
    return alert_id


async def act(program: Program, alert_id: uuid.UUID, verb: str, by: Account, at: datetime) -> None:
    program.clock.set(at)
    response = await program.client.post(
        f"/v1/alerts/{alert_id}/{verb}",
        headers=by.headers,
        json={"note": "called; safe at home"} if verb == "resolve" else None,
    )
    assert response.status_code == 200, response.text


async def reach_out(program: Program, alert_id: uuid.UUID, by: Account, at: datetime) -> None:
    program.clock.set(at)
    response = await program.client.post(
        f"/v1/alerts/{alert_id}/outreach",
        headers=by.headers,
        json={"client_id": str(uuid.uuid4()), "method": "call", "outcome": "reached"},
    )
    assert response.status_code == 201, response.text


def figures(
    alerts: int,
    overdue: int,
    count: int,
    median: float | None,
    p90: float | None,
    outreach: tuple[int, float | None, float | None] = (0, None, None),
) -> dict[str, Any]:
    return {
        "alerts": alerts,
        "overdue": overdue,
        "time_to_acknowledge": {"count": count, "median_seconds": median, "p90_seconds": p90},
        "time_to_first_outreach": dict(
            zip(("count", "median_seconds", "p90_seconds"), outreach, strict=True)
        ),
    }


async def test_the_figures_of_a_hand_made_history(program: Program) -> None:
    program.clock.set(z("2031-01-06T12:00"))  # accounts made then, so their tokens live through it
    supervisor = await program.supervisor()
    a, b = await program.staff(supervisor), await program.staff(supervisor)
    a_one, a_two, b_one = [await program.graduate(c) for c in (a, a, b)]
    nobody = await program.graduate(supervisor)  # a supervisor's graduate has no counselor
    ids = {
        g: account.graduate_id for g, account in {"a1": a_one, "a2": a_two, "b1": b_one, "u": nobody}.items()
    }
    assert all(ids.values())

    a1 = await open_alert(program, ids["a1"], a.user_id, "safety", "critical", z("2031-01-07T15:00"))
    a2 = await open_alert(program, ids["a1"], a.user_id, "lapse", "high", z("2031-01-07T15:00"))
    a3 = await open_alert(program, ids["a2"], a.user_id, "support_dropoff", "warning", z("2031-01-07T15:00"))
    a4 = await open_alert(program, ids["b1"], b.user_id, "safety", "critical", z("2031-01-08T12:00"))
    a5 = await open_alert(program, ids["b1"], b.user_id, "lapse", "high", z("2031-01-08T12:00"))
    a6 = await open_alert(program, ids["u"], None, "isolation", "warning", z("2031-01-08T12:00"))
    # Outside [from, to): opened just before it and exactly at its end.
    # (Rules of their own: early signs share one alert a graduate, which would fold these into a3.)
    await open_alert(program, ids["a2"], a.user_id, "lapse", "warning", z("2031-01-05T23:59"))
    await open_alert(program, ids["a2"], a.user_id, "safety", "high", z("2031-01-13T00:00"))

    await act(program, a1, "acknowledge", a, z("2031-01-07T15:05"))
    await reach_out(program, a1, a, z("2031-01-07T15:20"))  # 1,200 s after it opened
    await act(program, a2, "acknowledge", a, z("2031-01-07T20:00"))
    await act(program, a3, "resolve", a, z("2031-01-07T17:00"))
    await act(program, a5, "acknowledge", b, z("2031-01-08T12:30"))
    await reach_out(program, a5, b, z("2031-01-08T13:00"))  # 3,600 s after it opened
    assert await open_alert(program, ids["b1"], b.user_id, "lapse", "critical", z("2031-01-09T12:00")) == a5
    await act(program, a5, "acknowledge", b, z("2031-01-09T12:10"))
    # The system closes a6 unanswered (as a discharge would), past its target.
    async with program.app.state.session_factory() as session, session.begin():
        await session.execute(
            update(Alert)
            .where(Alert.id == a6)
            .values(status="resolved", resolved_at=z("2031-01-10T12:00"), resolution_note="discharged")
        )

    program.clock.set(AS_OF)
    response = await program.client.get(
        "/v1/program/response-times", headers=supervisor.headers, params={"from": FROM, "to": TO}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["from"], report["to"], report["as_of"]) == (FROM, TO, "2031-01-10T18:00:00Z")
    assert report["total"] == figures(6, 3, 4, 3900.0, 18000.0, (2, 2400.0, 3600.0))
    assert report["by_severity"] == [
        {"severity": "critical", **figures(3, 1, 2, 450.0, 600.0, (2, 2400.0, 3600.0))},
        {"severity": "high", **figures(1, 1, 1, 18000.0, 18000.0)},
        {"severity": "warning", **figures(2, 1, 1, 7200.0, 7200.0)},
    ]
    expected = {
        str(a.user_id): {
            "counselor_id": str(a.user_id),
            **figures(3, 1, 3, 7200.0, 18000.0, (1, 1200.0, 1200.0)),
        },
        str(b.user_id): {
            "counselor_id": str(b.user_id),
            **figures(2, 1, 1, 600.0, 600.0, (1, 3600.0, 3600.0)),
        },
    }
    assert report["by_counselor"] == [
        *(expected[key] for key in sorted(expected)),
        {"counselor_id": None, **figures(1, 1, 0, None, None)},
    ]

    # The feed agrees: B's one overdue alert now is a4.
    feed = await program.client.get("/v1/alerts", headers=b.headers, params={"overdue": "true"})
    assert [item["id"] for item in feed.json()["items"]] == [str(a4)]

    # Audited as a staff read of the program (no graduate).
    async with program.app.state.session_factory() as session:
        audited = await session.scalar(
            select(AuditEvent.action).where(
                AuditEvent.actor_id == supervisor.user_id, AuditEvent.resource == "response_times"
            )
        )
    assert audited == "read"

    # Later, a4 is still open and a5 is answered: the same range reads the same (nothing moved).
    program.clock.set(AS_OF + timedelta(days=1))
    later = await program.client.get(
        "/v1/program/response-times", headers=supervisor.headers, params={"from": FROM, "to": TO}
    )
    assert later.json()["total"] == report["total"]


async def test_only_supervisors_read_it(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    for account, status in ((counselor, 403), (graduate, 403), (None, 401)):
        response = await program.client.get(
            "/v1/program/response-times", headers=account.headers if account else {}
        )
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_default_range_is_the_30_days_before_now(program: Program) -> None:
    program.clock.set(z("2031-02-01T00:00"))
    supervisor = await program.supervisor()
    response = await program.client.get("/v1/program/response-times", headers=supervisor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == ("2031-01-02T00:00:00Z", "2031-02-01T00:00:00Z")
    only_to = await program.client.get(
        "/v1/program/response-times", headers=supervisor.headers, params={"to": "2031-01-10T00:00:00Z"}
    )
    assert only_to.json()["from"] == "2030-12-11T00:00:00Z"
    # Any offset in, UTC out.
    offset = await program.client.get(
        "/v1/program/response-times",
        headers=supervisor.headers,
        params={"from": "2031-01-09T18:00:00-06:00", "to": "2031-01-10T18:00:00-06:00"},
    )
    assert (offset.json()["from"], offset.json()["to"]) == ("2031-01-10T00:00:00Z", "2031-01-11T00:00:00Z")


async def test_a_bad_range_is_a_422_naming_the_parameter(program: Program) -> None:
    supervisor = await program.supervisor()
    cases = [
        ({"from": "2031-01-10T00:00:00Z", "to": "2031-01-10T00:00:00Z"}, "to"),
        ({"from": "2031-01-10T00:00:00Z", "to": "2031-01-09T00:00:00Z"}, "to"),
        ({"from": "2030-01-01T00:00:00Z", "to": "2031-01-03T00:00:00Z"}, "to"),
        ({"from": "2031-01-10T00:00:00", "to": "2031-01-11T00:00:00Z"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "0001-01-02T00:00:00Z"}, "to"),
    ]
    for params, field in cases:
        response = await program.client.get(
            "/v1/program/response-times", headers=supervisor.headers, params=params
        )
        assert response.status_code == 422, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], params


def _alert(
    severity: Severity, *, answered: float | None, due: float, closed: float | None = None
) -> AlertResponse:
    start = z("2031-01-07T15:00")
    return AlertResponse(
        id=uuid.uuid4(),
        severity=severity,
        counselor_id=None,
        opened_at=start,
        response_started_at=start,
        respond_by=start + timedelta(seconds=due),
        answered_at=None if answered is None else start + timedelta(seconds=answered),
        closed_at=None if closed is None else start + timedelta(seconds=closed),
    )


def test_summarise_alone() -> None:
    start = z("2031-01-07T15:00")
    alerts = [
        _alert("critical", answered=60, due=900),
        _alert("critical", answered=900, due=900),  # at the target: on time
        _alert("critical", answered=901, due=900),
        _alert("critical", answered=None, due=900),  # still waiting at as_of, past the target
        _alert("high", answered=None, due=10**6),  # still waiting, not yet due
        _alert("warning", answered=None, due=900, closed=600),  # closed before its target
    ]
    report = summarise(
        alerts,
        start=start,
        end=start + timedelta(days=1),
        as_of=start + timedelta(hours=1),
    )
    assert report.total.alerts == 6 and report.total.overdue == 2
    assert report.total.time_to_acknowledge.count == 3
    assert report.total.time_to_acknowledge.median_seconds == 900.0
    assert report.total.time_to_first_outreach.count == 0  # no outreach recorded on any
    assert [(s.severity, s.alerts, s.overdue) for s in report.by_severity] == [
        ("critical", 4, 2),
        ("high", 1, 0),
        ("warning", 1, 0),
    ]
    with_outreach = summarise(
        [*alerts[:1], msgspec.structs.replace(alerts[1], first_outreach_at=start + timedelta(minutes=20))],
        start=start,
        end=start + timedelta(days=1),
        as_of=start,
    )
    assert with_outreach.total.time_to_first_outreach.count == 1
    assert with_outreach.total.time_to_first_outreach.median_seconds == 1200.0


def test_median_and_p90_by_nearest_rank() -> None:
    assert durations([]).median_seconds is None and durations([]).count == 0
    assert (durations([5.0]).median_seconds, durations([5.0]).p90_seconds) == (5.0, 5.0)
    ten = [float(n) for n in range(1, 11)]
    assert (durations(ten).median_seconds, durations(ten).p90_seconds) == (5.5, 9.0)
    eleven = [*ten, 100.0]
    assert (durations(eleven).median_seconds, durations(eleven).p90_seconds) == (6.0, 10.0)
    assert durations([3.0, 1.0, 2.0]).p90_seconds == 3.0


def test_an_empty_range_lists_every_severity_and_no_counselor() -> None:
    start = z("2031-01-07T15:30")
    report = summarise([], start=start, end=start + timedelta(minutes=1), as_of=start)
    assert report.total.alerts == 0 and report.total.time_to_acknowledge.median_seconds is None
    assert [(s.severity, s.alerts) for s in report.by_severity] == [
        ("critical", 0),
        ("high", 0),
        ("warning", 0),
    ]
    assert report.by_counselor == []
