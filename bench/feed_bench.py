"""The supervisor's alert feed (``GET /v1/alerts``) with 1,000 alerts and with 1,000,000 in the table.

    .venv/bin/python bench/feed_bench.py [--large 1000000] [--repeat 31]
                                         [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each engine (a fresh SQLite file; with ``--postgres`` also a fresh database, dropped after) and
each size, the alerts are inserted set-based (a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL): one graduate per 50 alerts, nine rules, warning/high/critical as 6/3/1, the newest
slice of each (graduate, rule) open or acknowledged (10%: 6% open, 4% acknowledged) and the rest
resolved, opening times scattered over a year so open alerts are spread through the table. Then four
pages of 50 are timed, each the median of ``--repeat`` calls, through the service function (its
transaction and audit row included) and through HTTP (a uvicorn server with the settings of
``aftercare serve``, a supervisor's token, one connection): the first page and a deep keyset page
(the cursor of the row half-way down the ordered result), each without filters and with
``status=open&min_severity=high``. Target (issue 5): the 1M page within 5x of the 1K page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkin_bench import SECRET, _admin, start_server, stop

from aftercare.alerts import service as alerts
from aftercare.auth.principal import Principal
from aftercare.auth.tokens import issue_access_token
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import migrate
from aftercare.graduates.models import Graduate
from aftercare.pagination import encode_cursor
from aftercare.staff.service import create_first_user

ALERTS_PER_GRADUATE = 50
RULES = 9
START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 24 * 3600
PAGE = 50
QUERIES: dict[str, dict[str, Any]] = {
    "all": {"statuses": [], "min_severity": None},
    "open, >= high": {"statuses": ["open"], "min_severity": "high"},
}

# Per alert n (0-based) of `total`: graduate n % G, rule (n / G) % 9, and the "slice" n / (9 G); the
# last slice is the active one, so (graduate, rule) is unique among open and acknowledged alerts.
# Opening time: n * 7919 mod total, a permutation, spread over the year.
SQLITE_INSERT = """
WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < :total)
INSERT INTO alerts (id, graduate_id, counselor_id, rule, severity, status, reasons, evidence, opened_at,
                    opened_on, last_seen_at, escalation_level, response_started_at, respond_by)
SELECT printf('%016x%016x', 1, n), printf('%032x', (n % :graduates) + 1), NULL,
       'rule' || ((n / :graduates) % 9),
       CASE WHEN n % 10 < 6 THEN 'warning' WHEN n % 10 < 9 THEN 'high' ELSE 'critical' END,
       CASE WHEN n / (9 * :graduates) < :last_slice THEN 'resolved'
            WHEN n % 5 < 3 THEN 'open' ELSE 'acknowledged' END,
       '[]', '{}', ts, substr(ts, 1, 10), ts, 0, ts, ts
FROM (SELECT n, strftime('%Y-%m-%d %H:%M:%S', '2025-01-01', '+' || (((n * 7919) % :total) * :step) || ' seconds')
             || '.000000' AS ts FROM seq)
"""
POSTGRES_INSERT = """
INSERT INTO alerts (id, graduate_id, counselor_id, rule, severity, status, reasons, evidence, opened_at,
                    opened_on, last_seen_at, escalation_level, response_started_at, respond_by)
SELECT ('00000000000000010000' || lpad(to_hex(n), 12, '0'))::uuid, lpad(to_hex((n % :graduates) + 1), 32, '0')::uuid,
       NULL, 'rule' || ((n / :graduates) % 9),
       CASE WHEN n % 10 < 6 THEN 'warning' WHEN n % 10 < 9 THEN 'high' ELSE 'critical' END,
       CASE WHEN n / (9 * :graduates) < :last_slice THEN 'resolved'
            WHEN n % 5 < 3 THEN 'open' ELSE 'acknowledged' END,
       '[]'::jsonb, '{}'::jsonb, ts, ts::date, ts, 0, ts, ts
FROM (SELECT n, timestamptz '2025-01-01 00:00:00+00' + ((n::bigint * 7919) % :total) * :step * interval '1 second' AS ts
      FROM generate_series(0, :total - 1) AS n) AS s
