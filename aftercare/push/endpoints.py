"""Which push subscriptions the server accepts, checked once at subscribe time.

A subscription endpoint is a URL the server will later POST to from inside the operator's network,
so it is a server-side request forgery vector: only origins on an allow-list (the major browser push
services by default) are accepted, plain http only when that exact origin is listed (local testing),
and never with userinfo or odd characters that parsers disagree on. The keys are checked here with
``cryptography`` because pywebpush's own check is broken (it accepts any 65 bytes and much else):
a bad key would otherwise surface as a failed delivery days later.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.utils import b64urldecode

from aftercare.errors import FieldError
from aftercare.i18n import _

MAX_ENDPOINT_LENGTH = 1000

# Chrome, Edge on Android, Samsung Internet, Opera: FCM. Firefox: Mozilla autopush. Safari: Apple.
# Edge on Windows: WNS, which hands out per-region hosts such as wns2-by3p.notify.windows.com.
DEFAULT_PUSH_ORIGINS: tuple[str, ...] = (
    "https://fcm.googleapis.com",
    "https://updates.push.services.mozilla.com",
    "https://web.push.apple.com",
    "https://*.notify.windows.com",
)

# The token that stands for DEFAULT_PUSH_ORIGINS in AFTERCARE_PUSH_ALLOWED_ORIGINS, so an operator
# can add an origin without copying (and later missing updates to) the built-in list.
DEFAULTS_TOKEN = "defaults"

_DEFAULT_PORTS = {"https": 443, "http": 80}
_ORIGIN = re.compile(r"^(https?)://(\*\.)?([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?/?$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class _Origin(NamedTuple):
    scheme: str
    host: str  # IPv6 without brackets, as urlsplit's hostname gives it
    port: int
    any_subdomain: bool

    def allows(self, scheme: str, host: str, port: int) -> bool:
        if (scheme, port) != (self.scheme, self.port):
            return False
        if self.any_subdomain:
            return host.endswith(f".{self.host}")
        return host == self.host


def _parse_origin(text: str) -> _Origin:
    match = _ORIGIN.match(text.strip().lower())
    if match is None:
        raise ValueError(
            f"push origin {text!r} must be scheme://host[:port] with scheme http or https "
            "(a host may start with '*.')"
        )
    scheme, wildcard, host, _, port = match.groups()
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"push origin {text!r} has an invalid port")
    return _Origin(scheme, host.strip("[]"), int(port or _DEFAULT_PORTS[scheme]), bool(wildcard))


def parse_allowed_origins(text: str | None) -> tuple[str, ...]:
    """Parse ``AFTERCARE_PUSH_ALLOWED_ORIGINS``: comma-separated ``scheme://host[:port]``, where a
    host may start with ``*.`` (any subdomain, not the bare domain) and ``defaults`` expands to
    DEFAULT_PUSH_ORIGINS. Unset or blank: the defaults. A malformed entry raises ValueError naming
    it (a startup error)."""
    if text is None or not text.strip():
        return DEFAULT_PUSH_ORIGINS
    origins: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if item.lower() == DEFAULTS_TOKEN:
            origins.extend(DEFAULT_PUSH_ORIGINS)
        elif item:
            _parse_origin(item)
            origins.append(item.lower().rstrip("/"))
    return tuple(dict.fromkeys(origins))


def _endpoint_errors(endpoint: str, allowed_origins: tuple[str, ...]) -> list[str]:
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        return [_("must be at most %(count)d characters", count=MAX_ENDPOINT_LENGTH)]
    # urlsplit silently drops tabs and newlines, so the URL checked would not be the one stored.
    if not endpoint.isascii() or any(c <= " " or c == "\x7f" for c in endpoint):
        return [_("must be a URL without spaces, control or non-ASCII characters")]
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return [_("must be a valid URL")]
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return [_("must be an https URL")]
    if "@" in parts.netloc:
        return [_("must not contain user information")]
    host = parts.hostname
    port = port or _DEFAULT_PORTS[parts.scheme]
    if any(_parse_origin(origin).allows(parts.scheme, host, port) for origin in allowed_origins):
        return []
    if parts.scheme == "http":
        return [
            _("must be an https URL (plain http only for an origin listed in AFTERCARE_PUSH_ALLOWED_ORIGINS)")
        ]
    return [_("host is not an allowed push service (AFTERCARE_PUSH_ALLOWED_ORIGINS)")]


def _decode_b64url(value: str) -> bytes | None:
    if not _B64URL.match(value):
        return None
    try:
        return b64urldecode(value.rstrip("=").encode())
    except ValueError:
        return None


def _p256dh_error(p256dh: str) -> str | None:
    raw = _decode_b64url(p256dh)
    if raw is None or len(raw) != 65 or raw[0] != 0x04:
        return _("must be URL-safe base64 of an uncompressed P-256 public key (65 bytes)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return _("is not a point on the P-256 curve")
    return None


def validate_subscription(
    endpoint: str, p256dh: str, auth: str, allowed_origins: tuple[str, ...]
) -> list[FieldError]:
    """Every problem with a browser ``PushSubscription``, with the JSON paths of its body
    (``endpoint``, ``keys.p256dh``, ``keys.auth``); empty when it may be stored."""
    errors = [FieldError("endpoint", message) for message in _endpoint_errors(endpoint, allowed_origins)]
    p256dh_error = _p256dh_error(p256dh)
    if p256dh_error:
        errors.append(FieldError("keys.p256dh", p256dh_error))
    auth_raw = _decode_b64url(auth)
    if auth_raw is None or len(auth_raw) != 16:
        errors.append(FieldError("keys.auth", _("must be URL-safe base64 of 16 bytes")))
    return errors


def push_service_origin(endpoint: str) -> str:
    """The push service a stored endpoint belongs to, as a Web origin: ``scheme://host``, with
    ``:port`` only when it is not the scheme's default (the form of AFTERCARE_PUSH_ALLOWED_ORIGINS).
    What a device list may show: the rest of the URL is a capability (whoever knows it can push to
    the device) and never leaves the server. Endpoints were checked when stored, so this parses."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:  # IPv6, which urlsplit gives without its brackets
        host = f"[{host}]"
    port = parts.port
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(parts.scheme) else ""
    return f"{parts.scheme}://{host}{shown_port}"
