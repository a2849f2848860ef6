"""Access tokens (JWT, HS256 pinned), refresh-token and enrollment-code secrets.

Access tokens are short-lived and stateless; they say who is calling. What must take effect at once
(a deactivation, a change of role, a reassignment, a password change or a sign-out everywhere, which
raise the account's token generation past the ``gen`` the token carries) is read from the database on
every request by the access guard (``auth/access.py::authorize``); the token's role is only what it
was at sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

import jwt

from aftercare.auth.principal import ROLES, Principal

ALGORITHM = "HS256"
# Crockford-style alphabet without 0/O, 1/I/L and U: nothing a graduate can misread off a card.
ENROLLMENT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ENROLLMENT_LENGTH = 10  # 30^10: about 49 bits


def issue_access_token(principal: Principal, *, secret: str, now: datetime, lifetime: timedelta) -> str:
    claims: dict[str, object] = {
        "sub": str(principal.user_id),
        "role": principal.role,
        "typ": "access",
        "gen": principal.token_generation,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    if principal.graduate_id is not None:
        claims["gid"] = str(principal.graduate_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_access_token(token: str, *, secret: str, now: datetime) -> Principal | None:
    """The principal of a valid, unexpired access token, else None. The algorithm is pinned so a
    token cannot choose ``none`` or another key type."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Time checks use the injected clock, never PyJWT's wall clock: its `iat` check would
            # refuse every token a replica with a clock a second ahead had issued.
            options={"require": ["exp", "sub", "role", "typ"], "verify_exp": False, "verify_iat": False},
        )
        if claims["typ"] != "access" or claims["exp"] <= now.timestamp():
            return None
        gid = claims.get("gid")
        # Tokens issued before generations existed carry none: generation 0, where every account began.
        generation = claims.get("gen", 0)
        if type(generation) is not int:
            return None
        return Principal(
            user_id=uuid.UUID(claims["sub"]),
            role=ROLES[claims["role"]],
            graduate_id=uuid.UUID(gid) if gid else None,
            expires_at=datetime.fromtimestamp(claims["exp"], tz=now.tzinfo),
            token_generation=generation,
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None


def new_secret_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Refresh tokens carry 256 random bits: a plain SHA-256 is enough to make a stolen table useless."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_enrollment_code() -> str:
    raw = "".join(secrets.choice(ENROLLMENT_ALPHABET) for _ in range(ENROLLMENT_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_enrollment_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_enrollment_code(code: str, *, secret: str) -> str:
    """Keyed with the server secret: 49 bits would fall to an offline search of a leaked table."""
    return hmac.new(secret.encode(), normalise_enrollment_code(code).encode(), hashlib.sha256).hexdigest()