"""


async def seed(engine: AsyncEngine, total: int) -> uuid.UUID:
    """Migrate, a supervisor, the graduates and ``total`` alerts; returns the supervisor's id."""
    await migrate(engine)
    now = datetime.now(UTC)
    async with make_session_factory(engine)() as session:
        supervisor_id = await create_first_user(
            session,
            email="s@bench.test",
            password="bench-password-123",
            role="supervisor",
            display_name="S",
            now=now,
        )
    graduates = max(1, total // ALERTS_PER_GRADUATE)
    rows = [
        {
            "id": uuid.UUID(int=g + 1),
            "user_id": None,
            "display_name": "G",
            "timezone": "UTC",
            "checkin_time": "20:00",
            "quiet_start": None,
            "quiet_end": None,
            "status": "active",
            "created_at": now,
            "updated_at": now,
            "streak_days": 0,
            "risk_level": "low",
            "open_alerts": 0,
        }
        for g in range(graduates)
    ]
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            await connection.execute(insert(Graduate), rows[start : start + 5000])
        last_slice = (total - 1) // (RULES * graduates)
        await connection.execute(
            text(POSTGRES_INSERT if postgres else SQLITE_INSERT),
            {
                "total": total,
                "graduates": graduates,
                "last_slice": last_slice,
                "step": max(1, YEAR_SECONDS // total),
            },
        )
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return supervisor_id


async def deep_cursor(engine: AsyncEngine, query: dict[str, Any]) -> str | None:
    """The cursor of the row half-way down the query's ordered result."""
    where = ["1 = 1"]
    if query["statuses"]:
        where.append("status IN ('" + "','".join(query["statuses"]) + "')")
    if query["min_severity"]:
        where.append("severity IN ('" + "','".join(alerts.SEVERITIES_AT_LEAST[query["min_severity"]]) + "')")
    condition = " AND ".join(where)
    async with engine.connect() as connection:
        count = (
            await connection.execute(text(f"SELECT count(*) FROM alerts WHERE {condition}"))
        ).scalar_one()
        if count <= PAGE:
            return None
        row = (
            await connection.execute(
                text(
                    f"SELECT opened_at, id FROM alerts WHERE {condition} ORDER BY opened_at DESC, id DESC "
                    f"LIMIT 1 OFFSET {count // 2}"
                )
            )
        ).one()
    opened_at = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(row[0])
    item = row[1] if isinstance(row[1], uuid.UUID) else uuid.UUID(row[1])
    return encode_cursor(opened_at.replace(tzinfo=UTC) if opened_at.tzinfo is None else opened_at, item)


async def time_service(
    engine: AsyncEngine, actor: Principal, query: dict[str, Any], cursor: str | None, repeat: int
) -> tuple[float, int]:
    factory = make_session_factory(engine)
    samples, items = [], 0
    for _ in range(repeat):
        async with factory() as session:
            started = time.perf_counter()
            page = await alerts.list_alerts(
                session,
                actor=actor,
                graduate_id=None,
                limit=PAGE,
                cursor=cursor,
                now=datetime.now(UTC),
                **query,
            )
            samples.append(time.perf_counter() - started)
            items = len(page.items)
    return statistics.median(samples), items


async def time_http(port: int, token: str, query: dict[str, Any], cursor: str | None, repeat: int) -> float:
    params: list[tuple[str, str]] = [("limit", str(PAGE))]
    params += [("status", s) for s in query["statuses"]]
    if query["min_severity"]:
        params.append(("min_severity", query["min_severity"]))
    if cursor:
        params.append(("cursor", cursor))
    samples = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as client:
        for index in range(repeat + 1):
            started = time.perf_counter()
            async with client.get(f"http://127.0.0.1:{port}/v1/alerts/", params=params) as response:
                assert response.status == 200, await response.text()
                await response.read()
            if index:  # the first call warms the connection
                samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(
    label: str, url: str, data_dir: Path, total: int, repeat: int
) -> dict[tuple[str, str, str], float]:
    """Seed ``total`` alerts and time every page; {(query, page, path): seconds}."""
    settings = Settings(data_dir=data_dir, database_url=url, jwt_secret=SECRET, scheduler=False)

    async def prepare() -> tuple[uuid.UUID, dict[str, str | None], dict[tuple[str, str, str], float]]:
        engine = make_engine(settings)
        started = time.perf_counter()
        supervisor_id = await seed(engine, total)
        print(f"  {label}: {total:,} alerts seeded in {time.perf_counter() - started:.1f} s")
        actor = Principal(user_id=supervisor_id, role="supervisor")
        cursors, timings = {}, {}
        for name, query in QUERIES.items():
            cursors[name] = await deep_cursor(engine, query)
            for page, cursor in (("first", None), ("deep", cursors[name])):
                seconds, _ = await time_service(engine, actor, query, cursor, repeat)
                timings[(name, page, "service")] = seconds
        await engine.dispose()
        return supervisor_id, cursors, timings

    supervisor_id, cursors, timings = asyncio.run(prepare())
    token = issue_access_token(
        Principal(user_id=supervisor_id, role="supervisor"),
        secret=SECRET,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=1),
    )
    server, port = start_server("real", data_dir, url)
    try:
        for name, query in QUERIES.items():
            for page, cursor in (("first", None), ("deep", cursors[name])):
                timings[(name, page, "http")] = asyncio.run(time_http(port, token, query, cursor, repeat))
    finally:
        stop(server)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--postgres", metavar="URL", help="also measure on a fresh database there")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="feed-bench-"))
    engines = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    for engine_name, admin_url in engines:
        results = {}
        for total in (args.small, args.large):
            data_dir = work / f"{engine_name.lower()}-{total}"
            data_dir.mkdir()
            database = None
            if admin_url:
                database = f"feed_bench_{uuid.uuid4().hex[:8]}"
                asyncio.run(_admin(admin_url, f'CREATE DATABASE "{database}"'))
                url = f"{admin_url.rsplit('/', 1)[0]}/{database}"
            else:
                url = f"sqlite+aiosqlite:///{data_dir}/feed.db"
            try:
                results[total] = measure(engine_name, url, data_dir, total, args.repeat)
            finally:
                if database and admin_url:
                    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        print(f"{engine_name}: median of {args.repeat} calls, page of {PAGE}")
        print(
            f"  {'query':<14} {'page':<6} {'path':<8} {f'{args.small:,}':>10} {f'{args.large:,}':>10}  ratio"
        )
        worst = 0.0
        for key in results[args.small]:
            small, large = results[args.small][key], results[args.large][key]
            worst = max(worst, large / small)
            print(
                f"  {key[0]:<14} {key[1]:<6} {key[2]:<8} {small * 1e3:8.2f}ms {large * 1e3:8.2f}ms  {large / small:5.2f}x"
            )
        print(f"  worst ratio {worst:.2f}x (target < 5x)")


if __name__ == "__main__":
    main()
