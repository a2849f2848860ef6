"""Wire types of alerts and the alert feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from aftercare.checkins.schemas import Checkin, HelpRequest
from aftercare.outreach.schemas import Outreach
from aftercare.push.schemas import SentNotification
from aftercare.rules.config import EscalationTarget

# The engine names the rules and severities; the wire uses the very same types.
from aftercare.rules.engine import RuleName, Severity
from aftercare.rules.lifecycle import AlertStatus
from aftercare.rules.routing import Channel, SkipReason

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
# What happened to an alert: one row of ``alert_events`` and one timeline entry. The SSE stream
# carries the changes a counselor acts on (``alerts/stream.py::STREAMED_KINDS``): not ``refreshed`` (a
# new sign of the same rule that changed only reasons, evidence and last_seen_at), nor the
# notification decisions ``notified`` (who was told, at which level, by which channel) and
# ``skipped`` (who or which level was passed over, and why), which are its history: "who knew, and
# when". ``escalated`` moves the alert to a later level of the policy, ``repeated`` starts a critical
# alert's policy again at its first level.
AlertEventKind = Literal[
    "opened",
    "raised",
    "refreshed",
    "reopened",
    "escalated",
    "repeated",
    "notified",
    "skipped",
    "acknowledged",
    "resolved",
]
# The kinds the SSE stream sends: each changes what a counselor sees of the alert (its status,
# severity, level or round). Refreshes and the notification decisions are read in the alert's detail.
STREAMED_KINDS: tuple[AlertEventKind, ...] = (
    "opened",
    "raised",
    "reopened",
    "escalated",
    "repeated",
    "acknowledged",
    "resolved",
)
# Who was told and who was passed over: the alert's history (its detail), not the graduate's timeline.
NOTIFICATION_DECISIONS: tuple[AlertEventKind, ...] = ("notified", "skipped")
# Why a notification decision was made: a reason to skip (``rules/routing.py::SkipReason``), or
# ``covering`` on a ``notified`` event whose recipient stands in for someone away.
DecisionReason = Literal[SkipReason, "covering"]


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
    escalation_level: Annotated[
        int, msgspec.Meta(description="The level of the escalation policy the alert stands at (0: the first)")
    ]
    escalation_round: Annotated[
        int,
        msgspec.Meta(description="How many times a critical alert's policy started again (critical_repeats)"),
    ] = 0
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


class AlertEvent(msgspec.Struct, kw_only=True):
    """One entry of an alert's event log (``alert_events``)."""

    id: int  # commit order; for every kind but ``refreshed`` also the SSE event's id
    kind: AlertEventKind
    at: UtcTimestamp
    severity: Severity  # the alert's, after this event
    escalation_level: int
    actor_id: uuid.UUID | None  # who acknowledged or resolved it; None for what the system did
    checkin_id: uuid.UUID | None  # the check-in whose answers opened, raised, refreshed or re-opened it
    target: EscalationTarget | None = None
    """notified, skipped: the target of the level the decision was made at."""
    recipient_id: uuid.UUID | None = None
    """notified: who was told; skipped: who was passed over (null when nobody was named)."""
    channel: Channel | None = None
    """notified: how (one event per channel)."""
    reason: DecisionReason | None = None
    """skipped: why; notified: ``covering`` when the recipient stands in for someone away."""


class AlertDetail(Alert, kw_only=True):
    """``GET /v1/alerts/{id}``: the alert and its whole story, each list oldest first."""

    checkins: list[Checkin]
    """The check-ins behind it: each its events name, and each of the days its evidence cites."""
    help_requests: list[HelpRequest]
    """The "help now" requests that opened, raised or re-opened it, with the graduate's words."""
    events: list[AlertEvent]
    notifications: list[SentNotification]
    """Every push about it: to the counselor as it opened or rose, to supervisors as it escalated."""
    outreach: list[Outreach]


class AlertPage(msgspec.Struct):
    items: list[Alert]
    next_cursor: str | None


class ResolveRequest(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
