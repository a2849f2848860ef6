"""PostgreSQL LISTEN/NOTIFY as a wake-up for the alert event poller, never as a carrier of events.

The transaction that appends to ``alert_events`` also sends a NOTIFY on ``CHANNEL``. PostgreSQL
delivers it only at commit, so a process that hears it and polls at once finds the new rows. The
notification carries no payload: it holds nothing private, and nothing is lost when it is lost.
NOTIFY is not durable, and a listening connection can die without a word (asyncpg #519), so every
process keeps polling the log on its own interval underneath; the listener only makes it sooner.

LISTEN needs one connection held for as long as it listens: a pooled connection goes back to the
pool after each use and its LISTEN with it. So the listener opens its own with asyncpg, from the
engine's URL and with the search path the engine's connections have (tests keep each run in its own
schema). Channels are per database, not per schema, so runs sharing a database wake each other: a
wasted poll, nothing more. The listener learns of a closed connection from asyncpg's termination
callback and of a half-open one (no FIN ever came, e.g. after a network partition) from a periodic
ping, and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare.db.faults import OutageLog, database_unavailable
from aftercare.waiting import wait_at_most

log = logging.getLogger("aftercare.alerts.wakeup")

CHANNEL = "aftercare_alert_events"
# asyncpg.connect() arguments SQLAlchemy's asyncpg dialect reads from the URL for itself.
_SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")
CONNECT_TIMEOUT_SECONDS = 10.0
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0
CHECK_SECONDS = 30.0


async def send_wakeup(session: AsyncSession) -> None:
    """Queue a wake-up in the session's transaction: PostgreSQL sends it if and when it commits."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class NotifyListener:
    """A dedicated LISTEN connection that calls ``on_wake`` for each notification on ``CHANNEL``, and
    once after every (re)connect, since whatever was sent while nobody listened was missed."""

    def __init__(self, engine: AsyncEngine, on_wake: Callable[[], None]) -> None:
        self._engine = engine
        self._on_wake = on_wake
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None

    @property
    def server_pid(self) -> int | None:
        """The server process holding the LISTEN, while there is one (for diagnostics)."""
        connection = self._connection
        return None if connection is None or connection.is_closed() else int(connection.get_server_pid())

    async def start(self, wait_seconds: float = CONNECT_TIMEOUT_SECONDS) -> None:
        """Start listening. Waits (up to ``wait_seconds``) for the first attempt to connect, so
        wake-ups work from the first request; a failed attempt goes on retrying in the background:
        a database that is down must not stop the app starting."""
        attempted = asyncio.Event()
        self._task = asyncio.create_task(self._run(attempted), name="alert-event-listener")
        await wait_at_most(attempted, wait_seconds)

    async def stop(self) -> None:
        """Stop listening and close the connection (the task's cleanup closes it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, attempted: asyncio.Event) -> None:
        retry = FIRST_RETRY_SECONDS
        outage = OutageLog(log, "alert stream LISTEN connection")
        while True:
            try:
                connection = await self._connect()
            except Exception as error:
                if database_unavailable(error):  # one line per outage, not a traceback per attempt
                    outage.failed(error, retry_in=retry)
                else:
                    log.warning("alert stream: could not open the LISTEN connection", exc_info=True)
            else:
                outage.recovered()
                try:
                    await self._listen(connection, attempted)
                    log.warning("alert stream: the LISTEN connection closed")
                except Exception:
                    log.warning("alert stream: the LISTEN connection failed", exc_info=True)
                finally:
                    if self._connection is not None:  # it did listen: a new outage starts with a short wait
                        retry = FIRST_RETRY_SECONDS
                    self._connection = None
                    await _close(connection)
            attempted.set()
            log.info("alert stream: reconnecting the LISTEN connection in %.1f s", retry)
            await asyncio.sleep(retry)
            retry = min(retry * 2, MAX_RETRY_SECONDS)

    async def _listen(self, connection: asyncpg.Connection, attempted: asyncio.Event) -> None:
        """Listens until asyncpg reports the connection closed (returns) or a ping goes unanswered
        (raises)."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(CHANNEL, self._heard)
        self._connection = connection
        attempted.set()
        self._on_wake()
        while not await wait_at_most(lost, CHECK_SECONDS):
            await connection.execute("SELECT 1", timeout=CHECK_SECONDS)

    async def _connect(self) -> asyncpg.Connection:
        async with self._engine.connect() as pooled:
            search_path = await pooled.scalar(text("SELECT current_setting('search_path')"))
        _, params = self._engine.dialect.create_connect_args(self._engine.url)
        for key in _SQLALCHEMY_ONLY:
            params.pop(key, None)
        return await asyncpg.connect(
            **params,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"search_path": str(search_path), "application_name": "aftercare-alert-listener"},
        )

    def _heard(self, *_notification: Any) -> None:
        self._on_wake()


async def _close(connection: asyncpg.Connection) -> None:
    if connection.is_closed():
        return
    try:
        await connection.close(timeout=5)
    except Exception:
        connection.terminate()
