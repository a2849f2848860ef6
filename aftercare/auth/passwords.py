"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aftercare.i18n import _

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

# The most common passwords of breach corpora that are long enough to pass the length rule; an
# attacker tries these first, so they are refused outright.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "0987654321",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou12",
        "iloveyou123",
        "football123",
        "baseball123",
        "welcome123",
        "welcome1234",
        "letmein123",
        "monkey1234",
        "dragon1234",
        "sunshine12",
        "princess12",
        "abcdefghij",
        "abc1234567",
        "aaaaaaaaaa",
        "1111111111",
        "0000000000",
        "zaq12wsxcde",
        "changeme123",
        "administrator",
        "superman123",
        "trustno1234",
        "recovery123",
        "sobriety123",
        "aftercare123",
        "aftercare1",
        "onedayatatime",
    }
)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# A hash of a random password, verified when the account does not exist so that response time
# does not tell which emails have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0f3c9a")


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, or None if it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("must be at least %(count)d characters", count=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("must be at most %(count)d characters", count=MAX_PASSWORD_LENGTH)
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return _("is too common; choose a passphrase of your own")
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
