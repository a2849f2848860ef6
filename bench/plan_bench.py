"""Plan endpoints against a bare Litestar endpoint that decodes and returns the same body, same run.

    .venv/bin/python bench/plan_bench.py [--seconds 8] [--connections 32] [--postgres URL]

Both servers are uvicorn, one worker, the same settings as ``aftercare serve``, on loopback. The real
app runs on a fresh SQLite file (default ``synchronous=FULL``), or with ``--postgres
postgresql+asyncpg://user@host/db`` on a fresh database created next to that one (dropped afterwards), with a counselor's token, so every
request pays the guard (token, active-staff and caseload checks), the audit row and the transaction.
Each client connection works on its own graduate and sends ``If-Match`` of the version it last got
back, so every PUT is a real replacement (it alternates a goal's text) that writes a new version.
Targets (issue 4): PUT >= 40% and GET >= 60% of the bare endpoint's requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aftercare.plans.schemas import Medication, PlanBody, Schedule
from aftercare.plans.templates import load_templates

SECRET = "bench-secret-" + "x" * 40


def typical_plan() -> PlanBody:
    """The standard template plus three medications: about 40 items, 8 schedules."""
    plan = load_templates()[0].plan
    medications = [
        Medication(
            id=f"med-{name}",
            name=name,
            dose=dose,
            schedule=Schedule(rrule="FREQ=DAILY", start_local=f"2026-12-01T{hour}"),
        )
        for name, dose, hour in (
            ("naltrexone", "50 mg", "08:00"),
            ("sertraline", "100 mg", "08:30"),
            ("gabapentin", "300 mg", "21:00"),
        )
    ]
    return msgspec.structs.replace(plan, medications=medications)


def bench_settings(data_dir: Path, database_url: str) -> Any:
    from aftercare.config import Settings

    return Settings(
        data_dir=data_dir, database_url=database_url, jwt_secret=SECRET, scheduler=False, auto_migrate=False
    )


def serve(kind: str, port: int, data_dir: str, database_url: str) -> None:
    from litestar import Litestar, put
    from serving import serve_like_aftercare  # bench/ is on sys.path when a bench runs as a script

    from aftercare.app import create_app

    if kind == "bare":

        @put("/plan", sync_to_thread=False)
        def echo(data: PlanBody) -> PlanBody:
            return data

        app: Any = Litestar([echo])
    else:
        app = create_app(bench_settings(Path(data_dir), database_url))
    serve_like_aftercare(app, port)


async def prepare(data_dir: Path, graduates: int, database_url: str = "") -> tuple[str, list[str]]:
    """Migrate, create a counselor and their graduates with a plan each; the counselor's token."""
    from aftercare.auth.principal import Principal
    from aftercare.auth.tokens import issue_access_token
    from aftercare.db.engine import make_engine, make_session_factory
    from aftercare.db.migrate import migrate
    from aftercare.graduates import service as graduate_service
    from aftercare.graduates.schemas import GraduateCreate
    from aftercare.plans import service as plans
    from aftercare.staff.service import create_first_user

    settings = bench_settings(data_dir, database_url)
    engine = make_engine(settings)
    await migrate(engine)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    async with factory() as session:
        counselor_id = await create_first_user(
            session,
            email="c@bench.test",
            password="bench-password-123",
            role="counselor",
            display_name="C",
            now=now,
        )
    counselor = Principal(user_id=counselor_id, role="counselor")
    ids = []
    for index in range(graduates):
        async with factory() as session:
            created = await graduate_service.create_graduate(
                session,
                GraduateCreate(display_name=f"G{index}", timezone="America/Chicago"),
                actor=counselor,
                settings=settings,
                now=now,
            )
            await plans.put_plan(
                session,
                created.id,
                typical_plan(),
                actor=counselor,
                now=now,
                precondition=plans.Precondition(),
            )
        ids.append(str(created.id))
    await engine.dispose()
    token = issue_access_token(counselor, secret=SECRET, now=now, lifetime=timedelta(hours=2))
    return token, ids


