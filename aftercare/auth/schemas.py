"""Wire types of sign-in, token refresh, enrollment and the caller's profile."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from aftercare.auth.principal import Role
from aftercare.i18n import Locale

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class EnrollRequest(msgspec.Struct, forbid_unknown_fields=True):
    enrollment_code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    email: Email
    password: Password


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    # The policy (length 10-128, not the email, not a common password) is checked by the service,
    # the one rule for every place a password is set (auth/passwords.py::password_problem).
    new_password: Password


class LogoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    role: Role
    user_id: uuid.UUID
    token_type: str = "bearer"
    graduate_id: uuid.UUID | None = None


class Me(msgspec.Struct, kw_only=True):
    user_id: uuid.UUID
    email: str
    role: Role
    display_name: str
    graduate_id: uuid.UUID | None = None
    unread_count: int
    """How many of the caller's notifications (``GET /v1/me/notifications``) are unread."""
    locale: Annotated[
        Locale | None,
        msgspec.Meta(description="A graduate's language (en, es), as on their profile; null for staff"),
    ] = None


class StreamTicket(msgspec.Struct):
    ticket: str
    expires_in: int
