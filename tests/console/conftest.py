"""The console in a real browser: Debian's Chromium driven by Playwright, against the app started as
its own process on a loopback port, with data made through the app's own services.

Chromium is /usr/bin/chromium from Debian (``.ci/run`` installs it); Playwright never downloads a
browser here. Without it these tests are skipped, unless AFTERCARE_REQUIRE_BROWSER=1 (CI), where a
missing browser fails them. The browser reaches the app through a small loopback proxy that a test
can cut (``proxy.drop()``) and hold shut (``proxy.refuse``), to drop the alert stream like a
flaky network would. Screenshots of each screen go to $AFTERCARE_CONSOLE_SCREENSHOTS, by default
``console-screenshots`` under pytest's temporary directory (never in the work tree).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, text

from aftercare.alerts import service as alerts_service
from aftercare.alerts.models import Alert
from aftercare.auth import service as auth_service
from aftercare.auth.principal import Principal
from aftercare.auth.ratelimit import MemoryFailureStore
from aftercare.auth.schemas import EnrollRequest
from aftercare.checkins.schemas import CheckinCreate, HelpCreate
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import migrate
from aftercare.demo import seed_demo_plans
from aftercare.flows import help_now
from aftercare.flows import submit as checkins
from aftercare.graduates import service as graduate_service
from aftercare.graduates.schemas import GraduateCreate
from aftercare.staff import service as staff_service
from aftercare.staff.schemas import StaffCreate
from tests.alerts.test_stream import free_port, stop, wait_until_live
from tests.conftest import BACKENDS, PASSWORD, POSTGRES_URL

CHROMIUM = Path("/usr/bin/chromium")
# The flags the machine notes give for Debian's Chromium here: no sandbox as root, and nothing that
# reaches for the network on its own (it is closed, and each refused connection costs time).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "console-test-secret-" + "z" * 40
VIEWPORT = {"width": 1280, "height": 800}
XSS_NOTE = "Rough evening. <img src=x onerror=alert(1)> <script>alert(2)</script>"
HISTORY_DAYS = 89  # Jordan's check-ins: the 89 days before today, less the gaps
HISTORY_GAPS = frozenset({75, 62, 61, 44, 30, 17, 5})
LAPSE_DAYS = frozenset({40, 12})  # days back with used=True


def _require_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("AFTERCARE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the console tests need it)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium to run the console's browser tests")


# -- the data: made through the services, before the server starts ---------------------------------


@dataclass
class Person:
    email: str
    name: str
    user_id: uuid.UUID
    graduate_id: uuid.UUID | None = None
    timezone: str = "America/Chicago"


@dataclass
class Seeded:
    dana: Person  # supervisor
    chris: Person  # counselor of every graduate but Morgan
    robin: Person  # counselor of Morgan
    graduates: dict[str, Person] = field(default_factory=dict)
    jordan_dates: list[date] = field(default_factory=list)  # Jordan's check-in days
    jordan_today: date = date.min


def _history(back: int) -> tuple[int, int, int, float, bool]:
    """(mood, craving, stress, sleep, used) for Jordan, `back` days ago: steady, with two lapses each
    after three days of rising craving, and a hard last few days."""
    if back in LAPSE_DAYS:
        return 2, 9, 8, 4.5, True
    before_lapse = next((back - lapse for lapse in LAPSE_DAYS if 0 < back - lapse <= 3), None)
    if before_lapse is not None:  # 3, 2, 1 days before a lapse: craving 5, 6, 7
        return 3, 8 - before_lapse, 7 - before_lapse, 6.0, False
    if back <= 4:
        return 2 + back % 2, 5 + (4 - back), 6, 5.5, False
    return 4 - (back % 5 == 0), 2 + (back % 3 == 0), 3 + (back % 4 == 0), 7.0 + (back % 2) * 0.5, False


def _connect_args(schema: str | None) -> dict[str, Any]:
    """On PostgreSQL, the test's own schema first on the search path (serve.py does the same)."""
    return {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}


