"""The alert lifecycle in the database: open, raise, re-open, escalate, acknowledge, resolve.

What a day's rule hits do is decided by the pure ``rules.lifecycle.apply_hits`` (the backtest runs
the same function); this module stores the outcome. Every change appends to ``alert_events`` (the
stream's durable log) and queues a push to whoever must act, inside the caller's transaction, so an
alert can never be lost when the request that caused it fails: both commit, or neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.alerts import schemas
from aftercare.alerts.models import ACTIVE, Alert, AlertEvent
from aftercare.alerts.wakeup import send_wakeup
from aftercare.audit import service as audit
from aftercare.auth.access import can_reach
from aftercare.auth.models import User
from aftercare.auth.tokens import Principal
from aftercare.db.types import uuid7
from aftercare.errors import Conflict, NotFound
from aftercare.graduates.models import Graduate
from aftercare.pagination import before_key, decode_cursor, encode_cursor
from aftercare.push.service import enqueue_notification
from aftercare.push.webpush import make_topic
from aftercare.rules.config import ProgramRules
from aftercare.rules.engine import SEVERITY_RANK, RuleHit
from aftercare.rules.lifecycle import AlertChange, AlertState, apply_hits, silence_run
from aftercare.rules.service import current_rules

# Any key will do: it only has to be the same for every writer of alert_events.
_EVENT_LOCK_KEY = 0x616C7274  # "alrt"
ALERT_PUSH_TTL = timedelta(hours=24)


def to_schema(alert: Alert) -> schemas.Alert:
    return schemas.Alert(
        id=alert.id, graduate_id=alert.graduate_id, counselor_id=alert.counselor_id,
        rule=alert.rule, severity=alert.severity, status=alert.status,  # type: ignore[arg-type]
        reasons=list(alert.reasons), evidence=dict(alert.evidence), opened_at=alert.opened_at,
        last_seen_at=alert.last_seen_at, escalation_level=alert.escalation_level,
        escalated_at=alert.escalated_at, acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at, resolved_by=alert.resolved_by, resolved_at=alert.resolved_at,
        resolution_note=alert.resolution_note,
    )


def escalation_delay(rules: ProgramRules, severity: str) -> timedelta:
    policy = rules.escalation
    minutes = {"critical": policy.critical_minutes, "high": policy.high_minutes}.get(
        severity, policy.warning_minutes
    )
    return timedelta(minutes=minutes)


async def apply_hits_for_graduate(
    session: AsyncSession,
    *,
    graduate: Graduate,
    hits: Sequence[RuleHit],
    local_date: date,
    now: datetime,
    rules: ProgramRules,
    reopen_acknowledged: bool = False,
) -> list[Alert]:
    """Store what ``hits`` do to the graduate's alerts; returns the alerts opened, raised or updated.

    ``reopen_acknowledged``: "help now" re-opens an acknowledged safety alert even at the same
    severity (a new cry for help needs a new answer)."""
    if not hits:
        return []
    active = {
        alert.rule: alert
        for alert in await session.scalars(
            select(Alert).where(Alert.graduate_id == graduate.id, Alert.status.in_(ACTIVE))
        )
    }
    states = {
        rule: AlertState(rule=alert.rule, severity=alert.severity, status=alert.status,  # type: ignore[arg-type]
                         opened_on=alert.opened_on, run_started_on=alert.run_started_on)
        for rule, alert in active.items()
    }
    touched: list[Alert] = []
    for change in apply_hits(states, hits, local_date=local_date):
        alert = active.get(change.rule)
        if alert is None or change.kind == "opened":
            alert = await _open(session, graduate, change, now=now, rules=rules)
        elif change.kind == "raised" or (reopen_acknowledged and alert.status == "acknowledged"):
            await _raise(session, alert, change, now=now, rules=rules)
        else:
            _refresh(alert, change, now=now)
        touched.append(alert)
    await session.flush()
    await refresh_open_count(session, graduate.id)
    return touched


async def _open(session: AsyncSession, graduate: Graduate, change: AlertChange, *, now: datetime,
                rules: ProgramRules) -> Alert:
    alert = Alert(
        id=uuid7(), graduate_id=graduate.id, counselor_id=graduate.counselor_id, rule=change.rule,
        severity=change.severity, status="open", reasons=list(change.reasons), evidence=dict(change.evidence),
        opened_at=now, opened_on=change.local_date, last_seen_at=now, run_started_on=silence_run(change),
        escalation_level=0, escalate_at=now + escalation_delay(rules, change.severity),
    )
    session.add(alert)
    await session.flush()
    await _record_event(session, alert, "opened", now=now)
    await _notify(session, alert, kind="alert", recipients=[graduate.counselor_id], now=now)
    return alert


async def _raise(session: AsyncSession, alert: Alert, change: AlertChange, *, now: datetime,
                 rules: ProgramRules) -> None:
    reopened = SEVERITY_RANK[change.severity] <= SEVERITY_RANK[alert.severity]  # type: ignore[index]
    if not reopened:
        alert.severity = change.severity
    _refresh(alert, change, now=now)
    # A raise (or a new cry for help) needs a new answer: open again, escalation from level 0.
    alert.status = "open"
    alert.acknowledged_by = None
    alert.acknowledged_at = None
    alert.escalation_level = 0
    alert.escalated_at = None
    alert.escalate_at = now + escalation_delay(rules, alert.severity)
    await session.flush()
    await _record_event(session, alert, "reopened" if reopened else "raised", now=now)
    await _notify(session, alert, kind="alert", recipients=[alert.counselor_id], now=now)


def _refresh(alert: Alert, change: AlertChange, *, now: datetime) -> None:
    alert.reasons = list(change.reasons)
    alert.evidence = dict(change.evidence)
    alert.last_seen_at = now
    if change.rule == "silence":
        alert.run_started_on = silence_run(change)


async def _record_event(session: AsyncSession, alert: Alert, kind: str, *, now: datetime,
                        actor_id: uuid.UUID | None = None) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so event ids commit in id order: a reader polling `id > last` must
        # never see id 8 before a slower transaction commits id 7. (SQLite has one writer anyway.)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENT_LOCK_KEY})
        # Sent at commit: every process's stream poller reads the log at once, not at its next tick.
        await send_wakeup(session)
    await session.execute(
        insert(AlertEvent).values(
            alert_id=alert.id, graduate_id=alert.graduate_id, kind=kind, severity=alert.severity,
            escalation_level=alert.escalation_level, actor_id=actor_id, at=now,
        )
    )


async def _notify(session: AsyncSession, alert: Alert, *, kind: str, recipients: Iterable[uuid.UUID | None],
                  now: datetime) -> None:
    """Queue a push for each recipient. Lock screens are public: only the alert id and severity."""
    urgent = alert.severity == "critical" or kind == "escalation"
    for user_id in {r for r in recipients if r is not None}:
        await enqueue_notification(
            session, user_id=user_id, kind=kind,
            title="Escalated alert" if kind == "escalation" else "New alert in Aftercare",
            body=f"Severity: {alert.severity}. Open the console to review.",
            url=f"/console/alerts/{alert.id}", tag=f"alert-{alert.id}", ref_id=str(alert.id),
            urgency="high" if urgent else "normal", expires_at=now + ALERT_PUSH_TTL,
            topic=make_topic(kind, str(alert.id)), now=now,
        )


async def refresh_open_count(session: AsyncSession, graduate_id: uuid.UUID) -> None:
    """Keep the caseload's ``open_alerts`` in step, in the same transaction as the change."""
    count = select(func.count()).select_from(Alert).where(
        Alert.graduate_id == graduate_id, Alert.status.in_(ACTIVE)
    ).scalar_subquery()
    await session.execute(update(Graduate).where(Graduate.id == graduate_id).values(open_alerts=count))


