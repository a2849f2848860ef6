"""POST check-in (validate, store, assess, alert when due) against a bare Litestar endpoint that
decodes the same ``CheckinCreate`` Struct and returns it, measured in the same run.

    .venv/bin/python bench/checkin_bench.py [--seconds 10] [--connections 32] [--graduates 4000]
                                            [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Both servers are uvicorn, one worker, the settings of ``aftercare serve``, on loopback; the load is
``wrk`` (``apt-get install -y wrk``) with a generated Lua script, in its own process. The real app
runs on a fresh SQLite file (``synchronous=FULL``, the default), and with ``--postgres`` also on a
fresh PostgreSQL database created for the run and dropped after it. Every request is a new check-in
for a fresh (graduate, local day) with a unique ``client_id``, sent with that graduate's token; each
wrk connection walks its own graduates, so concurrent requests rarely queue on one graduate row.
One check-in in eight reports a lapse and one in forty a safety concern, so a share of requests
open or raise alerts (with their events and queued pushes). Every 201 is committed before it is sent.

Graduates are seeded by cloning one graduate made through the services (its user, plan, plan
version and schedule rows) with set-based inserts. Target (issue 5): real / bare >= 50%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aftercare.checkins.schemas import CheckinCreate

SECRET = "bench-secret-" + "x" * 40
DAYS = 8  # today and the 7 days a phone may sync late (the contract's window)
CHUNK = 2000


def serve(kind: str, port: int, data_dir: str, database_url: str) -> None:
    from litestar import Litestar, post
    from serving import serve_like_aftercare  # bench/ is on sys.path when a bench runs as a script

    from aftercare.app import create_app
    from aftercare.config import Settings

    if kind == "bare":

        @post("/checkins", sync_to_thread=False)
        def echo(data: CheckinCreate) -> CheckinCreate:
            return data

        app: Any = Litestar([echo])
    else:
        app = create_app(
            Settings(data_dir=Path(data_dir), database_url=database_url, jwt_secret=SECRET, scheduler=False)
        )
    serve_like_aftercare(app, port)


async def prepare(
    data_dir: Path, database_url: str, graduates: int
) -> tuple[list[tuple[str, str]], list[str]]:
    """Migrate; one graduate with a plan through the services, cloned ``graduates`` times.

    Returns (graduate id, access token) pairs and the plan's trigger ids."""
    from sqlalchemy import insert, select

    from aftercare.auth.models import User
    from aftercare.auth.principal import Principal
    from aftercare.auth.tokens import issue_access_token
    from aftercare.config import Settings
    from aftercare.db.engine import make_engine, make_session_factory
    from aftercare.db.migrate import migrate
    from aftercare.db.types import uuid7
    from aftercare.graduates import service as graduate_service
    from aftercare.graduates.models import Graduate
    from aftercare.graduates.schemas import GraduateCreate
    from aftercare.plans import service as plans
    from aftercare.plans.models import Plan, PlanVersion
    from aftercare.plans.templates import load_templates
    from aftercare.scheduling.models import Schedule
    from aftercare.staff.service import create_first_user

    settings = Settings(data_dir=data_dir, database_url=database_url, jwt_secret=SECRET, scheduler=False)
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
    plan = load_templates()[0].plan
    async with factory() as session:
        template = await graduate_service.create_graduate(
            session,
            GraduateCreate(display_name="G", timezone="UTC"),
            actor=counselor,
            settings=settings,
            now=now,
        )
        await plans.put_plan(
            session, template.id, plan, actor=counselor, now=now, precondition=plans.Precondition()
        )
    async with engine.connect() as connection:
        # Without the columns the database computes (``risk_order``), which no INSERT may name.
        computed = {column.name for column in Graduate.__table__.columns if column.computed is not None}
        graduate_row = {
            name: value
            for name, value in (await connection.execute(select(Graduate).where(Graduate.id == template.id)))
            .mappings()
            .one()
            .items()
            if name not in computed
        }
        plan_rows = [
            dict(r)
            for r in (
                await connection.execute(select(Plan).where(Plan.graduate_id == template.id))
            ).mappings()
        ]
        version_rows = [
            dict(r)
            for r in (
                await connection.execute(select(PlanVersion).where(PlanVersion.graduate_id == template.id))
            ).mappings()
        ]
        schedule_rows = [
            dict(r)
            for r in (
                await connection.execute(select(Schedule).where(Schedule.graduate_id == template.id))
            ).mappings()
        ]
    pairs: list[tuple[str, str]] = []
    for start in range(0, graduates, CHUNK):
        users, grads, plan_copies, versions, schedules = [], [], [], [], []
        for _ in range(start, min(graduates, start + CHUNK)):
            user_id, graduate_id = uuid7(), uuid7()
            users.append(
                {
                    "id": user_id,
                    "email": f"g{user_id.hex}@bench.test",
                    "password_hash": "-",
                    "role": "graduate",
                    "display_name": "G",
                    "active": True,
                    "created_at": now,
                }
            )
            grads.append({**graduate_row, "id": graduate_id, "user_id": user_id})
            plan_copies += [{**r, "graduate_id": graduate_id} for r in plan_rows]
            versions += [{**r, "graduate_id": graduate_id} for r in version_rows]
            schedules += [{**r, "id": uuid7(), "graduate_id": graduate_id} for r in schedule_rows]
            token = issue_access_token(
                Principal(user_id=user_id, role="graduate", graduate_id=graduate_id),
                secret=SECRET,
                now=now,
                lifetime=timedelta(hours=2),
            )
            pairs.append((str(graduate_id), token))
        async with engine.begin() as connection:
            for table, rows in (
                (User, users),
                (Graduate, grads),
                (Plan, plan_copies),
                (PlanVersion, versions),
                (Schedule, schedules),
            ):
                if rows:
                    await connection.execute(insert(table), rows)
    await engine.dispose()
    return pairs, [t.id for t in plan.triggers]


