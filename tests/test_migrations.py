"""After ``migrate`` the database has exactly the models' schema, on both engines, CHECK constraints
included; migrating again changes nothing; the value checks (0008) go down and up keeping every row;
response targets (0010) fill in every existing alert as the code before them saw it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, MetaData, Table, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from aftercare.config import Settings
from aftercare.db.engine import make_engine
from aftercare.db.migrate import current_revisions, ensure_current, head_revisions, migrate, run_alembic
from aftercare.migrations.models import metadata
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, SilenceRule
from tests.conftest import BACKENDS, POSTGRES_URL, T0


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return list(compare_metadata(context, metadata))


def _snapshot(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
            sorted(str(fk["name"]) for fk in inspector.get_foreign_keys(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == [], "\n".join(map(str, differences))


async def test_migrate_twice_is_a_no_op(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        before = await connection.run_sync(_snapshot)
    await migrate(engine)
    async with engine.connect() as connection:
        after = await connection.run_sync(_snapshot)
    assert after == before
    assert await current_revisions(engine) == head_revisions()
    await ensure_current(engine)
    assert set(before) >= {
        "users",
        "graduates",
        "refresh_tokens",
        "enrollment_codes",
        "audit_events",
        "alembic_version",
    }


# One valid row for each table with a value check (and the parents they need), in insert order;
# the second item names the column that finds the row again.
GRADUATE, USER, COUNSELOR, ALERT, NOTIFICATION = (uuid.uuid4() for _ in range(5))
ROWS: list[tuple[str, str, dict[str, Any]]] = [
    *(
        (
            "users",
            "id",
            {
                "id": user_id,
                "email": f"{role}-{user_id.hex[:8]}@example.org",
                "password_hash": "x",
                "role": role,
                "display_name": role,
                "created_at": T0,
            },
        )
        for user_id, role in ((USER, "graduate"), (COUNSELOR, "counselor"))
    ),
    (
        "graduates",
        "id",
        {
            "id": GRADUATE,
            "user_id": USER,
            "counselor_id": COUNSELOR,
            "display_name": "Grad",
            "timezone": "America/Chicago",
            "status": "active",
            "created_at": T0,
            "updated_at": T0,
        },
    ),
    (
        "plan_versions",
        "graduate_id",
        {
            "graduate_id": GRADUATE,
            "version": 1,
            "body": {},
            "created_at": T0,
            "author_role": "counselor",
            "changed_sections": [],
        },
    ),
    (
        "alerts",
        "id",
        {
            "id": ALERT,
            "graduate_id": GRADUATE,
            "rule": "lapse",
            "severity": "critical",
            "status": "open",
            "reasons": [],
            "evidence": {},
            "opened_at": T0,
            "opened_on": T0.date(),
            "last_seen_at": T0,
            "response_started_at": T0,
            "respond_by": T0 + timedelta(minutes=15),
        },
    ),
    (
        "alert_events",
        "alert_id",
        {
            "alert_id": ALERT,
            "graduate_id": GRADUATE,
            "kind": "opened",
            "severity": "critical",
            "escalation_level": 0,
            "at": T0,
        },
    ),
    (
        "schedules",
        "graduate_id",
        {
            "graduate_id": GRADUATE,
            "stream": "checkin_prompt",
            "kind": "checkin_prompt",
            "next_due_at": T0,
            "planned_at": T0,
            "occurrence_key": "checkin_prompt:2026-11-24",
            "local_date": T0.date(),
            "title": "Check in",
            "deadline": T0,
            "status": "planned",
            "updated_at": T0,
        },
    ),
    (
        "notifications",
        "id",
        {
            "id": NOTIFICATION,
            "user_id": USER,
            "kind": "alert",
            "title": "t",
            "body": "b",
            "urgency": "high",
            "expires_at": T0,
            "created_at": T0,
            "status": "pending",
        },
    ),
    (
        "deliveries",
        "notification_id",
        {"notification_id": NOTIFICATION, "status": "pending", "next_attempt_at": T0},
    ),
    (
        "audit_events",
        "graduate_id",
        {"at": T0, "actor_role": "system", "action": "read", "resource": "plan", "graduate_id": GRADUATE},
    ),
]
EVERY_ROW_ONCE = {table: 1 for table, _, _ in ROWS}
# Tables made after 0008, which the value checks' down-and-up test never has.
LATER_ROWS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "outreach",
        "graduate_id",
        {
            "id": uuid.uuid4(),
            "graduate_id": GRADUATE,
            "alert_id": ALERT,
            "client_id": uuid.uuid4(),
            "method": "call",
            "outcome": "reached",
            "occurred_at": T0,
            "recorded_at": T0,
            "recorded_by": COUNSELOR,
            "acknowledged_alert": True,
            "fingerprint": "x",
        },
    ),
    (
        "doses",
        "graduate_id",
        {
            "id": uuid.uuid4(),
            "graduate_id": GRADUATE,
            "client_id": uuid.uuid4(),
            "medication_id": "med-1",
            "scheduled_for": T0,
            "local_date": T0.date(),
            "status": "taken",
            "at": T0,
            "received_at": T0,
            "fingerprint": "x",
        },
    ),
    (
        "deletion_requests",
        "graduate_id",
        {
            "id": uuid.uuid4(),
            "graduate_id": GRADUATE,
            "status": "completed",
            "requested_at": T0,
            "requested_by_graduate": True,
            "erased_at": T0,
            "erased_by": COUNSELOR,
            "erasure_reason": "graduate_request",
            "kept_clinical_answers": False,
        },
    ),
]
VALUE_CHECKS = sorted(
    (table.name, constraint.name)
    for table in metadata.tables.values()
    for constraint in table.constraints
    if isinstance(constraint, CheckConstraint)
)


def _insert_rows(connection: Connection, rows: list[tuple[str, str, dict[str, Any]]] = ROWS) -> None:
    """``rows``, with only the columns the schema has at its revision (below head, some are yet to come)."""
    for table, _, values in rows:
        migrated = _as_migrated(connection, table)
        connection.execute(migrated.insert().values({k: v for k, v in values.items() if k in migrated.c}))


def _as_migrated(connection: Connection, name: str) -> Table:
    """The model's table with only the columns the database has now (with their defaults), so rows
    go in at a revision below head too: a column added later is not written before it exists."""
    present = {column["name"] for column in inspect(connection).get_columns(name)}
    table = metadata.tables[name]
    return Table(name, MetaData(), *(column._copy() for column in table.columns if column.name in present))


def _row_counts(connection: Connection) -> dict[str, int]:
    return {
        table: connection.execute(
            select(func.count()).where(metadata.tables[table].c[key] == values[key])
        ).scalar_one()
        for table, key, values in ROWS
    }


def _checks(connection: Connection) -> dict[str, dict[str, set[str]]]:
    """Each table's CHECK constraints by name, with the quoted values in their SQL: PostgreSQL gives
    back its own rendering (``ANY (ARRAY['open'::character varying, ...])``), SQLite the original."""
    inspector = inspect(connection)
    return {
        table: {str(c["name"]): set(re.findall(r"'([^']*)'", c["sqltext"])) for c in checks}
        for table in inspector.get_table_names()
        if (checks := inspector.get_check_constraints(table))
    }


def _model_checks() -> dict[str, dict[str, set[str]]]:
    checks: dict[str, dict[str, set[str]]] = {}
    for table, name in VALUE_CHECKS:
        (constraint,) = (c for c in metadata.tables[table].constraints if c.name == name)
        assert isinstance(constraint, CheckConstraint)
        sql = str(constraint.sqltext.compile(compile_kwargs={"literal_binds": True}))
        checks.setdefault(table, {})[str(name)] = set(re.findall(r"'([^']*)'", sql))
    return checks


def _upgrade_to_value_checks(config: Config) -> None:
    # As far as 0008 only: later revisions add tables and values of their own (tested on their own).
    command.upgrade(config, "0008")


def _checks_at_0008() -> dict[str, dict[str, set[str]]]:
    checks = _model_checks()
    for table, _, _ in LATER_ROWS:
        del checks[table]
    checks["alert_events"]["ck_alert_events_kind"] -= {"refreshed"}  # added by 0009
    # Added by 0014.
    checks["alert_events"]["ck_alert_events_kind"] -= {"repeated", "notified", "skipped"}
    for column in ("target", "channel", "reason"):
        del checks["alert_events"][f"ck_alert_events_{column}"]
    del checks["deliveries"]["ck_deliveries_channel"]
    # Added by 0015.
    for column in ("risk_level", "last_assessed_level"):
        del checks["graduates"][f"ck_graduates_{column}"]
    del checks["graduates"]["ck_graduates_locale"]  # added by 0019
    # Added by 0020.
    checks["notifications"]["ck_notifications_kind"] -= {"deletion_request"}
    return checks


async def test_migrated_value_checks_match_the_models(engine: AsyncEngine) -> None:
    # compare_metadata (above) does not look at CHECK constraints.
    async with engine.connect() as connection:
        assert await connection.run_sync(_checks) == _model_checks()


@pytest.mark.parametrize(("table", "check"), VALUE_CHECKS)
async def test_the_database_refuses_a_value_outside_the_literal(
    engine: AsyncEngine, table: str, check: str
) -> None:
    column_name = check.removeprefix(f"ck_{table}_")
    key, values = next((key, values) for name, key, values in ROWS + LATER_ROWS if name == table)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.run_sync(_insert_rows, ROWS + LATER_ROWS)
            rows = metadata.tables[table]
            # Both engines name the constraint in the error.
            with pytest.raises(IntegrityError, match=check):
                await connection.execute(
                    rows.update().where(rows.c[key] == values[key]).values({column_name: "not-a-value"})
                )
        finally:
            await transaction.rollback()


@pytest.fixture(params=BACKENDS)
async def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A database of its own, since this test takes the schema below head and back."""
    settings = Settings(data_dir=tmp_path)
    if request.param == "sqlite":
        engine = make_engine(settings, url=f"sqlite+aiosqlite:///{tmp_path / 'down-and-up.db'}")
        yield engine
        await engine.dispose()
        return
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(settings, url=POSTGRES_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        settings, url=POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}}
    )
    yield engine
    await engine.dispose()
    async with admin.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await admin.dispose()


