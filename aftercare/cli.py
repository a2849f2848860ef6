"""The ``aftercare`` command: serve, migrate, users, demo data, OpenAPI document.

Every command builds its settings from the environment (``AFTERCARE_*``) and its options, opens
what it needs, and disposes of its engine before returning (an undisposed aiosqlite engine keeps
the process alive at exit).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from aftercare.clock import SystemClock
from aftercare.config import ConfigError, Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import SchemaBehind, ensure_current, migrate

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
        settings.resolved_database_url  # noqa: B018 - validates the URL now, with a clear message
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from exc
    return settings


def _shared_secrets(settings: Settings) -> Settings:
    """Commands that sign tokens, hash enrollment codes or push refuse to run on PostgreSQL
    without the secrets every process must share (``Settings.require_shared_secrets``)."""
    try:
        settings.require_shared_secrets()
    except ConfigError as exc:
        raise click.ClickException(exc.detail) from exc
    return settings


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(engine)`` on a fresh engine and always dispose of it."""

    async def main() -> T:
        engine = make_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.group()
def main() -> None:
    """Aftercare: plans, daily check-ins, warning signs and reminders after an IOP."""


@main.command("migrate")
def migrate_command() -> None:
    """Upgrade the database schema to the code's version."""
    settings = _settings()
    _run(settings, migrate)
    click.echo("database schema is current")


@main.command()
@click.option("--host", default=None, help="listen address (AFTERCARE_HOST)")
@click.option("--port", type=int, default=None, help="listen port (AFTERCARE_PORT)")
@click.option("--demo", is_flag=True, help="load demo data first if the database has none")
def serve(host: str | None, port: int | None, demo: bool) -> None:
    """Migrate (SQLite by default), then serve the API."""
    import uvicorn

    from aftercare.app import create_app
    from aftercare.demo import DEMO_LOGINS, seed_demo
    from aftercare.serving import uvicorn_config

    settings = _shared_secrets(_settings(host=host, port=port)).with_secrets()

    async def prepare(engine: Any) -> bool:
        if settings.should_auto_migrate:
            await migrate(engine)
        else:
            await ensure_current(engine)
        return (
            await seed_demo(make_session_factory(engine), settings=settings, now=SystemClock().now())
            if demo
            else False
        )

    try:
        seeded = _run(settings, prepare)
    except SchemaBehind as exc:
        raise click.ClickException(str(exc)) from exc
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"Aftercare is serving at {base}  (API docs: {base}/schema, health: {base}/health/ready)")
    if demo:
        click.echo("demo data " + ("loaded" if seeded else "already present") + "; sign in with:")
        for role, email, password in DEMO_LOGINS:
            click.echo(f"  {role:<11} {email}  password: {password}")
    config = uvicorn_config(create_app(settings), settings)
    # Everything built so far (routes, schemas, templates) lives as long as the process: move it out
    # of the collector's sight so requests stop paying for re-scanning it (measured ~10% on GET).
    gc.collect()
    gc.freeze()
    if settings.metrics_port is not None:
        # The scrape port: /metrics without a token, served by prometheus_client from a daemon
        # thread of this process (it reads the registry the API fills), gone when the process ends.
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.host)
        click.echo(f"metrics (no token) at http://{settings.host}:{settings.metrics_port}/metrics")
    uvicorn.Server(config).run()


