"""The alert lifecycle in the database: open, raise, re-open, escalate, acknowledge, resolve.

What a day's rule hits do is decided by the pure ``rules.lifecycle.apply_hits`` (the backtest runs
the same function); this module stores the outcome. Every change appends to ``alert_events`` (the
stream's durable log) and queues a push to whoever must act, inside the caller's transaction, so an
alert can never be lost when the request that caused it fails: both commit, or neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import and_, bindparam, exists, func, insert, not_, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts import schemas
from aftercare.alerts.models import ACTIVE, Alert, AlertEvent
from aftercare.alerts.routing import decision_rows, load_facts, placed
from aftercare.alerts.schemas import STREAMED_KINDS
from aftercare.alerts.wakeup import send_wakeup
from aftercare.audit import service as audit
from aftercare.auth.access import can_reach, cover_of, reach_condition
from aftercare.auth.principal import Principal
from aftercare.db.base import table_of
from aftercare.db.types import uuid7
from aftercare.errors import Conflict, NotFound
from aftercare.graduates.models import Graduate
from aftercare.pagination import Instant, Keyset, before_key
from aftercare.push.service import NotificationSpec, enqueue_notifications
from aftercare.rules.config import ProgramRules
from aftercare.rules.engine import SEVERITY_RANK, RuleHit, RuleName, Severity
from aftercare.rules.lifecycle import AlertChange, AlertState, AlertStatus, apply_hits, silence_run
from aftercare.rules.routing import Hold, walk, when_due
from aftercare.rules.targets import respond_by

# Any key will do: it only has to be the same for every writer of alert_events.
_EVENT_LOCK_KEY = 0x616C7274  # "alrt"


def is_overdue(status: str, respond_by: datetime, *, now: datetime) -> bool:
    """Open and past its target. An acknowledged alert has been answered: it has no further target
    (its outreach is the counselor's next step, not a clock); a resolved one is closed."""
    return status == "open" and respond_by < now


def to_schema(alert: Alert, *, now: datetime) -> schemas.Alert:
    """The wire alert; ``overdue`` is as of ``now``, the reader's clock."""
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
        escalation_round=alert.escalation_round or 0,
        respond_by=alert.respond_by,
        overdue=is_overdue(alert.status, alert.respond_by, now=now),
        escalated_at=alert.escalated_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        resolved_by=alert.resolved_by,
        resolved_at=alert.resolved_at,
        resolution_note=alert.resolution_note,
    )


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
    "escalation_round",
    "recipients",
    "escalated_at",
    "escalate_at",
    "response_started_at",
    "respond_by",
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
    response_started_at: datetime
    respond_by: datetime
    escalation_level: int = 0
    escalation_round: int = 0
    recipients: list[str] | None = None
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
        # Each opening, raise or re-open starts the policy again: (alert, when, its severity then,
        # where its event sits in _events), walked at write time in order.
        self._to_route: list[tuple[uuid.UUID, datetime, Severity, int]] = []
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
        checkin_id: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Make the lifecycle's ``changes`` to the graduate's alerts, to be written by ``write``; the
        ids of the alerts opened, raised or updated.

        ``reopen_acknowledged``: "help now" re-opens an acknowledged safety alert even at the same
        severity (a new cry for help needs a new answer). ``checkin_id``: the check-in whose hits
        these are, named on each event they make (the alert detail lists those check-ins)."""
        active = self._by_graduate.get(graduate_id, {})
        touched = []
        for change in changes:
            alert_id = active.get(change.rule)
            if alert_id is None or change.kind == "opened":
                alert = self._open(graduate_id, counselor_id, change, now=now, checkin_id=checkin_id)
            else:
                alert = self._alerts[alert_id]
                if change.kind == "raised" or (reopen_acknowledged and alert.status == "acknowledged"):
                    self._raise(alert, change, now=now, checkin_id=checkin_id)
                else:
                    _refresh(alert, change, now=now)
                    self._mark(alert, "refreshed")
                    self._record(alert, "refreshed", now=now, checkin_id=checkin_id)
            touched.append(alert.id)
        return touched

    def _open(
        self,
        graduate_id: uuid.UUID,
        counselor_id: uuid.UUID | None,
        change: AlertChange,
        *,
        now: datetime,
        checkin_id: uuid.UUID | None,
    ) -> TrackedAlert:
        due = respond_by(self.rules, change.severity, start=now)
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
            opened_on=change.local_date,
            last_seen_at=now,
            run_started_on=silence_run(change),
            response_started_at=now,
            respond_by=due,
            escalate_at=due,  # level 0 escalates exactly when the response target is missed
        )
        self._track(alert)
        self._mark(alert, "inserted")
        self._record(alert, "opened", now=now, checkin_id=checkin_id)
        self._to_route.append((alert.id, now, alert.severity, len(self._events)))
        return alert

    def _raise(
        self, alert: TrackedAlert, change: AlertChange, *, now: datetime, checkin_id: uuid.UUID | None
    ) -> None:
        reopened = SEVERITY_RANK[change.severity] <= SEVERITY_RANK[alert.severity]
        if not reopened:
            alert.severity = change.severity
        _refresh(alert, change, now=now)
        # A raise (or a new cry for help) needs a new answer: open again, a new response target
        # counted from now, and escalation from level 0 when that target is missed.
        alert.status = "open"
        alert.acknowledged_by = alert.acknowledged_at = None
        alert.escalation_level = alert.escalation_round = 0
        alert.escalated_at = None
        alert.response_started_at = now
        alert.respond_by = alert.escalate_at = respond_by(self.rules, alert.severity, start=now)
        self._mark(alert, "raised")
        self._record(alert, "reopened" if reopened else "raised", now=now, checkin_id=checkin_id)
        self._to_route.append((alert.id, now, alert.severity, len(self._events)))

    def _mark(self, alert: TrackedAlert, write: Write) -> None:
        known = self._writes.get(alert.id)
        if known is None or _WRITES[write] > _WRITES[known]:
            self._writes[alert.id] = write

    async def _route(self, session: AsyncSession) -> None:
        """Walk the policy from its first level for every opening, raise or re-open
        (``rules/routing.py::walk``), in order, as one at a time would: whoever can act now is
        notified, a level that reaches nobody is skipped at once, each decision is an event right
        after the change's own, and the alert stands where its latest walk put it."""
        if not self._to_route:
            return
        facts = await load_facts(session, at=max(now for _, now, _, _ in self._to_route))
        placed_after: list[tuple[int, list[dict[str, Any]]]] = []
        for alert_id, now, severity, position in self._to_route:
            alert = self._alerts[alert_id]
            decision = walk(
                self.rules,
                start=0,
                round=0,
                counselor_id=alert.counselor_id,
                severity=severity,
                facts=facts,
                at=now,
            )
            for name, value in placed(decision).items():
                setattr(alert, name, value)
            alert.escalated_at = now if decision.level > 0 else None
            events, notifications = decision_rows(
                alert_id=alert.id,
                graduate_id=alert.graduate_id,
                severity=severity,
                routing=decision,
                entered_from=0,
                repeated=False,
                now=now,
            )
            placed_after.append((position, events))
            self._pushes.extend(notifications)
        for position, events in reversed(placed_after):
            self._events[position:position] = events
        self._to_route = []

    def _record(self, alert: TrackedAlert, kind: str, *, now: datetime, checkin_id: uuid.UUID | None) -> None:
        self._events.append(
            _event_row(
                alert.id,
                alert.graduate_id,
                kind,
                alert.severity,
                alert.escalation_level,
                now=now,
                checkin_id=checkin_id,
            )
        )

    async def write(self, session: AsyncSession) -> None:
        """Store everything decided so far, in the caller's transaction."""
        if not self._writes:
            return
        await self._route(session)
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
    if change.rule == "silence":
        alert.run_started_on = silence_run(change)