async def load(
    url_of: Any,
    method: str,
    connections: int,
    seconds: float,
    *,
    headers: dict[str, str],
    bodies: list[bytes] | None,
    track_version: bool,
) -> tuple[float, dict[int, int]]:
    """Requests per second over ``seconds`` with ``connections`` workers, each sequential."""
    statuses: dict[int, int] = {}
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(index: int, session: aiohttp.ClientSession) -> None:
        nonlocal done
        version, turn = 1, 0
        while time.perf_counter() < deadline:
            extra = {"If-Match": f'"{version}"'} if track_version else {}
            data = bodies[turn % len(bodies)] if bodies else None
            async with session.request(
                method, url_of(index), data=data, headers={**headers, **extra}
            ) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if track_version and resp.status == 200:
                    version = int(resp.headers["ETag"].strip('"'))
            turn += 1
            done += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(i, session) for i in range(connections)))
        elapsed = time.perf_counter() - started
    return done / elapsed, statuses


async def fresh_postgres(url: str, *, drop: str | None = None) -> str:
    """A new database beside the one ``url`` names (or drop ``drop``); its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    name = drop or f"plan_bench_{int(time.time())}"
    async with admin.connect() as connection:
        await connection.execute(
            text(f'DROP DATABASE IF EXISTS "{name}"' if drop else f'CREATE DATABASE "{name}"')
        )
    await admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int) -> None:
    for _ in range(200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", metavar="URL", help="run the real app on PostgreSQL (asyncpg URL)")
    parser.add_argument(
        "--serve", nargs=4, metavar=("KIND", "PORT", "DATA_DIR", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2], "" if args.serve[3] == "-" else args.serve[3])
        return

    data_dir = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    database_url = asyncio.run(fresh_postgres(args.postgres)) if args.postgres else ""
    token, graduate_ids = asyncio.run(prepare(data_dir, args.connections, database_url))
    plan = typical_plan()
    variants = [
        msgspec.json.encode(
            msgspec.structs.replace(
                plan, goals=[msgspec.structs.replace(plan.goals[0], text=text), *plan.goals[1:]]
            )
        )
        for text in ("Ninety meetings in ninety days", "Thirty meetings in thirty days")
    ]
    print(
        f"plan: {len(variants[0])} bytes, "
        f"{sum(len(getattr(plan, s)) for s in ('therapy', 'support_groups', 'coping_skills', 'triggers', 'warning_signs', 'medications', 'support_contacts', 'goals'))} items, "
        f"{len(plan.therapy) + len(plan.support_groups) + len(plan.medications)} schedules; "
        f"{args.connections} connections x {args.seconds:.0f} s each; "
        f"{'PostgreSQL' if database_url else 'SQLite (synchronous=FULL)'}"
    )

    bare_port, real_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(port), str(data_dir), database_url or "-"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for kind, port in (("bare", bare_port), ("real", real_port))
    ]
    try:
        wait_ready(bare_port)
        wait_ready(real_port)
        json_headers = {"Content-Type": "application/json"}
        auth = {**json_headers, "Authorization": f"Bearer {token}"}

        def plan_url(index: int) -> str:
            return f"http://127.0.0.1:{real_port}/v1/graduates/{graduate_ids[index]}/plan"

        runs = {
            "bare PUT (decode + return)": asyncio.run(
                load(
                    lambda _: f"http://127.0.0.1:{bare_port}/plan",
                    "PUT",
                    args.connections,
                    args.seconds,
                    headers=json_headers,
                    bodies=variants,
                    track_version=False,
                )
            ),
            "PUT plan (If-Match)": asyncio.run(
                load(
                    plan_url,
                    "PUT",
                    args.connections,
                    args.seconds,
                    headers=auth,
                    bodies=variants,
                    track_version=True,
                )
            ),
            "GET plan": asyncio.run(
                load(
                    plan_url,
                    "GET",
                    args.connections,
                    args.seconds,
                    headers=auth,
                    bodies=None,
                    track_version=False,
                )
            ),
        }
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        if args.postgres:
            asyncio.run(fresh_postgres(args.postgres, drop=database_url.rsplit("/", 1)[-1]))
    for name, (rps, statuses) in runs.items():
        print(f"{name:<28} {rps:8.0f} req/s   statuses {dict(sorted(statuses.items()))}")
    bare = runs["bare PUT (decode + return)"][0]
    put_ratio, get_ratio = runs["PUT plan (If-Match)"][0] / bare, runs["GET plan"][0] / bare
    print(f"PUT / bare = {put_ratio:.0%} (target >= 40%)   GET / bare = {get_ratio:.0%} (target >= 60%)")


if __name__ == "__main__":
    main()
