"""One Web Push message: encrypt it (RFC 8291, aes128gcm), POST it to the push service with a VAPID
header (RFC 8292) and classify the answer (RFC 8030) into what the caller does next.

Why not ``pywebpush.webpush_async``: its ``timeout=None`` means no timeout at all, it mutates the
claims dict it is given, and it lets aiohttp follow 307/308 redirects with the body, past the
allow-list. So pywebpush's ``WebPusher`` does only the encryption, and the POST goes through one
shared ``aiohttp.ClientSession`` (``open_session``) with redirects off and a bounded total deadline.

Why aiohttp, not httpx: measured here against the loopback push service with 64 requests in
flight, httpx 0.28's connection pool managed about 310 requests a second (1,450 with 8 in flight,
falling as concurrency grows), aiohttp about 4,200 with encryption included. 100,000 prompts in a
minute needs about 1,700 a second.

CPU: encryption (an ephemeral ECDH key, HKDF, AES-GCM) costs about 0.2 ms a message. ``PushSender``
runs it inline by default: one message is one short step, and concurrent sends interleave on the
loop between steps. A process that also serves requests and sends large batches passes an
``encrypt_executor`` (a small thread pool) so the loop only waits on the result.

Outcomes of ``PushSender.send``::

    delivered  201/200/202                  mark sent
    gone       404, 410                     delete the subscription
    retry      429, 5xx, timeout, network   try again after backoff_seconds(...)
    failed     413, 3xx, other 4xx, bad keys    record it; retrying cannot help (413 is our bug)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import re
from collections.abc import Mapping
from concurrent.futures import Executor
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
import msgspec
from pywebpush import WebPusher, WebPushException

from aftercare.push.vapid import VapidSigner

Urgency = Literal["very-low", "low", "normal", "high"]
Outcome = Literal["delivered", "gone", "retry", "failed"]

_URGENCIES = frozenset({"very-low", "low", "normal", "high"})
# Push services accept 4096 bytes of encrypted body; aes128gcm adds an 86-byte header, a 16-byte tag
# and a 1-byte delimiter (RFC 8291 section 4).
MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1
MAX_TOPIC_LENGTH = 32
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

DEFAULT_TIMEOUT_SECONDS = 10.0
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
_ERROR_BODY_BYTES = 512


def make_topic(*parts: str) -> str:
    """A Topic for RFC 8030 replacement: the same parts give the same 32 URL-safe base64 characters
    (a hash, so ids and dates of any length fit and nothing readable reaches the push service)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAX_TOPIC_LENGTH]


def validate_topic(topic: str) -> str:
    if not _TOPIC.match(topic):
        raise ValueError(f"Topic must be 1-{MAX_TOPIC_LENGTH} URL-safe base64 characters, got {topic!r}")
    return topic


class PushMessage(msgspec.Struct, frozen=True, kw_only=True):
    """What to push to one subscription. Invalid values raise ValueError on construction: they are
    the caller's bug, not the push service's."""

    endpoint: str
    p256dh: str
    auth: str
    payload: bytes
    ttl: int
    urgency: Urgency = "normal"
    topic: str | None = None

    def __post_init__(self) -> None:
        if not 0 < len(self.payload) <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload must be 1-{MAX_PAYLOAD_BYTES} bytes, got {len(self.payload)}")
        if self.ttl < 0:
            raise ValueError("ttl must not be negative")
        if self.urgency not in _URGENCIES:
            raise ValueError(f"urgency must be one of {sorted(_URGENCIES)}")
        if self.topic is not None:
            validate_topic(self.topic)


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    status: int | None = None
    retry_after_seconds: float | None = None
    error: str | None = None


def encrypt(message: PushMessage) -> tuple[bytes, dict[str, str]]:
    """The aes128gcm body and the RFC 8030 headers for ``message`` (no Authorization: that is per
    origin and added by the sender). Pure CPU; safe to run in a worker thread."""
    pusher = WebPusher(
        {"endpoint": message.endpoint, "keys": {"p256dh": message.p256dh, "auth": message.auth}}
    )
    body: bytes = pusher.encode(message.payload, content_encoding="aes128gcm")["body"]
    headers = {
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(message.ttl),
        "Urgency": message.urgency,
    }
    if message.topic is not None:
        headers["Topic"] = message.topic
    return body, headers