LUA = r"""
-- Generated by bench/checkin_bench.py: each connection's thread walks its own graduates, one
-- fresh (graduate, local day) a request, oldest day first.
local graduates = %(graduates)s
local days = %(days)s
local triggers = %(triggers)s
local real = %(real)s
local threads = {}
local counter, slice_start, slice_len = 0, 0, 0
statuses = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[1])
  local per = math.floor(#graduates / nthreads)
  slice_start = tid * per
  slice_len = per
  math.randomseed(os.time() * 1000 + tid)
end

local function uuid4()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(t, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%%x", v)
  end))
end

function request()
  local index = slice_start + (counter %% slice_len) + 1
  local day = math.floor(counter / slice_len)
  counter = counter + 1
  if day >= #days then day = #days - 1 end
  local g = graduates[index]
  local used = (counter %% 8 == 0) and "true" or "false"
  local safety = (counter %% 40 == 0) and "true" or "false"
  local trig = (counter %% 3 == 0) and ('"' .. triggers[(counter %% #triggers) + 1] .. '"') or ""
  local body = '{"client_id":"' .. uuid4() .. '","local_date":"' .. days[day + 1] ..
    '","mood":' .. (counter %% 5 + 1) .. ',"craving":' .. (counter %% 11) .. ',"stress":' .. (counter %% 7) ..
    ',"used":' .. used .. ',"safety_concern":' .. safety ..
    ',"sleep_hours":7.5,"attended_support":true,"took_medication":true,"isolating":false,"triggers":[' ..
    trig .. '],"coping_used":[]}'
  local path = "/checkins"
  local headers = {["Content-Type"] = "application/json"}
  if real then
    path = "/v1/graduates/" .. g[1] .. "/checkins"
    headers["Authorization"] = "Bearer " .. g[2]
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for k, v in pairs(s) do merged[tostring(k)] = (merged[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, '"' .. k .. '":' .. v) end
  io.write(string.format('RESULT {"requests":%%d,"seconds":%%f,"p50_ms":%%f,"p99_ms":%%f,"errors":%%d,"statuses":{%%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
"""


