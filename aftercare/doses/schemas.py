"""Wire types of dose records (``POST``/``GET /v1/graduates/{id}/doses``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from aftercare.plans.schemas import Id

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
DoseStatus = Literal["taken", "skipped"]


class DoseCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    client_id: uuid.UUID
    medication_id: Annotated[Id, msgspec.Meta(description="a medication of the graduate's current plan")]
    scheduled_for: Annotated[
        UtcTimestamp,
        msgspec.Meta(
            description="the dose: an occurrence of the medication's schedule, as the UTC instant of the "
            "reminder's scheduled_for"
        ),
    ]
    status: Annotated[
        DoseStatus,
        msgspec.Meta(description="taken, or skipped (a skipped dose never counts as medication taken)"),
    ]
    at: Annotated[
        UtcTimestamp | None,
        msgspec.Meta(description="when it was taken or skipped; default: when the record arrives"),
    ] = None


class Dose(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    graduate_id: uuid.UUID
    client_id: uuid.UUID
    medication_id: str
    scheduled_for: UtcTimestamp
    local_date: Annotated[date, msgspec.Meta(description="the dose's local day")]
    status: DoseStatus
    at: UtcTimestamp
    received_at: UtcTimestamp


class DosePage(msgspec.Struct):
    items: list[Dose]
    next_cursor: str | None
