"""Push services that misbehave, all at once: one counselor's device works, the others' push
services answer 410, 429 with Retry-After, 500 every time, slowly, not at all, or with a redirect.
Seven graduates ask for help; each alert goes to its counselor's device through the real sender and
the loopback push service, and the sweep's delivery step runs until nothing is pending (on a fake
clock, so the backoff's half hour passes at once).

Then: the gone subscription is deleted, the 429 is retried no sooner than it said, every failing
delivery stops at ``MAX_ATTEMPTS`` (retries bounded), the redirect is neither followed nor retried,
nothing arrives twice, and every counselor's inbox holds their notification with its true status,
also where push failed.

``test_api_answers_while_every_push_hangs`` is the same against a real server process whose own
sweeper pushes to a service that never answers: the API's latency must not notice.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.db.engine import make_engine
from aftercare.push.models import Delivery, DeliveryAttempt, Notification, PushSubscription
from aftercare.push.service import MAX_ATTEMPTS, deliver_due
from aftercare.push.webpush import PushSender
from tests.conftest import Program
from tests.fakes.push_service import Behaviour, FakePushService, run_in_thread
from tests.hostile.conftest import PLAN
from tests.hostile.servers import LONG, PASSWORD, call, cli, environment, serve
from tests.push.conftest import StartPushService

# How each device's push service answers, and how many times (None: always).
BEHAVIOURS: dict[str, tuple[Behaviour, int | None]] = {
    "works": (Behaviour(), None),
    "gone": (Behaviour(410), None),
    "busy": (Behaviour(429, retry_after="120"), 1),
    "broken": (Behaviour(500), None),
    "slow": (Behaviour(hang_seconds=0.4), None),  # within the sender's 1 s timeout
    "silent": (Behaviour(hang_seconds=3), None),  # past it, every time
    # A redirect is never followed (aiohttp would re-POST the body past the allow-list).
    "redirecting": (Behaviour(307, location="http://169.254.169.254/latest/meta-data/"), None),
}


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


async def test_every_misbehaving_push_service_at_once(
    program: Program,
    device_service: FakePushService,
    push_sender: PushSender,
    clock: FixedClock,
    quiet_outbox: None,
) -> None:
    client = program.client
    supervisor = await program.supervisor()
    counselors: dict[str, Any] = {}
    devices: dict[str, str] = {}
    for name, (behaviour, times) in BEHAVIOURS.items():
        counselor = await program.staff(supervisor)
        graduate = await program.graduate(counselor)
        device = device_service.new_subscription()
        device_service.behave(behaviour, device.sub_id, times=times)
        subscribed = await client.post(
            "/v1/push/subscriptions", headers=counselor.headers, json=device.as_json()
        )
        assert subscribed.status_code == 201, subscribed.text
        helped = await client.post(
            f"/v1/graduates/{graduate.graduate_id}/help",
            headers=graduate.headers,
            json={"client_id": str(uuid.uuid4()), "message": "please"},
        )
        assert helped.status_code == 201, helped.text
        counselors[name], devices[name] = counselor, device.sub_id

    factory = program.app.state.session_factory
    rounds = 0
    started = clock.now()
    while True:
        rounds += 1
        assert rounds <= 4 * MAX_ATTEMPTS, "delivery never settled"
        await deliver_due(
            factory, push_sender, now=clock.now(), worker_id=f"w{rounds}", limit=50, batches=None
        )
        async with factory() as session:
            due = await session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
            )
        if due is None:
            break
        clock.set(max(due, clock.now()))

    async with factory() as session:
        rows = (
            await session.execute(
                select(
                    Notification.user_id, Notification.status, Delivery.status, Delivery.attempts, Delivery.id
                ).join(Delivery, Delivery.notification_id == Notification.id)
            )
        ).all()
        subscriptions = set((await session.scalars(select(PushSubscription.user_id))).all())
        attempts = (
            await session.execute(
                select(
                    DeliveryAttempt.delivery_id,
                    DeliveryAttempt.outcome,
                    DeliveryAttempt.status_code,
                    DeliveryAttempt.at,
                ).order_by(DeliveryAttempt.at)
            )
        ).all()
    by_user = {row.user_id: row for row in rows}
    outcome = {name: by_user[counselors[name].user_id] for name in BEHAVIOURS}
    assert {name: (row[1], row[2]) for name, row in outcome.items()} == {
        "works": ("delivered", "delivered"),
        "gone": ("failed", "gone"),
        "busy": ("delivered", "delivered"),
        "broken": ("failed", "failed"),
        "slow": ("delivered", "delivered"),
        "silent": ("failed", "failed"),
        "redirecting": ("failed", "failed"),
    }
    assert counselors["gone"].user_id not in subscriptions, "a 410 must delete the subscription"
    assert counselors["works"].user_id in subscriptions and counselors["broken"].user_id in subscriptions
    # Retries bounded: a delivery that never succeeds is tried MAX_ATTEMPTS times and no more.
    assert outcome["broken"][3] == outcome["silent"][3] == MAX_ATTEMPTS
    asked = Counter(sub_id for sub_id, _ in device_service.attempts)
    assert asked[devices["broken"]] == MAX_ATTEMPTS and asked[devices["gone"]] == 1
    assert asked[devices["redirecting"]] == 1, "a redirect is a failure, not something to retry or follow"
    busy = [a for a in attempts if a.delivery_id == outcome["busy"][4]]
    assert [(a.outcome, a.status_code) for a in busy] == [("retry", 429), ("delivered", 201)]
    assert busy[1].at - busy[0].at >= timedelta(seconds=120), "a 429's Retry-After was not honoured"
    # Nothing twice: one push arrived per delivered notification.
    arrived = Counter(push.sub_id for push in device_service.received)
    assert arrived == Counter({devices[n]: 1 for n in ("works", "busy", "slow")})
    # The inbox is the record: every counselor has their notification, whatever push did.
    for name, counselor in counselors.items():
        inbox = (await client.get("/v1/me/notifications", headers=counselor.headers)).json()["items"]
        assert [(item["kind"], item["status"]) for item in inbox] == [("alert", outcome[name][1])], name
    print(f"\npush faults: settled in {rounds} rounds, {clock.now() - started} of fake time")


# -- a real server whose pushes all hang ----------------------------------------------------------

PROBE_SECONDS = 20 if LONG else 8
HANGING_DEVICES = 200 if LONG else 40


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 2 else samples[0]


async def _probe(base_url: str, token: str, path: str, seconds: float) -> list[float]:
    """Latencies of GETs, one after another, for ``seconds``."""
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return samples


async def _attempts_begun(env: dict[str, str]) -> int:
    engine = make_engine(Settings.from_env(env))
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0)
    finally:
        await engine.dispose()


async def test_api_answers_while_every_push_hangs(tmp_path: Path) -> None:
    with run_in_thread() as device_service:
        device_service.behave(Behaviour(hang_seconds=60))  # never answers within the 10 s timeout
        extra = {
            "AFTERCARE_SCHEDULER": "on",
            "AFTERCARE_SWEEP_INTERVAL_SECONDS": "0.5",
            "AFTERCARE_PUSH_ALLOWED_ORIGINS": f"defaults,{device_service.origin}",
        }
        with environment("sqlite", tmp_path / "data", **extra) as env:
            cli(
                env,
                "users",
                "create",
                "--role",
                "supervisor",
                "--email",
                "sup@hang.test",
                stdin=PASSWORD + "\n",
            )
            server = serve(env)
            try:
                base = server.base_url
                token, gid, graduate_token = _counselor_with_graduate(base)
                for _ in range(HANGING_DEVICES):  # the counselor's: the graduate's alerts go to them
                    device = device_service.new_subscription()
                    assert call(base, "POST", "/v1/push/subscriptions", device.as_json(), token)[0] == 201
                plan_path = f"/v1/graduates/{gid}/plan"
                quiet = await _probe(base, token, plan_path, PROBE_SECONDS / 2)
                help_now = {"client_id": str(uuid.uuid4())}
                assert call(base, "POST", f"/v1/graduates/{gid}/help", help_now, graduate_token)[0] == 201
                await asyncio.sleep(1.5)  # the sweeper has claimed them and every send is hanging
                hanging = await _probe(base, token, plan_path, PROBE_SECONDS)
                assert len(device_service.attempts) == 0, "the push service answered; it should hang"
            finally:
                server.stop()
            sent = await _attempts_begun(env)
    assert sent >= HANGING_DEVICES, f"only {sent} pushes were under way while the API was probed"
    quiet_p99, hanging_p99 = _p99(quiet), _p99(hanging)
    print(
        f"\npush hanging: plan GET p99 {hanging_p99 * 1000:.1f} ms over {len(hanging)} requests "
        f"while {HANGING_DEVICES} pushes hang, {quiet_p99 * 1000:.1f} ms before"
    )
    # Unaffected: within noise of the quiet figure on a shared 2-core machine.
    assert hanging_p99 < max(3 * quiet_p99, quiet_p99 + 0.05), (quiet_p99, hanging_p99)


def _counselor_with_graduate(base: str) -> tuple[str, str, str]:
    """(counselor's token, graduate id, graduate's token): a counselor made by the CLI's supervisor,
    and their graduate, enrolled, with a plan."""
    signed_in = call(base, "POST", "/v1/auth/token", {"email": "sup@hang.test", "password": PASSWORD})[1]
    staff = {"email": "co@hang.test", "password": PASSWORD, "display_name": "Co", "role": "counselor"}
    assert call(base, "POST", "/v1/staff", staff, signed_in["access_token"])[0] == 201
    token = call(base, "POST", "/v1/auth/token", {"email": "co@hang.test", "password": PASSWORD})[1][
        "access_token"
    ]
    status, graduate = call(base, "POST", "/v1/graduates", {"display_name": "H", "timezone": "UTC"}, token)
    assert status == 201
    assert call(base, "PUT", f"/v1/graduates/{graduate['id']}/plan", PLAN, token)[0] == 201
    enroll = {"enrollment_code": graduate["enrollment_code"], "email": "h@hang.test", "password": PASSWORD}
    graduate_token = call(base, "POST", "/v1/auth/enroll", enroll)[1]["access_token"]
    return token, graduate["id"], graduate_token