async def escalate_due_alerts(
    session_factory: async_sessionmaker[AsyncSession], *, now: datetime, worker_id: str, limit: int = 200
) -> int:
    """Escalate every open alert whose wait ran out: level + 1, supervisors notified, next wait set.

    Each alert moves with a compare-and-set on its level inside one transaction with its event and
    pushes, so concurrent sweepers never escalate one level twice (``worker_id`` is for the logs)."""
    async with session_factory() as session, session.begin():
        rules = await current_rules(session)
        due = list(
            await session.scalars(
                select(Alert)
                .where(Alert.status == "open", Alert.escalate_at.is_not(None), Alert.escalate_at <= now)
                .order_by(Alert.escalate_at)
                .limit(limit)
            )
        )
        if not due:
            return 0
        supervisors = list(
            await session.scalars(select(User.id).where(User.role == "supervisor", User.active.is_(True)))
        )
        escalated = 0
        for alert in due:
            level = alert.escalation_level + 1
            more = level < rules.escalation.max_level
            moved = await session.execute(
                update(Alert)
                .where(Alert.id == alert.id, Alert.status == "open",
                       Alert.escalation_level == alert.escalation_level)
                .values(escalation_level=level, escalated_at=now,
                        escalate_at=now + escalation_delay(rules, alert.severity) if more else None)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                continue
            await session.refresh(alert)
            await _record_event(session, alert, "escalated", now=now)
            await _notify(session, alert, kind="escalation", recipients=supervisors, now=now)
            escalated += 1
    return escalated


async def _load_for_actor(session: AsyncSession, alert_id: uuid.UUID, actor: Principal) -> Alert:
    alert = await session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound("alert not found")
    counselor_id = await session.scalar(select(Graduate.counselor_id).where(Graduate.id == alert.graduate_id))
    if not can_reach(actor, graduate_id=alert.graduate_id, counselor_id=counselor_id):
        raise NotFound("alert not found")
    return alert


async def acknowledge_alert(session: AsyncSession, alert_id: uuid.UUID, *, actor: Principal,
                            now: datetime) -> schemas.Alert:
    """Stops escalation. Again on an acknowledged (or resolved) alert: no change."""
    async with session.begin():
        alert = await _load_for_actor(session, alert_id, actor)
        if alert.status == "open":
            alert.status = "acknowledged"
            alert.acknowledged_by = actor.user_id
            alert.acknowledged_at = now
            alert.escalate_at = None
            await session.flush()
            await _record_event(session, alert, "acknowledged", now=now, actor_id=actor.user_id)
            await audit.record(session, actor=actor, action="update", resource="alert",
                               graduate_id=alert.graduate_id, resource_id=str(alert.id), now=now)
    return to_schema(alert)


async def resolve_alert(session: AsyncSession, alert_id: uuid.UUID, note: str, *, actor: Principal,
                        now: datetime) -> schemas.Alert:
    async with session.begin():
        alert = await _load_for_actor(session, alert_id, actor)
        if alert.status == "resolved":
            raise Conflict("this alert is already resolved")
        alert.status = "resolved"
        alert.resolved_by = actor.user_id
        alert.resolved_at = now
        alert.resolution_note = note
        alert.escalate_at = None
        await session.flush()
        await _record_event(session, alert, "resolved", now=now, actor_id=actor.user_id)
        await refresh_open_count(session, alert.graduate_id)
        await audit.record(session, actor=actor, action="update", resource="alert",
                           graduate_id=alert.graduate_id, resource_id=str(alert.id), now=now)
    return to_schema(alert)


SEVERITIES_AT_LEAST = {
    "warning": ("warning", "high", "critical"),
    "high": ("high", "critical"),
    "critical": ("critical",),
}


async def list_alerts(
    session: AsyncSession,
    *,
    actor: Principal,
    statuses: Sequence[str],
    min_severity: str | None,
    graduate_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.AlertPage:
    """The feed, newest opened first, keyset-paged on (opened_at, id) over an index that matches."""
    key = decode_cursor(cursor)
    query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit + 1)
    if actor.role == "counselor":
        query = query.where(Alert.counselor_id == actor.user_id)
    if statuses:
        query = query.where(Alert.status.in_(statuses))
    if min_severity:
        query = query.where(Alert.severity.in_(SEVERITIES_AT_LEAST[min_severity]))
    if graduate_id is not None:
        query = query.where(Alert.graduate_id == graduate_id)
    if key is not None:
        opened_at = datetime.fromisoformat(key.sort_value)
        query = query.where(before_key(Alert.opened_at, Alert.id, opened_at, key.id))
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(session, actor=actor, resource="alerts", graduate_id=graduate_id, now=now)
    page = rows[:limit]
    return schemas.AlertPage(
        items=[to_schema(a) for a in page],
        next_cursor=encode_cursor(page[-1].opened_at, page[-1].id) if len(rows) > limit else None,
    )


async def reassign_alerts(session: AsyncSession, graduate_id: uuid.UUID, counselor_id: uuid.UUID | None) -> None:
    """A reassigned graduate's alerts follow them to the new counselor's feed."""
    await session.execute(
        update(Alert).where(Alert.graduate_id == graduate_id).values(counselor_id=counselor_id)
    )