async def _seed(database_url: str, schema: str | None, data_dir: Path) -> Seeded:
    settings = Settings(data_dir=data_dir, jwt_secret=SECRET)
    engine = make_engine(settings, url=database_url, **_connect_args(schema))
    await migrate(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    limits = auth_service.LoginLimits(MemoryFailureStore())

    async def staff(email: str, name: str, role: str) -> Person:
        async with factory() as session:
            made = await staff_service.create_staff(
                session, StaffCreate(email, PASSWORD, name, role), now=now
            )  # type: ignore[arg-type]
        return Person(email, name, made.id)

    seeded = Seeded(
        dana=await staff("dana@clinic.test", "Dana Whitfield", "supervisor"),
        chris=await staff("chris@clinic.test", "Chris Okafor", "counselor"),
        robin=await staff("robin@clinic.test", "Robin Hale", "counselor"),
    )

    async def graduate(key: str, name: str, zone: str, counselor: Person, enrolled: bool = True) -> Person:
        async with factory() as session:
            created = await graduate_service.create_graduate(
                session,
                GraduateCreate(display_name=name, timezone=zone),
                actor=Principal(user_id=counselor.user_id, role="counselor"),
                settings=settings,
                now=now,
            )
            email = f"{key}@people.test"
            user_id = created.id
            if enrolled:
                tokens = await auth_service.enroll(
                    session,
                    EnrollRequest(created.enrollment_code, email, PASSWORD),
                    settings=settings,
                    limits=limits,
                    client_address="seed",
                    now=now,
                )
                user_id = tokens.user_id
        person = Person(email, name, user_id, graduate_id=created.id, timezone=zone)
        seeded.graduates[key] = person
        return person

    jordan = await graduate("jordan", "Jordan Miles", "America/Chicago", seeded.chris)
    sam = await graduate("sam", "Sam Rivera", "America/New_York", seeded.chris)
    priya = await graduate("priya", "Priya Kaur", "Europe/London", seeded.chris)
    await graduate("alex", "Alex Turner", "America/Los_Angeles", seeded.chris, enrolled=False)
    # One graduate per test that makes alerts, so each test sees only its own.
    for key, name in (
        ("casey", "Casey Nguyen"),
        ("riley", "Riley Adams"),
        ("quinn", "Quinn Baker"),
        ("taylor", "Taylor Brooks"),
        ("drew", "Drew Santos"),
    ):
        await graduate(key, name, "America/Chicago", seeded.chris)
    await graduate("morgan", "Morgan Lee", "America/Denver", seeded.robin)
    await seed_demo_plans(
        factory, [g.graduate_id for g in seeded.graduates.values() if g.graduate_id], now=now
    )

    # Jordan: three months, each check-in submitted on its own evening; the counselor resolves each
    # alert a day after it opens, as they would, so the feed holds only the recent ones.
    zone = ZoneInfo(jordan.timezone)
    today = now.astimezone(zone).date()
    seeded.jordan_today = today
    counselor = Principal(user_id=seeded.chris.user_id, role="counselor")
    graduate_principal = Principal(user_id=jordan.user_id, role="graduate", graduate_id=jordan.graduate_id)
    for back in range(HISTORY_DAYS, 0, -1):
        if back in HISTORY_GAPS:
            continue
        day = today - timedelta(days=back)
        evening = datetime.combine(day, time(20, 0), tzinfo=zone).astimezone(UTC)
        mood, craving, stress, sleep, used = _history(back)
        assert jordan.graduate_id is not None
        await checkins.submit_checkin(
            engine,
            graduate_id=jordan.graduate_id,
            data=CheckinCreate(
                client_id=uuid.uuid4(),
                local_date=day,
                mood=mood,
                craving=craving,
                stress=stress,
                used=used,
                safety_concern=False,
                sleep_hours=sleep,
                attended_support=back % 3 != 0,
                isolating=back <= 4,
                note=XSS_NOTE if back == 2 else None,
            ),
            actor=graduate_principal,
            crisis_line="988",
            now=evening,
        )
        seeded.jordan_dates.append(day)
        if back > 3:
            async with factory() as session:
                stale = await session.scalars(
                    select(Alert.id).where(
                        Alert.graduate_id == jordan.graduate_id,
                        Alert.status != "resolved",
                        Alert.opened_at < evening - timedelta(hours=20),
                    )
                )
                ids = list(stale)
            for alert_id in ids:
                async with factory() as session:
                    await alerts_service.resolve_alert(
                        session, alert_id, "Called them; safe, plan reviewed.", actor=counselor, now=evening
                    )

    # Sam: a hard week; Priya: asked for help tonight (a critical safety alert).
    sam_zone = ZoneInfo(sam.timezone)
    sam_today = now.astimezone(sam_zone).date()
    for back, craving in ((5, 3), (4, 4), (3, 6), (2, 7), (1, 8)):
        assert sam.graduate_id is not None
        await checkins.submit_checkin(
            engine,
            graduate_id=sam.graduate_id,
            data=CheckinCreate(
                client_id=uuid.uuid4(),
                local_date=sam_today - timedelta(days=back),
                mood=3 if craving < 6 else 2,
                craving=craving,
                stress=craving,
                used=False,
                safety_concern=False,
                sleep_hours=6.0,
                attended_support=craving < 6,
            ),
            actor=Principal(user_id=sam.user_id, role="graduate", graduate_id=sam.graduate_id),
            crisis_line="988",
            now=now,
        )
    assert priya.graduate_id is not None
    async with factory() as session:
        await help_now.request_help(
            session,
            graduate_id=priya.graduate_id,
            data=HelpCreate(
                client_id=uuid.uuid4(), message="I'm outside the pub and I can't make myself leave."
            ),
            actor=Principal(user_id=priya.user_id, role="graduate", graduate_id=priya.graduate_id),
            crisis_line="988",
            now=now,
        )
    await engine.dispose()
    return seeded


# -- a loopback proxy the tests can cut ------------------------------------------------------------


class Proxy:
    """Forwards every connection to the app. ``drop()`` cuts all open ones (the alert stream with
    them); while ``refuse`` is set, new ones are closed at once, as by a network that is down."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refuse = False
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open.discard(writer)
        self._open.discard(up_writer)


# -- the site: server, proxy, data, and the API as a test uses it ------------------------------------


@dataclass
class Site:
    base: str  # what the browser opens: the proxy
    direct: str  # the app itself, for the test's own API calls
    clock_file: Path
    proxy: Proxy
    seeded: Seeded
    screenshots: Path

    def graduate(self, key: str) -> Person:
        return self.seeded.graduates[key]

    async def token(self, person: Person) -> str:
        async with httpx.AsyncClient(base_url=self.direct, timeout=10) as client:
            response = await client.post("/v1/auth/token", json={"email": person.email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            return str(response.json()["access_token"])

    async def call(self, person: Person, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.token(person)}", **kwargs.pop("headers", {})}
        async with httpx.AsyncClient(base_url=self.direct, timeout=10) as client:
            return await client.request(method, path, headers=headers, **kwargs)

    async def lapse_today(self, person: Person) -> dict[str, Any]:
        """The graduate reports use today through the API: a lapse alert opens."""
        today = datetime.now(ZoneInfo(person.timezone)).date()
        response = await self.call(
            person,
            "POST",
            f"/v1/graduates/{person.graduate_id}/checkins",
            json={
                "client_id": str(uuid.uuid4()),
                "local_date": today.isoformat(),
                "mood": 2,
                "craving": 9,
                "stress": 8,
                "used": True,
                "safety_concern": False,
            },
        )
        assert response.status_code == 201, response.text
        return await self.open_alert(person)

    async def help_now(self, person: Person, message: str | None = None) -> dict[str, Any]:
        response = await self.call(
            person,
            "POST",
            f"/v1/graduates/{person.graduate_id}/help",
            json={"client_id": str(uuid.uuid4()), **({"message": message} if message else {})},
        )
        assert response.status_code == 201, response.text
        return await self.open_alert(person)

    async def open_alert(self, person: Person) -> dict[str, Any]:
        response = await self.call(
            self.seeded.dana,
            "GET",
            "/v1/alerts",
            params={"graduate_id": str(person.graduate_id), "status": ["open", "acknowledged"]},
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        assert items, f"no open alert for {person.name}"
        return items[0]

    async def add_staff(self, name: str, role: str = "counselor") -> Person:
        """A new staff member, made by the supervisor through the API (a test's own people)."""
        email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@clinic.test"
        response = await self.call(
            self.seeded.dana,
            "POST",
            "/v1/staff",
            json={"email": email, "password": PASSWORD, "display_name": name, "role": role},
        )
        assert response.status_code == 201, response.text
        return Person(email, name, uuid.UUID(response.json()["id"]))

    async def add_graduate(self, name: str, counselor: Person) -> uuid.UUID:
        response = await self.call(
            self.seeded.dana,
            "POST",
            "/v1/graduates",
            json={
                "display_name": name,
                "timezone": "America/Chicago",
                "counselor_id": str(counselor.user_id),
            },
        )
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"])

    def travel(self, seconds: float) -> None:
        self.clock_file.write_text(str(seconds))


def _start_app(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    script = Path(__file__).with_name("serve.py")
    return subprocess.Popen(
        [sys.executable, str(script), str(port)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("AFTERCARE_CONSOLE_SCREENSHOTS")
    path = Path(configured) if configured else tmp_path_factory.getbasetemp() / "console-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _schema(database_url: str, data_dir: Path, statement: str) -> None:
    admin = make_engine(Settings(data_dir=data_dir), url=database_url)
    async with admin.begin() as conn:
        await conn.execute(text(statement))
    await admin.dispose()


# One server and one browser for every module here, per database engine (SQLite; PostgreSQL too when
# AFTERCARE_TEST_POSTGRES_URL is set): seeding three months of check-ins is the slow part, and each
# test makes (or names) the people it changes.
@pytest.fixture(scope="package", params=BACKENDS)
async def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Site]:
    _require_browser()
    data_dir = tmp_path_factory.mktemp("console")
    schema: str | None = None
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{data_dir / 'console.db'}"
    else:
        assert POSTGRES_URL
        database_url, schema = POSTGRES_URL, f"console_{uuid.uuid4().hex[:12]}"
        await _schema(database_url, data_dir, f'CREATE SCHEMA "{schema}"')
    seeded = await _seed(database_url, schema, data_dir)
    clock_file = data_dir / "clock-offset"
    clock_file.write_text("0")
    port = free_port()
    env = {
        **os.environ,
        "AFTERCARE_DATABASE_URL": database_url,
        "AFTERCARE_DATA_DIR": str(data_dir),
        "AFTERCARE_JWT_SECRET": SECRET,
        "AFTERCARE_LOG_LEVEL": "WARNING",
        "AFTERCARE_STREAM_POLL_SECONDS": "0.1",
        "CONSOLE_CLOCK_FILE": str(clock_file),
        **({"CONSOLE_SCHEMA": schema} if schema else {}),
    }
    process = _start_app(port, env, data_dir / "server.log")
    proxy = Proxy(port)
    try:
        await asyncio.to_thread(wait_until_live, process, f"http://127.0.0.1:{port}", data_dir / "server.log")
        await proxy.start()
        screenshots = _screenshot_dir(tmp_path_factory)
        yield Site(
            base=f"http://127.0.0.1:{proxy.port}",
            direct=f"http://127.0.0.1:{port}",
            clock_file=clock_file,
            proxy=proxy,
            seeded=seeded,
            screenshots=screenshots,
        )
    finally:
        await proxy.stop()
        stop(process)
        if schema:
            await _schema(database_url, data_dir, f'DROP SCHEMA "{schema}" CASCADE')


# -- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="package")
async def browser(site: Site) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


@dataclass
class Tab:
    page: Any
    problems: list[str]  # script errors and policy violations seen on the page


OpenTab = Callable[..., Awaitable[Tab]]


@pytest.fixture
async def open_tab(site: Site, browser: Any) -> AsyncIterator[OpenTab]:
    """Opens a fresh browser context (no shared memory, so no shared tokens) at a console path,
    signed in as `person` if given. After the test, no page may have logged a script error or a
    Content-Security-Policy or Trusted Types violation."""
    tabs: list[tuple[Any, Tab]] = []

    async def open_(
        path: str = "/console",
        person: Person | None = None,
        *,
        service_workers: bool = False,
    ) -> Tab:
        # Service workers only where a test is about them (browser push): elsewhere they would
        # outlive the test in the browser and answer for the next one.
        context = await browser.new_context(
            base_url=site.base, viewport=VIEWPORT, service_workers="allow" if service_workers else "block"
        )
        page = await context.new_page()
        tab = Tab(page, [])
        page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: tab.problems.append(f"dialog: {dialog.message}"))

        def console(message: Any) -> None:
            text = message.text
            policy = "Content Security Policy" in text or "Trusted Type" in text
            script = message.type == "error" and ("Uncaught" in text or "TypeError" in text)
            if policy or script:
                tab.problems.append(f"console: {text}")

        page.on("console", console)
        tabs.append((context, tab))
        await page.goto(path)
        if person is not None:
            await sign_in(page, person)
        return tab

    yield open_
    for context, _ in tabs:
        await context.close()
    problems = [problem for _, tab in tabs for problem in tab.problems]
    assert not problems, problems


async def sign_in(page: Any, person: Person, password: str = PASSWORD) -> None:
    from playwright.async_api import expect

    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#topbar")).to_be_visible()
    await expect(page.locator("#stream-status")).to_have_attribute("data-stream-status", "live")


async def screenshot(site: Site, page: Any, name: str, *, full_page: bool = True) -> Path:
    path = site.screenshots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    return path


AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
TABLET = {"width": 820, "height": 1180}


async def check_accessibility(page: Any) -> None:
    """axe-core (vendored, never served by the app) on the page as it stands: no serious or
    critical violation of WCAG 2 A/AA. It is evaluated through the DevTools protocol, which the
    page's Content-Security-Policy does not govern, so the console's policy stays as strict.
    Whatever is still loading is dimmed on purpose (``aria-busy``): the page is judged once it is not."""
    from playwright.async_api import expect

    await expect(page.locator('[aria-busy="true"]')).to_have_count(0)
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
            .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                               nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"""
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, serious
