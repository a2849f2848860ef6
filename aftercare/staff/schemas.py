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
    active: bool | msgspec.UnsetType = msgspec.UNSET
    role: StaffRole | msgspec.UnsetType = msgspec.UNSET
    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET


class StaffMember(msgspec.Struct):
    id: uuid.UUID
    email: str
    display_name: str
    role: StaffRole
    active: bool
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]


class StaffPage(msgspec.Struct):
    items: list[StaffMember]
    next_cursor: str | None