@main.command()
def worker() -> None:
    """Only sweep: due prompts, reminders, day closes, escalations and pushes (SIGTERM stops it)."""
    import signal

    from aftercare.flows.worker import Sweeper
    from aftercare.push.runtime import PushRuntime

    settings = _shared_secrets(_settings()).with_secrets()
    push = PushRuntime.from_settings(settings)

    async def run(engine: Any) -> None:
        if settings.should_auto_migrate:
            await migrate(engine)
        else:
            await ensure_current(engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await push.start()
        sweeper = Sweeper(
            make_session_factory(engine),
            SystemClock(),
            interval_seconds=settings.sweep_interval_seconds,
            sender=push.sender,
            mailer=push.mailer,
        )
        sweeper.start()
        click.echo(
            f"aftercare worker {sweeper.worker_id} sweeping every {settings.sweep_interval_seconds:g} s"
        )
        try:
            await stop.wait()
        finally:
            await sweeper.stop()
            await push.close()
        click.echo("aftercare worker stopped")

    try:
        import uvloop  # installed with uvicorn[standard]; absent on some platforms
    except ImportError:
        pass
    else:
        # The worker's CPU goes to encryption and the HTTP client: uvloop's transports cut the
        # per-push cost of the latter (bench/prompt_bench.py).
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        _run(settings, run)
    except SchemaBehind as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def users() -> None:
    """Manage accounts from the command line."""


@users.command("create")
@click.option("--role", type=click.Choice(["supervisor", "counselor"]), required=True)
@click.option("--email", required=True)
@click.option("--name", "display_name", default=None, help="display name (default: the email's local part)")
def users_create(role: str, email: str, display_name: str | None) -> None:
    """Create a staff account; the password is read from stdin."""
    from aftercare.errors import AftercareError
    from aftercare.staff.service import create_first_user

    password = sys.stdin.readline().rstrip("\n")
    settings = _settings()

    async def create(engine: Any) -> Any:
        await ensure_current(engine) if not settings.should_auto_migrate else await migrate(engine)
        async with make_session_factory(engine)() as session:
            return await create_first_user(
                session,
                email=email,
                password=password,
                role=role,
                display_name=display_name or email.split("@")[0],
                now=SystemClock().now(),
            )

    try:
        user_id = _run(settings, create)
    except (AftercareError, SchemaBehind) as exc:
        raise click.ClickException(getattr(exc, "detail", str(exc))) from exc
    click.echo(f"created {role} {email} ({user_id})")


@main.command("seed-demo")
def seed_demo_command() -> None:
    """Load demo staff, graduates, plans and history (only into an empty database)."""
    from aftercare.demo import DEMO_LOGINS, seed_demo

    settings = _shared_secrets(_settings()).with_secrets()

    async def seed(engine: Any) -> bool:
        await migrate(engine)
        return await seed_demo(make_session_factory(engine), settings=settings, now=SystemClock().now())

    seeded = _run(settings, seed)
    click.echo("demo data loaded" if seeded else "demo data already present")
    for role, email, password in DEMO_LOGINS:
        click.echo(f"  {role:<11} {email}  password: {password}")


@main.command(
    "backtest",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    },
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def backtest_command(args: tuple[str, ...]) -> None:
    """Replay histories through the warning-sign engine: COHORT.jsonl [--rules RULES.json]
    [--resolve-after-days N] [--out EVENTS.jsonl] (see the contract's "Backtest")."""
    from aftercare.rules.backtest import main as backtest_main

    # The backtest parses its own arguments, so `aftercare backtest` and the module agree exactly.
    sys.exit(backtest_main(list(args)))


@main.command(
    "calibrate",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    },
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def calibrate_command(args: tuple[str, ...]) -> None:
    """Choose early-sign thresholds on a history: COHORT.jsonl --target-burden B [--rules BASE.json]
    [--out RULES.json] [--resolve-after-days N] (never changes lapse, safety or silence)."""
    from aftercare.rules.calibrate import main as calibrate_main

    # Like backtest: the command parses its own arguments (and refuses bad input the same way).
    sys.exit(calibrate_main(list(args)))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """Copy the SQLite database to PATH while the service runs: a consistent snapshot, checked.

    PostgreSQL has its own tools (pg_dump; see docs/RELIABILITY.md, "Backups")."""
    from sqlalchemy.engine import make_url

    from aftercare.db.backup import BackupError, backup_sqlite

    settings = _settings()
    if not settings.is_sqlite:
        raise click.ClickException(
            "aftercare backup copies the SQLite database; for PostgreSQL use pg_dump "
            "(docs/RELIABILITY.md, 'Backups')"
        )
    source = Path(make_url(settings.resolved_database_url).database or "")
    try:
        report = backup_sqlite(source, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"backed up {source} to {report.path}: {report.bytes:,} bytes, {report.pages:,} pages, "
        f"integrity ok, schema at {', '.join(report.revisions)}"
    )


@main.command("vapid-keys")
def vapid_keys() -> None:
    """Print a new VAPID key pair (base64url) for AFTERCARE_VAPID_PRIVATE_KEY. Changing the key
    orphans every existing browser subscription: set it once."""
    from aftercare.push.vapid import generate_keys

    keys = generate_keys()
    click.echo(f"AFTERCARE_VAPID_PRIVATE_KEY={keys.private_raw_b64()}")
    click.echo(f"public key (applicationServerKey): {keys.public_key_b64}")


@main.command("secrets")
def secrets_command() -> None:
    """Print the JWT secret and VAPID key of this data directory (AFTERCARE_DATA_DIR; made there on
    first use) as environment lines. On PostgreSQL set both on every server and worker: run this
    with the data directory the service used until now to keep its sign-ins, enrollment codes and
    push subscriptions, or with an empty one for new secrets."""
    from aftercare.push.vapid import load_or_create

    settings = _settings().with_secrets()
    keys = load_or_create(settings.ensure_data_dir(), settings.vapid_private_key)
    click.echo(f"AFTERCARE_JWT_SECRET={settings.jwt_secret}")
    click.echo(f"AFTERCARE_VAPID_PRIVATE_KEY={keys.private_raw_b64()}")
    click.echo(f"# VAPID public key (applicationServerKey): {keys.public_key_b64}", err=True)


@main.command()
@click.option("--check", is_flag=True, help="fail if openapi/openapi.json differs from the code")
@click.option("--out", type=click.Path(path_type=Path), default=REPO_ROOT / "openapi" / "openapi.json")
def openapi(check: bool, out: Path) -> None:
    """Write the OpenAPI document (or check it is current)."""
    from aftercare.app import create_app
    from aftercare.openapi import write_or_check

    # The document needs an app, not a database: a throwaway SQLite file that is never opened.
    scratch = Path(tempfile.gettempdir()) / "aftercare-openapi"
    settings = _settings(data_dir=scratch, database_url=f"sqlite+aiosqlite:///{scratch / 'unused.db'}")
    ok = write_or_check(create_app(settings), out, check=check)
    if check and not ok:
        raise click.ClickException(f"{out} is out of date: run `aftercare openapi` and commit it")
    click.echo(f"{out} is current" if check else f"wrote {out}")


if __name__ == "__main__":
    main()
