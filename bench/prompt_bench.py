"""100,000 daily prompts due in the same minute: one ``aftercare worker`` process sweeps and delivers
them to the loopback push service, which checks each VAPID header and decrypts each message.

Reports, per run: seconds from the due instant to the last delivery (target <= 60), the worker's
peak RSS (target < 500 MB), encryption cost per message next to raw pywebpush ``WebPusher.encode``
measured in the same run, and duplicates received. Then a run whose worker is killed with SIGKILL
half-way and restarted: every prompt must arrive, and the report says how many arrived twice (only
those in flight at the kill may). With ``AFTERCARE_BENCH_POSTGRES_URL`` set, the same on PostgreSQL
with one and then two workers (zero duplicates; the speed-up).

    .venv/bin/python bench/prompt_bench.py [--graduates 100000] [--kill-graduates N]
        [--postgres-graduates N] [--postgres-url postgresql+asyncpg://...] [--runs sqlite,kill,postgres]

The database is written directly (users, graduates, subscriptions, one due prompt row each): the
benchmark measures the sweep and delivery path, not sign-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pywebpush import WebPusher
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aftercare.auth.models import User  # noqa: E402
from aftercare.config import Settings  # noqa: E402
from aftercare.db.engine import make_engine  # noqa: E402
from aftercare.db.migrate import migrate  # noqa: E402
from aftercare.db.types import uuid7  # noqa: E402
from aftercare.graduates.models import Graduate  # noqa: E402
from aftercare.push.models import PushSubscription  # noqa: E402
from aftercare.push.webpush import PushMessage, encrypt  # noqa: E402
from aftercare.scheduling.models import Schedule  # noqa: E402
from tests.fakes.push_service import FakePushService, _payload_id, run_in_thread  # noqa: E402

CHUNK = 5000


async def seed(engine: AsyncEngine, service: FakePushService, count: int, due: datetime) -> None:
    """``count`` enrolled graduates in UTC with a subscription each and today's prompt planned at
    ``due``, parked a day ahead until ``make_due`` (seeding 100,000 takes longer than a minute's
    notice, and the clock must not start while it runs)."""
    checkin = due.strftime("%H:%M")
    for start in range(0, count, CHUNK):
        users, graduates, subscriptions, schedules = [], [], [], []
        for _ in range(start, min(count, start + CHUNK)):
            user_id, graduate_id = uuid7(), uuid7()
            device = service.new_subscription()
            users.append(
                {
                    "id": user_id,
                    "email": f"g{user_id.hex}@bench.example",
                    "password_hash": "-",
                    "role": "graduate",
                    "display_name": "G",
                    "active": True,
                    "created_at": due,
                }
            )
            graduates.append(
                {
                    "id": graduate_id,
                    "user_id": user_id,
                    "display_name": "G",
                    "timezone": "UTC",
                    "checkin_time": checkin,
                    "quiet_start": None,
                    "quiet_end": None,
                    "status": "active",
                    "created_at": due,
                    "updated_at": due,
                    "streak_days": 0,
                    "risk_level": "low",
                    "open_alerts": 0,
                }
            )
            subscriptions.append(
                {
                    "id": uuid7(),
                    "user_id": user_id,
                    "endpoint": device.endpoint,
                    "p256dh": device.p256dh,
                    "auth": device.auth,
                    "created_at": due,
                    "updated_at": due,
                }
            )
            schedules.append(
                {
                    "id": uuid7(),
                    "graduate_id": graduate_id,
                    "stream": "checkin_prompt",
                    "kind": "checkin_prompt",
                    "next_due_at": due + timedelta(days=1),
                    "planned_at": due,
                    "occurrence_key": f"checkin_prompt:{due.date().isoformat()}",
                    "local_date": due.date(),
                    "title": "Time for your daily check-in",
                    "deadline": due + timedelta(hours=6),
                    "status": "planned",
                    "updated_at": due,
                }
            )
        async with engine.begin() as connection:
            for table, rows in (
                (User, users),
                (Graduate, graduates),
                (PushSubscription, subscriptions),
                (Schedule, schedules),
            ):
                await connection.execute(insert(table), rows)


async def make_due(engine: AsyncEngine, due: datetime) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(Schedule).values(next_due_at=due))


def start_worker(url: str, data_dir: Path, origin: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AFTERCARE_DATABASE_URL": url,
        "AFTERCARE_DATA_DIR": str(data_dir),
        "AFTERCARE_SWEEP_INTERVAL_SECONDS": "1",
        "AFTERCARE_PUSH_ALLOWED_ORIGINS": origin,
        "AFTERCARE_LOG_LEVEL": "WARNING",
        "AFTERCARE_SQLITE_SYNCHRONOUS": "FULL",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "aftercare.cli", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process (contention-proof, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()


class Arrivals:
    """Distinct payload ids received so far, read incrementally: decoding all 100,000 payloads on
    every poll would take the push service's own CPU (it shares this process)."""

    def __init__(self, service: FakePushService) -> None:
        self._service = service
        self._seen = 0
        self.ids: Counter[str] = Counter()

    def distinct(self) -> int:
        received = self._service.received
        end = len(received)
        self.ids.update(_payload_id(push.payload) for push in received[self._seen : end])
        self._seen = end
        return len(self.ids)


