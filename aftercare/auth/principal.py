"""Who is calling: the identity every guard, service and audit row works with.

Apart from the token code so that services, which only need to know who acts, do not import JWT
handling; ``auth.tokens`` makes a ``Principal`` from a verified access token.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec

from aftercare.i18n import Locale

Role = Literal["graduate", "counselor", "supervisor"]
StaffRole = Literal["counselor", "supervisor"]
# Who an audit row or a plan version names as its author: a signed-in role, or the CLI and the worker.
ActorRole = Literal[Role, "system"]
# Each role by its name: reading a role from a token or a row goes through here, so a value that is
# not a role fails loudly (a KeyError) instead of travelling on as a string.
ROLES: dict[str, Role] = {"graduate": "graduate", "counselor": "counselor", "supervisor": "supervisor"}
STAFF_ROLES: dict[str, StaffRole] = {"counselor": "counselor", "supervisor": "supervisor"}


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: from a verified access token."""

    user_id: uuid.UUID
    role: Role
    graduate_id: uuid.UUID | None = None
    expires_at: datetime | None = None
    # The account's ``token_generation`` when the token was issued; the guard refuses a token whose
    # generation the account has moved past (a password change, a sign-out everywhere).
    token_generation: int = 0
    locale: Locale | None = None
    """A graduate's language as stored now (read by the guard with the account, never from the
    token, so a change holds from the next request); None for staff, who read English."""

    @property
    def is_staff(self) -> bool:
        return self.role in ("counselor", "supervisor")
