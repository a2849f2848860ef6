"""The APScheduler glue: an in-process ``Sweeper`` wakes and sweeps, and ``aftercare worker`` is a
process that sweeps a real SQLite file and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import migrate
from aftercare.flows.worker import Sweeper
from aftercare.push.models import Notification
from aftercare.scheduling.models import Lease, Schedule
from tests.scheduling.conftest import Factory, add_graduate, inbox

NOON = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
PROMPT_AT = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


async def test_the_scheduler_job_sweeps_due_rows(fresh: Factory) -> None:
    graduate = await add_graduate(fresh, now=NOON)
    sweeper = Sweeper(fresh, FixedClock(PROMPT_AT), interval_seconds=0.05, worker_id="in-process")

    sweeper.start()
    try:
        for _ in range(100):
            if sweeper.sweeps >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await sweeper.stop()

    assert sweeper.sweeps >= 2
    assert [n.kind for n in await inbox(fresh, graduate.user_id)] == ["checkin_prompt"]
    async with fresh() as session:  # a clean stop hands the SQLite leader lease back
        assert await session.scalar(select(Lease.owner)) is None


async def test_the_worker_process_sweeps_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    engine = make_engine(Settings(data_dir=tmp_path), url=url)
    await migrate(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    graduate = await add_graduate(factory, now=now)
    async with factory() as session, session.begin():  # make today's prompt due a minute ago
        await session.execute(
            update(Schedule)
            .where(Schedule.stream == "checkin_prompt")
            .values(
                next_due_at=now - timedelta(minutes=1),
                planned_at=now - timedelta(minutes=1),
                deadline=now + timedelta(hours=1),
            )
        )
    env = {
        **os.environ,
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_DATABASE_URL": url,
        "AFTERCARE_SWEEP_INTERVAL_SECONDS": "0.2",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aftercare.cli",
        "worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        sent: list[str] = []
        while not sent and time.monotonic() < deadline and worker.returncode is None:
            await asyncio.sleep(0.2)
            async with factory() as session:
                sent = list(
                    await session.scalars(
                        select(Notification.kind).where(Notification.user_id == graduate.user_id)
                    )
                )
        worker.send_signal(signal.SIGTERM)
        out_bytes, err_bytes = await asyncio.wait_for(worker.communicate(), timeout=15)
    finally:
        if worker.returncode is None:
            worker.kill()
    await engine.dispose()
    out, err = out_bytes.decode(), err_bytes.decode()

    assert sent == ["checkin_prompt"], err[-2000:]
    assert worker.returncode == 0, err[-2000:]
    assert "aftercare worker stopped" in out