async def test_value_checks_go_down_and_up_and_keep_every_row(empty_engine: AsyncEngine) -> None:
    """0008 recreates tables on SQLite; with foreign keys on, dropping ``users`` or ``graduates``
    would have deleted (ON DELETE CASCADE) every row below them."""

    def downgrade_value_checks(config: Config) -> None:
        # Down to one of the heads 0008 joined removes what descends from it, 0008 alone (a relative
        # "-1" from a merge point is ambiguous to Alembic).
        command.downgrade(config, "0007")

    await run_alembic(empty_engine, _upgrade_to_value_checks)
    async with empty_engine.connect() as connection:
        at_head = await connection.run_sync(_snapshot)
    await run_alembic(empty_engine, downgrade_value_checks)
    assert await current_revisions(empty_engine) == {"0002", "0004", "0005", "0007"}
    async with empty_engine.begin() as connection:
        assert await connection.run_sync(_checks) == {}
        assert await connection.run_sync(_snapshot) == at_head
        await connection.run_sync(_insert_rows)

    await run_alembic(empty_engine, _upgrade_to_value_checks)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_checks) == _checks_at_0008()
        assert await connection.run_sync(_snapshot) == at_head
        assert await connection.run_sync(_row_counts) == EVERY_ROW_ONCE
        graduates = metadata.tables["graduates"]
        assert await connection.scalar(select(graduates.c.user_id).where(graduates.c.id == GRADUATE)) == USER

    await run_alembic(empty_engine, downgrade_value_checks)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_checks) == {}
        assert await connection.run_sync(_row_counts) == EVERY_ROW_ONCE


