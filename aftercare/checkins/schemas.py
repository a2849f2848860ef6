"""Wire types of daily check-ins and "help now"."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from aftercare.plans.schemas import CopingSkill, CrisisPlan

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
PlanRef = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
PlanRefs = Annotated[list[PlanRef], msgspec.Meta(max_length=50)]
Mood = Annotated[int, msgspec.Meta(ge=1, le=5, description="1 very low .. 5 very good")]
Scale = Annotated[int, msgspec.Meta(ge=0, le=10)]
SleepHours = Annotated[float, msgspec.Meta(ge=0, le=24)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
RiskLevel = Literal["low", "moderate", "high", "critical"]


class CheckinCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    client_id: uuid.UUID
    local_date: date
    mood: Mood
    craving: Scale
    stress: Scale
    used: bool
    safety_concern: bool
    sleep_hours: SleepHours | None = None
    attended_support: bool | None = None
    took_medication: bool | None = None
    isolating: bool | None = None
    triggers: PlanRefs = []
    coping_used: PlanRefs = []
    note: Note | None = None


class CheckinAmend(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The answers to change; omitted fields keep their value."""

    mood: Mood | msgspec.UnsetType = msgspec.UNSET
    craving: Scale | msgspec.UnsetType = msgspec.UNSET
    stress: Scale | msgspec.UnsetType = msgspec.UNSET
    used: bool | msgspec.UnsetType = msgspec.UNSET
    safety_concern: bool | msgspec.UnsetType = msgspec.UNSET
    sleep_hours: SleepHours | msgspec.UnsetType | None = msgspec.UNSET
    attended_support: bool | msgspec.UnsetType | None = msgspec.UNSET
    took_medication: bool | msgspec.UnsetType | None = msgspec.UNSET
    isolating: bool | msgspec.UnsetType | None = msgspec.UNSET
    triggers: PlanRefs | msgspec.UnsetType = msgspec.UNSET
    coping_used: PlanRefs | msgspec.UnsetType = msgspec.UNSET
    note: Note | msgspec.UnsetType | None = msgspec.UNSET


class Assessment(msgspec.Struct):
    risk_score: Annotated[int, msgspec.Meta(ge=0, le=100)]
    risk_level: RiskLevel
    reasons: list[str]


class Support(msgspec.Struct):
    coping_suggestions: list[CopingSkill]
    crisis: CrisisPlan | None


class Checkin(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    graduate_id: uuid.UUID
    client_id: uuid.UUID
    local_date: date
    received_at: UtcTimestamp
    updated_at: UtcTimestamp
    version: int
    mood: int
    craving: int
    stress: int
    used: bool
    safety_concern: bool
    sleep_hours: float | None
    attended_support: bool | None
    took_medication: bool | None
    isolating: bool | None
    triggers: list[str]
    coping_used: list[str]
    note: str | None
    assessment: Assessment


class CheckinResult(Checkin, kw_only=True):
    """The 201 (and replayed 200) body: the stored check-in with its support."""

    support: Support


class CheckinPage(msgspec.Struct):
    items: list[Checkin]
    next_cursor: str | None


HELP_MESSAGE_MAX_CHARS = 2000
# What a help message cannot usefully hold: NUL (PostgreSQL refuses it in text) and the other C0
# control characters but tab, newline and carriage return.
_UNWANTED_IN_MESSAGE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class HelpCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A cry for help is never refused for its text: the message is cleaned, not validated. The
    route reads it leniently (``http.CLEANED_TEXT``: invalid UTF-8 becomes U+FFFD) and decoding
    drops control characters and cuts it at ``HELP_MESSAGE_MAX_CHARS``."""

    client_id: uuid.UUID
    message: (
        Annotated[
            str,
            msgspec.Meta(
                description="Free text, never refused for its content: stored without control "
                f"characters (but tab and line breaks) and cut at {HELP_MESSAGE_MAX_CHARS:,} characters"
            ),
        ]
        | None
    ) = None

    def __post_init__(self) -> None:
        if self.message is not None:
            self.message = _UNWANTED_IN_MESSAGE.sub("", self.message)[:HELP_MESSAGE_MAX_CHARS]


class HelpResult(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    received_at: UtcTimestamp
    alert_id: uuid.UUID | None
    crisis: CrisisPlan
    message: str


class HelpRequest(msgspec.Struct, kw_only=True):
    """A stored "help now" request as staff read it (in the alert it raised)."""

    id: uuid.UUID
    received_at: UtcTimestamp
    message: str | None
