"""``GET /v1/program/response-times``: how soon staff answered alerts, per severity and per counselor.

Reads, in one read-only transaction, the alerts opened in ``[from, to)`` with their response clock
(``response_started_at``), target (``respond_by``) and answer, and their first outreach (see
``outreach.service.first_outreach_at``); decides the figures with the pure ``summarise``; writes nothing but the
staff-read audit row, committed before the report leaves.

What is measured, per alert (the alert row holds the latest response clock only):

- *time to acknowledge*: from ``response_started_at`` (the opening, or the latest raise or re-open,
  each of which needs a new answer) to ``acknowledged_at``; an alert resolved by staff without an
  acknowledgement was answered by its resolution. Alerts not answered yet are not in it.
- *overdue*: answered after ``respond_by``, or not answered and still waiting past it at ``as_of``
  (or past it when the system closed it, without anyone answering).
- *time to first outreach*: from ``opened_at`` to the first outreach recorded on the alert.
- *per counselor*: the alert's ``counselor_id`` as it is now (a reassignment moves a graduate's
  alerts to the new counselor, so their history counts there).
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.models import Alert
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.db.engine import read_transaction
from aftercare.errors import FieldError, ValidationFailed
from aftercare.outreach.service import first_outreach_at
from aftercare.program import schemas
from aftercare.rules.engine import Severity

DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=366)
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "warning")


class AlertResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What the report needs of one alert."""

    id: uuid.UUID
    severity: Severity
    counselor_id: uuid.UUID | None
    opened_at: datetime
    response_started_at: datetime
    respond_by: datetime
    answered_at: datetime | None
    closed_at: datetime | None  # resolved without anyone answering (by the system)
    first_outreach_at: datetime | None = None


async def response_times(
    session: AsyncSession,
    *,
    start: datetime | None,
    end: datetime | None,
    actor: Principal,
    now: datetime,
) -> schemas.ResponseTimes:
    start, end = _range(start, end, now=now)
    # Read: one snapshot, no write lock (a year of alerts may take a moment).
    async with read_transaction(session):
        rows = (
            await session.execute(
                select(
                    Alert.id,
                    Alert.severity,
                    Alert.counselor_id,
                    Alert.status,
                    Alert.opened_at,
                    Alert.response_started_at,
                    Alert.respond_by,
                    Alert.acknowledged_at,
                    Alert.resolved_at,
                    Alert.resolved_by,
                )
                # ix_alerts_opened_at_id
                .where(Alert.opened_at >= start, Alert.opened_at < end)
            )
        ).all()
        outreach = await first_outreach_at(session, [row.id for row in rows])
    # Write: the staff-read audit row, durable before the figures leave.
    await audit.commit_staff_read(session, actor=actor, resource="response_times", graduate_id=None, now=now)
    # Decide.
    alerts = []
    for row in rows:
        answered_at = row.acknowledged_at
        if answered_at is None and row.status == "resolved" and row.resolved_by is not None:
            answered_at = row.resolved_at
        alerts.append(
            AlertResponse(
                id=row.id,
                severity=row.severity,
                counselor_id=row.counselor_id,
                opened_at=row.opened_at,
                response_started_at=row.response_started_at,
                respond_by=row.respond_by,
                answered_at=answered_at,
                closed_at=row.resolved_at if answered_at is None else None,
                first_outreach_at=outreach.get(row.id),
            )
        )
    return summarise(alerts, start=start, end=end, as_of=now)


def _range(start: datetime | None, end: datetime | None, *, now: datetime) -> tuple[datetime, datetime]:
    """``[from, to)``: default the 30 days before now; at most 366 days."""
    errors = [
        FieldError(name, "must be an RFC 3339 instant with an offset, e.g. 2026-11-24T18:00:00Z")
        for name, value in (("from", start), ("to", end))
        if value is not None and value.tzinfo is None
    ]
    if errors:
        raise ValidationFailed(errors)
    end = now if end is None else end.astimezone(UTC)
    try:
        start = end - DEFAULT_RANGE if start is None else start.astimezone(UTC)
    except OverflowError:  # a `to` in the first days of year 1
        raise ValidationFailed.one("to", "too early to count 30 days back from; give from") from None
    if end <= start:
        raise ValidationFailed.one("to", "must be after from")
    if end - start > MAX_RANGE:
        raise ValidationFailed.one("to", f"at most {MAX_RANGE.days} days after from")
    return start, end


def summarise(
    alerts: Iterable[AlertResponse],
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
) -> schemas.ResponseTimes:
    """The report's figures, pure: overall, per severity (all three, always) and per counselor."""
    alerts = list(alerts)
    by_counselor: dict[uuid.UUID | None, list[AlertResponse]] = {}
    for alert in alerts:
        by_counselor.setdefault(alert.counselor_id, []).append(alert)
    # By id, the unassigned last: a stable order a client can diff from one report to the next.
    counselors = sorted(by_counselor, key=lambda c: (c is None, str(c)))
    return schemas.ResponseTimes(
        start=start,
        end=end,
        as_of=as_of,
        total=_figures(alerts, as_of=as_of),
        by_severity=[
            schemas.SeverityResponseFigures(
                severity=severity,
                **msgspec.structs.asdict(
                    _figures(
                        [a for a in alerts if a.severity == severity],
                        as_of=as_of,
                    )
                ),
            )
            for severity in SEVERITIES
        ],
        by_counselor=[
            schemas.CounselorResponseFigures(
                counselor_id=counselor,
                **msgspec.structs.asdict(_figures(by_counselor[counselor], as_of=as_of)),
            )
            for counselor in counselors
        ],
    )


def _figures(alerts: list[AlertResponse], *, as_of: datetime) -> schemas.ResponseFigures:
    acknowledge = [
        (a.answered_at - a.response_started_at).total_seconds() for a in alerts if a.answered_at is not None
    ]
    outreach = [
        (a.first_outreach_at - a.opened_at).total_seconds() for a in alerts if a.first_outreach_at is not None
    ]
    return schemas.ResponseFigures(
        alerts=len(alerts),
        overdue=sum(1 for a in alerts if _was_overdue(a, as_of=as_of)),
        time_to_acknowledge=durations(acknowledge),
        time_to_first_outreach=durations(outreach),
    )


def _was_overdue(alert: AlertResponse, *, as_of: datetime) -> bool:
    if alert.answered_at is not None:
        return alert.answered_at > alert.respond_by
    waited_until = alert.closed_at if alert.closed_at is not None else as_of
    return waited_until > alert.respond_by


def durations(seconds: Sequence[float]) -> schemas.Durations:
    """Median (the mean of the two middle values for an even count) and the 90th percentile by
    nearest rank (the ``ceil(0.9 n)``-th smallest: a time that was actually measured)."""
    if not seconds:
        return schemas.Durations(count=0, median_seconds=None, p90_seconds=None)
    ordered = sorted(seconds)
    return schemas.Durations(
        count=len(ordered),
        median_seconds=float(statistics.median(ordered)),
        p90_seconds=float(ordered[math.ceil(0.9 * len(ordered)) - 1]),
    )