def _event_row(
    alert_id: uuid.UUID,
    graduate_id: uuid.UUID,
    kind: str,
    severity: str,
    escalation_level: int,
    *,
    now: datetime,
    actor_id: uuid.UUID | None = None,
    checkin_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    # Every key in every row: one executemany writes events of all kinds together.
    return {
        "alert_id": alert_id,
        "graduate_id": graduate_id,
        "kind": kind,
        "severity": severity,
        "escalation_level": escalation_level,
        "actor_id": actor_id,
        "at": now,
        "checkin_id": checkin_id,
        "target": None,
        "recipient_id": None,
        "channel": None,
        "reason": None,
    }


async def _store_events(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so event ids commit in id order: a reader polling `id > last` must
        # never see id 8 before a slower transaction commits id 7. (SQLite has one writer anyway.)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENT_LOCK_KEY})
        # Sent at commit: every process's stream poller reads the log at once, not at its next tick.
        # Refreshes and notification decisions are not streamed: alone they wake no reader.
        if any(event["kind"] in STREAMED_KINDS for event in events):
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


async def refresh_open_counts(session: AsyncSession, graduate_ids: Iterable[uuid.UUID]) -> None:
    """Keep the caseload's ``open_alerts`` in step, in the same transaction as the change."""
    ids = list(graduate_ids)
    if ids:
        connection = await session.connection()
        await connection.execute(_open_counts, {"graduate_ids": ids})


async def escalate_due_alerts(
    session: AsyncSession, *, rules: ProgramRules, now: datetime, limit: int
) -> int:
    """Take the next step of every open alert whose level's wait ran out (``rules/routing.py::
    when_due``), in the caller's transaction: the next level, the policy again from the first level
    (a critical alert's repeats), the last level again if nobody notified there can act any more,
    or nothing until its next wait; how many alerts stepped.

    Each alert steps with a compare-and-set on where it stood (level, round, due time), with its
    events and notifications, so concurrent sweepers never notify one level twice."""
    due = list(
        await session.scalars(  # ix_alerts_escalate_at
            select(Alert)
            .where(Alert.status == "open", Alert.escalate_at.is_not(None), Alert.escalate_at <= now)
            .order_by(Alert.escalate_at)
            .limit(limit)
        )
    )
    if not due:
        return 0
    facts = await load_facts(session, at=now)
    stepped = 0
    for alert in due:
        stood = (alert.escalation_level, alert.escalation_round, alert.escalate_at)
        decision = when_due(
            rules,
            level=alert.escalation_level,
            round=alert.escalation_round,
            recipients=[uuid.UUID(r) for r in alert.recipients or ()],
            counselor_id=alert.counselor_id,
            severity=alert.severity,
            facts=facts,
            at=now,
        )
        if isinstance(decision, Hold) or (decision[0] == "recheck" and not decision[1].recipients):
            # Held, or re-tried and still nobody to reach (nothing new to record): the next look only.
            decision = Hold(
                escalate_at=decision.escalate_at if isinstance(decision, Hold) else decision[1].escalate_at
            )
            values: dict[str, Any] = {"escalate_at": decision.escalate_at}
        else:
            step, routing = decision
            values = placed(routing)
            if step != "recheck":
                values["escalated_at"] = now
        moved = await session.execute(
            update(Alert)
            .where(
                Alert.id == alert.id,
                Alert.status == "open",
                Alert.escalation_level == stood[0],
                Alert.escalation_round == stood[1],
                Alert.escalate_at == stood[2],
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another sweeper took this step, or the alert was answered meanwhile
        stepped += 1
        if isinstance(decision, Hold):
            continue
        events, notifications = decision_rows(
            alert_id=alert.id,
            graduate_id=alert.graduate_id,
            severity=alert.severity,
            routing=routing,
            entered_from={"escalate": stood[0], "repeat": 0, "recheck": None}[step],
            repeated=step == "repeat",
            now=now,
        )
        await _store_events(session, events)
        await enqueue_notifications(session, notifications, now=now)
    return stepped


async def load_for_actor(
    session: AsyncSession, alert_id: uuid.UUID, actor: Principal, *, now: datetime, for_update: bool = True
) -> Alert:
    """The alert if ``actor`` may reach it at ``now`` (``auth/access.py::can_reach``: its graduate's
    counselor or their cover, a supervisor, or someone it was sent to while it is active), locked for
    the caller's change unless ``for_update`` is off; else 404, as for an alert that does not exist."""
    alert = await session.get(Alert, alert_id, with_for_update=for_update)
    if alert is None:
        raise NotFound("alert not found")
    if actor.role == "supervisor":
        return alert
    row = (
        await session.execute(
            select(Graduate.counselor_id, cover_of(Graduate.counselor_id, now).label("cover_id")).where(
                Graduate.id == alert.graduate_id
            )
        )
    ).one()
    notified = alert.status in ACTIVE and bool(
        await session.scalar(  # ix_alert_events_alert_id_id
            select(
                exists().where(
                    AlertEvent.alert_id == alert.id,
                    AlertEvent.kind == "notified",
                    AlertEvent.recipient_id == actor.user_id,
                    # A cover reaches the caseload by the cover rule, for exactly the period.
                    or_(AlertEvent.reason.is_(None), AlertEvent.reason != "covering"),
                )
            )
        )
    )
    if not can_reach(
        actor,
        graduate_id=alert.graduate_id,
        counselor_id=row.counselor_id,
        cover_id=row.cover_id,
        notified=notified,
    ):
        raise NotFound("alert not found")
    return alert


async def graduate_of(session: AsyncSession, alert_id: uuid.UUID) -> uuid.UUID | None:
    """The graduate an alert is about (never changes), without locking it; None if there is no alert."""
    return await session.scalar(select(Alert.graduate_id).where(Alert.id == alert_id))


async def acknowledge(session: AsyncSession, alert: Alert, *, actor: Principal, now: datetime) -> bool:
    """Acknowledge ``alert`` (loaded for update) if it is open: by ``actor`` at ``now``, escalation
    stopped, its ``acknowledged`` event (on the stream) and the audit row, in the caller's
    transaction; never commits. Whether it changed anything (an acknowledged or resolved alert stays
    as it is). ``acknowledge_alert`` and recorded outreach (``flows/outreach.py``) both use it."""
    if alert.status != "open":
        return False
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
    return True


async def acknowledge_alert(
    session: AsyncSession, alert_id: uuid.UUID, *, actor: Principal, now: datetime
) -> schemas.Alert:
    """Stops escalation. Again on an acknowledged (or resolved) alert: no change."""
    async with session.begin():
        alert = await load_for_actor(session, alert_id, actor, now=now)
        await acknowledge(session, alert, actor=actor, now=now)
    return to_schema(alert, now=now)


async def events_of(session: AsyncSession, alert_id: uuid.UUID) -> list[schemas.AlertEvent]:
    """An alert's event log in commit order (``ix_alert_events_alert_id_id``)."""
    rows = await session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    )
    return [
        schemas.AlertEvent(
            id=row.id,
            kind=row.kind,
            at=row.at,
            severity=row.severity,
            escalation_level=row.escalation_level,
            actor_id=row.actor_id,
            checkin_id=row.checkin_id,
            target=row.target,
            recipient_id=row.recipient_id,
            channel=row.channel,
            reason=row.reason,
        )
        for row in rows
    ]


def evidence_days(alert: Alert) -> list[date]:
    """The local days of check-ins the alert's evidence cites. Not silence's (its days are the
    missed ones) nor a help request's (its day is when help was asked for, which any check-in of
    that day had no part in)."""
    if alert.rule == "silence" or alert.evidence.get("values", {}).get("help_request"):
        return []
    return [date.fromisoformat(day) for day in alert.evidence.get("local_dates", [])]


async def resolve_alert(
    session: AsyncSession, alert_id: uuid.UUID, note: str, *, actor: Principal, now: datetime
) -> schemas.Alert:
    async with session.begin():
        alert = await load_for_actor(session, alert_id, actor, now=now)
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
    return to_schema(alert, now=now)


SEVERITIES_AT_LEAST = {
    "warning": ("warning", "high", "critical"),
    "high": ("high", "critical"),
    "critical": ("critical",),
}


_CURSORS = Keyset[datetime](Instant)  # the feed's keys: (opened_at, id)


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
    overdue: bool | None = None,
) -> schemas.AlertPage:
    """The feed, newest opened first, keyset-paged on (opened_at, id) over an index that matches.

    ``overdue``: only open alerts past their ``respond_by`` at ``now`` (true; the partial index
    ``ix_alerts_open_respond_by`` finds them), or only the others (false)."""
    key = _CURSORS.decode(cursor)
    query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit + 1)
    if actor.role == "counselor":
        query = query.where(reach_condition(actor, Alert.counselor_id, now))
    if statuses:
        query = query.where(Alert.status.in_(statuses))
    if min_severity:
        query = query.where(Alert.severity.in_(SEVERITIES_AT_LEAST[min_severity]))
    if graduate_id is not None:
        query = query.where(Alert.graduate_id == graduate_id)
    if overdue is not None:
        # The same test as is_overdue, written for the index's predicate (status = 'open').
        past_due = and_(Alert.status == "open", Alert.respond_by < now)
        query = query.where(past_due if overdue else not_(past_due))
    if key is not None:
        query = query.where(before_key(Alert.opened_at, Alert.id, key.sort_value, key.id))
    async with session.begin():
        rows = list(await session.scalars(query))
        await audit.record_staff_read(
            session, actor=actor, resource="alerts", graduate_id=graduate_id, now=now
        )
    page = rows[:limit]
    return schemas.AlertPage(
        items=[to_schema(a, now=now) for a in page],
        next_cursor=_CURSORS.encode(page[-1].opened_at, page[-1].id) if len(rows) > limit else None,
    )


async def reassign_alerts(
    session: AsyncSession, graduate_id: uuid.UUID, counselor_id: uuid.UUID | None
) -> None:
    """A reassigned graduate's alerts follow them to the new counselor's feed."""
    await session.execute(
        update(Alert).where(Alert.graduate_id == graduate_id).values(counselor_id=counselor_id)
    )