async def test_outreach_revision_links_help_requests_and_goes_down_and_up(empty_engine: AsyncEngine) -> None:
    """0009 fills in ``help_requests.alert_id`` from each request's stored answer, adds the
    ``refreshed`` event kind, and going down drops the refreshed events and the outreach log only."""
    linked, unlinked = uuid.uuid4(), uuid.uuid4()

    def help_request(request_id: uuid.UUID, alert_id: uuid.UUID | None) -> dict[str, Any]:
        answer = {"id": str(request_id), "alert_id": None if alert_id is None else str(alert_id)}
        return {
            "id": request_id,
            "graduate_id": GRADUATE,
            "client_id": uuid.uuid4(),
            "message": "words",
            "received_at": T0,
            "fingerprint": "x",
            "stored_response": json.dumps(answer).encode(),
        }

    def before_0009(connection: Connection) -> None:
        _insert_rows(connection)
        requests = metadata.tables["help_requests"]
        columns = [c for c in requests.c if c.name != "alert_id"]  # not there yet
        for row in (help_request(linked, ALERT), help_request(unlinked, None)):
            connection.execute(requests.insert().values({c.name: row[c.name] for c in columns}))

    def alert_of(connection: Connection, request_id: uuid.UUID) -> Any:
        requests = metadata.tables["help_requests"]
        return connection.scalar(select(requests.c.alert_id).where(requests.c.id == request_id))

    def event_kinds(connection: Connection) -> list[str]:
        events = metadata.tables["alert_events"]
        return sorted(connection.scalars(select(events.c.kind).where(events.c.alert_id == ALERT)))

    await run_alembic(empty_engine, _upgrade_to_value_checks)
    async with empty_engine.begin() as connection:
        await connection.run_sync(before_0009)
    await migrate(empty_engine)
    async with empty_engine.begin() as connection:
        assert await connection.run_sync(alert_of, linked) == ALERT
        assert await connection.run_sync(alert_of, unlinked) is None
        assert await connection.run_sync(_checks) == _model_checks()
        await connection.run_sync(_insert_rows, LATER_ROWS)
        events = metadata.tables["alert_events"]
        await connection.execute(
            events.insert().values(
                alert_id=ALERT,
                graduate_id=GRADUATE,
                kind="refreshed",
                severity="critical",
                escalation_level=0,
                at=T0,
                checkin_id=uuid.uuid4(),
            )
        )
        assert await connection.run_sync(event_kinds) == ["opened", "refreshed"]

    await run_alembic(empty_engine, lambda config: command.downgrade(config, "0008"))
    async with empty_engine.connect() as connection:
        assert "outreach" not in await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert await connection.run_sync(_checks) == _checks_at_0008()
        assert await connection.run_sync(event_kinds) == ["opened"]
        assert await connection.run_sync(_row_counts) == EVERY_ROW_ONCE

    await migrate(empty_engine)
    async with empty_engine.connect() as connection:
        assert await connection.run_sync(_checks) == _model_checks()
        assert await connection.run_sync(alert_of, linked) == ALERT


