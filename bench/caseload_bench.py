"""The caseload (``GET /v1/graduates``) with 100 graduates and with 10,000: a page of each sort.

    .venv/bin/python bench/caseload_bench.py [--small 100] [--large 10000] [--repeat 51]
                                             [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each engine (fresh SQLite files; with ``--postgres`` also fresh databases, dropped after) both
sizes are seeded set-based, every graduate on one counselor's caseload: risk levels low, moderate,
high and critical as 60/20/15/5 (low ones without open alerts, the others with 1-3), last check-ins
spread over the past 40 days (one in ten never checked in), names of three syllables, six in ten
starting "Ma" (ties included). Pages of 50 are timed through the service function
(``graduates.service.list_caseload``: its transaction and staff-read audit row included), the median
of ``--repeat`` calls, the two sizes' calls interleaved: for every sort, the first page and a deep one
(half-way down, or where a full page still follows), as the supervisor (the whole program: the sort's
own index) and as the counselor (their caseload: the index led by ``counselor_id``); and one filtered
list per sort, each filter keeping more than a page at 100 graduates. Commits do not wait for the
disk (``open_engine``). Target (issue 17): the page at 10,000 within 2x of the page at 100.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_bench import _admin

from aftercare.auth.principal import Principal
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import migrate
from aftercare.db.types import uuid7
from aftercare.graduates import service as graduates
from aftercare.graduates.models import Graduate, name_key, silence_start
from aftercare.graduates.schemas import CaseloadQuery
from aftercare.staff.service import create_first_user

PAGE = 50
TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
LEVELS = ["low"] * 12 + ["moderate"] * 4 + ["high"] * 3 + ["critical"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "su", "to", "vi", "ze", "da", "fe", "go", "ha", "jo", "wu"]
QUERIES: dict[str, CaseloadQuery] = {
    "risk": CaseloadQuery(sort="risk"),
    "last_checkin": CaseloadQuery(sort="last_checkin"),
    "open_alerts": CaseloadQuery(sort="open_alerts"),
    "name": CaseloadQuery(sort="name"),
    # Filters that keep more than a page at 100 graduates, so both sizes' pages hold 50 items.
    "risk, low+moderate": CaseloadQuery(sort="risk", risk_levels=("low", "moderate")),
    "last_checkin, active": CaseloadQuery(sort="last_checkin", statuses=("active",)),
    "open_alerts, none": CaseloadQuery(sort="open_alerts", has_open_alerts=False),
    "name, search": CaseloadQuery(sort="name", search="ma"),
}


def graduate_rows(count: int, counselor_id: uuid.UUID, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        first = "ma" if rng.random() < 0.6 else rng.choice(SYLLABLES)
        name = (first + "".join(rng.choice(SYLLABLES) for _ in range(2))).title()
        last = None if rng.random() < 0.1 else TODAY - timedelta(days=rng.randrange(40))
        admitted = TODAY - timedelta(days=60)
        level = rng.choice(LEVELS)
        rows.append(
            {
                "id": uuid7(),
                "user_id": None,
                "counselor_id": counselor_id,
                "display_name": name,
                "name_key": name_key(name),
                "timezone": "America/Chicago",
                "checkin_time": "19:00",
                "quiet_start": None,
                "quiet_end": None,
                "status": "active",
                "admitted_on": admitted,
                "created_at": NOW - timedelta(days=60),
                "updated_at": NOW,
                "last_checkin_date": last,
                "silent_since": silence_start(last, admitted),
                "streak_days": 0 if last is None else rng.randrange(10),
                "risk_level": level,
                "last_assessed_level": level,
                "open_alerts": 0 if level == "low" else rng.randrange(1, 4),
            }
        )
    return rows


async def seed(engine: AsyncEngine, count: int) -> tuple[Principal, Principal]:
    """Migrate, a supervisor, a counselor and ``count`` graduates on the counselor's caseload."""
    await migrate(engine)
    factory = make_session_factory(engine)
    ids = []
    for role in ("supervisor", "counselor"):
        async with factory() as session:
            ids.append(
                await create_first_user(
                    session,
                    email=f"{role}@bench.test",
                    password="bench-password-123",
                    role=role,
                    display_name=role,
                    now=NOW,
                )
            )
    rows = graduate_rows(count, ids[1], random.Random(count))
    async with engine.begin() as connection:
        for start in range(0, len(rows), 2000):
            await connection.execute(insert(Graduate), rows[start : start + 2000])
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return Principal(user_id=ids[0], role="supervisor"), Principal(user_id=ids[1], role="counselor")


