"""The loopback push service itself: its benchmark paths (own thread, subscriptions over HTTP, stats)
and the checks that make it a fair judge of the sender."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import aiohttp
import httpx

from aftercare.push.endpoints import DEFAULT_PUSH_ORIGINS, validate_subscription
from aftercare.push.vapid import VapidSigner, generate_keys
from aftercare.push.webpush import PushMessage, PushSender, encrypt, open_session
from tests.fakes.push_service import FakePushService, run_in_thread


async def _send_twice(message: PushMessage, signer: VapidSigner) -> None:
    async with open_session() as session:
        sender = PushSender(session, signer, timeout=2.0)
        for _ in range(2):
            assert (await sender.send(message, datetime.now(UTC))).outcome == "delivered"


def test_a_service_in_its_own_thread_counts_duplicates(vapid_signer: VapidSigner) -> None:
    with run_in_thread() as service:
        created = httpx.post(f"{service.origin}/subscriptions").json()
        endpoint, keys = created["endpoint"], created["keys"]
        origins = (*DEFAULT_PUSH_ORIGINS, service.origin)
        assert validate_subscription(endpoint, keys["p256dh"], keys["auth"], origins) == []
        payload = json.dumps({"id": "delivery-1"}).encode()
        message = PushMessage(
            endpoint=endpoint, p256dh=keys["p256dh"], auth=keys["auth"], payload=payload, ttl=60
        )
        asyncio.run(_send_twice(message, vapid_signer))
        stats = httpx.get(f"{service.origin}/stats").json()
    assert stats == {
        "received": 2,
        "distinct_ids": 1,
        "duplicates": 1,
        "statuses": {"201": 2},
        "rejections": 0,
    }


async def test_a_token_not_signed_by_k_is_refused(
    push_service: FakePushService, push_session: aiohttp.ClientSession, vapid_signer: VapidSigner
) -> None:
    sub = push_service.new_subscription()
    message = PushMessage(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth, payload=b"{}", ttl=60)
    body, headers = encrypt(message)
    token = vapid_signer.authorization_header(push_service.origin, datetime.now(UTC)).split(",")[0]
    headers["Authorization"] = f"{token}, k={generate_keys().public_key_b64}"
    async with push_session.post(sub.endpoint, data=body, headers=headers) as response:
        assert response.status == 401
    assert push_service.received == [] and "signature" in push_service.rejections[0]
