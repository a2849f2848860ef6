"""Reading and writing a graduate's versioned aftercare plan.

A write reads the current row in a read-only transaction, checks the precondition (CONTRACT,
"Optimistic concurrency"), applies the graduate-sections rule and validates; then, in one write
transaction, compare-and-sets the new version with ``UPDATE plans ... WHERE version = :expected`` and
goes on only if exactly one row changed (two writers holding the same ``If-Match`` can never both win,
on either engine, however their reads interleave), appends the whole version to ``plan_versions``,
audits it, and re-plans the graduate's reminders. Any error leaves the stored plan as it was, because
nothing is written before every check has passed and the write transaction rolls back as a whole.
Keeping the checks out of the write transaction keeps SQLite's single write lock short.

Stored bodies are read back as JSON text and decoded straight into ``PlanBody`` with msgspec (no
intermediate dicts): ``GET .../plan`` is the hot read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import Text, bindparam, cast, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.db.base import table_of
from aftercare.db.engine import bound_engine, read_statement
from aftercare.errors import (
    Forbidden,
    InvalidCursor,
    NotFound,
    PreconditionRequired,
    StaleVersion,
    ValidationFailed,
)
from aftercare.i18n import _
from aftercare.pagination import Keyset
from aftercare.plans import models, schemas, templates
from aftercare.plans.validation import (
    PlanIds,
    changed_sections,
    plan_ids,
    staff_sections_touched,
    validate_plan,
)
from aftercare.program.service import current_rules
from aftercare.scheduling.service import replan_graduate

# Reminders come from these sections only; a change elsewhere leaves the schedule as it was.
SCHEDULED_SECTIONS = frozenset({"therapy", "support_groups", "medications"})

_plans = table_of(models.Plan)
_versions = table_of(models.PlanVersion)
_to_builtins = msgspec.to_builtins
_decode_known_ids = msgspec.convert


# The hot statements, built once (construction and cache key are per-call costs otherwise).
_current_plan_query = select(
    _plans.c.version, cast(_plans.c.body, Text), _plans.c.updated_at, _plans.c.updated_by
).where(_plans.c.graduate_id == bindparam("graduate_id"))
_current_for_write_query = select(_plans.c.version, cast(_plans.c.body, Text), _plans.c.known_ids).where(
    _plans.c.graduate_id == bindparam("graduate_id")
)
_insert_plan = insert(_plans)
_insert_version = insert(_versions)
# The compare-and-set: the SET columns are the keys of the parameters it is executed with.
_update_plan_at = update(_plans).where(
    _plans.c.graduate_id == bindparam("at_graduate_id"), _plans.c.version == bindparam("at_version")
)


class Precondition(msgspec.Struct, frozen=True, kw_only=True):
    """The conditional headers of a write, as sent (``None`` when absent)."""

    if_match: str | None = None
    if_none_match: str | None = None


class PlanWritten(msgspec.Struct, frozen=True, kw_only=True):
    plan: schemas.Plan
    created: bool


class _Current(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    body: schemas.PlanBody
    known_ids: PlanIds


def etag(version: int) -> str:
    return f'"{version}"'


def _etag_matches(header: str, version: int) -> bool:
    """Strong comparison (RFC 9110 13.1.1): ``*`` or a listed ``"<version>"``; a weak tag never matches."""
    tags = {tag.strip() for tag in header.split(",")}
    return "*" in tags or etag(version) in tags


def _check_precondition(current: _Current | None, precondition: Precondition) -> None:
    if current is None:
        if precondition.if_match is not None:
            raise StaleVersion(_("there is no plan yet: create it without If-Match"))
        return
    if precondition.if_none_match is not None and _etag_matches(precondition.if_none_match, current.version):
        raise StaleVersion(
            _("a plan exists (version %(version)d)", version=current.version), current_version=current.version
        )
    if precondition.if_match is None:
        raise PreconditionRequired(
            _(
                'replacing the plan requires If-Match: "%(version)d" (the ETag you last read)',
                version=current.version,
            )
        )
    if not _etag_matches(precondition.if_match, current.version):
        raise StaleVersion(
            _(
                "the plan changed: it is at version %(version)d; read it again and reapply your edit",
                version=current.version,
            ),
            current_version=current.version,
        )


def _check_author(author: Principal | None, old: schemas.PlanBody | None, new: schemas.PlanBody) -> None:
    """CONTRACT: a graduate edits only the self-managed sections; staff and the system edit all."""
    if author is None or author.is_staff:
        return
    touched = staff_sections_touched(old, new)
    if touched:
        raise Forbidden(
            _(
                "a graduate may not change these sections of their plan: %(sections)s",
                sections=", ".join(touched),
            ),
            sections=touched,
        )


async def _load_current(session: AsyncSession, graduate_id: uuid.UUID) -> _Current | None:
    rows = await read_statement(bound_engine(session), _current_for_write_query, {"graduate_id": graduate_id})
    if not rows:
        return None
    row = rows[0]
    return _Current(
        version=row[0],
        body=schemas.plan_body_decoder.decode(row[1]),
        known_ids=_decode_known_ids(row[2], PlanIds),
    )


def _merged_ids(known: PlanIds | None, body: schemas.PlanBody) -> dict[str, list[str]]:
    new = plan_ids(body)
    if known is not None:
        new = PlanIds(
            trigger_ids=known.trigger_ids | new.trigger_ids,
            coping_skill_ids=known.coping_skill_ids | new.coping_skill_ids,
        )
    return {"trigger_ids": sorted(new.trigger_ids), "coping_skill_ids": sorted(new.coping_skill_ids)}


def _plan(
    graduate_id: uuid.UUID, body: schemas.PlanBody, *, version: int, at: datetime, by: uuid.UUID | None
) -> schemas.Plan:
    sections = {name: getattr(body, name) for name in schemas.SECTION_NAMES}
    return schemas.Plan(graduate_id=graduate_id, version=version, updated_at=at, updated_by=by, **sections)


async def _write(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    body: schemas.PlanBody,
    *,
    author: Principal | None,
    precondition: Precondition,
    now: datetime,
) -> PlanWritten:
    # Checks and validation run on a snapshot (one statement, no transaction), outside the write
    # lock (validating new schedules costs milliseconds); the write then applies only if that
    # snapshot is still the current version (the compare-and-set below), so a concurrent change is a
    # 412, never overwritten.
    current = await _load_current(session, graduate_id)
    _check_precondition(current, precondition)
    old = current.body if current else None
    _check_author(author, old, body)
    validate_plan(body, validated=old)
    changed = changed_sections(old, body)
    version = current.version + 1 if current else 1
    author_id = author.user_id if author else None
    stored = _to_builtins(body)
    values: dict[str, Any] = {
        "version": version,
        "body": stored,
        "updated_at": now,
        "updated_by": author_id,
        "known_ids": _merged_ids(current.known_ids if current else None, body),
    }
    try:
        async with session.begin():
            # Core statements on the transaction's connection: the ORM's execute adds nothing here.
            connection = await session.connection()
            if current is None:
                await connection.execute(_insert_plan, {"graduate_id": graduate_id, **values})
            else:
                result = await connection.execute(
                    _update_plan_at, {"at_graduate_id": graduate_id, "at_version": current.version, **values}
                )
                if result.rowcount != 1:
                    # Another writer committed after our snapshot.
                    raise StaleVersion(
                        _("the plan changed while you saved it; read it again and reapply your edit")
                    )
            await connection.execute(
                _insert_version,
                {
                    "graduate_id": graduate_id,
                    "version": version,
                    "body": stored,
                    "created_at": now,
                    "author_id": author_id,
                    "author_role": author.role if author else "system",
                    "changed_sections": changed,
                },
            )
            await audit.record(
                session,
                actor=author,
                action="create" if current is None else "update",
                resource="plan",
                graduate_id=graduate_id,
                resource_id=str(version),
                now=now,
            )
            if SCHEDULED_SECTIONS.intersection(changed):
                # Inside the plan write's transaction, so the schedule never lags the plan; given
                # the body just written, so scheduling never reads plans back.
                await replan_graduate(
                    session,
                    graduate_id,
                    plan=body,
                    nudge_after_minutes=(await current_rules(session)).nudge_after_minutes,
                    now=now,
                )
    except IntegrityError as exc:
        # Two creates raced (only one primary key per graduate): the loser's precondition failed.
        raise StaleVersion(_("a plan was created meanwhile; read it and reapply your edit")) from exc
    return PlanWritten(
        plan=_plan(graduate_id, body, version=version, at=now, by=author_id), created=current is None
    )


async def put_plan(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    body: schemas.PlanBody,
    *,
    actor: Principal | None,
    precondition: Precondition,
    now: datetime,
) -> PlanWritten:
    """``PUT .../plan``: create (no ``If-Match``) or replace (``If-Match`` of the current version).
    ``actor`` None: the system writes (demo data), with no author and no self-managed-section rule."""
    return await _write(session, graduate_id, body, author=actor, precondition=precondition, now=now)


async def start_plan_from_template(
    session: AsyncSession, graduate_id: uuid.UUID, template_id: str, *, actor: Principal | None, now: datetime
) -> PlanWritten:
    """``POST .../plan``: a first plan copied from a template; 412 if the graduate has a plan."""
    template = templates.get_template(template_id)
    if template is None:
        raise ValidationFailed.one("template_id", f"unknown plan template {template_id!r}")
    return await _write(
        session,
        graduate_id,
        template.plan,
        author=actor,
        precondition=Precondition(if_none_match="*"),
        now=now,
    )


async def get_plan(
    session: AsyncSession, graduate_id: uuid.UUID, *, actor: Principal, now: datetime
) -> schemas.Plan:
    """The hot read: one SELECT outside any transaction (it is its own snapshot), then the staff-read
    audit row, committed with those of concurrent reads, before the plan is returned."""
    rows = await read_statement(bound_engine(session), _current_plan_query, {"graduate_id": graduate_id})
    if not rows:
        raise NotFound(_("this graduate has no aftercare plan yet"))
    row = rows[0]
    await audit.commit_staff_read(session, actor=actor, resource="plan", graduate_id=graduate_id, now=now)
    body = schemas.plan_body_decoder.decode(row[1])
    return _plan(graduate_id, body, version=row[0], at=row[2], by=row[3])


# The history's keys: (version, graduate_id); the id ties a cursor to its plan, and a version fits
# the column's 32 bits.
_CURSORS = Keyset[int](Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)])


async def list_versions(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    *,
    actor: Principal,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.PlanVersionPage:
    """The plan's history, newest first; the cursor carries the last version shown."""
    key = _CURSORS.decode(cursor)
    query = (
        select(
            _versions.c.version, _versions.c.created_at, _versions.c.author_id, _versions.c.changed_sections
        )
        .where(_versions.c.graduate_id == graduate_id)
        .order_by(_versions.c.version.desc())
        .limit(limit + 1)
    )
    if key is not None:
        if key.id != graduate_id:
            raise InvalidCursor()
        query = query.where(_versions.c.version < key.sort_value)
    async with session.begin():
        rows = (await session.execute(query)).all()
        await audit.record_staff_read(
            session, actor=actor, resource="plan_versions", graduate_id=graduate_id, now=now
        )
    page, more = rows[:limit], len(rows) > limit
    return schemas.PlanVersionPage(
        items=[
            schemas.PlanVersionSummary(version=r[0], updated_at=r[1], updated_by=r[2], changed_sections=r[3])
            for r in page
        ],
        next_cursor=_CURSORS.encode(page[-1][0], graduate_id) if more else None,
    )


