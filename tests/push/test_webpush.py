from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import http_ece
import pytest

from aftercare.clock import FixedClock
from aftercare.push.vapid import VapidSigner
from aftercare.push.webpush import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    MAX_PAYLOAD_BYTES,
    PushMessage,
    PushSender,
    backoff_seconds,
    classify,
    encrypt,
    make_topic,
    parse_retry_after,
    validate_topic,
)
from tests.fakes.push_service import Behaviour, FakePushService, FakeSubscription
from tests.push.conftest import TEST_SEND_TIMEOUT, VAPID_SUBJECT, StartPushService

T0 = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
PAYLOAD = {
    "type": "checkin_prompt",
    "title": "Daily check-in",
    "body": "How are you today?",
    "url": "/checkin",
    "tag": "prompt-2026-03-08",
    "id": "d-1",
}


def _message(sub: FakeSubscription, **overrides: object) -> PushMessage:
    fields: dict[str, object] = {
        "endpoint": sub.endpoint,
        "p256dh": sub.p256dh,
        "auth": sub.auth,
        "payload": json.dumps(PAYLOAD).encode(),
        "ttl": 3600,
    }
    fields.update(overrides)
    return PushMessage(**fields)  # type: ignore[arg-type]


def _now() -> datetime:
    # The fake service checks exp against real time, as a real push service does.
    return datetime.now(UTC)


# -- pure parts -------------------------------------------------------------------------------


def test_make_topic_is_32_url_safe_characters_and_stable() -> None:
    topic = make_topic("graduate-7f3a", "checkin_prompt", "2026-03-08")
    assert validate_topic(topic) == topic and len(topic) == 32
    assert make_topic("graduate-7f3a", "checkin_prompt", "2026-03-08") == topic
    assert make_topic("graduate-7f3a", "checkin_prompt", "2026-03-09") != topic
    assert make_topic("ab", "c") != make_topic("a", "bc")


@pytest.mark.parametrize("topic", ["a" * 33, "", "has space", "plus+slash/", "pad=="])
def test_invalid_topics_are_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="Topic"):
        validate_topic(topic)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"payload": b""}, "payload"),
        ({"payload": b"x" * (MAX_PAYLOAD_BYTES + 1)}, "payload"),
        ({"ttl": -1}, "ttl"),
        ({"urgency": "urgent"}, "urgency"),
        ({"topic": "t" * 33}, "Topic"),
    ],
)
def test_push_message_refuses_what_a_push_service_would(overrides: dict[str, object], match: str) -> None:
    sub = FakePushService().new_subscription()
    with pytest.raises(ValueError, match=match):
        _message(sub, **overrides)


def test_largest_payload_fits_the_4096_byte_limit() -> None:
    sub = FakePushService().new_subscription()
    body, _ = encrypt(_message(sub, payload=b"x" * MAX_PAYLOAD_BYTES))
    assert len(body) == 4096


