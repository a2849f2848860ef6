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
from typing import Any, Literal

import msgspec
from sqlalchemy import bindparam, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import schemas
from aftercare.alerts.models import ACTIVE, Alert, AlertEvent
from aftercare.alerts.wakeup import send_wakeup
from aftercare.audit import service as audit
from aftercare.auth.access import can_reach
from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.db.base import table_of
from aftercare.db.types import uuid7
from aftercare.errors import Conflict, NotFound
from aftercare.graduates.models import Graduate
from aftercare.pagination import before_key, decode_cursor, encode_cursor
from aftercare.push.service import NotificationSpec, enqueue_notifications
from aftercare.push.webpush import make_topic
from aftercare.rules.config import ProgramRules
from aftercare.rules.engine import SEVERITY_RANK, RuleHit, RuleName, Severity
from aftercare.rules.lifecycle import AlertChange, AlertState, AlertStatus, apply_hits, silence_run

# Any key will do: it only has to be the same for every writer of alert_events.
_EVENT_LOCK_KEY = 0x616C7274  # "alrt"
ALERT_PUSH_TTL = timedelta(hours=24)


def to_schema(alert: Alert) -> schemas.Alert:
    return schemas.Alert(
        id=alert.id,
        graduate_id=alert.graduate_id,
        counselor_id=alert.counselor_id,
        rule=alert.rule,
        severity=alert.severity,
        status=alert.status,  # type: ignore[arg-type]
        reasons=list(alert.reasons),
        evidence=dict(alert.evidence),
        opened_at=alert.opened_at,
        last_seen_at=alert.last_seen_at,
        escalation_level=alert.escalation_level,
        escalated_at=alert.escalated_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved_by=alert.resolved_by,
        resolved_at=alert.resolved_at,
        resolution_note=alert.resolution_note,
    )


def escalation_delay(rules: ProgramRules, severity: str) -> timedelta:
    policy = rules.escalation
    minutes = {"critical": policy.critical_minutes, "high": policy.high_minutes}.get(
        severity, policy.warning_minutes
    )
    return timedelta(minutes=minutes)


_alerts, _graduates = table_of(Alert), table_of(Graduate)
# Built once: the check-in path runs these for every batch with a rule hit.
_active_alerts = select(_alerts).where(
    _alerts.c.graduate_id.in_(bindparam("graduate_ids", expanding=True)),
    or_(*(_alerts.c.status == status for status in ACTIVE)),
)
_insert_alert = insert(_alerts)
_RAISED_COLUMNS = (
    "severity",
    "status",
    "reasons",
    "evidence",
    "last_seen_at",
    "run_started_on",
    "escalation_level",
    "escalated_at",
    "escalate_at",
    "acknowledged_by",
    "acknowledged_at",
)
_REFRESHED_COLUMNS = ("reasons", "evidence", "last_seen_at", "run_started_on")
_update_alert = update(_alerts).where(_alerts.c.id == bindparam("alert_id"))
_insert_events = insert(AlertEvent)
_open_counts = (
    update(_graduates)
    .where(_graduates.c.id.in_(bindparam("graduate_ids", expanding=True)))
    .values(
        open_alerts=select(func.count())
        .select_from(_alerts)
        .where(
            _alerts.c.graduate_id == _graduates.c.id, or_(*(_alerts.c.status == status for status in ACTIVE))
        )
        .scalar_subquery()
    )
)
# What a transaction must write of an alert it touched; a later change never asks for less.
_WRITES = {"inserted": 3, "raised": 2, "refreshed": 1}
Write = Literal["inserted", "raised", "refreshed"]


class TrackedAlert(msgspec.Struct, kw_only=True):
    """An open or acknowledged alert as a transaction holds it in memory: one row of ``alerts``."""

    id: uuid.UUID
    graduate_id: uuid.UUID
    counselor_id: uuid.UUID | None
    rule: RuleName
    severity: Severity
    status: AlertStatus
    reasons: list[str]
    evidence: dict[str, Any]
    opened_at: datetime
    opened_on: date
    last_seen_at: datetime
    run_started_on: date | None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    escalate_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    acknowledged_at: datetime | None = None
    resolved_by: uuid.UUID | None = None
    resolved_at: datetime | None = None
    resolution_note: str | None = None

    @property
    def state(self) -> AlertState:
        """What the pure lifecycle needs of it."""
        assert self.status != "resolved"  # only open and acknowledged alerts are tracked
        return AlertState(
            rule=self.rule,
            severity=self.severity,
            status=self.status,
            opened_on=self.opened_on,
            run_started_on=self.run_started_on,
        )


