"""Wire types of the graduate's data rights: deletion requests and erasure (the export document is
written by ``flows/export.py``, section by section, as it is read)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
DeletionRequestStatus = Literal["pending", "completed"]
# Why a supervisor erased: a code, never free text, so the tombstone cannot carry a name.
ErasureReason = Literal["graduate_request", "consent_withdrawn", "retention_period_ended", "legal_order"]


class DeletionRequestCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /v1/me/deletion-request``. ``confirm`` must be true: the caller's sign-in ends at once,
    so an empty body is never taken for a request."""

    confirm: Annotated[
        bool,
        msgspec.Meta(description="Must be true: signing in stops at once and a supervisor erases the data"),
    ]
    reason: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=500, description="Optional, shown to supervisors; removed when the data is erased"
            ),
        ]
        | None
    ) = None


class DeletionRequest(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    graduate_id: uuid.UUID
    status: DeletionRequestStatus
    requested_at: UtcTimestamp
    requested_by_graduate: Annotated[
        bool, msgspec.Meta(description="false: a supervisor erased the data without a request")
    ]
    reason: Annotated[str | None, msgspec.Meta(description="The graduate's words; null once erased")]
    erased_at: UtcTimestamp | None
    erased_by: uuid.UUID | None
    erasure_reason: ErasureReason | None
    kept_clinical_answers: Annotated[
        bool | None,
        msgspec.Meta(
            description="Whether check-in scores were kept (program.erasure_keeps_clinical_answers); "
            "null until erased"
        ),
    ]


class DeletionRequestPage(msgspec.Struct):
    items: list[DeletionRequest]
    next_cursor: str | None


class EraseRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /v1/graduates/{id}/erase``."""

    reason: ErasureReason