async def test_response_targets_fill_in_every_existing_alert(empty_engine: AsyncEngine) -> None:
    """0010: an alert from before it gets the response clock and target the code before it used:
    the clock from its latest opened/raised/reopened event, the target from the stored rules' old
    escalation minutes (an open level-0 alert: exactly its escalate_at)."""
    await run_alembic(empty_engine, lambda config: command.upgrade(config, "0008"))
    tables = metadata.tables
    alerts = {name: uuid.uuid4() for name in ("open", "raised", "resolved", "no_events")}

    def alert(name: str, rule: str, severity: str, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": alerts[name],
            "graduate_id": GRADUATE,
            "rule": rule,
            "severity": severity,
            "status": status,
            "reasons": [],
            "evidence": {},
            "opened_at": T0,
            "opened_on": T0.date(),
            "last_seen_at": T0,
            "escalation_level": 0,
            "escalate_at": None,
            "acknowledged_at": None,
            **extra,
        }

    def event(name: str, kind: str, severity: str, at: Any) -> dict[str, Any]:
        return {
            "alert_id": alerts[name],
            "graduate_id": GRADUATE,
            "kind": kind,
            "severity": severity,
            "escalation_level": 0,
            "at": at,
        }

    def insert_history(connection: Connection) -> None:
        _insert_rows(connection, ROWS[:3])  # the users and the graduate
        connection.execute(
            tables["program_rules"]
            .insert()
            .values(
                id=1,
                version=3,
                updated_at=T0,
                body={
                    "escalation": {
                        "critical_minutes": 20,
                        "high_minutes": 240,
                        "warning_minutes": 1440,
                        "max_level": 2,
                    }
                },
            )
        )
        connection.execute(
            tables["alerts"].insert(),
            [
                alert("open", "safety", "critical", "open", escalate_at=T0 + timedelta(minutes=20)),
                alert("raised", "lapse", "high", "acknowledged", acknowledged_at=T0 + timedelta(hours=2)),
                alert("resolved", "silence", "warning", "resolved", escalation_level=2),
                alert("no_events", "craving_rising", "warning", "open", escalation_level=1),
            ],
        )
        connection.execute(
            tables["alert_events"].insert(),
            [
                event("open", "opened", "critical", T0),
                event("raised", "opened", "warning", T0),
                event("raised", "raised", "high", T0 + timedelta(hours=1)),
                event("raised", "acknowledged", "high", T0 + timedelta(hours=2)),
                event("resolved", "opened", "warning", T0),
                event("resolved", "escalated", "warning", T0 + timedelta(days=1)),
            ],
        )

    async with empty_engine.begin() as connection:
        await connection.run_sync(insert_history)
    await migrate(empty_engine)
    async with empty_engine.connect() as connection:
        rows = {
            row.id: (row.response_started_at, row.respond_by)
            for row in await connection.execute(
                select(
                    tables["alerts"].c.id,
                    tables["alerts"].c.response_started_at,
                    tables["alerts"].c.respond_by,
                )
            )
        }
    assert rows == {
        alerts["open"]: (T0, T0 + timedelta(minutes=20)),
        alerts["raised"]: (T0 + timedelta(hours=1), T0 + timedelta(hours=5)),
        alerts["resolved"]: (T0, T0 + timedelta(days=1)),
        alerts["no_events"]: (T0, T0 + timedelta(days=1)),
    }


