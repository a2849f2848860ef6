"""The aftercare plan on the wire: the body of ``PUT .../plan`` and what ``GET`` returns.

Every bound lives here as ``msgspec.Meta`` so decoding enforces it and the OpenAPI document publishes it
(clients and fuzzers rely on the bounds). What a schema cannot say (ids unique across the plan,
references that resolve, RRULE semantics) is ``validation.py``'s job. Field names and enumerations are
the contract's ("Aftercare plan").
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

MAX_PLAN_BYTES = 64 * 1024
MAX_SECTION_ITEMS = 100

Id = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        description="Client-chosen id, unique across the whole plan",
    ),
]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Phone = Annotated[
    str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[+(]?[0-9][0-9 +\-().]*$", examples=["988"])
]
Url = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^https?://\S+$")]
ReminderOffsets = Annotated[
    list[Annotated[int, msgspec.Meta(ge=0, le=10080)]],
    msgspec.Meta(max_length=5, description="Minutes before each occurrence (at most one week)"),
]
IdList = Annotated[list[Id], msgspec.Meta(max_length=MAX_SECTION_ITEMS)]
UtcDateTime = Annotated[datetime, msgspec.Meta(tz=True)]


class _Wire(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Base of the plan's wire types: an unknown field is a client bug, not something to drop.

    msgspec applies ``kw_only`` per class and mypy reads ``frozen`` per class, so each subclass states
    both (``kw_only`` lets optional fields keep the contract's order among required ones)."""


class Schedule(_Wire, frozen=True, kw_only=True):
    rrule: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=500,
            description="One RFC 5545 RRULE line: FREQ DAILY, WEEKLY or MONTHLY; no BYHOUR/BYMINUTE/BYSECOND",
            examples=["FREQ=WEEKLY;BYDAY=TU,TH"],
        ),
    ]
    start_local: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$",
            description="First occurrence, local wall-clock time in the graduate's time zone",
            examples=["2026-12-01T19:00"],
        ),
    ]
    duration_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None


class TherapyItem(_Wire, frozen=True, kw_only=True):
    id: Id
    kind: Literal["individual", "group", "family", "psychiatry", "telehealth"]
    provider: ShortText
    location: ShortText | None = None
    url: Url | None = None
    schedule: Schedule
    reminder_minutes_before: ReminderOffsets = []


class SupportGroup(_Wire, frozen=True, kw_only=True):
    id: Id
    name: ShortText
    fellowship: Literal["AA", "NA", "SMART", "CA", "MHA", "other"]
    schedule: Schedule
    location: ShortText | None = None
    url: Url | None = None
    reminder_minutes_before: ReminderOffsets = []


class CopingSkill(_Wire, frozen=True, kw_only=True):
    id: Id
    name: ShortText
    category: ShortText | None = None
    instructions: LongText | None = None


class Trigger(_Wire, frozen=True, kw_only=True):
    id: Id
    name: ShortText
    category: Literal["people", "places", "emotions", "situations", "sensations", "other"]
    coping_skill_ids: IdList = []
    risk: Literal["low", "medium", "high"]


class WarningSign(_Wire, frozen=True, kw_only=True):
    id: Id
    description: ShortText


class Medication(_Wire, frozen=True, kw_only=True):
    id: Id
    name: ShortText
    dose: ShortText | None = None
    schedule: Schedule
    remind: bool = True


class SupportContact(_Wire, frozen=True, kw_only=True):
    id: Id
    name: ShortText
    relation: ShortText
    phone: Phone | None = None


class Goal(_Wire, frozen=True, kw_only=True):
    id: Id
    text: ShortText
    target_date: date | None = None


class CrisisPlan(_Wire, frozen=True, kw_only=True):
    steps: Annotated[list[LongText], msgspec.Meta(max_length=20)] = []
    crisis_line: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["988"])]


class PlanBody(_Wire, frozen=True, kw_only=True):
    """The whole plan as a client writes it; an omitted list section is empty."""

    therapy: Annotated[list[TherapyItem], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    support_groups: Annotated[list[SupportGroup], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    coping_skills: Annotated[list[CopingSkill], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    triggers: Annotated[list[Trigger], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    warning_signs: Annotated[list[WarningSign], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    medications: Annotated[list[Medication], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    support_contacts: Annotated[list[SupportContact], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    goals: Annotated[list[Goal], msgspec.Meta(max_length=MAX_SECTION_ITEMS)] = []
    crisis_plan: CrisisPlan | None = None


class Plan(PlanBody, frozen=True, kw_only=True):
    """A stored plan version as ``GET .../plan`` returns it."""

    graduate_id: uuid.UUID
    version: int
    updated_at: UtcDateTime
    updated_by: uuid.UUID | None = None


class PlanVersionSummary(_Wire, frozen=True, kw_only=True):
    version: int
    updated_at: UtcDateTime
    updated_by: uuid.UUID | None = None
    changed_sections: list[str] = []


class PlanTemplate(_Wire, frozen=True, kw_only=True):
    id: Id
    name: ShortText
    description: LongText
    plan: PlanBody


class PlanVersionPage(_Wire, frozen=True, kw_only=True):
    """``GET .../plan/versions``: newest first."""

    items: list[PlanVersionSummary]
    next_cursor: str | None = None


class PlanTemplatePage(_Wire, frozen=True, kw_only=True):
    """``GET /v1/plan-templates``: the program's templates, in the order of their files."""

    items: list[PlanTemplate]
    next_cursor: str | None = None


class PlanFromTemplate(_Wire, frozen=True, kw_only=True):
    """Body of ``POST .../plan``: start a graduate's plan from one of the program's templates."""

    template_id: Id


SECTION_NAMES: tuple[str, ...] = tuple(PlanBody.__struct_fields__)
SELF_MANAGED_SECTIONS: tuple[str, ...] = (
    "coping_skills",
    "triggers",
    "warning_signs",
    "support_contacts",
    "goals",
)
STAFF_SECTIONS: tuple[str, ...] = ("therapy", "support_groups", "medications", "crisis_plan")

plan_body_decoder = msgspec.json.Decoder(PlanBody)
