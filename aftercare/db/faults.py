"""When the database cannot answer: which errors mean "unavailable, try again", as opposed to a bug.

Requests answer these with 503 and ``Retry-After`` (``http.py``), the sweeper and the alert-event
poller back off and log one line per outage; anything else stays an internal error, because
calling a programming error "unavailable" would hide it behind a retry.

Unavailable means the database could not be reached or could not take the work just now:

* a connection that died under a statement (SQLAlchemy flags the error ``connection_invalidated``);
* a connection that could not be opened (asyncpg raises the socket's ``OSError`` or a timeout,
  turned into ``DatabaseUnreachable`` where the engine opens connections, so no other ``OSError``
  is mistaken for it), or the pool's wait for a free connection running out;
* PostgreSQL refusing for its own state: SQLSTATE class 08 (connection exception), 53
  (insufficient resources: disk full, out of memory, too many connections), 57 (operator
  intervention: shutting down, starting up, a cancelled statement), 58 (system I/O error);
* SQLite unable to open, lock or write its file: ``SQLITE_BUSY``/``LOCKED`` (another process held
  the write lock past ``busy_timeout``), ``READONLY``, ``IOERR``, ``FULL``, ``CANTOPEN``.

Integrity errors, syntax errors, data errors (a value the column refuses) are not: they are a
request's or the code's fault, and a retry would fail the same way.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator

from sqlalchemy import exc

# PostgreSQL SQLSTATE classes that describe the server's or the connection's state.
_PG_CLASSES = ("08", "53", "57", "58")
# SQLite primary result codes (the low byte of an extended code).
_SQLITE_CODES = {5, 6, 8, 10, 13, 14}  # BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN
# Errors raised from Python (our writer gate) or by drivers that leave the code out carry only text.
_SQLITE_MESSAGES = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "attempt to write a readonly database",
    "disk i/o error",
    "database or disk is full",
)


class DatabaseUnreachable(Exception):
    """A connection to the database could not be opened (refused, unreachable, timed out)."""


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it, or any error of a group) means the database is
    unavailable rather than that the request or the code is wrong."""
    return any(_unavailable(one) for one in _causes(error))


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, DatabaseUnreachable | exc.DisconnectionError | exc.TimeoutError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _PG_CLASSES:
        return True
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in _SQLITE_CODES
        return str(error).lower().startswith(_SQLITE_MESSAGES)
    return False


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, the driver error under it, and its causes; every member of an exception group."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        one = pending.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        yield one
        if isinstance(one, BaseExceptionGroup):
            pending.extend(one.exceptions)
        for linked in (getattr(one, "orig", None), one.__cause__, one.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


class OutageLog:
    """One log line when the database goes away and one when it is back, instead of one (with a
    traceback) per failed attempt: a poller that retries every half second would otherwise write
    thousands of identical stack traces during a restart, burying everything else."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self._since: float | None = None
        self._failures = 0

    @property
    def failures(self) -> int:
        """Consecutive failed attempts in the current outage (0 while the database answers)."""
        return self._failures

    def failed(self, error: BaseException, *, retry_in: float) -> None:
        self._failures += 1
        if self._since is None:
            self._since = time.monotonic()
            self._logger.warning(
                "%s: the database is unavailable (%s); retrying with backoff, next in %.1f s",
                self._what,
                type(error).__name__,
                retry_in,
            )

    def recovered(self) -> None:
        if self._since is not None:
            self._logger.warning(
                "%s: the database is available again after %.1f s (%d failed attempts)",
                self._what,
                time.monotonic() - self._since,
                self._failures,
            )
        self._since = None
        self._failures = 0
