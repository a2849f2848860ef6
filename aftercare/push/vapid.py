"""VAPID (RFC 8292): the key pair that identifies this server to push services, and the signed
``Authorization`` header every push carries.

The key pair is generated into the data directory on first start (or given in config), because a
browser subscription is bound to the public key it was created with: a new key silently orphans
every existing subscription. Signing uses py_vapid's ES256 JWT encoder; the header is built here so
the claims are always a fresh dict per push-service origin (pywebpush #130 writes ``aud``/``exp``
into the dict it is handed) and one token is reused per origin until shortly before it expires,
which saves one ECDSA signature (about 46 microseconds) per message.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt
from py_vapid.utils import b64urldecode, b64urlencode

KEY_FILE_NAME = "vapid_private.pem"

# RFC 8292 section 2: exp at most 24 hours ahead. 12 hours is pywebpush's choice too; renewing one
# hour early keeps a token from expiring while a slow request is in flight or clocks disagree.
TOKEN_LIFETIME = timedelta(hours=12)
RENEW_BEFORE_EXPIRY = timedelta(hours=1)

# A contact push-service operators can reach (RFC 8292 section 2.1).
_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+\.[^@\s]+|https://[^/\s?#@]+\.[^/\s?#@]+(/\S*)?)$")


class VapidKeys:
    """A P-256 private key and its public half in the form browsers want as
    ``applicationServerKey`` (URL-safe base64, no padding, uncompressed point)."""

    __slots__ = ("private_key", "public_key_b64")

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("a VAPID key must be on the P-256 curve")
        self.private_key = private_key
        self.public_key_b64: str = b64urlencode(
            private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @classmethod
    def from_text(cls, text: str) -> VapidKeys:
        """Parse a private key as PEM, or URL-safe base64 of the raw 32-byte scalar or of DER: the
        forms ``aftercare vapid-keys`` and other web push tools print."""
        text = text.strip()
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64urldecode("".join(text.split()).encode())
            key = (
                ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
                if len(raw) == 32
                else serialization.load_der_private_key(raw, password=None)
            )
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("a VAPID key must be an elliptic-curve private key")
        return cls(key)

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def private_raw_b64(self) -> str:
        """The raw scalar, URL-safe base64: the one-line form for an environment variable."""
        return b64urlencode(self.private_key.private_numbers().private_value.to_bytes(32, "big"))


def generate_keys() -> VapidKeys:
    return VapidKeys(ec.generate_private_key(ec.SECP256R1()))


def load_or_create(data_dir: Path, configured_private_key: str | None) -> VapidKeys:
    """The configured key if any, else ``data_dir/vapid_private.pem``, created (mode 0600) on the
    first start. Two processes starting at once agree on one key: the file appears atomically via
    ``link``, and the loser reads the winner's."""
    if configured_private_key:
        return VapidKeys.from_text(configured_private_key)
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return VapidKeys.from_text(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = generate_keys()
    tmp = data_dir / f".{KEY_FILE_NAME}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(keys.private_pem())
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return VapidKeys.from_text(path.read_text())
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return keys


def validate_subject(subject: str) -> str:
    if not _SUBJECT.match(subject):
        raise ValueError(
            f"VAPID subject {subject!r} must be a mailto: address or an https: URL (AFTERCARE_VAPID_SUBJECT)"
        )
    return subject


class VapidSigner:
    """Builds ``Authorization: vapid t=<jwt>, k=<public key>`` per push-service origin, reusing one
    token per origin until ``RENEW_BEFORE_EXPIRY`` before its ``exp``. Not thread-safe: call it
    from the event loop."""

    def __init__(self, keys: VapidKeys, subject: str) -> None:
        self._keys = keys
        self._subject = validate_subject(subject)
        self._tokens: dict[str, tuple[str, datetime]] = {}

    @property
    def public_key_b64(self) -> str:
        return self._keys.public_key_b64

    def authorization_header(self, endpoint_origin: str, now: datetime) -> str:
        cached = self._tokens.get(endpoint_origin)
        # Also renew when the clock went back past the token's issue time: its exp would then lie
        # more than TOKEN_LIFETIME ahead, and past 24 h a push service refuses it.
        if cached is not None and cached[1] - TOKEN_LIFETIME <= now < cached[1] - RENEW_BEFORE_EXPIRY:
            return cached[0]
        expires_at = now + TOKEN_LIFETIME
        claims = {"aud": endpoint_origin, "exp": int(expires_at.timestamp()), "sub": self._subject}
        header = f"vapid t={vapid_jwt.sign(claims, self._keys.private_key)}, k={self._keys.public_key_b64}"
        # Wildcard allow-list entries (WNS hands out many hosts) could grow the cache; expired
        # tokens are useless, so drop them whenever a new one is made.
        self._tokens = {o: t for o, t in self._tokens.items() if now < t[1]}
        self._tokens[endpoint_origin] = (header, expires_at)
        return header
