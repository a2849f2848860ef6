"""The alert stream: Server-Sent Events read from the durable ``alert_events`` log.

The log is the only source: every process polls ``id > last`` on its own (one shared poller per
process, fanning each batch out to the open streams), so replicas need nothing else to share events
and ``Last-Event-ID`` resumes exactly on both engines. Event ids commit in id order (the writers
serialise on a lock), which is what makes "everything after id N" a complete answer.

A connection subscribes to the poller *before* it reads where it starts (the current maximum id, or
its ``Last-Event-ID`` backlog from the database), so nothing falls between the two; anything seen
twice is dropped by id. Scope is checked per event as it is sent, against the graduate's counselor
as of the poll, so a reassigned graduate's events stop reaching the former counselor.

The poller reads every ``poll_seconds``; on PostgreSQL a NOTIFY sent with each new entry wakes it at
once (``wakeup.NotifyListener``), so the interval only bounds the delay when a wake-up is lost.

Each database read is a short read-only transaction of its own (``db.engine.read_transaction``): a
stream holds no connection while it waits, a disconnect (Litestar cancels the generator) leaves
nothing open, and on SQLite a read never queues behind the writers for their write gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime

import msgspec
from litestar.response import ServerSentEventMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aftercare.alerts.models import Alert, AlertEvent
from aftercare.alerts.schemas import STREAMED_KINDS
from aftercare.alerts.service import to_schema
from aftercare.alerts.wakeup import NotifyListener
from aftercare.audit import service as audit
from aftercare.auth.access import can_reach, cover_of
from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.clock import Clock, SystemClock
from aftercare.config import Settings
from aftercare.db.engine import read_transaction
from aftercare.db.faults import OutageLog, database_unavailable
from aftercare.graduates.models import Graduate
from aftercare.waiting import wait_at_most

log = logging.getLogger("aftercare.alerts.stream")

# What a counselor acts on (alerts/schemas.py): not a mere refresh, nor a notification decision.
BATCH = 500
# How stale the stream's view of its caller's account may be when it sends an event: at most one
# primary-key read a second per busy stream, and a demotion or deactivation shows within a second.
ACCOUNT_RECHECK_SECONDS = 1.0
# The poller's longest wait between attempts while the database is away (a NOTIFY after the
# listener reconnects wakes it sooner).
MAX_OUTAGE_POLL_SECONDS = 5.0


class StreamConfig(msgspec.Struct, frozen=True):
    keepalive_seconds: float = 15.0
    poll_seconds: float = 0.5
    # Batches a slow reader may fall behind before its stream is closed (it resumes from the log).
    backlog_batches: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamConfig:
        return cls(
            keepalive_seconds=settings.stream_keepalive_seconds, poll_seconds=settings.stream_poll_seconds
        )


class StreamEvent(msgspec.Struct, frozen=True):
    """One log entry ready to send: the alert's current state, encoded once for every reader."""

    id: int
    graduate_id: uuid.UUID
    counselor_id: uuid.UUID | None  # the graduate's counselor when the entry was read
    data: str
    cover_id: uuid.UUID | None = None  # who covered that counselor then (auth/access.py::cover_of)


def visible_to(principal: Principal, event: StreamEvent) -> bool:
    return principal.is_staff and can_reach(
        principal, graduate_id=event.graduate_id, counselor_id=event.counselor_id, cover_id=event.cover_id
    )


def keepalive() -> ServerSentEventMessage:
    return ServerSentEventMessage(comment="keep-alive", data=None)


def to_message(event: StreamEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="alert", id=event.id, data=event.data)


async def read_events(
    session_factory: async_sessionmaker[AsyncSession], after: int, *, now: datetime, limit: int = BATCH
) -> list[StreamEvent]:
    """Log entries with id > ``after``, oldest first, with each alert's current state as of ``now``
    (the read: ``overdue`` is the clock's, not the event's)."""
    query = (
        select(
            AlertEvent.id,
            AlertEvent.graduate_id,
            Graduate.counselor_id,
            cover_of(Graduate.counselor_id, now).label("cover_id"),
            Alert,
        )
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .join(Graduate, Graduate.id == AlertEvent.graduate_id)
        .where(AlertEvent.id > after, AlertEvent.kind.in_(STREAMED_KINDS))
        .order_by(AlertEvent.id)
        .limit(limit)
    )
    async with session_factory() as session, read_transaction(session):
        rows = (await session.execute(query)).all()
    return [
        StreamEvent(
            id=row.id,
            graduate_id=row.graduate_id,
            counselor_id=row.counselor_id,
            data=msgspec.json.encode(to_schema(row.Alert, now=now)).decode(),
            cover_id=row.cover_id,
        )
        for row in rows
    ]


