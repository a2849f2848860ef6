"""Wire types of ``GET /v1/graduates/{id}/reminders``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
ReminderKind = Literal[
    "checkin_prompt", "checkin_nudge", "therapy_reminder", "support_group_reminder", "medication_reminder"
]


class Reminder(msgspec.Struct, frozen=True, kw_only=True):
    """One push to the graduate: planned (the future, from the planner) or recorded (the past, from
    the inbox). ``local_time`` with ``utc_offset`` names the instant as the graduate's clock shows it."""

    kind: ReminderKind
    due_at: UtcTimestamp
    local_time: Annotated[str, msgspec.Meta(examples=["2026-11-24T19:00"])]
    utc_offset: Annotated[str, msgspec.Meta(examples=["-06:00"])]
    title: str
    status: Annotated[
        str,
        msgspec.Meta(
            description="planned or skipped_quiet_hours for the future; the inbox's delivery status "
            "(e.g. pending, sent, failed, skipped_quiet_hours) for the past",
        ),
    ]


class ReminderList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Reminder]
