"""The program's rule configuration: read by every assessment, edited by supervisors."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.errors import PreconditionRequired, StaleVersion
from aftercare.program.models import ProgramRulesRow
from aftercare.rules.config import DEFAULT_RULES, ProgramRules

PROGRAM_ROW_ID = 1


async def current_rules(session: AsyncSession) -> ProgramRules:
    """The stored rules, or the defaults (version 0) before a supervisor ever saved any.

    Runs inside the caller's transaction, so an assessment sees one consistent config."""
    row = (
        await session.execute(
            select(ProgramRulesRow.version, ProgramRulesRow.body).where(ProgramRulesRow.id == PROGRAM_ROW_ID)
        )
    ).one_or_none()
    if row is None:
        return DEFAULT_RULES
    rules = msgspec.convert(row.body, ProgramRules)
    return msgspec.structs.replace(rules, version=row.version)


async def get_rules(session: AsyncSession) -> ProgramRules:
    async with session.begin():
        return await current_rules(session)


async def put_rules(
    session: AsyncSession, data: ProgramRules, *, if_match: str | None, actor: Principal, now: datetime
) -> ProgramRules:
    """Replace the rules; ``If-Match`` with the current version is required (a stale one: 412).
    Audited: which supervisor changed the program's rules, to which version."""
    actor_id = actor.user_id
    if if_match is None:
        raise PreconditionRequired("send If-Match with the version you read (GET /v1/program/rules)")
    async with session.begin():
        current = await current_rules(session)
        expected = current.version
        if if_match.strip() != "*" and if_match.strip().strip('"') != str(expected):
            raise StaleVersion(f"the rules are at version {expected}; reload and apply your change again")
        stored = msgspec.structs.replace(data, version=expected + 1)
        body = msgspec.to_builtins(msgspec.structs.replace(stored, version=0))
        if expected == 0:
            await session.execute(
                insert(ProgramRulesRow).values(
                    id=PROGRAM_ROW_ID, version=1, body=body, updated_at=now, updated_by=actor_id
                )
            )
        else:
            changed = await session.execute(
                update(ProgramRulesRow)
                .where(ProgramRulesRow.id == PROGRAM_ROW_ID, ProgramRulesRow.version == expected)
                .values(version=expected + 1, body=body, updated_at=now, updated_by=actor_id)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise StaleVersion("the rules changed meanwhile; reload and apply your change again")
        await audit.record(
            session,
            actor=actor,
            action="update",
            resource="program_rules",
            graduate_id=None,
            resource_id=str(stored.version),
            now=now,
        )
    return stored