def test_encrypt_gives_an_aes128gcm_body_the_subscriber_can_open() -> None:
    sub = FakePushService().new_subscription()
    body, headers = encrypt(_message(sub, urgency="high", topic=make_topic("x")))
    assert headers == {
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": "3600",
        "Urgency": "high",
        "Topic": make_topic("x"),
    }
    plain = http_ece.decrypt(
        body,
        private_key=sub.private_key,
        auth_secret=base64.urlsafe_b64decode(sub.auth + "=="),
        version="aes128gcm",
    )
    assert json.loads(plain) == PAYLOAD


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, "delivered"),
        (200, "delivered"),
        (202, "delivered"),
        (404, "gone"),
        (410, "gone"),
        (413, "failed"),
        (400, "failed"),
        (401, "failed"),
        (403, "failed"),
        (301, "failed"),
        (307, "failed"),
        (308, "failed"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
def test_classify(status: int, outcome: str) -> None:
    result = classify(status, {}, "", T0)
    assert (result.outcome, result.status) == (outcome, status)
    assert (result.error is None) == (outcome == "delivered")


def test_classify_reads_retry_after_only_when_retrying() -> None:
    assert classify(429, {"retry-after": "7"}, "", T0).retry_after_seconds == 7.0
    assert classify(503, {"retry-after": "120"}, "", T0).retry_after_seconds == 120.0
    assert classify(500, {}, "", T0).retry_after_seconds is None
    assert classify(410, {"retry-after": "7"}, "", T0).retry_after_seconds is None


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("42", T0) == 42.0
    assert parse_retry_after(format_datetime(T0 + timedelta(seconds=90), usegmt=True), T0) == 90.0
    assert parse_retry_after(format_datetime(T0 - timedelta(seconds=90), usegmt=True), T0) == 0.0
    assert parse_retry_after("soon", T0) is None
    assert parse_retry_after("-5", T0) is None
    assert parse_retry_after(None, T0) is None


def test_backoff_grows_with_full_jitter_and_is_capped() -> None:
    rng = random.Random(6)
    for attempt, ceiling in [
        (1, BACKOFF_BASE_SECONDS),
        (3, 4 * BACKOFF_BASE_SECONDS),
        (8, BACKOFF_CAP_SECONDS),
        (10_000, BACKOFF_CAP_SECONDS),
    ]:
        delays = [backoff_seconds(attempt, None, rng) for _ in range(2000)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        # full jitter: spread over the whole range, not bunched at the ceiling
        assert min(delays) < 0.05 * ceiling and max(delays) > 0.95 * ceiling
        assert 0.4 * ceiling < sum(delays) / len(delays) < 0.6 * ceiling


def test_backoff_never_comes_before_retry_after() -> None:
    rng = random.Random(6)
    assert all(backoff_seconds(1, 45.0, rng) >= 45.0 for _ in range(500))
    assert backoff_seconds(1, 7200.0, rng) == 7200.0


# -- against the loopback push service --------------------------------------------------------


async def test_a_push_arrives_decrypted_with_its_headers_and_a_valid_vapid_token(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    sub = push_service.new_subscription()
    topic = make_topic("grad-1", "checkin_prompt", "2026-03-08")
    result = await push_sender.send(_message(sub, urgency="low", topic=topic, ttl=600), _now())
    assert result.outcome == "delivered" and result.status == 201
    [push] = await push_service.wait_for(1)
    assert push.json() == PAYLOAD
    assert (push.sub_id, push.ttl, push.urgency, push.topic) == (sub.sub_id, 600, "low", topic)
    assert push.vapid_claims["aud"] == push_service.origin
    assert push.vapid_claims["sub"] == VAPID_SUBJECT
    assert push_service.rejections == []


async def test_the_service_checks_the_key_the_browser_subscribed_with(
    push_service: FakePushService, push_sender: PushSender, vapid_signer: VapidSigner
) -> None:
    ours = push_service.new_subscription(application_server_key=vapid_signer.public_key_b64)
    theirs = push_service.new_subscription(application_server_key="BOtherServerKey")
    assert (await push_sender.send(_message(ours), _now())).outcome == "delivered"
    result = await push_sender.send(_message(theirs), _now())
    assert (result.outcome, result.status) == ("failed", 403)


async def test_a_wrong_auth_secret_does_not_decrypt(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    sub = push_service.new_subscription()
    wrong = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    result = await push_sender.send(_message(sub, auth=wrong), _now())
    assert (result.outcome, result.status) == ("failed", 400)
    assert push_service.received == [] and "decrypt" in push_service.rejections[0]


async def test_an_expired_vapid_token_is_refused(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    sub = push_service.new_subscription()
    result = await push_sender.send(_message(sub), _now() - timedelta(hours=13))
    assert (result.outcome, result.status) == ("failed", 401)
    assert "exp" in push_service.rejections[0]


async def test_one_token_serves_many_pushes_to_one_origin(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    subs = [push_service.new_subscription() for _ in range(3)]
    now = _now()
    for i, sub in enumerate(subs):
        assert (await push_sender.send(_message(sub), now + timedelta(minutes=i))).outcome == "delivered"
    pushes = await push_service.wait_for(3)
    assert len({push.vapid_claims["exp"] for push in pushes}) == 1


@pytest.mark.parametrize(
    ("behaviour", "outcome", "retry_after"),
    [
        (Behaviour(410), "gone", None),
        (Behaviour(404), "gone", None),
        (Behaviour(413), "failed", None),
        (Behaviour(400), "failed", None),
        (Behaviour(429, retry_after="7"), "retry", 7.0),
        (Behaviour(500), "retry", None),
        (Behaviour(503, retry_after="30"), "retry", 30.0),
    ],
)
async def test_each_answer_is_classified(
    push_service: FakePushService,
    push_sender: PushSender,
    behaviour: Behaviour,
    outcome: str,
    retry_after: float | None,
) -> None:
    sub = push_service.new_subscription()
    push_service.behave(behaviour, sub.sub_id)
    result = await push_sender.send(_message(sub), _now())
    assert (result.outcome, result.status, result.retry_after_seconds) == (
        outcome,
        behaviour.status,
        retry_after,
    )
    assert push_service.received == []


async def test_retry_after_as_an_http_date(push_service: FakePushService, push_sender: PushSender) -> None:
    sub = push_service.new_subscription()
    now = _now().replace(microsecond=0)
    push_service.behave(Behaviour(429, retry_after=format_datetime(now + timedelta(seconds=60), usegmt=True)))
    result = await push_sender.send(_message(sub), now)
    assert result.outcome == "retry" and result.retry_after_seconds == 60.0


async def test_unsubscribed_and_unknown_endpoints_are_gone(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    sub = push_service.new_subscription()
    push_service.unsubscribe(sub.sub_id)
    assert (await push_sender.send(_message(sub), _now())).status == 410
    unknown = _message(sub, endpoint=f"{push_service.origin}/push/never-issued")
    assert (await push_sender.send(unknown, _now())).outcome == "gone"


async def test_a_programmed_failure_passes_and_deliveries_resume(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    sub = push_service.new_subscription()
    push_service.behave(Behaviour(500), times=2)
    outcomes = [(await push_sender.send(_message(sub), _now())).outcome for _ in range(3)]
    assert outcomes == ["retry", "retry", "delivered"]
    assert [status for _, status in push_service.attempts] == [500, 500, 201]


@pytest.mark.parametrize("status", [301, 307, 308])
async def test_a_redirect_is_never_followed(
    push_service: FakePushService, push_sender: PushSender, status: int
) -> None:
    sub, elsewhere = push_service.new_subscription(), push_service.new_subscription()
    # 307/308 would make aiohttp (pywebpush's client) re-POST the body to the new location.
    push_service.behave(Behaviour(status, location=elsewhere.endpoint), sub.sub_id)
    result = await push_sender.send(_message(sub), _now())
    assert (result.outcome, result.status) == ("failed", status)
    assert result.error is not None and elsewhere.endpoint in result.error
    assert push_service.attempts == [(sub.sub_id, status)]


async def test_a_hanging_service_is_a_retry_within_the_timeout(
    push_service: FakePushService, push_sender: PushSender
) -> None:
    sub = push_service.new_subscription()
    push_service.behave(Behaviour(hang_seconds=30), sub.sub_id)
    started = time.monotonic()
    result = await push_sender.send(_message(sub), _now())
    assert result.outcome == "retry" and result.status is None and result.error
    assert TEST_SEND_TIMEOUT <= time.monotonic() - started < TEST_SEND_TIMEOUT + 1.0
    assert push_service.received == []


async def test_a_refused_connection_is_a_retry(push_sender: PushSender) -> None:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sub = FakePushService().new_subscription()
    result = await push_sender.send(_message(sub, endpoint=f"http://127.0.0.1:{port}/push/x"), _now())
    assert result.outcome == "retry" and "ClientConnectorError" in (result.error or "")


async def test_encryption_can_run_off_the_event_loop(
    push_service: FakePushService, push_session: aiohttp.ClientSession, vapid_signer: VapidSigner
) -> None:
    subs = [push_service.new_subscription() for _ in range(8)]
    with ThreadPoolExecutor(2) as pool:
        sender = PushSender(push_session, vapid_signer, timeout=TEST_SEND_TIMEOUT, encrypt_executor=pool)
        now = _now()
        messages = [_message(sub, payload=f'{{"id": "{i}"}}'.encode()) for i, sub in enumerate(subs)]
        results = await asyncio.gather(*(sender.send(message, now) for message in messages))
    assert {r.outcome for r in results} == {"delivered"}
    pushes = await push_service.wait_for(8)
    assert sorted(push.json()["id"] for push in pushes) == [str(i) for i in range(8)]


async def test_a_fake_clock_is_judged_by_the_same_clock(
    start_push_service: StartPushService, push_sender: PushSender
) -> None:
    service = await start_push_service(FixedClock(T0))
    sub = service.new_subscription()
    assert (await push_sender.send(_message(sub), T0)).outcome == "delivered"
    [push] = await service.wait_for(1)
    assert push.received_at == T0
    # signed two days ahead of the service's clock: exp is more than 24 h away
    assert (await push_sender.send(_message(sub), T0 + timedelta(days=2))).status == 401


async def test_an_unusable_stored_key_fails_without_raising(push_sender: PushSender) -> None:
    sub = FakePushService().new_subscription()
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    result = await push_sender.send(_message(sub, p256dh=off_curve), _now())
    assert result.outcome == "failed" and "encrypt" in (result.error or "")