async def deep_cursor(engine: AsyncEngine, actor: Principal, query: CaseloadQuery) -> str | None:
    """The cursor half-way down the query's result, or nearer its start where a full page must
    still follow (100 graduates: after the first 50); None if no full page follows any cursor."""
    factory = make_session_factory(engine)
    async with factory() as session:
        everything = await graduates.list_caseload(
            session, actor=actor, query=query, limit=100_000, cursor=None, now=NOW
        )
    total = len(everything.items)
    position = min(total // 2, total - PAGE)
    if position < 1:
        return None
    async with factory() as session:
        head = await graduates.list_caseload(
            session, actor=actor, query=query, limit=position, cursor=None, now=NOW
        )
    return head.next_cursor


async def page_seconds(
    engine: AsyncEngine, actor: Principal, query: CaseloadQuery, cursor: str | None
) -> float:
    async with make_session_factory(engine)() as session:
        started = time.perf_counter()
        page = await graduates.list_caseload(
            session, actor=actor, query=query, limit=PAGE, cursor=cursor, now=NOW
        )
        seconds = time.perf_counter() - started
    assert page.items or cursor is None
    return seconds


def open_engine(url: str) -> AsyncEngine:
    """Commits that do not wait for the disk (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL
    ``synchronous_commit=off``): each call still commits its audit row, but an fsync's latency, which
    moves tenfold on a shared disk, would drown what the index does."""
    settings = Settings(
        data_dir=Path(tempfile.gettempdir()), database_url=url, scheduler=False, sqlite_synchronous="NORMAL"
    )
    if url.startswith("postgresql"):
        return make_engine(settings, connect_args={"server_settings": {"synchronous_commit": "off"}})
    return make_engine(settings)


async def measure(urls: dict[int, str], repeat: int) -> dict[tuple[str, str, str], dict[int, list[float]]]:
    """{(query, page, role): {size: seconds of each call}}, the sizes' calls interleaved so that
    whatever else the machine does meanwhile weighs on both alike."""
    engines = {size: open_engine(url) for size, url in urls.items()}
    try:
        actors = {size: await seed(engine, size) for size, engine in engines.items()}
        timings: dict[tuple[str, str, str], dict[int, list[float]]] = {}
        for index, role in enumerate(("supervisor", "counselor")):
            for name, query in QUERIES.items():
                deep = {
                    size: await deep_cursor(engine, actors[size][index], query)
                    for size, engine in engines.items()
                }
                for page in ("first", "deep"):
                    samples: dict[int, list[float]] = {size: [] for size in engines}
                    for _ in range(repeat):
                        for size, engine in engines.items():
                            cursor = deep[size] if page == "deep" else None
                            samples[size].append(
                                await page_seconds(engine, actors[size][index], query, cursor)
                            )
                    timings[(name, page, role)] = samples
        return timings
    finally:
        for engine in engines.values():
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=51)
    parser.add_argument("--postgres", metavar="URL", help="also measure on a fresh database there")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="caseload-bench-"))
    engines = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    sizes = (args.small, args.large)
    for engine_name, admin_url in engines:
        databases = {size: f"caseload_bench_{uuid.uuid4().hex[:8]}" for size in sizes}
        if admin_url:
            base = admin_url.rsplit("/", 1)[0]
            urls = {size: f"{base}/{database}" for size, database in databases.items()}
            for database in databases.values():
                asyncio.run(_admin(admin_url, f'CREATE DATABASE "{database}"'))
        else:
            urls = {size: f"sqlite+aiosqlite:///{work}/caseload-{size}.db" for size in sizes}
        try:
            results = asyncio.run(measure(urls, args.repeat))
        finally:
            if admin_url:
                for database in databases.values():
                    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        print(f"{engine_name}: {args.repeat} calls each, page of {PAGE}, service function")
        sizes_label = f"median at {args.small:,} / {args.large:,}"
        print(f"  {'query':<22} {'page':<6} {'as':<11} {sizes_label:>31}  ratio  fastest calls' ratio")
        worst = {"median": 0.0, "fastest": 0.0}
        for (name, page, role), by_size in results.items():
            small, large = by_size[args.small], by_size[args.large]
            median = statistics.median(large) / statistics.median(small)
            fastest = min(large) / min(small)
            worst = {"median": max(worst["median"], median), "fastest": max(worst["fastest"], fastest)}
            print(
                f"  {name:<22} {page:<6} {role:<11} {statistics.median(small) * 1e3:12.2f}ms / "
                f"{statistics.median(large) * 1e3:7.2f}ms  {median:5.2f}x  {fastest:5.2f}x"
            )
        print(
            f"  worst ratio: of medians {worst['median']:.2f}x, of the fastest calls {worst['fastest']:.2f}x "
            "(target <= 2x)"
        )


if __name__ == "__main__":
    main()