async def run(
    url: str, *, count: int, workers: int, kill_at: int | None, label: str, bound_seconds: float
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="aftercare-bench-"))
    engine = make_engine(Settings(data_dir=data_dir), url=url)
    await migrate(engine)
    with run_in_thread() as service:
        started = time.perf_counter()
        planned = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        await seed(engine, service, count, planned)
        print(f"[{label}] seeded {count} graduates in {time.perf_counter() - started:.1f} s", flush=True)
        # Workers are up and idle before the prompts fall due, as in production.
        procs = [start_worker(url, data_dir, service.origin) for _ in range(workers)]
        await asyncio.sleep(3)
        due = datetime.now(UTC)
        await make_due(engine, due)
        arrivals = Arrivals(service)
        peak, cpu = 0.0, 0.0
        killed_cpu = 0.0
        killed = False
        limit = time.monotonic() + bound_seconds
        while arrivals.distinct() < count and time.monotonic() < limit:
            await asyncio.sleep(0.5)
            peak = max([peak, *(peak_rss_mb(p.pid) for p in procs if p.poll() is None)])
            if kill_at is not None and not killed and len(service.received) >= kill_at:
                killed_cpu = cpu_seconds(procs[0].pid)
                procs[0].send_signal(signal.SIGKILL)
                procs[0].wait()
                killed = True
                print(f"[{label}] SIGKILL after {len(service.received)} pushes", flush=True)
                procs[0] = start_worker(url, data_dir, service.origin)  # a fresh process, a new worker id
        cpu = killed_cpu + sum(cpu_seconds(p.pid) for p in procs if p.poll() is None)
        for proc in procs:
            stop(proc)
        arrivals.distinct()
        ids = arrivals.ids
        received = list(service.received)
        last = max(push.received_at for push in received) if received else due
        firsts = sorted(push.received_at for push in received)
    await engine.dispose()
    return {
        "run": label,
        "graduates": count,
        "workers": workers,
        "delivered": len(ids),
        "lost": count - len(ids),
        "seconds_due_to_last_delivery": round((last - due).total_seconds(), 1),
        "seconds_due_to_first_delivery": round((firsts[0] - due).total_seconds(), 1) if firsts else None,
        "worker_peak_rss_mb": round(peak, 1),
        "worker_cpu_seconds": round(cpu, 1),
        "worker_cpu_ms_per_delivery": round(cpu * 1000 / max(1, len(received)), 3),
        "received_twice": sum(n - 1 for n in ids.values()),
        "rejected_by_push_service": len(service.rejections),
    }


