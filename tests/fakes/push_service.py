"""A loopback Web Push service: a real HTTP server that checks what a browser's push service checks.

It verifies each request's VAPID header (ES256 signature with the ``k`` key, ``aud`` equal to this
service's origin, ``exp`` in the future and at most 24 h away, a ``sub``), decrypts the aes128gcm body
with the subscription's private key (http_ece, as the browser does), and records what arrived. No part
of pywebpush is mocked: if the sender encrypts or signs wrongly, nothing is recorded and it gets a 400
or 401, like from FCM.

In tests (see ``tests/push/conftest.py``, fixture ``push_service``)::

    sub = push_service.new_subscription()           # endpoint, p256dh, auth: as a browser hands them out
    ... send to sub.endpoint with sub.p256dh / sub.auth ...
    [push] = await push_service.wait_for(1)         # ReceivedPush: sub_id, ttl, urgency, topic, payload
    push_service.behave(Behaviour(410), sub.sub_id)         # this subscription answers 410 from now on
    push_service.behave(Behaviour(500), times=2)            # everyone: two 500s, then normal again
    push_service.behave(Behaviour(429, retry_after="7"))    # 429 with Retry-After: 7
    push_service.behave(Behaviour(301, location="https://elsewhere.example/"))
    push_service.behave(Behaviour(hang_seconds=5))          # answer only after 5 s (client times out)
    push_service.attempts                           # every answered request: (sub_id, status)
    push_service.rejections                         # requests that failed VAPID or decryption, and why

When the sender signs at a fake "now", build the service with that clock (``FakePushService(clock=...)``
or the ``start_push_service(clock)`` fixture): it then judges ``exp`` and stamps ``received_at`` by it.
The allow-list must contain ``push_service.origin`` (plain http on 127.0.0.1) to subscribe to it.

For benchmarks, outside the test's event loop: ``with run_in_thread() as service:`` (its own loop in a
daemon thread; ``new_subscription`` is thread-safe), or as a process:
``python -m tests.fakes.push_service --port 8765``, where ``POST /subscriptions`` returns a browser
``PushSubscription`` JSON and ``GET /stats`` counts received pushes and distinct payload ids.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt

from aftercare.clock import Clock, SystemClock

MAX_VAPID_LIFETIME_SECONDS = 24 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True)
class Behaviour:
    """How the service answers a valid push. The default is a normal delivery (201)."""

    status: int = 201
    retry_after: str | None = None
    location: str | None = None
    hang_seconds: float = 0.0


@dataclass(frozen=True)
class FakeSubscription:
    sub_id: str
    endpoint: str
    p256dh: str
    auth: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    application_server_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The browser's ``PushSubscription.toJSON()``, as POSTed to /v1/push/subscriptions."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class ReceivedPush:
    sub_id: str
    ttl: int
    urgency: str | None
    topic: str | None
    payload: bytes
    vapid_claims: dict[str, Any]
    received_at: datetime

    def json(self) -> Any:
        return json.loads(self.payload)


class _Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FakePushService:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None) -> None:
        # The clock that judges VAPID exp and stamps received_at: give the test's FixedClock so a
        # sender signing at a fake "now" is judged at that same instant.
        self._clock: Clock = clock or SystemClock()
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._subscriptions: dict[str, FakeSubscription] = {}
        self._unsubscribed: set[str] = set()
        # key None = every subscription; value: (behaviour, remaining uses or None for always)
        self._behaviours: dict[str | None, tuple[Behaviour, int | None]] = {}
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}
        self._arrived = asyncio.Event()
        self.origin = ""
        self.received: list[ReceivedPush] = []
        self.attempts: list[tuple[str, int]] = []
        self.rejections: list[str] = []

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{sub_id}", self._push)
        app.router.add_post("/subscriptions", self._subscribe)
        app.router.add_get("/stats", self._stats)
        # handler_cancellation: a request the client gave up on (a hang) is not recorded as delivered.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.origin = f"http://{self._host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def new_subscription(self, application_server_key: str | None = None) -> FakeSubscription:
        """A fresh subscription with a real P-256 key pair and 16-byte auth secret. With
        ``application_server_key`` (the VAPID public key), pushes signed with another key get 403,
        as from a real service."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        public = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        sub_id = secrets.token_urlsafe(12)
        sub = FakeSubscription(
            sub_id=sub_id,
            endpoint=f"{self.origin}/push/{sub_id}",
            p256dh=_b64(public),
            auth=_b64(os.urandom(16)),
            private_key=private_key,
            application_server_key=application_server_key,
        )
        with self._lock:
            self._subscriptions[sub_id] = sub
        return sub

    def unsubscribe(self, sub_id: str) -> None:
        """The user revoked permission: pushes to it get 410 from now on."""
        with self._lock:
            self._unsubscribed.add(sub_id)

    def behave(self, behaviour: Behaviour, sub_id: str | None = None, *, times: int | None = None) -> None:
        """Answer valid pushes (to ``sub_id``, or to all) this way, ``times`` times or until changed.
        ``behave(Behaviour())`` restores normal deliveries."""
        with self._lock:
            self._behaviours[sub_id] = (behaviour, times)

    async def wait_for(self, count: int, within: float = 5.0) -> list[ReceivedPush]:
        """The first ``count`` received pushes, waiting up to ``within`` seconds for them."""
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received[:count]

    def _next_behaviour(self, sub_id: str) -> Behaviour:
        with self._lock:
            for key in (sub_id, None):
                if key in self._behaviours:
                    behaviour, remaining = self._behaviours[key]
                    if remaining is not None:
                        if remaining <= 1:
                            del self._behaviours[key]
                        else:
                            self._behaviours[key] = (behaviour, remaining - 1)
                    return behaviour
        return Behaviour()

    def _verify_vapid(self, header: str, sub: FakeSubscription) -> dict[str, Any]:
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            raise _Rejected(401, f"Authorization scheme {scheme!r} is not vapid")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        token, key = fields.get("t"), fields.get("k")
        if not token or not key:
            raise _Rejected(401, "Authorization lacks t= or k=")
        if sub.application_server_key is not None and key != sub.application_server_key:
            raise _Rejected(403, "VAPID key differs from the subscription's applicationServerKey")
        # A sender reuses one token per origin, so the signature is checked once per token (as a
        # real service may); the claims are still judged on every request.
        claims = self._verified.get((token, key))
        if claims is None:
            try:
                jwt_header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
                claims = vapid_jwt.decode(token, key)
            except (InvalidSignature, ValueError, IndexError) as exc:
                raise _Rejected(401, f"VAPID JWT signature invalid: {exc!r}") from exc
            if jwt_header.get("alg") != "ES256":
                raise _Rejected(401, f"VAPID JWT alg {jwt_header.get('alg')!r} is not ES256")
            self._verified[(token, key)] = claims
        if claims.get("aud") != self.origin:
            raise _Rejected(401, f"VAPID aud {claims.get('aud')!r} is not {self.origin!r}")
        exp, now = claims.get("exp"), self._clock.now().timestamp()
        if not isinstance(exp, int) or not now < exp <= now + MAX_VAPID_LIFETIME_SECONDS:
            raise _Rejected(401, f"VAPID exp {exp!r} is not within the next 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise _Rejected(401, f"VAPID sub {claims.get('sub')!r} is not mailto: or https:")
        return claims

    async def _push(self, request: web.Request) -> web.Response:
        sub_id = request.match_info["sub_id"]
        status = await self._answer(request, sub_id)
        self.attempts.append((sub_id, status.status))
        return status

    async def _answer(self, request: web.Request, sub_id: str) -> web.Response:
        sub = self._subscriptions.get(sub_id)
        if sub is None:
            return web.Response(status=404, text="no such subscription")
        if sub_id in self._unsubscribed:
            return web.Response(status=410, text="subscription expired")
        body = await request.read()
        try:
            claims = self._verify_vapid(request.headers.get("Authorization", ""), sub)
            if request.headers.get("Content-Encoding") != "aes128gcm":
                raise _Rejected(415, "Content-Encoding must be aes128gcm")
            ttl_header = request.headers.get("TTL", "")
            if not ttl_header.isdigit():
                raise _Rejected(400, "TTL header missing or invalid")
            try:
                payload = http_ece.decrypt(
                    body,
                    private_key=sub.private_key,
                    auth_secret=base64.urlsafe_b64decode(sub.auth + "=="),
                    version="aes128gcm",
                )
            except Exception as exc:  # http_ece raises assorted errors for a bad body
                raise _Rejected(400, f"cannot decrypt: {exc!r}") from exc
        except _Rejected as rejected:
            self.rejections.append(rejected.reason)
            return web.Response(status=rejected.status, text=rejected.reason)

        behaviour = self._next_behaviour(sub_id)
        if behaviour.hang_seconds:
            await asyncio.sleep(behaviour.hang_seconds)
        if behaviour.status != 201:
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
            if behaviour.location:
                headers["Location"] = behaviour.location
            return web.Response(status=behaviour.status, headers=headers, text="programmed answer")
        self.received.append(
            ReceivedPush(
                sub_id=sub_id,
                ttl=int(ttl_header),
                urgency=request.headers.get("Urgency"),
                topic=request.headers.get("Topic"),
                payload=payload,
                vapid_claims=claims,
                received_at=self._clock.now(),
            )
        )
        self._arrived.set()
        return web.Response(status=201, headers={"Location": f"{self.origin}/message/{secrets.token_hex(8)}"})

    async def _subscribe(self, request: web.Request) -> web.Response:
        key = request.query.get("application_server_key")
        return web.json_response(self.new_subscription(key).as_json())

    async def _stats(self, request: web.Request) -> web.Response:
        ids = Counter(_payload_id(push.payload) for push in self.received)
        return web.json_response(
            {
                "received": len(self.received),
                "distinct_ids": len(ids),
                "duplicates": sum(n - 1 for n in ids.values()),
                "statuses": Counter(str(status) for _, status in self.attempts),
                "rejections": len(self.rejections),
            }
        )


def _payload_id(payload: bytes) -> str:
    try:
        return str(json.loads(payload).get("id"))
    except (ValueError, AttributeError):
        return payload.hex()


@contextmanager
def run_in_thread(host: str = "127.0.0.1", port: int = 0) -> Iterator[FakePushService]:
    """A started service on its own event loop in a daemon thread, for code that is not async."""
    loop = asyncio.new_event_loop()
    service = FakePushService(host, port)
    thread = threading.Thread(target=loop.run_forever, daemon=True, name="fake-push-service")
    thread.start()
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(timeout=10)
    try:
        yield service
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def _serve_forever(host: str, port: int) -> None:
    service = FakePushService(host, port)
    await service.start()
    print(service.origin, flush=True)  # the parent process reads the origin from the first line
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Loopback Web Push service for tests and benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve_forever(args.host, args.port))