def lua_list(items: list[Any]) -> str:
    return "{" + ",".join(lua_list(i) if isinstance(i, (list, tuple)) else json.dumps(i) for i in items) + "}"


def run_wrk(port: int, script: Path, *, threads: int, connections: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"^RESULT (.*)$", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result: dict[str, Any] = json.loads(found.group(1))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int) -> None:
    for _ in range(400):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def start_server(kind: str, data_dir: Path, database_url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with open(data_dir / f"{kind}-server.log", "ab") as log:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(port), str(data_dir), database_url],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_ready(port)
    return server, port


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=15)


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def write_script(path: Path, pairs: list[tuple[str, str]] | None, triggers: list[str], real: bool) -> None:
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    path.write_text(
        LUA
        % {
            "graduates": lua_list(pairs or [("-", "-")] * 64),
            "days": lua_list(days),
            "triggers": lua_list(triggers),
            "real": "true" if real else "false",
        }
    )


def report(name: str, result: dict[str, Any], bare: float | None) -> None:
    ratio = f"   {result['rps'] / bare:6.1%} of bare" if bare else ""
    print(
        f"{name:<26} {result['rps']:8.0f} req/s   p50 {result['p50_ms']:6.1f} ms   p99 {result['p99_ms']:6.1f} ms"
        f"   statuses {dict(sorted(result['statuses'].items()))}{ratio}"
        + (f"   socket errors {result['errors']}" if result["errors"] else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--graduates",
        type=int,
        default=4000,
        help=f"enrolled graduates; {DAYS} fresh days each must outlast the run",
    )
    parser.add_argument("--postgres", metavar="URL", help="also run the real app on a fresh database there")
    parser.add_argument(
        "--serve", nargs=4, metavar=("KIND", "PORT", "DATA_DIR", "URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2], args.serve[3])
        return

    work = Path(tempfile.mkdtemp(prefix="checkin-bench-"))
    targets: list[tuple[str, str, str | None]] = [
        ("real, SQLite", f"sqlite+aiosqlite:///{work}/bench.db", None)
    ]
    if args.postgres:
        name = f"checkin_bench_{uuid.uuid4().hex[:8]}"
        base = args.postgres.rsplit("/", 1)[0]
        targets.append(("real, PostgreSQL", f"{base}/{name}", name))
    print(
        f"{args.connections} connections, {args.threads} wrk threads, {args.seconds:.0f} s a run, "
        f"{args.graduates} graduates x {DAYS} days; cores: {os.cpu_count()}"
    )

    bare_script = work / "bare.lua"
    write_script(bare_script, None, ["t"], real=False)
    server, port = start_server("bare", work, "-")
    try:
        run_wrk(port, bare_script, threads=args.threads, connections=args.connections, seconds=2)  # warm-up
        bare = run_wrk(
            port, bare_script, threads=args.threads, connections=args.connections, seconds=args.seconds
        )
    finally:
        stop(server)
    report("bare (decode + return)", bare, None)

    for label, url, database in targets:
        if database:
            asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{database}"'))
        try:
            data_dir = work / label.split()[-1].lower()
            data_dir.mkdir()
            pairs, triggers = asyncio.run(prepare(data_dir, url, args.graduates))
            script = work / f"{data_dir.name}.lua"
            write_script(script, pairs, triggers, real=True)
            server, port = start_server("real", data_dir, url)
            try:
                result = run_wrk(
                    port, script, threads=args.threads, connections=args.connections, seconds=args.seconds
                )
            finally:
                stop(server)
            report(label, result, bare["rps"])
            used = result["requests"] / (args.graduates * DAYS)
            if used > 1:
                print(
                    f"  note: the run outlasted the fresh (graduate, day) pairs ({used:.1f}x); raise --graduates"
                )
        finally:
            if database:
                asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    print("target (issue 5): real / bare >= 50%")


if __name__ == "__main__":
    main()