_TRACKED_FIELDS = TrackedAlert.__struct_fields__


class AlertChanges:
    """The alert lifecycle of one transaction, for any number of graduates and hits.

    The decisions are the pure lifecycle's (``rules.lifecycle.apply_hits``, which the backtest runs
    too): ``record`` takes the changes it decided (the check-in step's), ``apply`` decides them from
    hits (help now, silence). So a batch of check-ins where one graduate's second day raises what
    their first day opened decides exactly as one at a time would. ``write`` stores the outcome with a
    few statements whatever the number of alerts: the new alerts, the raised and the refreshed ones,
    their events, the pushes to whoever must act, and the caseloads' open counts. Load, decide and
    write inside one transaction that holds the graduates' rows, so nobody else changes their alerts
    meanwhile (an acknowledgement may: a refresh writes only what a refresh changes). Never commits."""

    def __init__(self, rules: ProgramRules, active: Iterable[Any]) -> None:
        self.rules = rules
        self._alerts: dict[uuid.UUID, TrackedAlert] = {}
        self._by_graduate: dict[uuid.UUID, dict[str, uuid.UUID]] = {}
        self._writes: dict[uuid.UUID, Write] = {}
        self._events: list[dict[str, Any]] = []
        self._pushes: list[NotificationSpec] = []
        for row in active:
            self._track(TrackedAlert(**{name: getattr(row, name) for name in _TRACKED_FIELDS}))

    @classmethod
    async def load(
        cls, session: AsyncSession, graduate_ids: Iterable[uuid.UUID], rules: ProgramRules
    ) -> AlertChanges:
        """The graduates' open and acknowledged alerts, read with one statement."""
        ids = list(graduate_ids)
        if not ids:
            return cls(rules, ())
        connection = await session.connection()
        return cls(rules, await connection.execute(_active_alerts, {"graduate_ids": ids}))

    def _track(self, alert: TrackedAlert) -> None:
        self._alerts[alert.id] = alert
        self._by_graduate.setdefault(alert.graduate_id, {})[alert.rule] = alert.id

    def states(self, graduate_id: uuid.UUID) -> dict[str, AlertState]:
        """The graduate's open-or-acknowledged alerts as the lifecycle sees them, keyed by rule."""
        return {
            rule: self._alerts[alert_id].state
            for rule, alert_id in self._by_graduate.get(graduate_id, {}).items()
        }

    def apply(
        self,
        *,
        graduate_id: uuid.UUID,
        counselor_id: uuid.UUID | None,
        hits: Sequence[RuleHit],
        local_date: date,
        now: datetime,
        reopen_acknowledged: bool = False,
    ) -> list[uuid.UUID]:
        """What ``hits`` do to the graduate's alerts (decided by the lifecycle, then recorded); the
        ids of the alerts opened, raised or updated."""
        changes = apply_hits(self.states(graduate_id), hits, local_date=local_date)
        return self.record(
            graduate_id=graduate_id,
            counselor_id=counselor_id,
            changes=changes,
            now=now,
            reopen_acknowledged=reopen_acknowledged,
        )

    def record(
        self,
        *,
        graduate_id: uuid.UUID,
        counselor_id: uuid.UUID | None,
        changes: Sequence[AlertChange],
        now: datetime,
        reopen_acknowledged: bool = False,
    ) -> list[uuid.UUID]:
        """Make the lifecycle's ``changes`` to the graduate's alerts, to be written by ``write``; the
        ids of the alerts opened, raised or updated.

        ``reopen_acknowledged``: "help now" re-opens an acknowledged safety alert even at the same
        severity (a new cry for help needs a new answer)."""
        active = self._by_graduate.get(graduate_id, {})
        touched = []
        for change in changes:
            alert_id = active.get(change.rule)
            if alert_id is None or change.kind == "opened":
                alert = self._open(graduate_id, counselor_id, change, now=now)
            else:
                alert = self._alerts[alert_id]
                if change.kind == "raised" or (reopen_acknowledged and alert.status == "acknowledged"):
                    self._raise(alert, change, now=now)
                else:
                    _refresh(alert, change, now=now)
                    self._mark(alert, "refreshed")
            touched.append(alert.id)
        return touched

    def _open(
        self, graduate_id: uuid.UUID, counselor_id: uuid.UUID | None, change: AlertChange, *, now: datetime
    ) -> TrackedAlert:
        alert = TrackedAlert(
            id=uuid7(),
            graduate_id=graduate_id,
            counselor_id=counselor_id,
            rule=change.rule,
            severity=change.severity,
            status="open",
            reasons=list(change.reasons),
            evidence=dict(change.evidence),
            opened_at=now,
            opened_on=change.on,
            last_seen_at=now,
            run_started_on=silence_run(change),
            escalate_at=now + escalation_delay(self.rules, change.severity),
        )
        self._track(alert)
        self._mark(alert, "inserted")
        self._record(alert, "opened", now=now)
        self._push_to(alert, now=now)
        return alert

    def _raise(self, alert: TrackedAlert, change: AlertChange, *, now: datetime) -> None:
        reopened = SEVERITY_RANK[change.severity] <= SEVERITY_RANK[alert.severity]
        if not reopened:
            alert.severity = change.severity
        _refresh(alert, change, now=now)
        if change.rule == "silence":
            # A raise makes a silence alert the alert of the run that raised it (an update does not).
            alert.run_started_on = silence_run(change)
        # A raise (or a new cry for help) needs a new answer: open again, escalation from level 0.
        alert.status = "open"
        alert.acknowledged_by = alert.acknowledged_at = None
        alert.escalation_level = 0
        alert.escalated_at = None
        alert.escalate_at = now + escalation_delay(self.rules, alert.severity)
        self._mark(alert, "raised")
        self._record(alert, "reopened" if reopened else "raised", now=now)
        self._push_to(alert, now=now)

    def _mark(self, alert: TrackedAlert, write: Write) -> None:
        known = self._writes.get(alert.id)
        if known is None or _WRITES[write] > _WRITES[known]:
            self._writes[alert.id] = write

    def _push_to(self, alert: TrackedAlert, *, now: datetime) -> None:
        """The graduate's counselor must act (a graduate without one: the inbox has no owner)."""
        if alert.counselor_id is not None:
            self._pushes.append(_push_for(alert.id, alert.severity, "alert", alert.counselor_id, now=now))

    def _record(self, alert: TrackedAlert, kind: str, *, now: datetime) -> None:
        self._events.append(
            _event_row(alert.id, alert.graduate_id, kind, alert.severity, alert.escalation_level, now=now)
        )

    async def write(self, session: AsyncSession) -> None:
        """Store everything decided so far, in the caller's transaction."""
        if not self._writes:
            return
        connection = await session.connection()
        by_write: dict[Write, list[TrackedAlert]] = {"inserted": [], "raised": [], "refreshed": []}
        for alert_id, write in self._writes.items():
            by_write[write].append(self._alerts[alert_id])
        if by_write["inserted"]:
            await connection.execute(_insert_alert, [msgspec.structs.asdict(a) for a in by_write["inserted"]])
        for write, columns in (("raised", _RAISED_COLUMNS), ("refreshed", _REFRESHED_COLUMNS)):
            if by_write[write]:
                await connection.execute(
                    _update_alert,
                    [{"alert_id": a.id, **{c: getattr(a, c) for c in columns}} for a in by_write[write]],
                )
        await _store_events(session, self._events)
        if self._pushes:
            # Every push goes with the event of the same change: the latest event is the latest change.
            await enqueue_notifications(session, self._pushes, now=max(event["at"] for event in self._events))
        await refresh_open_counts(session, {self._alerts[alert_id].graduate_id for alert_id in self._writes})
        self._writes, self._events, self._pushes = {}, [], []


