"""Wire types of a graduate's timeline: one list of everything that happened, newest first.

Each entry names its ``kind`` and carries only the part for that kind. Free text a graduate wrote
(check-in notes, help messages), resolution notes and outreach notes stay out: the timeline is for scanning.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from aftercare.alerts.schemas import AlertEventKind
from aftercare.doses.schemas import DoseStatus
from aftercare.outreach.schemas import OutreachMethod, OutreachOutcome

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
TimelineKind = Literal[
    "checkin",
    "amendment",
    "help_request",
    "alert",
    "plan_change",
    "missed_day",
    "outreach",
    "dose",
    "timezone_change",
]


class CheckinEntry(msgspec.Struct, kw_only=True):
    checkin_id: uuid.UUID
    version: int
    answers: dict[str, Any]
    # The current assessment, on the entry that shows the answers it was made from.
    risk_score: int | None = None
    risk_level: str | None = None


class AmendmentEntry(CheckinEntry, kw_only=True):
    previous: dict[str, Any]
    changed_fields: list[str]


class HelpRequestEntry(msgspec.Struct, kw_only=True):
    help_request_id: uuid.UUID


class AlertEntry(msgspec.Struct, kw_only=True):
    alert_id: uuid.UUID
    event: AlertEventKind
    rule: str
    severity: str
    escalation_level: int
    actor_id: uuid.UUID | None


class PlanChangeEntry(msgspec.Struct, kw_only=True):
    version: int
    author_id: uuid.UUID | None
    author_role: str
    changed_sections: list[str]


class OutreachEntry(msgspec.Struct, kw_only=True):
    outreach_id: uuid.UUID
    alert_id: uuid.UUID | None
    method: OutreachMethod
    outcome: OutreachOutcome
    recorded_by: uuid.UUID
    acknowledged_alert: bool


class DoseEntry(msgspec.Struct, kw_only=True):
    dose_id: uuid.UUID
    medication_id: str
    scheduled_for: UtcTimestamp
    status: DoseStatus
    taken_at: Annotated[UtcTimestamp, msgspec.Meta(description="when taken or skipped, as the graduate said")]


class TimezoneChangeEntry(msgspec.Struct, kw_only=True):
    timezone: Annotated[str, msgspec.Meta(description="the zone the graduate lives by from ``at`` on")]


class TimelineItem(msgspec.Struct, kw_only=True):
    id: str  # stable per entry: "<kind>:<source id>"
    kind: TimelineKind
    at: UtcTimestamp
    local_date: date | None = None  # the graduate's day a check-in, amendment or missed day is for
    checkin: CheckinEntry | None = None
    amendment: AmendmentEntry | None = None
    help_request: HelpRequestEntry | None = None
    alert: AlertEntry | None = None
    plan_change: PlanChangeEntry | None = None
    outreach: OutreachEntry | None = None  # at when it happened
    dose: DoseEntry | None = None  # at its arrival, labelled with the dose's local day
    timezone_change: TimezoneChangeEntry | None = None  # at the moment it took effect
    local_time: Annotated[
        str,
        msgspec.Meta(
            description="``at`` on the graduate's clock, in the zone they lived by then (a day before "
            "a move reads in the old zone)",
            examples=["2026-11-24T19:00"],
        ),
    ] = ""
    utc_offset: Annotated[str, msgspec.Meta(examples=["-06:00"])] = ""


class TimelinePage(msgspec.Struct):
    items: list[TimelineItem]
    next_cursor: str | None
