"""APScheduler glue: wake ``sweep`` every few seconds, in ``aftercare serve`` or ``aftercare worker``.

APScheduler only keeps time; it holds no jobs of ours worth persisting. Every process that starts a
scheduler runs every job (APScheduler 3.11 has no cross-process coordination), so the one job only
calls the claim-safe ``sweep``. ``misfire_grace_time=None`` runs a late wake-up instead of dropping
it, ``coalesce`` folds a backlog of missed wake-ups into one, ``max_instances=1`` never overlaps two
sweeps in one process. Started from a running event loop (``AsyncIOScheduler`` binds to it).

While the database is unavailable (``db/faults.py``) the sweeper backs off, doubling its wait from
one interval up to ``MAX_BACKOFF_SECONDS``, and logs one line when the outage begins and one when
it ends, instead of a stack trace per wake-up. Nothing is lost meanwhile: due rows stay due, and
rows it had claimed come back when their lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.clock import Clock
from aftercare.db.faults import OutageLog, database_unavailable
from aftercare.flows.sweep import SweepReport, release_leader_lease, sweep
from aftercare.push.mail import MailSender
from aftercare.push.webpush import PushSender

logger = logging.getLogger(__name__)

# The longest the sweeper waits between attempts while the database is away: an escalation due
# during an outage goes out at most this long after the database is back.
MAX_BACKOFF_SECONDS = 30.0


def new_worker_id() -> str:
    """Names this process in leases: host, pid and a random part (pids are reused after restarts)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Sweeper:
    """One process's sweeping: a scheduler with one job, and a clean stop that waits for a sweep
    in progress (its batch commits or rolls back, never half-done)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        interval_seconds: float,
        sender: PushSender | None = None,
        worker_id: str | None = None,
        mailer: MailSender | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.sender = sender
        self.mailer = mailer
        self.worker_id = worker_id or new_worker_id()
        self.sweeps = 0
        self.interval_seconds = interval_seconds
        self.outage = OutageLog(logger, "sweeper")
        self._resume_at = 0.0  # time.monotonic() before which a wake-up does nothing (backing off)
        self._running = asyncio.Lock()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        # The first sweep runs at once, not one interval after start: a restarted worker takes up its
        # backlog now. APScheduler keeps real time; the sweep itself reads ``clock``.
        self._scheduler.add_job(
            self.sweep_once, "interval", seconds=interval_seconds, id="sweep", next_run_time=datetime.now(UTC)
        )

    async def sweep_once(self) -> SweepReport | None:
        if time.monotonic() < self._resume_at:
            return None  # backing off while the database is away
        async with self._running:
            try:
                report = await sweep(
                    self.session_factory,
                    now=self.clock.now(),
                    worker_id=self.worker_id,
                    sender=self.sender,
                    clock=self.clock,
                    mailer=self.mailer,
                )
            except Exception as error:
                # The next wake-up tries again; the database still holds every due row.
                if database_unavailable(error):
                    wait = min(self.interval_seconds * 2**self.outage.failures, MAX_BACKOFF_SECONDS)
                    self.outage.failed(error, retry_in=wait)
                    self._resume_at = time.monotonic() + wait
                else:
                    logger.exception("sweep failed")
                return None
            self.outage.recovered()
            self._resume_at = 0.0
            self.sweeps += 1
            if report.claimed or report.escalated:
                logger.info(
                    "swept",
                    extra={
                        "claimed": report.claimed,
                        "queued": report.queued,
                        "closed_days": report.closed_days,
                        "poisoned": report.poisoned,
                        "escalated": report.escalated,
                    },
                )
            return report

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self) -> None:
        self._scheduler.shutdown(wait=False)
        async with self._running:  # let a sweep in progress finish
            pass
        try:
            await release_leader_lease(self.session_factory, worker_id=self.worker_id)
        except Exception as error:
            if not database_unavailable(error):
                raise
            # The lease runs out by itself; a successor waits at most that long.
            logger.warning("sweeper stopped without releasing its lease: the database is unavailable")
