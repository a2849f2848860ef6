"""Wire types of staff accounts (counselors and supervisors)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from aftercare.auth.principal import StaffRole
from aftercare.auth.schemas import Email, Password
from aftercare.graduates.schemas import DisplayName


class StaffCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: DisplayName
    role: StaffRole


class StaffPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A supervisor changes any of these; a staff member may change their own ``email_alerts``."""

    active: bool | msgspec.UnsetType = msgspec.UNSET
    role: StaffRole | msgspec.UnsetType = msgspec.UNSET
    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    email_alerts: Annotated[
        bool | msgspec.UnsetType,
        msgspec.Meta(
            description="Alerts and escalations also by e-mail to the account's address (the server must "
            "have an SMTP relay: AFTERCARE_SMTP_URL)"
        ),
    ] = msgspec.UNSET


class StaffMember(msgspec.Struct):
    id: uuid.UUID
    email: str
    display_name: str
    role: StaffRole
    active: bool
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    email_alerts: bool = False


class StaffPage(msgspec.Struct):
    items: list[StaffMember]
    next_cursor: str | None


class Colleague(msgspec.Struct):
    """What any staff member may know of another: enough to choose a cover, nothing more (no
    e-mail, no settings)."""

    id: uuid.UUID
    display_name: str
    role: StaffRole


class ColleaguePage(msgspec.Struct):
    items: list[Colleague]
    next_cursor: str | None


UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class AwayCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``PUT /v1/staff/{id}/away``: away from ``from`` until ``until``, ``covering_staff_id`` covering."""

    start: UtcTimestamp = msgspec.field(name="from")
    end: UtcTimestamp = msgspec.field(name="until")
    covering_staff_id: uuid.UUID
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class AwayPeriod(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    staff_id: uuid.UUID
    start: UtcTimestamp = msgspec.field(name="from")
    end: UtcTimestamp = msgspec.field(name="until")
    covering_staff_id: uuid.UUID
    note: str | None
    created_at: UtcTimestamp
    created_by: uuid.UUID


class AwayPeriods(msgspec.Struct):
    """A staff member's periods that have not ended, soonest first."""

    items: list[AwayPeriod]
