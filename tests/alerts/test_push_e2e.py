"""End to end: a check-in that opens a high alert reaches the counselor's device as a push that
the loopback push service decrypts, and the payload carries no name and no clinical value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.push.service import deliver_due
from aftercare.push.webpush import PushSender
from tests.checkins.conftest import Cast
from tests.fakes.push_service import FakePushService
from tests.push.conftest import StartPushService

TODAY = date(2026, 11, 24)


@pytest.fixture
async def device_service(start_push_service: StartPushService, clock: FixedClock) -> FakePushService:
    return await start_push_service(clock)


@pytest.fixture
def settings(data_dir: Path, device_service: FakePushService) -> Settings:
    return Settings(
        data_dir=data_dir,
        jwt_secret="test-secret-" + "x" * 40,
        scheduler=False,
        access_token_minutes=60 * 24 * 60,
        push_allowed_origins=f"defaults,{device_service.origin}",
    )


async def test_a_lapse_pushes_an_anonymous_alert_to_the_counselor(
    cast: Cast, device_service: FakePushService, push_sender: PushSender, quiet_outbox: None
) -> None:
    client = cast.program.client
    device = device_service.new_subscription()
    subscribed = await client.post(
        "/v1/push/subscriptions",
        headers=cast.counselor.headers,
        json={
            "endpoint": device.endpoint,
            "keys": {"p256dh": device.p256dh, "auth": device.auth},
        },
    )
    assert subscribed.status_code == 201, subscribed.text
    response = await cast.submit(TODAY, used=True, craving=9, note="Drank at my cousin's wedding")
    assert response.status_code == 201

    report = await deliver_due(
        cast.program.app.state.session_factory,
        push_sender,
        now=cast.program.clock.now(),
        worker_id="e2e",
        limit=50,
    )
    assert report.delivered == 1
    [push] = await device_service.wait_for(1)
    payload = push.json()
    (alert,) = [a for a in await cast.alerts() if a["rule"] == "lapse"]
    assert payload["type"] == "alert"
    assert payload["tag"] == f"alert-{alert['id']}"
    assert alert["id"] in payload["url"]
    assert set(payload) == {"type", "title", "body", "url", "tag", "id"}
    visible = f"{payload['title']} {payload['body']}".lower()  # what a lock screen shows
    for secret in ("grad", "wedding", "cousin", "9", "lapse", "craving", "drank"):
        assert secret not in visible, f"{secret!r} leaked into {payload}"
    assert "high" in visible  # severity is the one thing staff payloads may carry

    inbox = await client.get("/v1/me/notifications", headers=cast.counselor.headers)
    assert inbox.status_code == 200
    assert inbox.json()["items"][0]["status"] == "delivered"
