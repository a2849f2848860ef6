"""Opaque keyset cursors. A cursor encodes the last item's immutable sort key (creation time and
id), so a page never skips or repeats an item that changes while the client pages."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import and_, or_

from aftercare.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)]


class CursorKey(msgspec.Struct, array_like=True, frozen=True):
    sort_value: str  # an ISO timestamp or a local date: whatever the list orders by
    id: uuid.UUID


def encode_cursor(sort_value: datetime | str, item_id: uuid.UUID) -> str:
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else str(sort_value)
    raw = msgspec.json.encode(CursorKey(value, item_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> CursorKey | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=CursorKey)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise ValidationFailed.one("cursor", "not a cursor this service issued") from exc


def before_key(sort_column: Any, id_column: Any, sort_value: Any, item_id: uuid.UUID) -> Any:
    """Rows after ``(sort_value, item_id)`` in a newest-first list ordered by (sort, id) descending.

    The leading ``sort <= value`` lets both engines use an index range scan; the OR alone made deep
    pages of a million rows scan everything before them."""
    return and_(
        sort_column <= sort_value,
        or_(sort_column < sort_value, and_(sort_column == sort_value, id_column < item_id)),
    )
