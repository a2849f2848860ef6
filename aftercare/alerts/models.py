"""Alerts, their durable event log (the SSE stream reads it) and stream tickets."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.alerts.schemas import AlertEventKind, DecisionReason
from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC, JSONDoc
from aftercare.rules.config import EscalationTarget
from aftercare.rules.engine import RuleName, Severity
from aftercare.rules.lifecycle import AlertStatus
from aftercare.rules.routing import Channel

ACTIVE = ("open", "acknowledged")


class Alert(UUIDPrimaryKey, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open-or-acknowledged alert per (graduate, rule): the database enforces it.
        Index(
            "uq_alerts_active_graduate_rule",
            "graduate_id",
            "rule",
            unique=True,
            sqlite_where=text("status IN ('open', 'acknowledged')"),
            postgresql_where=text("status IN ('open', 'acknowledged')"),
        ),
        # The feed: newest opened first, keyset on (opened_at, id); per counselor and for all.
        Index("ix_alerts_opened_at_id", "opened_at", "id"),
        Index("ix_alerts_counselor_id_opened_at_id", "counselor_id", "opened_at", "id"),
        # The feed filtered by status (`?status=open`, with or without min_severity; migration 0007).
        Index("ix_alerts_status_opened_at_id", "status", "opened_at", "id"),
        Index("ix_alerts_graduate_id_opened_at", "graduate_id", "opened_at"),
        # The escalation sweep: open alerts whose escalation is due.
        Index("ix_alerts_escalate_at", "escalate_at"),
        # The feed's `?overdue=true`: open alerts past their respond_by (only open ones are indexed;
        # migration 0010).
        Index(
            "ix_alerts_open_respond_by",
            "respond_by",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        one_of("rule", RuleName),
        one_of("severity", Severity),
        one_of("status", AlertStatus),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    counselor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    rule: Mapped[RuleName] = mapped_column(String(32))
    severity: Mapped[Severity] = mapped_column(String(16))
    status: Mapped[AlertStatus] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSONDoc)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    opened_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    opened_on: Mapped[date] = mapped_column(Date)
    last_seen_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    run_started_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Where the alert stands in the escalation policy (rules/routing.py): the level notified last, the
    # round of a critical alert's repeats, and who that level notified (so a level whose people can no
    # longer be reached is notified again instead of holding an alert nobody can see).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalation_round: Mapped[int] = mapped_column(Integer, server_default="0")
    recipients: Mapped[list[str] | None] = mapped_column(JSONDoc, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    escalate_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    # The response clock: started at the opening, restarted by a raise or re-open; respond_by is
    # its response target from then (rules/targets.py), kept after acknowledgement as the record.
    response_started_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    respond_by: Mapped[datetime] = mapped_column(DateTimeUTC())
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class AlertEvent(Base):
    """Every change of an alert, in commit order. The integer id is the SSE event id, so
    ``Last-Event-ID`` resumes exactly; writers serialise on a lock so ids commit in order."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_graduate_id_at", "graduate_id", "at"),
        # One alert's story (GET /v1/alerts/{id}) and when it last began to need an answer (outreach).
        Index("ix_alert_events_alert_id_id", "alert_id", "id"),
        one_of("kind", AlertEventKind),
        one_of("severity", Severity),
        one_of("target", EscalationTarget),
        one_of("channel", Channel),
        one_of("reason", DecisionReason),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    graduate_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[AlertEventKind] = mapped_column(String(16))
    severity: Mapped[Severity] = mapped_column(String(16))
    escalation_level: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    at: Mapped[datetime] = mapped_column(DateTimeUTC())
    # The check-in (submitted or amended) whose rule hit opened, raised, refreshed or re-opened the
    # alert; None for everything else. No foreign key: a batch writes its events before its check-ins.
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    # A notification decision (notified, skipped): the level's target, who, by which channel, why.
    target: Mapped[EscalationTarget | None] = mapped_column(String(16), nullable=True)
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    channel: Mapped[Channel | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[DecisionReason | None] = mapped_column(String(24), nullable=True)
