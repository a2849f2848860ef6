"""Wire types of the audit log (``GET /v1/audit``): who did what to which record, never the data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from aftercare.auth.principal import ActorRole


class AuditEntry(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    at: Annotated[datetime, msgspec.Meta(tz=True)]
    actor_id: uuid.UUID | None  # None: the CLI or the worker (actor_role "system")
    actor_role: ActorRole
    action: Annotated[str, msgspec.Meta(examples=["read", "create", "update"])]
    resource: Annotated[
        str,
        msgspec.Meta(
            description="what was read or changed: graduate, plan, checkins, alerts, alert_stream, "
            "staff, program_rules, assignment, ...",
            examples=["plan"],
        ),
    ]
    graduate_id: uuid.UUID | None
    resource_id: str | None
    request_id: str | None


class AuditPage(msgspec.Struct):
    items: list[AuditEntry]
    next_cursor: str | None