def origin_of(endpoint: str) -> str:
    """The VAPID ``aud``: the endpoint's scheme, host and port as written (endpoints are validated
    at subscribe time to carry no user information)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date); None when absent
    or unreadable, never negative."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        return None
    return max(0.0, (when - now).total_seconds())


def classify(status: int, headers: Mapping[str, str], body: str, now: datetime) -> SendResult:
    """What a push service's answer means for the caller (see the table in the module docstring).
    ``headers`` is case-insensitive (aiohttp's) or has lower-case keys; ``body`` is the start of it."""
    if status in (200, 201, 202):
        return SendResult(outcome="delivered", status=status)
    error = f"HTTP {status}: {body}".rstrip(": ")
    if status in (404, 410):
        return SendResult(outcome="gone", status=status, error=error)
    if status == 429 or 500 <= status <= 599:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        return SendResult(outcome="retry", status=status, retry_after_seconds=retry_after, error=error)
    if 300 <= status <= 399:
        error = f"{error} (redirect to {headers.get('location', '?')} not followed)"
    return SendResult(outcome="failed", status=status, error=error)


def backoff_seconds(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Delay before retry number ``attempt`` (1 after the first failure): exponential from
    BACKOFF_BASE_SECONDS with full jitter, capped at BACKOFF_CAP_SECONDS, and never sooner than the
    push service's Retry-After. Full jitter spreads a batch that failed together (a 5xx burst)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(max(attempt, 1) - 1, 32))
    return max(rng.uniform(0.0, ceiling), retry_after or 0.0)


def open_session(max_connections: int = 128) -> aiohttp.ClientSession:
    """The one HTTP client a process sends pushes with (create it inside the running loop, close
    it at shutdown). No proxy or netrc from the environment, no decompression of bodies we only
    log; redirects and the deadline are set per request by PushSender."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections),
        trust_env=False,
        auto_decompress=False,
    )


class PushSender:
    """Sends PushMessages through one shared ``aiohttp.ClientSession``. ``timeout`` bounds the whole
    request (connect, send, answer), not each phase: a push service dripping bytes cannot hold a
    delivery slot longer than that."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        signer: VapidSigner,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        encrypt_executor: Executor | None = None,
    ) -> None:
        self._session = session
        self._signer = signer
        self._timeout = timeout
        self._executor = encrypt_executor

    @property
    def timeout(self) -> float:
        """The bound on one send: callers size their delivery leases from it."""
        return self._timeout

    async def send(self, message: PushMessage, now: datetime) -> SendResult:
        try:
            if self._executor is None:
                body, headers = encrypt(message)
            else:
                loop = asyncio.get_running_loop()
                body, headers = await loop.run_in_executor(self._executor, encrypt, message)
        except (ValueError, WebPushException) as exc:
            # Keys stored before validation existed, or corrupted: this message can never be sent,
            # and raising would stall the caller's batch on it.
            return SendResult(outcome="failed", error=f"cannot encrypt for this subscription: {exc}")
        headers["Authorization"] = self._signer.authorization_header(origin_of(message.endpoint), now)
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._session.post(
                    message.endpoint, data=body, headers=headers, allow_redirects=False
                ) as response,
            ):
                # Only an error body is worth reading, and only its start (for the log).
                raw = b"" if response.status < 300 else await response.content.read(_ERROR_BODY_BYTES)
                return classify(response.status, response.headers, raw.decode(errors="replace"), now)
        except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            return SendResult(outcome="retry", error=f"no answer within {self._timeout:g} s")
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            return SendResult(outcome="failed", error=f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientError as exc:
            return SendResult(outcome="retry", error=f"{type(exc).__name__}: {exc}".rstrip(": "))
