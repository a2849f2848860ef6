"""Database faults answered honestly (issue 21, item 2): while the database is away every request
answers 503 problem+json with ``Retry-After``, never 500; once it is back no request fails, also
right after a restart with the pool full of the old server's connections; nothing acknowledged is
lost or stored twice; and the sweeper backs off with one log line per outage, never an unretrieved
task exception.

PostgreSQL: a server of the test's own (``initdb`` and ``pg_ctl`` in a temporary directory, on a
free port), stopped and started by the test; the machine's shared server is never touched. Absent
(not skipped) where PostgreSQL's binaries are not installed, like every other PostgreSQL variant.
SQLite: the data directory's path is replaced by a file, so the database can be neither opened nor
written (permissions would not stop root, who runs CI here), and the pool's idle connections are
dropped so the next requests must open it.

Each run is bounded: about a second of load before, during and after each fault.
"""

from __future__ import annotations

import asyncio
import gc
import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from aftercare.app import create_app
from aftercare.checkins.models import Checkin, HelpRequest
from aftercare.clock import FixedClock
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.faults import DatabaseUnreachable, database_unavailable
from aftercare.db.migrate import migrate
from aftercare.flows.worker import Sweeper
from aftercare.push.runtime import PushRuntime
from tests.conftest import T0, Account, Program, app_client

TODAY = date(2026, 11, 24)  # T0 is 12:00 in Chicago that day
PHASE_SECONDS = 1.0


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


POSTGRES_BIN = _postgres_bin()
ENGINES = ["sqlite", *(["postgres"] if POSTGRES_BIN else [])]


# -- the classification on its own ------------------------------------------------------------------


def test_what_counts_as_unavailable() -> None:
    import sqlite3

    locked = OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
    assert database_unavailable(locked)
    assert database_unavailable(DatabaseUnreachable("refused"))
    assert database_unavailable(ExceptionGroup("deps", [ValueError(), locked]))
    lost = DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True)
    assert database_unavailable(lost)

    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    for sqlstate in ("57P01", "57P03", "08006", "53300", "53100"):
        assert database_unavailable(DBAPIError("x", None, PgError(sqlstate))), sqlstate
    # A request's or the code's fault stays what it is: a retry would fail the same way.
    assert not database_unavailable(IntegrityError("INSERT", None, PgError("23505")))
    assert not database_unavailable(DBAPIError("x", None, PgError("22021")))  # bad byte sequence
    assert not database_unavailable(OperationalError("x", None, sqlite3.OperationalError("no such table: t")))
    assert not database_unavailable(OSError("not from a connect"))
    assert not database_unavailable(KeyError("x"))


# -- faults of each engine ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnPostgres:
    """A PostgreSQL server in a temporary directory, for this test alone. PostgreSQL refuses to run
    as root: as root, its commands run as the ``postgres`` user."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="aftercare-pgfault-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.root, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    async def new_database(self) -> str:
        """A fresh database on this server: its URL."""
        name = f"f_{uuid.uuid4().hex[:12]}"
        admin = create_async_engine(self.url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def destroy(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class Fault:
    """Takes the database away and brings it back, from the test's event loop."""

    def __init__(self, engine: AsyncEngine, *, away: Callable[[], None], back: Callable[[], None]) -> None:
        self.engine, self._away, self._back = engine, away, back
        self.also: list[AsyncEngine] = []  # other engines on the same database (the sweeper's)

    async def away(self) -> None:
        await asyncio.to_thread(self._away)
        if self.engine.dialect.name == "sqlite":
            for engine in (self.engine, *self.also):  # idle connections hold the file open
                await engine.dispose()

    async def back(self) -> None:
        await asyncio.to_thread(self._back)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[OwnPostgres]:
    assert POSTGRES_BIN is not None
    server = OwnPostgres(POSTGRES_BIN)
    try:
        server.create()
        yield server
    finally:
        server.destroy()


