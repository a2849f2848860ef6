"""The guard's memory of verified access tokens: it may only ever answer what verifying the token
again would answer."""

from __future__ import annotations

from datetime import timedelta

from aftercare.auth.guards import _VerifiedTokens
from aftercare.auth.principal import Principal
from aftercare.auth.tokens import issue_access_token
from aftercare.db.types import uuid7
from tests.conftest import T0

SECRET = "s" * 64


def _token(secret: str = SECRET) -> tuple[Principal, str]:
    principal = Principal(user_id=uuid7(), role="counselor")
    return principal, issue_access_token(principal, secret=secret, now=T0, lifetime=timedelta(minutes=15))


def test_a_remembered_token_still_expires_with_the_clock() -> None:
    tokens = _VerifiedTokens(size=8)
    principal, token = _token()
    first = tokens.read(token, secrets=(SECRET,), now=T0)
    assert first is not None and first.user_id == principal.user_id
    assert tokens.read(token, secrets=(SECRET,), now=T0 + timedelta(minutes=15, seconds=-1)) == first
    assert tokens.read(token, secrets=(SECRET,), now=T0 + timedelta(minutes=15)) is None


def test_only_the_same_token_under_the_same_secret_is_remembered() -> None:
    tokens = _VerifiedTokens(size=8)
    _, token = _token()
    assert tokens.read(token, secrets=(SECRET,), now=T0) is not None
    assert tokens.read(token, secrets=("another-secret-" + "x" * 50,), now=T0) is None
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert tokens.read(tampered, secrets=(SECRET,), now=T0) is None


def test_it_stays_within_its_size() -> None:
    tokens = _VerifiedTokens(size=3)
    issued = [_token() for _ in range(5)]
    for principal, token in issued:
        read = tokens.read(token, secrets=(SECRET,), now=T0)
        assert read is not None and read.user_id == principal.user_id
    assert len(tokens._known) == 3
    # The oldest were dropped, not trusted: they verify again, with the same answer.
    read = tokens.read(issued[0][1], secrets=(SECRET,), now=T0)
    assert read is not None and read.user_id == issued[0][0].user_id
