"""Password hashing (argon2id) and the password policy, the one check every place that sets a
password runs: enrollment, staff creation (the API and ``aftercare users create``) and a change."""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aftercare.i18n import _

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# An email's local part shorter than this is not looked for inside a password: "al@..." would
# refuse every passphrase with "al" in it, and a guesser gains little from two letters.
MIN_LOCAL_PART_SEARCHED = 4


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list (``common_passwords.txt``; its header names the source and licence), read
    once: the passwords of breach corpora an attacker tries first, lower case."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in map(str.strip, text.splitlines()) if line and not line.startswith("#"))


_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash of a random password, verified when the account does not exist so that response time
# does not tell which emails have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0f3c9a")


def password_problem(password: str, *, email: str) -> str | None:
    """Why ``password`` is refused for the account ``email``, or None if it is acceptable. The
    message names no part of either: it goes into a response, which may be logged."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("must be at least %(count)d characters", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("must be at most %(count)d characters", count=MAX_PASSWORD_LENGTH)
    lowered, address = password.lower(), email.strip().lower()
    local_part = address.partition("@")[0]
    if (
        address in lowered
        or lowered == local_part
        or (len(local_part) >= MIN_LOCAL_PART_SEARCHED and local_part in lowered)
    ):
        return _("must not contain your email address or its name part")
    if lowered in common_passwords() or len(set(password)) < 4:
        return _("is too common; choose a passphrase of your own")
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
