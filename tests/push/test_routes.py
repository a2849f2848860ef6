"""The push routes through the real app: VAPID key, subscriptions, the inbox."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar

from aftercare.config import Settings
from aftercare.push import service
from tests.conftest import Program
from tests.fakes.push_service import FakePushService


@pytest.fixture
def settings(settings: Settings, push_service: FakePushService) -> Settings:
    return dataclasses.replace(settings, push_allowed_origins=f"defaults,{push_service.origin}")


async def test_vapid_public_key_is_public_and_a_p256_point(program: Program, app: Litestar) -> None:
    response = await program.client.get("/v1/push/vapid-public-key")
    assert response.status_code == 200
    key = response.json()["public_key"]
    assert key == app.state.push.public_key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # raises if not on the curve


async def test_subscribe_update_and_unsubscribe(program: Program, push_service: FakePushService) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduate = await program.graduate(counselor)
    sub = push_service.new_subscription()
    body = {**sub.as_json(), "expirationTime": None}
    created = await program.client.post("/v1/push/subscriptions", headers=graduate.headers, json=body)
    assert created.status_code == 201, created.text
    sub_id = created.json()["id"]
    again = await program.client.post("/v1/push/subscriptions", headers=graduate.headers, json=body)
    assert (again.status_code, again.json()["id"]) == (201, sub_id)

    path = f"/v1/push/subscriptions/{sub_id}"
    assert (await program.client.delete(path, headers=counselor.headers)).status_code == 404  # not theirs
    assert (await program.client.delete(path, headers=graduate.headers)).status_code == 204
    gone = await program.client.delete(path, headers=graduate.headers)
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/problem+json")


async def test_subscribe_validation_is_a_422_naming_the_fields(
    program: Program, push_service: FakePushService
) -> None:
    supervisor = await program.supervisor()
    sub = push_service.new_subscription()
    bad = {
        "endpoint": "https://169.254.169.254/latest/meta-data",
        "keys": {"p256dh": sub.p256dh, "auth": "AA"},
    }
    response = await program.client.post("/v1/push/subscriptions", headers=supervisor.headers, json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in response.json()["errors"]} == {"endpoint", "keys.auth"}
    missing = await program.client.post(
        "/v1/push/subscriptions", headers=supervisor.headers, json={"endpoint": sub.endpoint}
    )
    assert missing.status_code == 422
    anonymous = await program.client.post("/v1/push/subscriptions", json=sub.as_json())
    assert anonymous.status_code == 401


async def test_inbox_lists_the_callers_notifications_only(program: Program, app: Litestar) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    now = program.clock.now()
    async with app.state.session_factory() as session, session.begin():
        alert_id = str(uuid.uuid4())
        [mine] = await service.enqueue_notifications(
            session,
            [
                service.NotificationSpec(
                    user_id=counselor.user_id,
                    kind="alert",
                    title="New high alert",
                    body="Open the console to review it",
                    url=f"/console/alerts/{alert_id}",
                    tag=f"alert-{alert_id}",
                    ref_id=alert_id,
                    urgency="normal",
                    expires_at=now + timedelta(days=1),
                    topic=None,
                )
            ],
            now=now,
        )
    response = await program.client.get("/v1/me/notifications", headers=counselor.headers)
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (item["id"], item["kind"], item["status"], item["deliveries"]) == (
        str(mine),
        "alert",
        "no_subscription",
        [],
    )
    others = await program.client.get("/v1/me/notifications", headers=supervisor.headers)
    assert others.json() == {"items": [], "next_cursor": None}
    bad_cursor = await program.client.get("/v1/me/notifications?cursor=nonsense", headers=counselor.headers)
    assert bad_cursor.status_code == 400
