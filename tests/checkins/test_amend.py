"""Amending a check-in: versioned, re-assessed, alerts only ever rise, and a failed request
leaves nothing behind."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from aftercare.alerts.models import Alert
from aftercare.checkins.models import Checkin, CheckinVersion
from tests.checkins.conftest import Cast

TODAY = date(2026, 11, 24)


async def test_amend_keeps_the_old_answers_and_can_raise_an_alert(cast: Cast) -> None:
    created = (await cast.submit(TODAY)).json()
    url = f"/v1/graduates/{cast.gid}/checkins/{created['id']}"
    amended = await cast.program.client.patch(url, headers=cast.graduate.headers, json={"used": True})
    assert amended.status_code == 200, amended.text
    body = amended.json()
    assert body["version"] == 2 and body["used"] is True and body["mood"] == created["mood"]
    assert body["assessment"]["risk_level"] in ("high", "critical")
    assert [a["rule"] for a in await cast.alerts() if a["rule"] == "lapse"] == ["lapse"]
    async with cast.program.app.state.session_factory() as session:
        old = (
            await session.scalars(
                select(CheckinVersion).where(CheckinVersion.checkin_id == uuid.UUID(created["id"]))
            )
        ).all()
    assert [v.answers["used"] for v in old] == [False]


async def test_amending_never_lowers_or_closes_an_alert(cast: Cast) -> None:
    created = (await cast.submit(TODAY, used=True)).json()
    url = f"/v1/graduates/{cast.gid}/checkins/{created['id']}"
    amended = await cast.program.client.patch(url, headers=cast.graduate.headers, json={"used": False})
    assert amended.status_code == 200
    (lapse,) = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    assert lapse["status"] == "open" and lapse["severity"] == "high"


async def test_amending_a_day_to_a_lapse_after_the_next_day_s_lapse_raises_it_to_critical(
    cast: Cast,
) -> None:
    """Two lapses on consecutive days are a repeat, whichever was reported first."""
    created = (await cast.submit(TODAY)).json()
    cast.program.clock.advance(hours=24)
    assert (await cast.submit(TODAY + timedelta(days=1), used=True)).status_code == 201
    (lapse,) = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    assert lapse["severity"] == "high"
    url = f"/v1/graduates/{cast.gid}/checkins/{created['id']}"
    amended = await cast.program.client.patch(url, headers=cast.graduate.headers, json={"used": True})
    assert amended.status_code == 200, amended.text
    assert amended.json()["assessment"]["risk_level"] == "critical"
    (lapse,) = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    assert lapse["severity"] == "critical" and lapse["status"] == "open"


async def test_amend_window_ends_with_the_next_local_day(cast: Cast) -> None:
    created = (await cast.submit(TODAY)).json()
    url = f"/v1/graduates/{cast.gid}/checkins/{created['id']}"
    cast.program.clock.advance(hours=35)  # 23:00 the next day in Chicago: still allowed
    assert (
        await cast.program.client.patch(url, headers=cast.graduate.headers, json={"mood": 3})
    ).status_code == 200
    cast.program.clock.advance(hours=2)  # 01:00 two days later
    late = await cast.program.client.patch(url, headers=cast.graduate.headers, json={"mood": 2})
    assert late.status_code == 403


async def test_amend_of_another_graduates_checkin_is_404(cast: Cast) -> None:
    created = (await cast.submit(TODAY)).json()
    other = await cast.program.graduate(cast.counselor)
    response = await cast.program.client.patch(
        f"/v1/graduates/{other.graduate_id}/checkins/{created['id']}", headers=other.headers, json={"mood": 1}
    )
    assert response.status_code == 404


async def test_a_failure_after_the_alert_rolls_back_checkin_and_alert(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check-in and alert commit together: a failure late in the request leaves neither."""
    from aftercare.flows import submit

    async def failing_audit(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # The audit rows are the batch's last write, after the check-in and its alert.
    monkeypatch.setattr(submit.audit, "record_rows", failing_audit)
    response = await cast.submit(TODAY, used=True)
    assert response.status_code == 500
    assert "disk full" not in response.text and "Traceback" not in response.text
    async with cast.program.app.state.session_factory() as session:
        checkins = await session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.graduate_id == cast.gid)
        )
        alerts = await session.scalar(
            select(func.count()).select_from(Alert).where(Alert.graduate_id == cast.gid)
        )
    assert (checkins, alerts) == (0, 0)