@asynccontextmanager
async def database(
    kind: str, tmp: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[AsyncEngine, Fault, OwnPostgres | None]]:
    settings = Settings(data_dir=tmp)
    if kind == "sqlite":
        data = tmp / "db"
        data.mkdir()
        engine = make_engine(settings, url=f"sqlite+aiosqlite:///{data / 'aftercare.db'}")

        def away() -> None:
            data.rename(tmp / "db-away")
            data.write_text("not a directory")

        def back() -> None:
            data.unlink()
            (tmp / "db-away").rename(data)

        try:
            await migrate(engine)
            yield engine, Fault(engine, away=away, back=back), None
        finally:
            await engine.dispose()
        return
    server: OwnPostgres = request.getfixturevalue("own_postgres")
    engine = make_engine(settings, url=await server.new_database())
    try:
        await migrate(engine)
        yield engine, Fault(engine, away=server.stop, back=server.start), server
    finally:
        await engine.dispose()


# -- the load -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    status: int
    started: float
    finished: float
    retry_after: str | None = None
    problem_type: str | None = None


@dataclass
class Load:
    """Phones and consoles at work: graduates send "help now" and check-ins, retrying a 503 with the
    same ``client_id`` as the app does; staff read; someone signs in. Every answer is recorded."""

    client: httpx.AsyncClient
    graduates: list[Account]
    counselor: Account
    counselor_password: str
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged_help: set[uuid.UUID] = field(default_factory=set)
    acknowledged_checkins: set[uuid.UUID] = field(default_factory=set)
    running: asyncio.Event = field(default_factory=asyncio.Event)
    stop: bool = False

    async def _send(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        await self.running.wait()
        started = time.monotonic()
        response = await self.client.request(method, url, **kwargs)
        problem = (
            response.json().get("type")
            if response.headers.get("content-type", "").startswith("application/problem+json")
            else None
        )
        self.outcomes.append(
            Outcome(
                kind,
                response.status_code,
                started,
                time.monotonic(),
                response.headers.get("retry-after"),
                problem,
            )
        )
        return response

    async def _until_acknowledged(
        self, kind: str, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> bool:
        while True:
            response = await self._send(kind, "POST", url, headers=headers, json=body)
            if response.status_code in (200, 201):
                return True
            if response.status_code != 503 or self.stop:
                return False
            await asyncio.sleep(0.02)  # a phone waits Retry-After; the test keeps it short

    async def helper(self, graduate: Account) -> None:
        url = f"/v1/graduates/{graduate.graduate_id}/help"
        while not self.stop:
            client_id = uuid.uuid4()
            if await self._until_acknowledged("help", url, graduate.headers, {"client_id": str(client_id)}):
                self.acknowledged_help.add(client_id)

    async def checker_in(self, graduate: Account) -> None:
        url = f"/v1/graduates/{graduate.graduate_id}/checkins"
        for days_ago in range(6, -1, -1):
            if self.stop:
                return
            client_id = uuid.uuid4()
            body = {
                "client_id": str(client_id),
                "local_date": (TODAY - timedelta(days=days_ago)).isoformat(),
                "mood": 3,
                "craving": 4,
                "stress": 5,
                "used": False,
                "safety_concern": False,
            }
            if await self._until_acknowledged("checkin", url, graduate.headers, body):
                self.acknowledged_checkins.add(client_id)
            await asyncio.sleep(0.2)

    async def reader(self) -> None:
        while not self.stop:
            await self._send("read", "GET", "/v1/graduates", headers=self.counselor.headers)
            graduate = self.graduates[0]
            await self._send(
                "read", "GET", f"/v1/graduates/{graduate.graduate_id}", headers=self.counselor.headers
            )

    async def signer_in(self) -> None:
        while not self.stop:
            await self._send(
                "sign-in",
                "POST",
                "/v1/auth/token",
                json={"email": self.counselor.email, "password": self.counselor_password},
            )
            await asyncio.sleep(0.05)

    def tasks(self) -> list[asyncio.Task[None]]:
        work = [self.helper(g) for g in self.graduates] + [self.checker_in(g) for g in self.graduates]
        work += [self.reader(), self.reader(), self.signer_in()]
        return [asyncio.create_task(w) for w in work]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop's exception handler receives ("Task exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)


@pytest.mark.parametrize("kind", ENGINES)
async def test_every_answer_is_honest_while_the_database_goes_away_and_comes_back(
    kind: str,
    tmp_path: Path,
    settings: Settings,
    loop_errors: list[dict[str, Any]],
    request: pytest.FixtureRequest,
) -> None:
    logs = Collect()
    logging.getLogger("aftercare").addHandler(logs)
    clock = FixedClock(T0)
    async with database(kind, tmp_path, request) as (engine, fault, server):
        app = create_app(replace(settings, data_dir=tmp_path), clock=clock, engine=engine)
        push = PushRuntime.from_settings(replace(settings, data_dir=tmp_path))
        # The sweeper on an engine of its own, as `aftercare worker` in another process would be:
        # each pool must come through the faults by itself.
        sweeper_engine = make_engine(Settings(data_dir=tmp_path), url=engine.url.render_as_string(False))
        sweeper = Sweeper(make_session_factory(sweeper_engine), clock, interval_seconds=0.1, sender=None)
        fault.also.append(sweeper_engine)
        async with app_client(app) as client:
            program = Program(client, app, clock)
            supervisor = await program.supervisor()
            counselor = await program.staff(supervisor)
            graduates = [await program.graduate(counselor) for _ in range(3)]
            await push.start()
            sweeper.sender = push.sender
            sweeper.start()
            load = Load(client, graduates, counselor, "correct-horse-battery")
            tasks = load.tasks()
            try:
                load.running.set()
                await asyncio.sleep(PHASE_SECONDS)
                away_at = time.monotonic()  # a fast stop ends the server's sessions as it goes
                await fault.away()
                await asyncio.sleep(PHASE_SECONDS)
                # Every route while the database is away (the guard or the handler needs it).
                walked = await walk_every_route(app, client, supervisor, graduates[0])
                await fault.back()
                back_at = time.monotonic()
                await asyncio.sleep(PHASE_SECONDS)
                restart_at = None
                if server is not None:
                    # A restart with the pool full of the old server's connections and no request
                    # in between to notice: the checkout check must, or the first requests fail.
                    load.running.clear()
                    await asyncio.sleep(0.3)  # what is in flight lands
                    await asyncio.to_thread(server.restart)
                    await asyncio.sleep(0.05)
                    restart_at = time.monotonic()
                    load.running.set()
                    await asyncio.sleep(PHASE_SECONDS)
                # The sweeper backs off (up to 30 s; here 0.1 s doubling): let it come back.
                for _ in range(100):
                    if not sweeper.outage.failures:
                        break
                    await asyncio.sleep(0.1)
            finally:
                load.stop = True
                load.running.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
                await sweeper.stop()
                await push.close()
                await sweeper_engine.dispose()
        logging.getLogger("aftercare").removeHandler(logs)

        outcomes = load.outcomes
        statuses = sorted({o.status for o in outcomes})
        assert not [o for o in outcomes if o.status >= 500 and o.status != 503], statuses
        unavailable = [o for o in outcomes if o.status == 503]
        assert unavailable, "the fault was never seen: the test proves nothing"
        assert all(o.retry_after and int(o.retry_after) > 0 for o in unavailable)
        assert {o.problem_type for o in unavailable} == {"/problems/unavailable"}
        # Nothing but 2xx before the fault, and for every request begun once the database was back.
        assert all(o.status < 300 for o in outcomes if o.finished < away_at), [
            (o.kind, o.status, o.started - away_at, o.finished - away_at)
            for o in outcomes
            if o.status >= 300 and o.started < away_at
        ]
        after = [o for o in outcomes if o.started > back_at]
        assert after and all(o.status < 300 for o in after), sorted({o.status for o in after})
        if restart_at is not None:
            after_restart = [o for o in outcomes if o.started > restart_at]
            assert after_restart and all(o.status < 300 for o in after_restart), sorted(
                {(o.kind, o.status) for o in after_restart}
            )
        assert walked["503"] > 10 and walked["500"] == 0, walked

        # Every acknowledged write is stored, exactly once.
        async with make_session_factory(engine)() as session:
            help_rows = dict(
                (
                    await session.execute(
                        select(HelpRequest.client_id, func.count()).group_by(HelpRequest.client_id)
                    )
                ).all()
            )
            checkin_rows = dict(
                (
                    await session.execute(select(Checkin.client_id, func.count()).group_by(Checkin.client_id))
                ).all()
            )
        assert load.acknowledged_help and load.acknowledged_checkins
        assert all(help_rows.get(c) == 1 for c in load.acknowledged_help)
        assert all(checkin_rows.get(c) == 1 for c in load.acknowledged_checkins)
        assert all(n == 1 for n in [*help_rows.values(), *checkin_rows.values()])

    # The sweeper: one line when the outage began and one when it ended, no stack traces, and no
    # task whose exception nobody collected.
    gc.collect()
    await asyncio.sleep(0)
    assert not [c for c in loop_errors if "never retrieved" in str(c.get("message", ""))], loop_errors
    sweeper_lines = [r for r in logs.records if r.name == "aftercare.flows.worker"]
    assert not [r for r in sweeper_lines if r.levelno >= logging.ERROR], [
        r.getMessage() for r in sweeper_lines
    ]
    went = [r for r in sweeper_lines if "unavailable" in r.getMessage()]
    came = [r for r in sweeper_lines if "available again" in r.getMessage()]
    assert 1 <= len(went) <= 2 and len(came) == len(went), [r.getMessage() for r in sweeper_lines]
    assert not [r for r in logs.records if r.levelno >= logging.ERROR], [
        (r.name, r.getMessage()) for r in logs.records if r.levelno >= logging.ERROR
    ]
    counts = {
        "requests": len(outcomes),
        "503": len(unavailable),
        "help acknowledged": len(load.acknowledged_help),
        "check-ins acknowledged": len(load.acknowledged_checkins),
        "routes walked while away": walked,
    }
    print(f"\n{kind}: {counts}")


async def walk_every_route(
    app: Any, client: httpx.AsyncClient, staff: Account, graduate: Account
) -> dict[str, int]:
    """Every route of the app as a signed-in supervisor (and the graduate's own routes as the
    graduate): counts of 503 and 500 answers. Routes that need no database (liveness, the VAPID
    key, the API document) answer as usual; none may answer 500."""
    from tests.auth.test_access_matrix import concrete_path, our_routes

    assert graduate.graduate_id is not None
    counts = {"503": 0, "500": 0, "other": 0}
    for template, method, handler in our_routes(app):
        if handler.opt.get("streams"):
            continue
        account = graduate if "/checkins" in template or "/help" in template else staff
        kwargs: dict[str, Any] = {"headers": account.headers}
        if method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = {}
        response = await client.request(method, concrete_path(template, graduate.graduate_id), **kwargs)
        if response.status_code == 503:
            counts["503"] += 1
            assert int(response.headers["retry-after"]) > 0
        elif response.status_code >= 500:
            counts["500"] += 1
        else:
            counts["other"] += 1
    return counts


async def test_unreachable_at_start_answers_503_not_500(settings: Settings) -> None:
    """A server started while PostgreSQL is unreachable (nothing listens on the port) answers 503
    to a sign-in at once, not 500 and not after asyncpg's minute-long connect timeout."""
    unreachable = replace(settings, database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{_free_port()}/none")
    app = create_app(unreachable, clock=FixedClock(T0))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:  # type: ignore[arg-type]
        started = time.monotonic()
        response = await client.post("/v1/auth/token", json={"email": "a@example.org", "password": "x" * 12})
    await app.state.engine.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"] == "/problems/unavailable"
    assert time.monotonic() - started < 5
    assert "nobody" not in response.text and "127.0.0.1" not in response.text


@pytest.mark.skipif(POSTGRES_BIN is None, reason="needs PostgreSQL's binaries")
async def test_a_restart_costs_no_request_on_a_full_pool(own_postgres: OwnPostgres, tmp_path: Path) -> None:
    """The pool holds connections to the old server when PostgreSQL restarts; with nothing in
    between to notice, each would fail its next request. Checked at checkout (asyncpg already saw
    the socket close), every one of a burst of concurrent reads right after the restart succeeds."""
    from aftercare.db.engine import read_statement

    engine = make_engine(Settings(data_dir=tmp_path), url=await own_postgres.new_database())
    try:

        async def hold() -> None:
            async with engine.connect() as connection:
                await connection.execute(select(1))
                await asyncio.sleep(0.2)

        await asyncio.gather(*(hold() for _ in range(8)))  # eight idle connections in the pool
        assert engine.sync_engine.pool.checkedin() == 8  # type: ignore[attr-defined]
        await asyncio.to_thread(own_postgres.restart)
        await asyncio.sleep(0.05)  # the loop reads the old sockets' end, as a serving loop would
        results = await asyncio.gather(
            *(read_statement(engine, select(1)) for _ in range(8)), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
    finally:
        await engine.dispose()
