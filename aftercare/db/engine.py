"""Engines and sessions for SQLite (embedded default) and PostgreSQL (asyncpg).

SQLite's stdlib driver opens transactions lazily, so a read-check-write in one transaction can lose
updates to another writer. We turn the driver's own transaction handling off and emit
``BEGIN IMMEDIATE`` ourselves, so every transaction takes the write lock up front.

SQLite allows one writer at a time. Left to itself, a second writer waits in SQLite's busy handler,
which polls by sleeping in growing steps (up to 100 ms): with a few dozen concurrent writers, most of
the time is spent asleep with the lock free. So within a process, writers queue on an asyncio lock
(the ``_WriterGate``) before ``BEGIN IMMEDIATE`` and are handed the lock the moment the previous
transaction's COMMIT or ROLLBACK returns; ``busy_timeout`` still covers other processes (the CLI).

Reads that write nothing use ``read_transaction``: a deferred ``BEGIN`` that takes no write lock, so
in WAL mode they run on other pooled connections beside the writer and beside each other. A read of
one statement uses ``read_statement``: no transaction at all on either engine (a lone statement is its
own snapshot), which saves the BEGIN and COMMIT round trips (PostgreSQL) or thread hops (SQLite).

Each aiosqlite connection runs its statements in a thread of its own. A hop there and back costs
more than a key lookup or a row write, so the statements that cannot wait for a lock (those of a
write transaction whose ``BEGIN IMMEDIATE`` has returned, and a ``read_statement``) run inline on the
event loop instead; see ``_inline``.

PostgreSQL pooled connections are checked before use with the driver's own knowledge instead of
SQLAlchemy's ``pool_pre_ping``, which costs three round trips per checkout (BEGIN, ``;``, ROLLBACK
through SQLAlchemy's asyncpg adapter), more than the hot reads themselves. A server that stops or
restarts closes its sockets; asyncpg sees the end of the stream on the event loop at once and marks
the connection closed, so ``_check_out`` finds it closed without a round trip and the pool opens a
new one: a restart costs no failed request. (A connection that died without a word, as after a
network partition, still fails its next statement; SQLAlchemy then invalidates the pool and the
request answers 503, see ``db/faults.py``.) Connection attempts are bounded by
``CONNECT_TIMEOUT_SECONDS``, and their failures are raised as ``DatabaseUnreachable``, so a request
while the database is away answers 503 at once instead of waiting or answering 500.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from sqlalchemy import Executable, Row, event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import EMPTY_DICT, await_

from aftercare.config import Settings
from aftercare.db.faults import DatabaseUnreachable
from aftercare.waiting import acquire_within

# Execution option marking a connection whose transaction only reads (see ``read_transaction``).
READ_ONLY = "aftercare_read_only"
# Execution option of ``read_statement`` on SQLite: no BEGIN, no COMMIT (the driver is in autocommit).
_NO_TRANSACTION = "aftercare_no_transaction"
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
BUSY_TIMEOUT_MS = 5000
# How long opening a PostgreSQL connection may take before the request answers 503 (asyncpg's own
# default is a minute, which would hold every request that long while the server is unreachable).
CONNECT_TIMEOUT_SECONDS = 5.0
_BEGIN = "aftercare_begin"  # connection-info key: the BEGIN statement the begin event chose


def make_engine(settings: Settings, *, url: str | None = None, **kwargs: Any) -> AsyncEngine:
    url = url or settings.resolved_database_url
    # JSON columns through msgspec: a plan body is written twice per save (plan and version), and
    # the stdlib encoder costs about ten times as much.
    kwargs.setdefault("json_serializer", _json_text)
    kwargs.setdefault("json_deserializer", msgspec.json.decode)
    # A database error's text carries its statement's parameters by default: a note, a name or an
    # email would reach any log line that records the exception. The statement is enough to debug.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        settings.ensure_data_dir()
        # Write transactions and lone reads run their statements on the loop's thread (``_inline``);
        # the connection was opened in aiosqlite's thread, and only one thread uses it at a time.
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "check_same_thread": False}
        # Readers run beside the one writer; each pooled connection is an aiosqlite thread. As on
        # PostgreSQL (below), sized so that a loaded worker does not open and close connections (a
        # thread start each) on every burst.
        kwargs.setdefault("pool_size", 32)
        kwargs.setdefault("max_overflow", 8)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, synchronous=settings.sqlite_synchronous)
        return engine
    # Sized so that a worker under load keeps its connections: an overflow connection is closed on
    # return, and opening one (TLS attempt, authentication, a new server process) costs more than a
    # dozen requests. A request holds at most one connection at a time, so this covers a few dozen
    # concurrent requests before any churn; the overflow is headroom, not capacity.
    kwargs.setdefault("pool_size", 32)
    kwargs.setdefault("max_overflow", 8)
    kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.get("connect_args", {})}
    engine = create_async_engine(url, **kwargs)
    _configure_postgresql(engine)
    return engine


def _configure_postgresql(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except (OSError, TimeoutError) as error:  # refused, unreachable, timed out: asyncpg raises these bare
            raise DatabaseUnreachable(f"cannot connect to the database: {type(error).__name__}") from error

    @event.listens_for(sync_engine.pool, "checkout")
    def _check_out(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # The pool discards a connection whose checkout raises this and tries a new one.
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")


class _WriterGate:
    """The in-process SQLite write lock: taken before ``BEGIN IMMEDIATE``, given back when the DBAPI
    connection's COMMIT or ROLLBACK has returned (or the connection is closed or invalidated).

    Waiting is bounded by ``busy_timeout`` and fails the way SQLite would ("database is locked"), so
    a task that wrongly nests two write transactions gets an error, not a hang.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._holder: Any = None

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: asyncio locks cannot be shared across loops (tests, CLI runs).
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {other: held for other, held in self._locks.items() if not other.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def acquire(self, dbapi_connection: Any) -> None:
        """Called from SQLAlchemy's sync layer inside its greenlet: ``await_`` suspends this task."""
        if self._holder is dbapi_connection:
            return
        try:
            await_(acquire_within(self._lock(), self._timeout))
        except TimeoutError as exc:
            # As SQLite itself would report it (db/faults.py counts it as unavailable: 503).
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            ) from exc
        self._holder = dbapi_connection

    def release(self, dbapi_connection: Any) -> None:
        if self._holder is not dbapi_connection:
            return
        self._holder = None
        self._lock().release()


