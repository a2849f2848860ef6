"""The program's rule configuration (read by every assessment) and its on-call rota (read by every
routing decision); both edited by supervisors, versioned, one row each."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.errors import FieldError, NotFound, PreconditionRequired, StaleVersion, ValidationFailed
from aftercare.program import schemas
from aftercare.program.models import OnCallRotaRow, ProgramRulesRow
from aftercare.rules.config import DEFAULT_RULES, ProgramRules
from aftercare.rules.rota import OnCallRota, on_call_at

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
    if if_match is None:
        raise PreconditionRequired("send If-Match with the version you read (GET /v1/program/rules)")
    async with session.begin():
        await _check_staff(
            session,
            (
                (f"escalation.levels[{k}].staff_ids[{i}]", staff_id)
                for k, level in enumerate(data.escalation.levels)
                for i, staff_id in enumerate(level.staff_ids)
            ),
        )
        current = await current_rules(session)
        expected = current.version
        _check_version(if_match, expected, path="/v1/program/rules", noun="the rules are")
        stored = msgspec.structs.replace(data, version=expected + 1)
        await _store_version(
            session,
            ProgramRulesRow,
            expected=expected,
            body=msgspec.to_builtins(msgspec.structs.replace(stored, version=0)),
            actor=actor,
            resource="program_rules",
            what="the rules",
            now=now,
        )
    return stored


async def _check_staff(session: AsyncSession, named: Iterable[tuple[str, uuid.UUID]]) -> None:
    """422 naming each field whose id is not an active staff member's."""
    named = list(named)
    if not named:
        return
    active = set(
        await session.scalars(
            select(User.id).where(
                User.id.in_({staff_id for _, staff_id in named}),
                User.role.in_(("counselor", "supervisor")),
                User.active.is_(True),
            )
        )
    )
    errors = [
        FieldError(field, "not an active staff member") for field, staff_id in named if staff_id not in active
    ]
    if errors:
        raise ValidationFailed(errors)


def _check_version(if_match: str | None, expected: int, *, path: str, noun: str) -> None:
    """``If-Match`` must name the version read (or be ``*``): 428 without it, 412 when it is stale."""
    if if_match is None:
        raise PreconditionRequired(f"send If-Match with the version you read (GET {path})")
    if if_match.strip() != "*" and if_match.strip().strip('"') != str(expected):
        raise StaleVersion(f"{noun} at version {expected}; reload and apply your change again")


async def _store_version(
    session: AsyncSession,
    row: type[ProgramRulesRow] | type[OnCallRotaRow],
    *,
    expected: int,
    body: dict[str, Any],
    actor: Principal,
    resource: str,
    what: str,
    now: datetime,
) -> None:
    """Write version ``expected + 1`` of a one-row program document (the rules, the rota): an insert
    at version 0, else a compare-and-set on ``expected``, so two writers holding the same
    ``If-Match`` never both win (412); and the audit row naming the version."""
    values = {"version": expected + 1, "body": body, "updated_at": now, "updated_by": actor.user_id}
    if expected == 0:
        await session.execute(insert(row).values(id=PROGRAM_ROW_ID, **values))
    else:
        changed = await session.execute(
            update(row).where(row.id == PROGRAM_ROW_ID, row.version == expected).values(**values)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleVersion(
                f"{resource.replace('_', ' ')} changed meanwhile; reload and apply your change again"
            )
    await audit.record(
        session,
        actor=actor,
        action="update",
        resource=resource,
        graduate_id=None,
        resource_id=str(expected + 1),
        now=now,
    )


_rota_decoder = msgspec.json.Decoder(OnCallRota)


async def current_rota(session: AsyncSession) -> OnCallRota | None:
    """The stored rota, or None: in the caller's transaction (routing reads it with the alert)."""
    row = (
        await session.execute(
            select(OnCallRotaRow.version, OnCallRotaRow.body).where(OnCallRotaRow.id == PROGRAM_ROW_ID)
        )
    ).one_or_none()
    if row is None:
        return None
    return msgspec.structs.replace(msgspec.convert(row.body, OnCallRota), version=row.version)


async def get_rota(session: AsyncSession) -> OnCallRota:
    async with session.begin():
        rota = await current_rota(session)
    if rota is None:
        raise NotFound("the program has no on-call rota")
    return rota


async def put_rota(
    session: AsyncSession, data: OnCallRota, *, if_match: str | None, actor: Principal, now: datetime
) -> OnCallRota:
    """Replace the rota (create it: ``If-Match: "0"`` or ``*``); every id an active staff member.
    Audited like the rules: who is on call decides who is told of an alert."""
    async with session.begin():
        await _check_staff(
            session,
            [
                *((f"participants[{i}]", staff_id) for i, staff_id in enumerate(data.participants)),
                *((f"overrides[{i}].staff_id", o.staff_id) for i, o in enumerate(data.overrides)),
            ],
        )
        current = await current_rota(session)
        expected = current.version if current is not None else 0
        _check_version(if_match, expected, path="/v1/program/on-call-rota", noun="the rota is")
        stored = msgspec.structs.replace(data, version=expected + 1)
        await _store_version(
            session,
            OnCallRotaRow,
            expected=expected,
            body=msgspec.to_builtins(msgspec.structs.replace(stored, version=0)),
            actor=actor,
            resource="on_call_rota",
            what="the rota",
            now=now,
        )
    return stored


async def delete_rota(
    session: AsyncSession, *, if_match: str | None, actor: Principal, now: datetime
) -> None:
    """No rota: nobody is on call, and ``on_call`` levels are skipped."""
    async with session.begin():
        current = await current_rota(session)
        if current is None:
            raise NotFound("the program has no on-call rota")
        _check_version(if_match, current.version, path="/v1/program/on-call-rota", noun="the rota is")
        await session.execute(
            delete(OnCallRotaRow).where(
                OnCallRotaRow.id == PROGRAM_ROW_ID, OnCallRotaRow.version == current.version
            )
        )
        await audit.record(
            session,
            actor=actor,
            action="delete",
            resource="on_call_rota",
            graduate_id=None,
            resource_id=str(current.version),
            now=now,
        )


async def who_is_on_call(session: AsyncSession, *, at: datetime) -> schemas.OnCallAnswer:
    """``GET /v1/program/on-call?at=``."""
    async with session.begin():
        rota = await current_rota(session)
        rules = await current_rules(session)
    answer = on_call_at(rota, rules.program, at)
    return schemas.OnCallAnswer(
        at=at.astimezone(UTC),
        staff_id=answer.staff_id,
        source=answer.source,
        reason=answer.reason,
        start=answer.start,
        end=answer.end,
    )
