"""The alert stream against real server processes (an in-process client buffers an endless body).

SQLite: one process on a temp file, polling the event log every 0.1 s. PostgreSQL: two processes on
different ports sharing a fresh schema, so an alert opened through one must reach a stream held open
on the other; they poll only once a minute, so every event here reaches the other process by its
NOTIFY wake-up. Alerts are made
the quickest real way: a graduate's "help now" opens a critical safety alert; acknowledging and
resolving it are two more events.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from aftercare.alerts.stream import StreamConfig
from aftercare.auth.principal import Principal
from aftercare.auth.tokens import issue_access_token
from aftercare.config import ConfigError, Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import migrate
from aftercare.staff.service import create_first_user
from tests.conftest import BACKENDS, PASSWORD, POSTGRES_URL, unique_email

SECRET = "stream-test-secret-" + "y" * 40
KEEPALIVE = 0.5
POLL_SECONDS = {"sqlite": 0.1, "postgres": 60.0}
WAIT = 10.0  # the bound on any single wait for the stream

# What `aftercare serve` runs (the stream's intervals come from the environment) with, on
# PostgreSQL, the test's schema on the search path.
SERVER = """
import os, sys, uvicorn
from aftercare.app import create_app
from aftercare.config import Settings
from aftercare.db.engine import make_engine
settings = Settings.from_env(scheduler=False)
schema = os.environ.get("STREAM_SCHEMA")
engine = make_engine(settings, **({"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}))
uvicorn.run(create_app(settings, engine=engine), host="127.0.0.1", port=int(sys.argv[1]), log_config=None,
            timeout_graceful_shutdown=5)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_live(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not start: {log.read_text()[-3000:]}")


def start_server(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Cluster:
    a: str  # base URL of process A (alerts are made here)
    b: str  # base URL of process B (streams are read here; the same process on SQLite)
    database_url: str
    schema: str | None
    supervisor_email: str


async def create_supervisor(database_url: str, schema: str | None, data_dir: Path) -> str:
    email = unique_email("stream-supervisor")
    kwargs: dict[str, Any] = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    engine = make_engine(Settings(data_dir=data_dir), url=database_url, **kwargs)
    try:
        await migrate(engine)
        async with make_session_factory(engine)() as session:
            await create_first_user(
                session,
                email=email,
                password=PASSWORD,
                role="supervisor",
                display_name="Sup",
                now=datetime.now(UTC),
            )
    finally:
        await engine.dispose()
    return email


@pytest.fixture(scope="module", params=BACKENDS)
async def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("stream")
    schema: str | None = None
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{data_dir / 'stream.db'}"
    else:
        assert POSTGRES_URL
        database_url, schema = POSTGRES_URL, f"s_{uuid.uuid4().hex[:12]}"
        admin = make_engine(Settings(data_dir=data_dir), url=database_url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    email = await create_supervisor(database_url, schema, data_dir)
    env = {
        **os.environ,
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_JWT_SECRET": SECRET,
        "AFTERCARE_DATA_DIR": str(data_dir),
        "AFTERCARE_LOG_LEVEL": "WARNING",
        "AFTERCARE_STREAM_KEEPALIVE_SECONDS": str(KEEPALIVE),
        "AFTERCARE_STREAM_POLL_SECONDS": str(POLL_SECONDS[request.param]),
    }
    if schema:
        env["STREAM_SCHEMA"] = schema
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for index in range(1 if schema is None else 2):
            port = free_port()
            log = data_dir / f"server-{index}.log"
            processes.append(start_server(["-c", SERVER, str(port)], env, log))
            bases.append(f"http://127.0.0.1:{port}")
            wait_until_live(processes[-1], bases[-1], log)
        yield Cluster(
            a=bases[0], b=bases[-1], database_url=database_url, schema=schema, supervisor_email=email
        )
    finally:
        for process in processes:
            stop(process)
        if schema:
            admin = make_engine(Settings(data_dir=data_dir), url=database_url)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


# -- a small SSE reader ---------------------------------------------------------------------------


@dataclass
class Message:
    event: str | None = None
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)


class Reader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def message(self, within: float = WAIT) -> Message | None:
        """The next message or comment block; None when the server ended the stream."""
        message = Message()
        seen = False
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if seen:
                        return message
                    continue
                seen = True
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    message.comments.append(value)
                elif name == "data":
                    message.data = f"{message.data}\n{value}" if message.data else value
                elif name in ("event", "id"):
                    setattr(message, name, value)
        return None

    async def alert(self, within: float = WAIT) -> Message:
        """The next ``alert`` event, skipping comments."""
        async with asyncio.timeout(within):
            while True:
                message = await self.message()
                assert message is not None, "the stream ended"
                if message.event is not None:
                    assert message.event == "alert"
                    return message


@asynccontextmanager
async def open_stream(
    base: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    last_event_id: str | None = None,
) -> AsyncIterator[Reader]:
    sent = dict(headers or {})
    if last_event_id is not None:
        sent["Last-Event-ID"] = last_event_id
    async with (
        httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(WAIT)) as client,
        client.stream("GET", "/v1/alerts/stream", headers=sent, params=params) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = Reader(response)
        first = await reader.message()
        assert first is not None and first.comments == ["connected"]  # subscribed: events from here on
        yield reader


# -- accounts through the real API ----------------------------------------------------------------


@dataclass
class Person:
    user_id: uuid.UUID
    token: str
    graduate_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.supervisor = Person(uuid.uuid4(), "")  # signed in by the fixture

    async def sign_in(self, email: str) -> Person:
        response = await self.client.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
        return Person(uuid.UUID(body["user_id"]), body["access_token"])

    async def counselor(self, supervisor: Person) -> Person:
        email = unique_email("stream-counselor")
        response = await self.client.post(
            "/v1/staff",
            headers=supervisor.headers,
            json={"email": email, "password": PASSWORD, "display_name": "Counselor", "role": "counselor"},
        )
        assert response.status_code == 201, response.text
        return await self.sign_in(email)

    async def graduate(self, counselor: Person) -> Person:
        response = await self.client.post(
            "/v1/graduates",
            headers=counselor.headers,
            json={"display_name": "Grad", "timezone": "America/Chicago"},
        )
        assert response.status_code == 201, response.text
        created = response.json()
        enrolled = await self.client.post(
            "/v1/auth/enroll",
            json={
                "enrollment_code": created["enrollment_code"],
                "email": unique_email("stream-grad"),
                "password": PASSWORD,
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        body = enrolled.json()
        return Person(uuid.UUID(body["user_id"]), body["access_token"], graduate_id=uuid.UUID(created["id"]))

    async def help(self, graduate: Person) -> dict[str, Any]:
        """A safety alert opened (or re-opened); returns the alert as the feed shows it."""
        response = await self.client.post(
            f"/v1/graduates/{graduate.graduate_id}/help",
            headers=graduate.headers,
            json={"client_id": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        return await self.safety_alert(graduate)

    async def safety_alert(self, graduate: Person) -> dict[str, Any]:
        response = await self.client.get(
            "/v1/alerts", headers=self.supervisor.headers, params={"graduate_id": str(graduate.graduate_id)}
        )
        assert response.status_code == 200, response.text
        alert: dict[str, Any] = response.json()["items"][0]
        return alert

    async def act(self, alert_id: str, verb: str, by: Person) -> None:
        response = await self.client.post(
            f"/v1/alerts/{alert_id}/{verb}",
            headers=by.headers,
            json={"note": "called them"} if verb == "resolve" else None,
        )
        assert response.status_code == 200, response.text


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=cluster.a, timeout=WAIT) as client:
        api = Api(client)
        api.supervisor = await api.sign_in(cluster.supervisor_email)
        yield api


def alert_of(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message.data)
    return body


# -- the tests --------------------------------------------------------------------------------------


async def test_an_alert_made_on_one_process_reaches_a_stream_on_another(cluster: Cluster, api: Api) -> None:
    counselor = await api.counselor(api.supervisor)
    graduate = await api.graduate(counselor)
    async with open_stream(cluster.b, headers=counselor.headers) as stream:
        # Nothing has happened yet: the first block is a keep-alive comment, not an old event.
        quiet = await stream.message()
        assert quiet is not None and quiet.comments == ["keep-alive"] and quiet.event is None
        opened = await api.help(graduate)
        message = await stream.alert()
        alert = alert_of(message)
        assert alert["id"] == opened["id"] and alert["rule"] == "safety" and alert["status"] == "open"
        assert alert["severity"] == "critical" and alert["graduate_id"] == str(graduate.graduate_id)
        # The wire alert of the feed, response target included (overdue as of the read).
        assert alert["respond_by"] > alert["opened_at"] and alert["overdue"] is False
        assert message.id is not None and int(message.id) > 0
        await api.act(opened["id"], "acknowledge", counselor)
        acknowledged = await stream.alert()
        assert int(acknowledged.id or 0) > int(message.id)
        assert alert_of(acknowledged)["status"] == "acknowledged"
        assert alert_of(acknowledged)["acknowledged_by"] == str(counselor.user_id)
        # Keep-alives go on between events.
        after = await stream.message()
        assert after is not None and after.comments == ["keep-alive"]


async def test_each_event_arrives_well_within_the_poll_interval(cluster: Cluster, api: Api) -> None:
    """On PostgreSQL the receiving process polls once a minute: only the NOTIFY sent with each event
    gets it there in under two seconds. (On SQLite, one process, the 0.1 s poll does.)"""
    counselor = await api.counselor(api.supervisor)
    graduate = await api.graduate(counselor)
    async with open_stream(cluster.b, headers=counselor.headers) as stream:
        started = time.monotonic()
        opened = await api.help(graduate)
        assert alert_of(await stream.alert(within=2.0))["status"] == "open"
        assert time.monotonic() - started < 2.0
        for verb, status in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
            started = time.monotonic()
            await api.act(opened["id"], verb, counselor)
            assert alert_of(await stream.alert(within=2.0))["status"] == status
            assert time.monotonic() - started < 2.0


async def test_last_event_id_resumes_with_exactly_the_missed_events(cluster: Cluster, api: Api) -> None:
    counselor = await api.counselor(api.supervisor)
    graduate = await api.graduate(counselor)
    async with open_stream(cluster.b, headers=api.supervisor.headers) as stream:
        first = await api.help(graduate)
        seen = await stream.alert()
        assert alert_of(seen)["id"] == first["id"]
    assert seen.id is not None
    # Missed while disconnected: acknowledged, resolved, and a new alert opened.
    await api.act(first["id"], "acknowledge", counselor)
    await api.act(first["id"], "resolve", counselor)
    second = await api.help(graduate)
    async with open_stream(cluster.b, headers=api.supervisor.headers, last_event_id=seen.id) as stream:
        missed = [await stream.alert() for _ in range(3)]
        ids = [int(m.id or 0) for m in missed]
        assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > int(seen.id)
        assert [alert_of(m)["id"] for m in missed] == [first["id"], first["id"], second["id"]]
        # Data is each alert's current state: the first alert is resolved by now.
        assert alert_of(missed[0])["status"] == "resolved" and alert_of(missed[2])["status"] == "open"
        # Nothing repeated after the backlog: the next live event is new.
        await api.act(second["id"], "acknowledge", counselor)
        live = await stream.alert()
        assert int(live.id or 0) > ids[-1] and alert_of(live)["status"] == "acknowledged"
    # Resuming from the last id sent gets nothing old.
    async with open_stream(cluster.b, headers=api.supervisor.headers, last_event_id=live.id) as stream:
        block = await stream.message()
        assert block is not None and block.event is None and block.comments == ["keep-alive"]


async def test_a_new_ticket_resumes_with_the_last_event_id_query_parameter(
    cluster: Cluster, api: Api
) -> None:
    """What a browser does after a drop: EventSource cannot send Last-Event-ID on a stream it opens,
    and its own reconnect would reuse a spent ticket, so it opens a new stream with a new ticket and
    ``?last_event_id=``. The header, when a client sends both, wins."""
    counselor = await api.counselor(api.supervisor)
    graduate = await api.graduate(counselor)

    async def ticket() -> str:
        issued = await api.client.post("/v1/auth/stream-ticket", headers=counselor.headers)
        assert issued.status_code == 200, issued.text
        return str(issued.json()["ticket"])

    async with open_stream(cluster.b, params={"ticket": await ticket()}) as stream:
        first = await api.help(graduate)
        seen = await stream.alert()
    assert seen.id is not None
    await api.act(first["id"], "acknowledge", counselor)  # missed while disconnected
    params = {"ticket": await ticket(), "last_event_id": seen.id}
    async with open_stream(cluster.b, params=params) as stream:
        missed = await stream.alert()
        assert int(missed.id or 0) > int(seen.id) and alert_of(missed)["status"] == "acknowledged"
    # Both sent: the header (the later id) wins, so the acknowledgement is not sent again.
    params = {"ticket": await ticket(), "last_event_id": seen.id}
    async with open_stream(cluster.b, params=params, last_event_id=missed.id) as stream:
        block = await stream.message()
        assert block is not None and block.event is None and block.comments == ["keep-alive"]
    async with httpx.AsyncClient(base_url=cluster.b, timeout=WAIT) as client:
        bad = await client.get("/v1/alerts/stream", params={"ticket": await ticket(), "last_event_id": "-1"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "last_event_id"


async def test_a_ticket_opens_one_stream_and_is_then_refused(cluster: Cluster, api: Api) -> None:
    counselor = await api.counselor(api.supervisor)
    graduate = await api.graduate(counselor)
    issued = await api.client.post("/v1/auth/stream-ticket", headers=counselor.headers)
    assert issued.status_code == 200, issued.text
    ticket = issued.json()
    assert ticket["expires_in"] == 60 and len(ticket["ticket"]) >= 32
    # The ticket is no token anywhere else.
    elsewhere = await api.client.get("/v1/alerts", params={"ticket": ticket["ticket"]})
    assert elsewhere.status_code == 401
    async with open_stream(cluster.b, params={"ticket": ticket["ticket"]}) as stream:
        opened = await api.help(graduate)
        assert alert_of(await stream.alert())["id"] == opened["id"]
    async with httpx.AsyncClient(base_url=cluster.b, timeout=WAIT) as client:
        again = await client.get("/v1/alerts/stream", params={"ticket": ticket["ticket"]})
        assert again.status_code == 401
        assert again.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/v1/alerts/stream", params={"ticket": "made-up"})).status_code == 401
        assert (await client.get("/v1/alerts/stream")).status_code == 401
    graduate_ticket = await api.client.post("/v1/auth/stream-ticket", headers=graduate.headers)
    assert graduate_ticket.status_code == 403


async def test_a_counselor_sees_only_their_caseload_and_not_after_reassignment(
    cluster: Cluster, api: Api
) -> None:
    mine, theirs = await api.counselor(api.supervisor), await api.counselor(api.supervisor)
    moving, staying, other = await api.graduate(mine), await api.graduate(mine), await api.graduate(theirs)
    async with open_stream(cluster.b, headers=mine.headers) as stream:
        await api.help(other)  # another caseload: never on this stream
        moving_alert = await api.help(moving)
        assert alert_of(await stream.alert())["graduate_id"] == str(moving.graduate_id)
        response = await api.client.patch(
            f"/v1/graduates/{moving.graduate_id}",
            headers=api.supervisor.headers,
            json={"counselor_id": str(theirs.user_id)},
        )
        assert response.status_code == 200, response.text
        async with open_stream(cluster.b, headers=theirs.headers) as new_counselor:
            await api.act(moving_alert["id"], "acknowledge", api.supervisor)
            assert alert_of(await new_counselor.alert())["graduate_id"] == str(moving.graduate_id)
        staying_alert = await api.help(staying)
        # The next event on the former counselor's stream is the one of their own graduate: the
        # acknowledgement of the reassigned graduate's alert (an earlier id) never came.
        assert alert_of(await stream.alert())["id"] == staying_alert["id"]


async def test_a_demoted_supervisors_stream_ends_and_sends_nothing_more(cluster: Cluster, api: Api) -> None:
    """The guard reads the role on every request; a stream is one long request, so it reads the role
    again (at each keep-alive, and before an event when its last read is over a second old) and ends
    when it changed. The client reconnects with the scope its account now has."""
    email = unique_email("stream-second-supervisor")
    created = await api.client.post(
        "/v1/staff",
        headers=api.supervisor.headers,
        json={"email": email, "password": PASSWORD, "display_name": "Second", "role": "supervisor"},
    )
    assert created.status_code == 201, created.text
    second = await api.sign_in(email)
    graduate = await api.graduate(await api.counselor(api.supervisor))  # in nobody's caseload of theirs
    async with open_stream(cluster.b, headers=second.headers) as stream:
        opened = await api.help(graduate)
        assert alert_of(await stream.alert())["id"] == opened["id"]  # a supervisor sees every alert
        demoted = await api.client.patch(
            f"/v1/staff/{second.user_id}", headers=api.supervisor.headers, json={"role": "counselor"}
        )
        assert demoted.status_code == 200, demoted.text
        await asyncio.sleep(1.1)  # past the stream's recheck interval
        await api.act(opened["id"], "acknowledge", api.supervisor)
        while (message := await stream.message()) is not None:
            assert message.event is None, f"an event after the demotion: {message}"
    async with httpx.AsyncClient(base_url=cluster.b, timeout=WAIT) as client:
        assert (await client.get("/v1/staff", headers=second.headers)).status_code == 403


async def test_signing_out_everywhere_ends_an_open_stream(cluster: Cluster, api: Api) -> None:
    """Signing out everywhere (as a password change does) raises the account's token generation; the
    stream reads it with the role and ends, sending nothing more, and its token is refused."""
    email = unique_email("stream-signing-out")
    created = await api.client.post(
        "/v1/staff",
        headers=api.supervisor.headers,
        json={"email": email, "password": PASSWORD, "display_name": "Leaving", "role": "supervisor"},
    )
    assert created.status_code == 201, created.text
    leaving = await api.sign_in(email)
    graduate = await api.graduate(await api.counselor(api.supervisor))
    async with open_stream(cluster.b, headers=leaving.headers) as stream:
        opened = await api.help(graduate)
        assert alert_of(await stream.alert())["id"] == opened["id"]
        signed_out = await api.client.post("/v1/auth/logout-all", headers=leaving.headers)
        assert signed_out.status_code == 204, signed_out.text
        await asyncio.sleep(1.1)  # past the stream's recheck interval
        await api.act(opened["id"], "acknowledge", api.supervisor)
        while (message := await stream.message()) is not None:
            assert message.event is None, f"an event after signing out: {message}"
    async with httpx.AsyncClient(base_url=cluster.b, timeout=WAIT) as client:
        assert (await client.get("/v1/me", headers=leaving.headers)).status_code == 401


async def test_the_stream_ends_when_the_access_token_would_expire(cluster: Cluster, api: Api) -> None:
    token = issue_access_token(
        Principal(user_id=api.supervisor.user_id, role="supervisor"),
        secret=SECRET,
        now=datetime.now(UTC),
        lifetime=timedelta(seconds=2),
    )
    started = time.monotonic()
    async with open_stream(cluster.b, headers={"Authorization": f"Bearer {token}"}) as stream:
        while (message := await stream.message(within=WAIT)) is not None:
            assert message.event is None  # keep-alives only
    assert time.monotonic() - started < 4


def test_the_stream_intervals_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {"AFTERCARE_STREAM_KEEPALIVE_SECONDS": "20", "AFTERCARE_STREAM_POLL_SECONDS": "2.5"}
    )
    assert StreamConfig.from_settings(settings) == StreamConfig(keepalive_seconds=20, poll_seconds=2.5)
    defaults = StreamConfig.from_settings(Settings.from_env({}))
    assert defaults.keepalive_seconds == 15  # the contract's keep-alive
    assert defaults.poll_seconds <= 1  # DESIGN: every second or less
    for name in ("AFTERCARE_STREAM_KEEPALIVE_SECONDS", "AFTERCARE_STREAM_POLL_SECONDS"):
        for bad in ("0", "-1", "soon"):
            with pytest.raises(ConfigError, match=name):
                Settings.from_env({name: bad})


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "AFTERCARE_DATA_DIR": str(tmp_path),
        "AFTERCARE_JWT_SECRET": SECRET,
        "AFTERCARE_SCHEDULER": "off",
        "AFTERCARE_LOG_LEVEL": "WARNING",
    }
    env.pop("AFTERCARE_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    process = start_server(["-m", "aftercare.cli", "serve", "--port", str(port)], env, log)
    try:
        wait_until_live(process, f"http://127.0.0.1:{port}", log)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        stop(process)


async def test_an_open_stream_does_not_block_shutdown(
    serve: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    """`aftercare serve` as shipped: SIGTERM with a stream open exits within its graceful timeout."""
    process, base = serve
    email = await create_supervisor(f"sqlite+aiosqlite:///{tmp_path / 'aftercare.db'}", None, tmp_path)
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
        supervisor = await Api(client).sign_in(email)
    async with open_stream(base, headers=supervisor.headers) as stream:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        await asyncio.to_thread(process.wait, 15)
        assert time.monotonic() - started < 8
        with pytest.raises(httpx.HTTPError):  # cut off, not ended cleanly: the client resumes
            while await stream.message() is not None:
                pass
