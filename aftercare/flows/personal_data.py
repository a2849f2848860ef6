"""Every table that holds something of a graduate, in one list: what the export shows of it and what
erasure does to it. ``flows/export.py`` walks ``SECTIONS`` in order, ``flows/erasure.py`` in reverse
(rows that refer to others go before the rows they refer to).

A new table that holds a graduate's data is one more ``Section`` here, nowhere else; the erasure test
(``tests/flows/test_data_rights.py``) walks every table the database has, so a table left out is
found there.

What erasure does, table by table (``ErasePolicy.keep_clinical``: the program's
``program.erasure_keeps_clinical_answers``, default false):

    graduates           kept as a tombstone: name replaced, account unlinked, ``erased_at`` set
    users, sign-ins,    deleted (every account the graduate ever had: a lost phone's re-enrollment
    enrollment codes    leaves the old one behind, found through the audit log)
    plans, versions     deleted: the plan is the graduate's own words
    checkins            deleted; kept: scores only (note, trigger and coping ids, the stored
                        response and its fingerprint go)
    amendments          as checkins (the answers they replaced)
    missed_days         deleted; kept: as they are (a date, no words)
    doses               deleted; kept: as they are, less the request's fingerprint
    timezone_changes    deleted (where the graduate lived, and when)
    help_requests,      deleted: their words, staff's notes about them, and the alerts' story
    alerts and events,
    outreach
    schedules,          deleted (reminder titles name the plan's items)
    notifications,
    push subscriptions
    deletion_requests   the graduate's reason removed; the row becomes the tombstone (erasure.py)
    audit_events        kept: who read or changed which record, by ids only; the request ids the
                        graduate's own app sent are dropped (a client may choose any id)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, RowMapping, Table, delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare.alerts.models import Alert, AlertEvent
from aftercare.audit.models import AuditEvent
from aftercare.auth.models import EnrollmentCode, RefreshToken, User
from aftercare.checkins.models import Checkin, CheckinVersion, HelpRequest, MissedDay
from aftercare.db.base import table_of
from aftercare.db.engine import read_connection
from aftercare.doses.models import Dose
from aftercare.graduates.models import Graduate, TimezoneChange, name_key
from aftercare.outreach.models import Outreach
from aftercare.personal_data.models import DeletionRequest
from aftercare.plans.models import Plan, PlanVersion
from aftercare.push.models import Notification, PushSubscription
from aftercare.scheduling.models import Schedule

PAGE_SIZE = 200
ERASED_NAME = "Erased graduate"


@dataclass(frozen=True)
class Subject:
    """Whose data: the graduate and every account they ever signed in with."""

    graduate_id: uuid.UUID
    user_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class ErasePolicy:
    keep_clinical: bool
    now: datetime


Where = Callable[[Subject], ColumnElement[bool]]
Eraser = Callable[[AsyncSession, Subject, ErasePolicy], Awaitable[None]]


@dataclass(frozen=True)
class Export:
    """What the export shows of a table: ``columns`` of the rows ``where`` picks, read a page at a
    time in ``order`` (unique within the subject's rows, so a keyset never skips or repeats one);
    ``single``: one object (or null) instead of a list; ``shape`` rewrites a row (e.g. an endpoint to
    its origin)."""

    table: Table
    where: Where
    columns: tuple[str, ...]
    order: tuple[str, ...]
    single: bool = False
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    async def pages(self, engine: AsyncEngine, subject: Subject) -> AsyncIterator[list[dict[str, Any]]]:
        """The rows, a page per short read-only transaction: an export of years of check-ins never
        holds one snapshot (or the rows in memory) for its whole download."""
        order = [self.table.c[name] for name in self.order]
        keys = [f"_key{i}" for i in range(len(order))]
        query = (
            select(
                *(self.table.c[name] for name in self.columns),
                *(column.label(key) for column, key in zip(order, keys, strict=True)),
            )
            .where(self.where(subject))
            .order_by(*order)
            .limit(1 if self.single else PAGE_SIZE)
        )
        after: tuple[Any, ...] | None = None
        while True:
            statement = query if after is None else query.where(tuple_(*order) > tuple_(*after))
            async with read_connection(engine) as connection:
                rows = (await connection.execute(statement)).all()
            if not rows:
                return
            yield [self._item(row._mapping) for row in rows]
            if self.single or len(rows) < PAGE_SIZE:
                return
            after = tuple(rows[-1]._mapping[key] for key in keys)

    def _item(self, row: RowMapping) -> dict[str, Any]:
        item = {name: row[name] for name in self.columns}
        return self.shape(item) if self.shape else item


@dataclass(frozen=True)
class Section:
    """One table: its key in the export document (``export`` None: machinery the person never
    sees, such as token hashes, left out of the document) and what erasure does to its rows."""

    name: str
    erase: Eraser
    export: Export | None = field(default=None)


def deleted(table: Table, where: Where) -> Eraser:
    async def erase(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
        await session.execute(delete(table).where(where(subject)))

    return erase


def clinical(table: Table, where: Where, scrub: Mapping[str, Any]) -> Eraser:
    """Clinical answers: deleted, or kept with the ``scrub`` columns overwritten when the program
    keeps them."""

    async def erase(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
        if not policy.keep_clinical:
            await session.execute(delete(table).where(where(subject)))
        elif scrub:
            await session.execute(update(table).where(where(subject)).values(**scrub))

    return erase


# -- the tables -------------------------------------------------------------------------------------

_graduates, _users = table_of(Graduate), table_of(User)
_checkins, _versions = table_of(Checkin), table_of(CheckinVersion)
_subscriptions, _audit = table_of(PushSubscription), table_of(AuditEvent)
_requests = table_of(DeletionRequest)


def _of_graduate(table: Table) -> Where:
    return lambda subject: table.c.graduate_id == subject.graduate_id


def _of_accounts(table: Table) -> Where:
    return lambda subject: table.c.user_id.in_(subject.user_ids)


async def _tombstone(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
    """The graduate row stays (the audit log's rows and a kept check-in's scores refer to it), with
    nothing that names the person, and never reachable again (``auth/access.py``)."""
    values: dict[str, Any] = {
        "display_name": ERASED_NAME,
        "name_key": name_key(ERASED_NAME),
        "user_id": None,
        "status": "discharged",
        "erased_at": policy.now,
        "updated_at": policy.now,
        "risk_level": "low",
        "open_alerts": 0,
    }
    if not policy.keep_clinical:
        values["aggregates"] = None  # the running state made of the deleted answers
    await session.execute(update(_graduates).where(_graduates.c.id == subject.graduate_id).values(**values))


async def _amendments(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
    """An amendment keeps the answers it replaced as a JSON document: kept, its words go too."""
    where = _versions.c.graduate_id == subject.graduate_id
    if not policy.keep_clinical:
        await session.execute(delete(_versions).where(where))
        return
    for version_id, answers in (
        await session.execute(select(_versions.c.id, _versions.c.answers).where(where))
    ).all():
        scrubbed = {**answers, "note": None, "triggers": [], "coping_used": []}
        await session.execute(update(_versions).where(_versions.c.id == version_id).values(answers=scrubbed))


async def _request_ids(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
    await session.execute(
        update(_audit).where(_audit.c.actor_id.in_(subject.user_ids)).values(request_id=None)
    )


async def _request_reasons(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
    await session.execute(
        update(_requests).where(_requests.c.graduate_id == subject.graduate_id).values(reason=None)
    )


def _origin(item: dict[str, Any]) -> dict[str, Any]:
    """A push endpoint's path is a capability (whoever holds it may push to the device): its
    origin only, which says which push service the browser uses."""
    endpoint = urlsplit(item.pop("endpoint"))
    return {**item, "origin": f"{endpoint.scheme}://{endpoint.netloc}"}


_alerts, _outreach, _help = table_of(Alert), table_of(Outreach), table_of(HelpRequest)
_notifications, _missed = table_of(Notification), table_of(MissedDay)
_plans, _plan_versions = table_of(Plan), table_of(PlanVersion)
_doses, _zones = table_of(Dose), table_of(TimezoneChange)

SECTIONS: tuple[Section, ...] = (
    Section(
        "profile",
        _tombstone,
        Export(
            _graduates,
            lambda subject: _graduates.c.id == subject.graduate_id,
            (
                "id",
                "display_name",
                "timezone",
                "checkin_time",
                "quiet_start",
                "quiet_end",
                "status",
                "discharge_date",
                "admitted_on",
                "counselor_id",
                "created_at",
                "updated_at",
                "last_checkin_date",
                "streak_days",
                "risk_level",
            ),
            ("id",),
            single=True,
        ),
    ),
    Section(
        "accounts",
        deleted(_users, lambda subject: _users.c.id.in_(subject.user_ids)),
        Export(
            _users,
            lambda subject: _users.c.id.in_(subject.user_ids),
            ("id", "email", "display_name", "active", "created_at"),
            ("created_at", "id"),
        ),
    ),
    Section("sign_ins", deleted(table_of(RefreshToken), _of_accounts(table_of(RefreshToken)))),
    Section("enrollment_codes", deleted(table_of(EnrollmentCode), _of_graduate(table_of(EnrollmentCode)))),
    Section(
        "plan",
        deleted(_plans, _of_graduate(_plans)),
        Export(
            _plans,
            _of_graduate(_plans),
            ("version", "body", "updated_at", "updated_by"),
            ("graduate_id",),
            single=True,
        ),
    ),
    Section(
        "plan_versions",
        deleted(_plan_versions, _of_graduate(_plan_versions)),
        Export(
            _plan_versions,
            _of_graduate(_plan_versions),
            ("version", "body", "created_at", "author_id", "author_role", "changed_sections"),
            ("version",),
        ),
    ),
    Section(
        "checkins",
        clinical(
            _checkins,
            _of_graduate(_checkins),
            {"note": None, "triggers": [], "coping_used": [], "fingerprint": "", "stored_response": b""},
        ),
        Export(
            _checkins,
            _of_graduate(_checkins),
            (
                "id",
                "local_date",
                "received_at",
                "updated_at",
                "version",
                "mood",
                "craving",
                "stress",
                "sleep_hours",
                "used",
                "attended_support",
                "took_medication",
                "isolating",
                "triggers",
                "coping_used",
                "safety_concern",
                "note",
                "risk_score",
                "risk_level",
                "reasons",
            ),
            ("received_at", "id"),
        ),
    ),
    Section(
        "checkin_amendments",
        _amendments,
        Export(
            _versions,
            _of_graduate(_versions),
            ("checkin_id", "version", "local_date", "answers", "amended_at"),
            ("amended_at", "id"),
        ),
    ),
    Section(
        "missed_days",
        clinical(_missed, _of_graduate(_missed), {}),
        Export(_missed, _of_graduate(_missed), ("local_date", "closed_at"), ("local_date",)),
    ),
    # Alerts before what refers to them: erased in reverse, so help requests and outreach go first.
    Section(
        "alerts",
        deleted(_alerts, _of_graduate(_alerts)),
        Export(
            _alerts,
            _of_graduate(_alerts),
            (
                "id",
                "rule",
                "severity",
                "status",
                "reasons",
                "evidence",
                "opened_at",
                "last_seen_at",
                "counselor_id",
                "acknowledged_at",
                "resolved_at",
                "resolution_note",
            ),
            ("opened_at", "id"),
        ),
    ),
    # Who among staff was notified of each alert: the staff's routing, not the graduate's data.
    Section("alert_events", deleted(table_of(AlertEvent), _of_graduate(table_of(AlertEvent)))),
    Section(
        "help_requests",
        deleted(_help, _of_graduate(_help)),
        Export(
            _help, _of_graduate(_help), ("id", "received_at", "message", "alert_id"), ("received_at", "id")
        ),
    ),
    Section(
        "outreach",
        deleted(_outreach, _of_graduate(_outreach)),
        Export(
            _outreach,
            _of_graduate(_outreach),
            ("id", "alert_id", "method", "outcome", "note", "occurred_at", "recorded_at", "recorded_by"),
            ("occurred_at", "id"),
        ),
    ),
    Section("schedules", deleted(table_of(Schedule), _of_graduate(table_of(Schedule)))),
    Section(
        "notifications",
        deleted(_notifications, _of_accounts(_notifications)),
        Export(
            _notifications,
            _of_accounts(_notifications),
            (
                "id",
                "kind",
                "title",
                "body",
                "medication_id",
                "scheduled_for",
                "status",
                "created_at",
                "delivered_at",
                "read_at",
            ),
            ("created_at", "id"),
        ),
    ),
    Section(
        "push_subscriptions",
        deleted(_subscriptions, _of_accounts(_subscriptions)),
        Export(
            _subscriptions,
            _of_accounts(_subscriptions),
            ("id", "endpoint", "created_at", "updated_at"),
            ("created_at", "id"),
            shape=_origin,
        ),
    ),
    Section(
        "deletion_requests",
        _request_reasons,
        Export(
            _requests,
            _of_graduate(_requests),
            ("id", "status", "requested_at", "reason"),
            ("requested_at", "id"),
        ),
    ),
    # Who read or changed the record: when, which role, what; staff members' ids are left out.
    Section(
        "access_log",
        _request_ids,
        Export(
            _audit,
            lambda subject: or_(
                _audit.c.graduate_id == subject.graduate_id, _audit.c.actor_id.in_(subject.user_ids)
            ),
            ("at", "actor_role", "action", "resource"),
            ("at", "id"),
        ),
    ),
    Section(
        "doses",
        # Kept, the medication stays named by the plan's id only (the plan itself is deleted).
        clinical(_doses, _of_graduate(_doses), {"fingerprint": ""}),
        Export(
            _doses,
            _of_graduate(_doses),
            ("id", "medication_id", "scheduled_for", "local_date", "status", "at", "received_at"),
            ("received_at", "id"),
        ),
    ),
    Section(
        "timezone_history",
        deleted(_zones, _of_graduate(_zones)),
        Export(
            _zones,
            _of_graduate(_zones),
            ("timezone", "effective_from", "reported_at"),
            ("effective_from", "id"),
        ),
    ),
)


async def subject_of(session: AsyncSession, graduate: Graduate) -> Subject:
    """The graduate and every account they ever had: the current one, and those a re-enrollment
    replaced, which acted in their name (the audit log's rows by a graduate account on this
    graduate's record, the enrollment among them)."""
    acted = select(_audit.c.actor_id).where(
        _audit.c.graduate_id == graduate.id, _audit.c.actor_role == "graduate"
    )
    accounts = await session.scalars(
        select(_users.c.id)
        .where(_users.c.role == "graduate", or_(_users.c.id == graduate.user_id, _users.c.id.in_(acted)))
        .order_by(_users.c.id)
    )
    return Subject(graduate_id=graduate.id, user_ids=tuple(accounts))


async def erase(session: AsyncSession, subject: Subject, policy: ErasePolicy) -> None:
    """Every section, in the caller's transaction: all of it commits, or none."""
    for section in reversed(SECTIONS):
        await section.erase(session, subject, policy)
