"""``GET /v1/push/subscriptions``: the caller's own devices, each with its push service's origin
(never the endpoint, a capability) and when a push to it last went through or did not, after real
deliveries to the loopback push service. On both engines."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar

from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.push import service
from aftercare.push.endpoints import push_service_origin
from aftercare.push.webpush import PushSender
from tests.conftest import Account, Program
from tests.fakes.push_service import Behaviour, FakePushService, FakeSubscription
from tests.push.conftest import StartPushService

pytestmark = pytest.mark.usefixtures("quiet_outbox")


@pytest.fixture
async def loopback(start_push_service: StartPushService, clock: FixedClock) -> FakePushService:
    # Judges VAPID exp by the app's fake clock, which the sender signs at.
    return await start_push_service(clock)


@pytest.fixture
def settings(settings: Settings, loopback: FakePushService) -> Settings:
    return dataclasses.replace(settings, push_allowed_origins=f"defaults,{loopback.origin}")


def _z(instant: Any) -> str:
    return str(instant.isoformat().replace("+00:00", "Z"))


async def _subscribe(program: Program, account: Account, sub: FakeSubscription) -> str:
    response = await program.client.post(
        "/v1/push/subscriptions", headers=account.headers, json=sub.as_json()
    )
    assert response.status_code == 201, response.text
    subscription_id: str = response.json()["id"]
    return subscription_id


async def _devices(program: Program, account: Account, **params: Any) -> Any:
    response = await program.client.get("/v1/push/subscriptions", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    return response


async def _push_and_deliver(app: Litestar, program: Program, account: Account, sender: PushSender) -> None:
    now = program.clock.now()
    async with app.state.session_factory() as session, session.begin():
        await service.enqueue_notifications(
            session,
            [
                service.NotificationSpec(
                    user_id=account.user_id,
                    kind="checkin_prompt",
                    title="Daily check-in",
                    body="How was today?",
                    url="/checkin",
                    tag="checkin",
                    ref_id=None,
                    urgency="normal",
                    expires_at=now + timedelta(hours=6),
                    topic=None,
                )
            ],
            now=now,
        )
    await service.deliver_due(
        app.state.session_factory, sender, now=now, worker_id="devices-test", limit=50, rng=random.Random(3)
    )


async def test_devices_show_origin_and_last_success_and_failure(
    app: Litestar, program: Program, loopback: FakePushService, push_sender: PushSender
) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    working, failing = loopback.new_subscription(), loopback.new_subscription()
    created_at = program.clock.now()
    working_id = await _subscribe(program, graduate, working)
    program.clock.advance(seconds=1)
    failing_id = await _subscribe(program, graduate, failing)

    listed = await _devices(program, graduate)
    assert listed.json() == {
        "items": [
            {
                "id": working_id,
                "origin": loopback.origin,
                "created_at": _z(created_at),
                "last_success_at": None,
                "last_failure_at": None,
            },
            {
                "id": failing_id,
                "origin": loopback.origin,
                "created_at": _z(created_at + timedelta(seconds=1)),
                "last_success_at": None,
                "last_failure_at": None,
            },
        ],
        "next_cursor": None,
    }
    assert working.endpoint not in listed.text and failing.endpoint not in listed.text

    loopback.behave(Behaviour(500), failing.sub_id)
    program.clock.advance(minutes=1)
    first_round = program.clock.now()
    await _push_and_deliver(app, program, graduate, push_sender)
    assert [push.sub_id for push in loopback.received] == [working.sub_id]
    assert (failing.sub_id, 500) in loopback.attempts
    devices = {d["id"]: d for d in (await _devices(program, graduate)).json()["items"]}
    assert (devices[working_id]["last_success_at"], devices[working_id]["last_failure_at"]) == (
        _z(first_round),
        None,
    )
    assert (devices[failing_id]["last_success_at"], devices[failing_id]["last_failure_at"]) == (
        None,
        _z(first_round),
    )

    # The failing device recovers and the working one starts failing: each keeps its other stamp.
    loopback.behave(Behaviour(), failing.sub_id)
    loopback.behave(Behaviour(503), working.sub_id)
    program.clock.advance(hours=1)  # past the failed delivery's backoff, so it is retried too
    second_round = program.clock.now()
    await _push_and_deliver(app, program, graduate, push_sender)
    devices = {d["id"]: d for d in (await _devices(program, graduate)).json()["items"]}
    assert (devices[working_id]["last_success_at"], devices[working_id]["last_failure_at"]) == (
        _z(first_round),
        _z(second_round),
    )
    assert (devices[failing_id]["last_success_at"], devices[failing_id]["last_failure_at"]) == (
        _z(second_round),
        _z(first_round),
    )

    # Only the caller's own devices, one page at a time.
    assert (await _devices(program, counselor)).json() == {"items": [], "next_cursor": None}
    page = (await _devices(program, graduate, limit=1)).json()
    assert [d["id"] for d in page["items"]] == [working_id] and page["next_cursor"]
    rest = (await _devices(program, graduate, limit=1, cursor=page["next_cursor"])).json()
    assert [d["id"] for d in rest["items"]] == [failing_id] and rest["next_cursor"] is None
    assert (await program.client.get("/v1/push/subscriptions")).status_code == 401


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com"),
        (
            "https://updates.push.services.mozilla.com:443/wpush/v2/gAAA",
            "https://updates.push.services.mozilla.com",
        ),
        ("http://127.0.0.1:8765/push/sub-1", "http://127.0.0.1:8765"),
        ("https://[2001:db8::1]:8443/p/x", "https://[2001:db8::1]:8443"),
    ],
)
def test_the_origin_is_scheme_host_and_a_port_that_is_not_the_default(endpoint: str, origin: str) -> None:
    assert push_service_origin(endpoint) == origin