def encryption_cost(samples: int = 2000) -> dict[str, float]:
    """Microseconds per message: the sender's ``encrypt`` (pywebpush encode plus headers) and raw
    ``WebPusher.encode``, on the same subscriptions and payload."""
    with run_in_thread() as service:
        devices = [service.new_subscription() for _ in range(50)]
    payload = (
        b'{"type":"checkin_prompt","title":"Time for your daily check-in","body":"How was today?",'
        b'"url":"/checkin/2026-11-24","tag":"x","id":"' + str(uuid.uuid4()).encode() + b'"}'
    )
    messages = [
        PushMessage(endpoint=d.endpoint, p256dh=d.p256dh, auth=d.auth, payload=payload, ttl=3600)
        for d in devices
    ]
    started = time.perf_counter()
    for i in range(samples):
        encrypt(messages[i % len(messages)])
    ours = (time.perf_counter() - started) / samples * 1e6
    started = time.perf_counter()
    for i in range(samples):
        d = devices[i % len(devices)]
        WebPusher({"endpoint": d.endpoint, "keys": {"p256dh": d.p256dh, "auth": d.auth}}).encode(
            payload, content_encoding="aes128gcm"
        )
    raw = (time.perf_counter() - started) / samples * 1e6
    # Off the loop in a small pool: cryptography holds the GIL for most of the work, so on two
    # cores this buys little (PushSender encrypts inline unless given an executor).
    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        list(pool.map(encrypt, (messages[i % len(messages)] for i in range(samples))))
        pooled = (time.perf_counter() - started) / samples * 1e6
    return {
        "sender_encrypt_us": round(ours, 1),
        "raw_pywebpush_encode_us": round(raw, 1),
        "sender_encrypt_in_2_threads_us_per_message": round(pooled, 1),
    }


async def postgres_database(admin_url: str, name: str, *, create: bool) -> str:
    admin = make_engine(Settings(), url=admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'{"CREATE" if create else "DROP"} DATABASE "{name}"'))
    await admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graduates", type=int, default=100_000, help="the headline SQLite run")
    parser.add_argument("--kill-graduates", type=int, help="the SIGKILL run (default: --graduates)")
    parser.add_argument("--postgres-graduates", type=int, help="the PostgreSQL runs (default: --graduates)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AFTERCARE_BENCH_POSTGRES_URL"),
        help="an admin URL; each run gets a fresh database (or AFTERCARE_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--runs", default="sqlite,kill,postgres", help="which runs, comma-separated")
    parser.add_argument("--bound-seconds", type=float, default=600.0, help="give up on a run after this")
    args = parser.parse_args()
    runs = set(args.runs.split(","))
    results: list[dict[str, Any]] = [{"run": "encryption", **encryption_cost()}]
    print(results[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for label, count, kill in (
            ("sqlite, 1 worker", args.graduates, False),
            ("sqlite, SIGKILL at half", args.kill_graduates or args.graduates, True),
        ):
            if ("kill" if kill else "sqlite") not in runs:
                continue
            url = f"sqlite+aiosqlite:///{Path(tmp) / (uuid.uuid4().hex + '.db')}"
            results.append(
                await run(
                    url,
                    count=count,
                    workers=1,
                    kill_at=count // 2 if kill else None,
                    label=label,
                    bound_seconds=args.bound_seconds,
                )
            )
            print(results[-1], flush=True)
    if args.postgres_url and "postgres" in runs:
        count = args.postgres_graduates or args.graduates
        for workers in (1, 2):
            name = f"aftercare_bench_{uuid.uuid4().hex[:8]}"
            url = await postgres_database(args.postgres_url, name, create=True)
            try:
                results.append(
                    await run(
                        url,
                        count=count,
                        workers=workers,
                        kill_at=None,
                        label=f"postgres, {workers} worker(s)",
                        bound_seconds=args.bound_seconds,
                    )
                )
            finally:
                await postgres_database(args.postgres_url, name, create=False)
            print(results[-1], flush=True)
        one, two = results[-2]["seconds_due_to_last_delivery"], results[-1]["seconds_due_to_last_delivery"]
        print(f"postgres speed-up with two workers: {one / two:.2f}x" if two else "", flush=True)
    print("\nsummary:")
    for result in results:
        print("  " + ", ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    asyncio.run(main())