async def get_version(
    session: AsyncSession, graduate_id: uuid.UUID, version: int, *, actor: Principal, now: datetime
) -> schemas.Plan:
    """One old version, whole, as it was stored."""
    async with session.begin():
        row = (
            await session.execute(
                select(cast(_versions.c.body, Text), _versions.c.created_at, _versions.c.author_id).where(
                    _versions.c.graduate_id == graduate_id, _versions.c.version == version
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound(_("this graduate's plan has no version %(version)d", version=version))
        await audit.record_staff_read(
            session, actor=actor, resource="plan_versions", graduate_id=graduate_id, now=now
        )
    return _plan(graduate_id, schemas.plan_body_decoder.decode(row[0]), version=version, at=row[1], by=row[2])


# Templates page in their documented order (file name, then place in the file). Their key is that
# position and a name-based UUID of their id, so a cursor names the template it ends at: after a
# release that reorders them, an old cursor no longer matches and is refused, not misread.
_TEMPLATE_CURSORS = Keyset[int](Annotated[int, msgspec.Meta(ge=0, le=10_000)])
_TEMPLATE_KEYS = uuid.UUID("0197a3b0-6c1e-7d2a-9f4e-5b8c1d2e3f40")


def _template_key(template: schemas.PlanTemplate) -> uuid.UUID:
    return uuid.uuid5(_TEMPLATE_KEYS, template.id)


def list_templates(*, limit: int, cursor: str | None) -> schemas.PlanTemplatePage:
    every = templates.load_templates()
    key = _TEMPLATE_CURSORS.decode(cursor)
    start = 0
    if key is not None:
        if key.sort_value >= len(every) or _template_key(every[key.sort_value]) != key.id:
            raise InvalidCursor()
        start = key.sort_value + 1
    page = every[start : start + limit]
    more = start + limit < len(every)
    return schemas.PlanTemplatePage(
        items=page,
        next_cursor=_TEMPLATE_CURSORS.encode(start + len(page) - 1, _template_key(page[-1]))
        if more
        else None,
    )