def _refresh(alert: TrackedAlert, change: AlertChange, *, now: datetime) -> None:
    alert.reasons, alert.evidence, alert.last_seen_at = list(change.reasons), dict(change.evidence), now


def _event_row(
    alert_id: uuid.UUID,
    graduate_id: uuid.UUID,
    kind: str,
    severity: str,
    escalation_level: int,
    *,
    now: datetime,
    actor_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "graduate_id": graduate_id,
        "kind": kind,
        "severity": severity,
        "escalation_level": escalation_level,
        "actor_id": actor_id,
        "at": now,
    }


async def _store_events(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so event ids commit in id order: a reader polling `id > last` must
        # never see id 8 before a slower transaction commits id 7. (SQLite has one writer anyway.)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENT_LOCK_KEY})
        # Sent at commit: every process's stream poller reads the log at once, not at its next tick.
        await send_wakeup(session)
    connection = await session.connection()
    await connection.execute(_insert_events, events)


async def _record_event(
    session: AsyncSession, alert: Alert, kind: str, *, now: datetime, actor_id: uuid.UUID | None = None
) -> None:
    await _store_events(
        session,
        [
            _event_row(
                alert.id,
                alert.graduate_id,
                kind,
                alert.severity,
                alert.escalation_level,
                now=now,
                actor_id=actor_id,
            )
        ],
    )


def _push_for(
    alert_id: uuid.UUID, severity: str, kind: str, user_id: uuid.UUID, *, now: datetime
) -> NotificationSpec:
    """A push about an alert. Lock screens are public: only the alert id and severity."""
    urgent = severity == "critical" or kind == "escalation"
    return NotificationSpec(
        user_id=user_id,
        kind=kind,
        title="Escalated alert" if kind == "escalation" else "New alert in Aftercare",
        body=f"Severity: {severity}. Open the console to review.",
        url=f"/console/alerts/{alert_id}",
        tag=f"alert-{alert_id}",
        ref_id=str(alert_id),
        urgency="high" if urgent else "normal",
        expires_at=now + ALERT_PUSH_TTL,
        topic=make_topic(kind, str(alert_id)),
    )


async def refresh_open_counts(session: AsyncSession, graduate_ids: Iterable[uuid.UUID]) -> None:
    """Keep the caseload's ``open_alerts`` in step, in the same transaction as the change."""
    ids = list(graduate_ids)
    if ids:
        connection = await session.connection()
        await connection.execute(_open_counts, {"graduate_ids": ids})


async def escalate_due_alerts(
    session: AsyncSession, *, rules: ProgramRules, now: datetime, limit: int
) -> int:
    """Escalate open alerts whose wait ran out, in the caller's transaction: level + 1, supervisors
    notified, next wait set; how many moved.

    Each alert moves with a compare-and-set on its level, with its event and pushes, so concurrent
    sweepers never escalate one level twice."""
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
            .where(
                Alert.id == alert.id,
                Alert.status == "open",
                Alert.escalation_level == alert.escalation_level,
            )
            .values(
                escalation_level=level,
                escalated_at=now,
                escalate_at=now + escalation_delay(rules, alert.severity) if more else None,
            )
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue
        await session.refresh(alert)
        await _record_event(session, alert, "escalated", now=now)
        await enqueue_notifications(
            session,
            [_push_for(alert.id, alert.severity, "escalation", user_id, now=now) for user_id in supervisors],
            now=now,
        )
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


async def acknowledge_alert(
    session: AsyncSession, alert_id: uuid.UUID, *, actor: Principal, now: datetime
) -> schemas.Alert:
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
            await audit.record(
                session,
                actor=actor,
                action="update",
                resource="alert",
                graduate_id=alert.graduate_id,
                resource_id=str(alert.id),
                now=now,
            )
    return to_schema(alert)


async def resolve_alert(
    session: AsyncSession, alert_id: uuid.UUID, note: str, *, actor: Principal, now: datetime
) -> schemas.Alert:
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
        await refresh_open_counts(session, [alert.graduate_id])
        await audit.record(
            session,
            actor=actor,
            action="update",
            resource="alert",
            graduate_id=alert.graduate_id,
            resource_id=str(alert.id),
            now=now,
        )
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
        await audit.record_staff_read(
            session, actor=actor, resource="alerts", graduate_id=graduate_id, now=now
        )
    page = rows[:limit]
    return schemas.AlertPage(
        items=[to_schema(a) for a in page],
        next_cursor=encode_cursor(page[-1].opened_at, page[-1].id) if len(rows) > limit else None,
    )


async def reassign_alerts(
    session: AsyncSession, graduate_id: uuid.UUID, counselor_id: uuid.UUID | None
) -> None:
    """A reassigned graduate's alerts follow them to the new counselor's feed."""
    await session.execute(
        update(Alert).where(Alert.graduate_id == graduate_id).values(counselor_id=counselor_id)
    )
