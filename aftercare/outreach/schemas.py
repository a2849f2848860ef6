"""Wire types of the outreach log: what staff did to reach a graduate (a call, a text, a visit) and
how it went, with or without an alert that prompted it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
OutreachMethod = Literal["call", "text", "video", "in_person", "voicemail", "other"]
OutreachOutcome = Literal["reached", "no_answer", "left_message", "declined", "referred", "other"]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
OccurredAt = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="when the outreach happened; defaults to when it is recorded, at most 5 minutes ahead",
    ),
]


class OutreachCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    client_id: uuid.UUID
    method: OutreachMethod
    outcome: OutreachOutcome
    note: Note | None = None
    occurred_at: OccurredAt | None = None


class Outreach(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    graduate_id: uuid.UUID
    alert_id: uuid.UUID | None
    client_id: uuid.UUID
    method: OutreachMethod
    outcome: OutreachOutcome
    note: str | None
    occurred_at: UtcTimestamp
    recorded_at: UtcTimestamp
    recorded_by: uuid.UUID
    # Whether recording it acknowledged its alert (see flows/outreach.py for when it does).
    acknowledged_alert: bool


class OutreachPage(msgspec.Struct):
    items: list[Outreach]
    next_cursor: str | None