def _run_statement(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, int, int | None, list[Any]]:
    """The whole life of a cursor: in aiosqlite's thread, or inline for a write transaction."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        return description, cursor.rowcount, cursor.lastrowid, cursor.fetchall() if description else []
    finally:
        cursor.close()


class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor crosses into the connection's thread four times per statement
    (open a cursor, execute, fetch all, close), and each crossing is a GIL hand-over and an event-loop
    wake-up (about 55 µs). This one makes one crossing that does all four, and keeps what the DBAPI
    cursor reported (description, rowcount, lastrowid) and the rows. SQLAlchemy's adapter itself
    drives aiosqlite through the same private entry points (its ``_tx`` queue, ``_conn``)."""

    __slots__ = ("_arraysize", "_outcome")
    _awaitable_cursor_close = False  # nothing stays open after ``execute``

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome: tuple[Any, int, int | None] = (None, -1, None)
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> int:
        return self._outcome[2]  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            self._keep(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            self._keep(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> tuple[Any, int, int | None, list[Any]]:
        if self._connection in _inline:
            return await_(self._inline(operation, parameters, many=many))
        return await_(self._in_thread(operation, parameters, many=many))

    async def _inline(self, operation: Any, parameters: Any, *, many: bool) -> Any:
        # A coroutine that never suspends: SQLAlchemy's async layer insists that each statement
        # awaits something, and awaiting this costs a greenlet switch, not a turn of the loop.
        return _run_statement(self._connection._conn, operation, parameters, many)

    async def _in_thread(self, operation: Any, parameters: Any, *, many: bool) -> Any:
        driver = self._connection
        async with self._adapt_connection._execute_mutex:
            return await driver._execute(_run_statement, driver._conn, operation, parameters, many)

    def _keep(self, outcome: tuple[Any, int, int | None, list[Any]]) -> None:
        description, rowcount, lastrowid, rows = outcome
        self._outcome = (description, rowcount, lastrowid)
        self._rows = collections.deque(rows)


# The aiosqlite connections whose statements run inline on the event loop instead of in the
# connection's thread: those in a write transaction this process holds (``BEGIN IMMEDIATE`` has
# returned), and those running one ``read_statement`` (a key lookup). In WAL mode neither waits for a
# lock, so each statement takes microseconds, while a hop into the thread (a futex wake-up there, an
# eventfd write back, a turn of the loop in between) costs far more under load and, worse, hands the
# loop to other requests while the write lock is held, so a transaction lasted as long as everything
# else the loop did meanwhile. BEGIN and COMMIT (which may wait for another process's lock, or
# fsync) and the statements of ``read_transaction`` (lists, which may be long) stay in the thread.
_inline: weakref.WeakSet[Any] = weakref.WeakSet()


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneHopCursor


def _configure_sqlite(engine: AsyncEngine, *, synchronous: str) -> None:
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        synchronous = "FULL"
    gate = _WriterGate(BUSY_TIMEOUT_MS / 1000)
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
            dbapi_connection.__class__ = _OneHopConnection  # same layout; only the cursor class differs
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            f"PRAGMA synchronous={synchronous}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        fairy = connection.connection
        options = connection.get_execution_options()
        if options.get(_NO_TRANSACTION):
            fairy.info[_BEGIN] = None
        elif options.get(READ_ONLY):
            fairy.info[_BEGIN] = "BEGIN"
        else:
            gate.acquire(fairy.dbapi_connection)
            fairy.info[_BEGIN] = "BEGIN IMMEDIATE"

    def _do_begin(fairy: Any) -> None:
        # Straight on the aiosqlite connection: one hop into its thread, where a statement through
        # SQLAlchemy's cursor adapter costs four (cursor, execute, fetch, close). Called inside
        # SQLAlchemy's error handling, so a failure surfaces as its OperationalError.
        statement = fairy.info.pop(_BEGIN, "BEGIN IMMEDIATE")
        if statement is None:
            fairy.info[_NO_TRANSACTION] = True  # so the commit or rollback is skipped as well
            _inline.add(fairy.driver_connection)
            return
        try:
            await_(fairy.driver_connection.execute(statement))
        except BaseException:
            gate.release(fairy.dbapi_connection)
            raise
        if statement == "BEGIN IMMEDIATE":
            _inline.add(fairy.driver_connection)

    # The transaction ends when the driver's COMMIT/ROLLBACK returns: only then may the next
    # writer begin. The pool's reset-on-return goes through ``do_rollback`` as well.
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _commit_then_release(dbapi_connection: Any) -> None:
        _inline.discard(_driver(dbapi_connection))
        if _began_nothing(dbapi_connection):
            return
        try:
            do_commit(dbapi_connection)
        finally:
            gate.release(_raw(dbapi_connection))

    def _rollback_then_release(dbapi_connection: Any) -> None:
        _inline.discard(_driver(dbapi_connection))
        if _began_nothing(dbapi_connection):
            return
        try:
            do_rollback(dbapi_connection)
        finally:
            gate.release(_raw(dbapi_connection))

    dialect.do_begin = _do_begin  # type: ignore[method-assign,assignment]
    dialect.do_commit = _commit_then_release  # type: ignore[method-assign]
    dialect.do_rollback = _rollback_then_release  # type: ignore[method-assign]

    @event.listens_for(sync_engine.pool, "invalidate")
    @event.listens_for(sync_engine.pool, "close")
    def _on_gone(dbapi_connection: Any, *_: Any) -> None:
        _inline.discard(_driver(dbapi_connection))
        gate.release(dbapi_connection)


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _began_nothing(connection: Any) -> bool:
    """Whether the transaction ending on this pooled connection was one ``read_statement`` never began."""
    try:
        info = connection.info
    except (AttributeError, NotImplementedError):  # a raw or ad-hoc connection (first connect): no info
        return False
    return bool(info.pop(_NO_TRANSACTION, False))


def _driver(connection: Any) -> Any:
    """The aiosqlite connection under SQLAlchemy's adapter (and under the pool's proxy)."""
    return getattr(_raw(connection), "_connection", None)


def _raw(connection: Any) -> Any:
    """The DBAPI connection under the pool's proxy (the pool's reset passes its proxy)."""
    return getattr(connection, "dbapi_connection", connection)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services build responses from objects after committing.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def read_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A transaction that only reads: on SQLite a deferred ``BEGIN`` (no write lock, runs beside the
    writer in WAL mode), elsewhere an ordinary one. It must not write: on SQLite a write in it could
    fail to upgrade its lock. It ends with a commit (nothing to flush; it ends the snapshot)."""
    async with session.begin():
        await session.connection(execution_options={READ_ONLY: True})
        yield session


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A Core connection in a read-only transaction (see ``read_transaction``), for checks that
    need no ORM session (the access guard)."""
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        async with connection.begin():
            yield connection


def bound_engine(session: AsyncSession) -> AsyncEngine:
    """The engine a session is bound to, for work that runs beside the session's transaction."""
    bind = session.bind
    assert isinstance(bind, AsyncEngine), "this needs a session bound to an AsyncEngine"
    return bind


async def read_statement(
    engine: AsyncEngine, statement: Executable, parameters: Mapping[str, Any] | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows of one read-only statement, run outside any transaction: a single statement is its
    own consistent snapshot on both engines, so wrapping it in BEGIN ... COMMIT buys nothing and costs
    two round trips (PostgreSQL) or two hops into aiosqlite's thread (SQLite). It must not write: on
    SQLite a write here would bypass the writer gate. On SQLite it runs inline on the loop (see
    ``_inline``), so it must be a key lookup, not a scan. For more than one statement that must
    agree, use ``read_transaction``."""
    options = _AUTOCOMMIT if engine.dialect.name != "sqlite" else {_NO_TRANSACTION: True}
    async with engine.connect() as connection:
        await connection.execution_options(**options)
        result = await connection.execute(statement, parameters)
        return result.all()