async def test_0015_backfills_the_caseload(empty_engine: AsyncEngine) -> None:
    """Rows written before 0015 come out with their folded name, admission day and silence start, the
    old risk level kept as the latest assessment's, and the risk of their worst active alert."""
    await run_alembic(empty_engine, lambda config: command.upgrade(config, "0008"))
    async with empty_engine.begin() as connection:
        await connection.run_sync(_insert_rows)  # the graduate (enrolled at T0, Chicago) has a critical alert
        rows = await connection.run_sync(lambda sync: _as_migrated(sync, "graduates"))
        await connection.execute(
            rows.update()
            .where(rows.c.id == GRADUATE)
            .values(
                display_name="  Élodie   Ng ", last_checkin_date=date(2026, 11, 26), risk_level="moderate"
            )
        )

    await migrate(empty_engine)

    graduates = metadata.tables["graduates"]
    async with empty_engine.connect() as connection:
        row = (await connection.execute(select(graduates).where(graduates.c.id == GRADUATE))).one()
    assert row.name_key == "elodie ng"
    assert (row.admitted_on, row.silent_since) == (date(2026, 11, 24), date(2026, 11, 27))
    assert (row.last_assessed_level, row.risk_level, row.risk_order) == ("moderate", "critical", 0)


async def test_0019_gives_everyone_enrolled_english_and_goes_down_and_up(empty_engine: AsyncEngine) -> None:
    """Everyone enrolled before 0019 was sent English, so their locale is ``en``; going down drops
    the column and keeps every row (SQLite adds and drops it in place: ``graduates`` has a generated
    column, which a batch-mode copy could not fill)."""
    graduates = metadata.tables["graduates"]

    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("graduates")}

    await run_alembic(empty_engine, lambda config: command.upgrade(config, "0016"))
    async with empty_engine.begin() as connection:
        await connection.run_sync(_insert_rows)
    await migrate(empty_engine)
    async with empty_engine.connect() as connection:
        assert await connection.scalar(select(graduates.c.locale).where(graduates.c.id == GRADUATE)) == "en"
        assert await connection.run_sync(_checks) == _model_checks()

    await run_alembic(empty_engine, lambda config: command.downgrade(config, "0016"))
    async with empty_engine.connect() as connection:
        assert "locale" not in await connection.run_sync(columns)
        assert await connection.run_sync(_row_counts) == EVERY_ROW_ONCE

    await migrate(empty_engine)
    async with empty_engine.connect() as connection:
        assert "locale" in await connection.run_sync(columns)


async def test_0021_keeps_a_chosen_silence_timing_and_goes_down_and_up(empty_engine: AsyncEngine) -> None:
    """Rules stored before ``usual_extra_days`` existed: a program that chose a silence warning at 1
    day keeps it (``usual_extra_days: 0``, so nobody waits); one on the default timing takes the
    new default; going down takes the new fields out, which the code before refuses."""
    rules = metadata.tables["program_rules"]
    chosen = {"enabled": True, "warning_days": 1, "high_days": 3}
    await run_alembic(empty_engine, lambda config: command.upgrade(config, "0020"))

    async def stored_body() -> dict[str, Any]:
        async with empty_engine.connect() as connection:
            return await connection.scalar(select(rules.c.body))

    async def stored_silence() -> dict[str, Any]:
        return (await stored_body())["rules"]["silence"]

    async def store(silence: dict[str, Any]) -> None:
        body = msgspec.to_builtins(DEFAULT_RULES)
        body["rules"]["silence"] = silence
        async with empty_engine.begin() as connection:
            await connection.execute(rules.delete())
            await connection.execute(
                rules.insert().values(id=1, version=3, body=body, updated_at=T0, updated_by=None)
            )

    await store(chosen)
    await migrate(empty_engine)
    body = await stored_body()
    assert body["rules"]["silence"] == {**chosen, "usual_extra_days": 0}
    decoded = msgspec.convert(body, ProgramRules).rules.silence
    assert (decoded.warning_days, decoded.usual_extra_days) == (1, 0)

    await run_alembic(empty_engine, lambda config: command.downgrade(config, "0020"))
    assert await stored_silence() == chosen

    default_timing = {"enabled": True, "warning_days": 2, "high_days": 4}
    await store(default_timing)
    await migrate(empty_engine)
    assert await stored_silence() == default_timing
    assert msgspec.convert(default_timing, SilenceRule).usual_extra_days == 1