async def last_event_id(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session, read_transaction(session):
        return int(await session.scalar(select(func.coalesce(func.max(AlertEvent.id), 0))) or 0)


class StreamLagged(Exception):
    """The reader fell too far behind; its stream closes and the client resumes from the log."""


class Subscription:
    def __init__(self, limit: int, user_id: uuid.UUID | None = None) -> None:
        self.user_id = user_id
        self._batches: deque[Sequence[StreamEvent]] = deque()
        self._ready = asyncio.Event()
        self._limit = limit
        self.lagged = False
        self.closed = False

    def push(self, batch: Sequence[StreamEvent]) -> None:
        if len(self._batches) >= self._limit:
            self.lagged = True
            self._batches.clear()
        else:
            self._batches.append(batch)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self, wait_seconds: float) -> Sequence[StreamEvent] | None:
        """The next batch; None when ``wait_seconds`` pass or the hub closed first."""
        if not self._batches and not self.lagged and not self.closed:
            self._ready.clear()
            await wait_at_most(self._ready, wait_seconds)
        if self.lagged:
            raise StreamLagged
        return self._batches.popleft() if self._batches else None


class AlertEventHub:
    """One poller per process; each open stream is a subscription fed with every new batch."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        config: StreamConfig,
        clock: Clock | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.config = config
        self.clock = clock or SystemClock()
        self._subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._last = 0
        self.listener: NotifyListener | None = None
        # The subscribed accounts' (active, role, token generation), read for all of them at once
        # (``account_unchanged``), and when (time.monotonic()).
        self._accounts: dict[uuid.UUID, tuple[bool, str, int]] = {}
        self._accounts_read_at = float("-inf")
        self._accounts_lock = asyncio.Lock()

    async def start(self) -> None:
        try:
            self._last = await last_event_id(self.session_factory)
        except Exception:  # a database that is down at start must not stop the app starting
            log.warning("alert stream: could not read the event log at start; retrying in the poll")
            self._last = -1
        wake = asyncio.Event()  # made here, not in __init__: an Event belongs to the loop that waits on it
        engine = self.session_factory.kw.get("bind")
        if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
            self.listener = NotifyListener(engine, wake.set)
            await self.listener.start()
        self._task = asyncio.create_task(self._run(wake), name="alert-event-poller")

    async def stop(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.listener is not None:
            await self.listener.stop()
            self.listener = None

    @contextlib.contextmanager
    def subscribe(self, user_id: uuid.UUID | None = None) -> Iterator[Subscription]:
        subscription = Subscription(self.config.backlog_batches, user_id)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def account_unchanged(self, principal: Principal, *, read_after: float) -> tuple[bool, float]:
        """Whether ``principal``'s account is still active with the role and token generation its
        stream was opened with (a password change or a sign-out everywhere ends the stream),
        by a read of the account taken after ``read_after`` (``time.monotonic()``); and when that
        read was taken, for the stream's next check.

        Every open stream checks its account at each keep-alive and before an event when its last
        check is a second old. Streams opened together check together: 300 of them, each with a
        query of its own, made 300 queries at once, queued for the connection pool ahead of the API's
        own requests (a plan GET's p99 tripled). So one query reads every subscribed account and
        serves every check that asks for a read no older than it."""
        async with self._accounts_lock:
            if principal.user_id not in self._accounts or self._accounts_read_at <= read_after:
                users = {s.user_id for s in self._subscriptions if s.user_id is not None}
                users.add(principal.user_id)
                read_at = time.monotonic()
                async with self.session_factory() as session, read_transaction(session):
                    rows = await session.execute(
                        select(User.id, User.active, User.role, User.token_generation).where(
                            User.id.in_(users)
                        )
                    )
                self._accounts = {row.id: (bool(row.active), row.role, row.token_generation) for row in rows}
                self._accounts_read_at = read_at
            active, role, generation = self._accounts.get(principal.user_id, (False, "", -1))
            unchanged = active and role == principal.role and generation == principal.token_generation
            return unchanged, self._accounts_read_at

    async def poll_once(self) -> int:
        """Read what is new and hand it to every subscription; returns how many entries were read."""
        if self._last < 0:
            self._last = await last_event_id(self.session_factory)
        batch = await read_events(self.session_factory, self._last, now=self.clock.now())
        if batch:
            self._last = batch[-1].id
            for subscription in list(self._subscriptions):
                subscription.push(batch)
        return len(batch)

    async def _run(self, wake: asyncio.Event) -> None:
        outage = OutageLog(log, "alert stream")
        while True:
            wait = self.config.poll_seconds
            try:
                # A full batch means more is waiting: read on at once instead of after the interval.
                if await self.poll_once() == BATCH:
                    continue
                outage.recovered()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if database_unavailable(error):  # one line per outage, and a longer wait
                    wait = min(wait * 2**outage.failures, max(wait, MAX_OUTAGE_POLL_SECONDS))
                    outage.failed(error, retry_in=wait)
                else:
                    log.warning("alert stream: polling the event log failed", exc_info=True)
            await wait_at_most(wake, wait)
            # Cleared before the next read: a wake-up during that read sets it again, so none is lost.
            wake.clear()


async def alert_stream(
    hub: AlertEventHub,
    principal: Principal,
    *,
    resume_after: int | None,
    clock: Clock,
) -> AsyncIterator[ServerSentEventMessage]:
    """The messages of one connection, until the caller's access would have expired."""
    deadline = principal.expires_at
    with hub.subscribe(principal.user_id) as subscription:
        cursor = resume_after if resume_after is not None else await last_event_id(hub.session_factory)
        # A staff read like any other: one audit row per connection, committed before any event
        # leaves (each event is not a row of its own: a busy program would write one per reader).
        async with hub.session_factory() as session:
            await audit.commit_staff_read(
                session, actor=principal, resource="alert_stream", graduate_id=None, now=clock.now()
            )
        # Something at once: proxies and clients see the stream is open before the first event.
        yield ServerSentEventMessage(comment="connected", data=None)
        checked_at = clock.now()  # the guard read the account just now
        read_after = time.monotonic()  # the next check needs a read of the account newer than this
        if resume_after is not None:
            while backlog := await read_events(hub.session_factory, cursor, now=clock.now()):
                for event in backlog:
                    cursor = event.id
                    if visible_to(principal, event):
                        if _recheck_due(checked_at, clock):
                            unchanged, read_after = await hub.account_unchanged(
                                principal, read_after=read_after
                            )
                            if not unchanged:
                                return
                            checked_at = clock.now()
                        yield to_message(event)
        idle_since = clock.now()
        while True:
            now = clock.now()
            remaining = _seconds_until(deadline, now)
            if remaining <= 0:
                return
            wait = min(hub.config.keepalive_seconds - (now - idle_since).total_seconds(), remaining)
            try:
                batch = await subscription.next(max(wait, 0.0))
            except StreamLagged:
                log.info("alert stream: a reader fell behind; closing it so it resumes from the log")
                return
            if subscription.closed:
                return
            if batch is None:
                if _seconds_until(deadline, clock.now()) <= 0:
                    return
                if (clock.now() - idle_since).total_seconds() >= hub.config.keepalive_seconds:
                    unchanged, read_after = await hub.account_unchanged(principal, read_after=read_after)
                    if not unchanged:
                        return
                    checked_at = idle_since = clock.now()
                    yield keepalive()
                continue
            for event in batch:
                if event.id <= cursor:
                    continue
                cursor = event.id
                if visible_to(principal, event):
                    if _recheck_due(checked_at, clock):
                        unchanged, read_after = await hub.account_unchanged(principal, read_after=read_after)
                        if not unchanged:
                            return
                        checked_at = clock.now()
                    yield to_message(event)
                    idle_since = clock.now()


def _seconds_until(deadline: datetime | None, now: datetime) -> float:
    return float("inf") if deadline is None else (deadline - now).total_seconds()


def _recheck_due(checked_at: datetime, clock: Clock) -> bool:
    """Whether the stream should read its caller's account again before sending. The guard reads
    activity and role on every request; a stream is one long request, so it reads them again at each
    keep-alive and before an event when the last read is older than ``ACCOUNT_RECHECK_SECONDS``
    (``AlertEventHub.account_unchanged``). A deactivated or demoted account's stream ends there; the
    client reconnects (and resumes from the log) with whatever its account may now see."""
    return (clock.now() - checked_at).total_seconds() >= ACCOUNT_RECHECK_SECONDS
