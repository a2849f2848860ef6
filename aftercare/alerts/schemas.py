"""Wire types of alerts and the alert feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

# The engine names the rules and severities; the wire uses the very same types.
from aftercare.rules.engine import RuleName, Severity
from aftercare.rules.lifecycle import AlertStatus

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
# What happened to an alert: one row of ``alert_events``, one SSE event, one timeline entry.
AlertEventKind = Literal["opened", "raised", "reopened", "escalated", "acknowledged", "resolved"]


class Alert(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    graduate_id: uuid.UUID
    counselor_id: uuid.UUID | None
    rule: RuleName
    severity: Severity
    status: AlertStatus
    reasons: list[str]
    evidence: dict[str, Any]
    opened_at: UtcTimestamp
    last_seen_at: UtcTimestamp
    escalation_level: int
    respond_by: Annotated[
        UtcTimestamp,
        msgspec.Meta(
            description="Acknowledge by then: the severity's response target from the opening, or from "
            "the latest raise or re-open"
        ),
    ]
    overdue: Annotated[
        bool,
        msgspec.Meta(
            description="Open and past respond_by, at the moment of the answer; never when acknowledged"
        ),
    ]
    escalated_at: UtcTimestamp | None = None
    acknowledged_by: uuid.UUID | None = None
    acknowledged_at: UtcTimestamp | None = None
    resolved_by: uuid.UUID | None = None
    resolved_at: UtcTimestamp | None = None
    resolution_note: str | None = None


class AlertPage(msgspec.Struct):
    items: list[Alert]
    next_cursor: str | None


class ResolveRequest(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
