"""A graduate's timeline: check-ins, amendments, help requests, alert events, plan changes, missed
days, outreach, doses and time-zone changes merged into one list in the order they happened, newest first.

Every source is already a table with an immutable instant (a check-in at its arrival, so a late
sync shows when it came in, labelled with its day; outreach when it happened). A page asks each source for its next ``limit + 1``
entries below the cursor on an index, merges, and keeps ``limit``: the cost of a page does not grow
with the history. Entries order by (instant, kind, the source's own key), all immutable, so a page
never skips or repeats one; the cursor carries that triple.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.models import Alert, AlertEvent
from aftercare.alerts.schemas import NOTIFICATION_DECISIONS
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins.models import Checkin, CheckinVersion, HelpRequest, MissedDay
from aftercare.checkins.service import ANSWER_FIELDS
from aftercare.doses.models import Dose
from aftercare.errors import InvalidCursor, ValidationFailed
from aftercare.graduates.models import Graduate, TimezoneChange
from aftercare.graduates.zones import zone_history
from aftercare.outreach.models import Outreach
from aftercare.pagination import Instant, Keyset, before_key
from aftercare.plans.models import PlanVersion
from aftercare.scheduling.localtime import utc_offset_text
from aftercare.timeline import schemas

# Free text stays out of the timeline (see schemas); everything else a check-in holds staff may see.
PRIVATE_ANSWERS = frozenset({"note"})


@dataclass(frozen=True)
class Position:
    """Where an entry sorts: newest first by instant, then kind, then the source's key."""

    at: datetime
    rank: int
    key: uuid.UUID


@dataclass(frozen=True)
class Entry:
    position: Position
    item: schemas.TimelineItem


@dataclass(frozen=True)
class Source:
    """One table of the timeline: how to page it below a position and how to show its rows."""

    rank: int
    at: Any  # the instant column
    key: Any  # the source's own immutable key column
    query: Callable[[uuid.UUID], Any]  # a Select of the graduate's rows
    key_value: Callable[[uuid.UUID], Any]  # the cursor's UUID back to a value of ``key``; else ValueError
    to_entry: Callable[[Any], Entry]

    def below(self, cursor: Position | None) -> ColumnElement[bool]:
        if cursor is None:
            return true()
        if self.rank < cursor.rank:
            return self.at <= cursor.at  # type: ignore[no-any-return]
        if self.rank > cursor.rank:
            return self.at < cursor.at  # type: ignore[no-any-return]
        return before_key(self.at, self.key, cursor.at, self.key_value(cursor.key))


def _answers(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in PRIVATE_ANSWERS}


def _current_answers(checkin: Checkin) -> dict[str, Any]:
    return _answers({name: getattr(checkin, name) for name in ANSWER_FIELDS})


def _checkin_entry(row: Any) -> Entry:
    checkin: Checkin = row.Checkin
    item = schemas.TimelineItem(
        id=f"checkin:{checkin.id}",
        kind="checkin",
        at=checkin.received_at,
        local_date=checkin.local_date,
        # Answers are filled in once the page is known (an amended check-in shows its first answers).
        checkin=schemas.CheckinEntry(checkin_id=checkin.id, version=1, answers={}),
    )
    return Entry(Position(checkin.received_at, 0, checkin.id), item)


def _amendment_entry(row: Any) -> Entry:
    version: CheckinVersion = row.CheckinVersion
    item = schemas.TimelineItem(
        id=f"amendment:{version.id}",
        kind="amendment",
        at=version.amended_at,
        local_date=version.local_date,
        amendment=schemas.AmendmentEntry(
            checkin_id=version.checkin_id,
            version=version.version + 1,
            answers={},
            previous=_answers(version.answers),
            changed_fields=[],
        ),
    )
    return Entry(Position(version.amended_at, 1, version.id), item)


def _help_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"help_request:{row.id}",
        kind="help_request",
        at=row.received_at,
        help_request=schemas.HelpRequestEntry(help_request_id=row.id),
    )
    return Entry(Position(row.received_at, 2, row.id), item)


def _alert_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"alert:{row.id}",
        kind="alert",
        at=row.at,
        alert=schemas.AlertEntry(
            alert_id=row.alert_id,
            event=row.kind,
            rule=row.rule,
            severity=row.severity,
            escalation_level=row.escalation_level,
            actor_id=row.actor_id,
        ),
    )
    return Entry(Position(row.at, 3, uuid.UUID(int=row.id)), item)


def _plan_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"plan_change:{row.version}",
        kind="plan_change",
        at=row.created_at,
        plan_change=schemas.PlanChangeEntry(
            version=row.version,
            author_id=row.author_id,
            author_role=row.author_role,
            changed_sections=list(row.changed_sections),
        ),
    )
    return Entry(Position(row.created_at, 4, uuid.UUID(int=row.version)), item)


def _missed_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"missed_day:{row.local_date.isoformat()}",
        kind="missed_day",
        at=row.closed_at,
        local_date=row.local_date,
    )
    return Entry(Position(row.closed_at, 5, uuid.UUID(int=row.local_date.toordinal())), item)


def _outreach_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"outreach:{row.id}",
        kind="outreach",
        at=row.occurred_at,
        outreach=schemas.OutreachEntry(
            outreach_id=row.id,
            alert_id=row.alert_id,
            method=row.method,
            outcome=row.outcome,
            recorded_by=row.recorded_by,
            acknowledged_alert=row.acknowledged_alert,
        ),
    )
    return Entry(Position(row.occurred_at, 6, row.id), item)


def _dose_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"dose:{row.id}",
        kind="dose",
        at=row.received_at,
        local_date=row.local_date,
        dose=schemas.DoseEntry(
            dose_id=row.id,
            medication_id=row.medication_id,
            scheduled_for=row.scheduled_for,
            status=row.status,
            taken_at=row.at,
        ),
    )
    return Entry(Position(row.received_at, 7, row.id), item)


def _timezone_entry(row: Any) -> Entry:
    item = schemas.TimelineItem(
        id=f"timezone_change:{row.id}",
        kind="timezone_change",
        at=row.effective_from,
        timezone_change=schemas.TimezoneChangeEntry(timezone=row.timezone),
    )
    return Entry(Position(row.effective_from, 8, row.id), item)


def _same_uuid(key: uuid.UUID) -> uuid.UUID:
    return key


def _int_key(key: uuid.UUID, largest: int) -> int:
    """The integer a position's UUID wraps (an alert event's id, a plan version, a day's ordinal). A
    larger one wraps no row's key, and would overflow the column or the calendar."""
    if key.int > largest:
        raise ValueError("no row has this key")
    return key.int


SOURCES: tuple[Source, ...] = (
    Source(
        0,
        Checkin.received_at,
        Checkin.id,
        lambda g: select(Checkin).where(Checkin.graduate_id == g),
        _same_uuid,
        _checkin_entry,
    ),
    Source(
        1,
        CheckinVersion.amended_at,
        CheckinVersion.id,
        lambda g: select(CheckinVersion).where(CheckinVersion.graduate_id == g),
        _same_uuid,
        _amendment_entry,
    ),
    Source(
        2,
        HelpRequest.received_at,
        HelpRequest.id,
        lambda g: select(HelpRequest.id, HelpRequest.received_at).where(HelpRequest.graduate_id == g),
        _same_uuid,
        _help_entry,
    ),
    Source(
        3,
        AlertEvent.at,
        AlertEvent.id,
        lambda g: (
            select(
                AlertEvent.id,
                AlertEvent.alert_id,
                AlertEvent.kind,
                AlertEvent.severity,
                AlertEvent.escalation_level,
                AlertEvent.actor_id,
                AlertEvent.at,
                Alert.rule,
            )
            .join(Alert, Alert.id == AlertEvent.alert_id)
            # The graduate's story; who was notified of it is the alert's (GET /v1/alerts/{id}).
            .where(AlertEvent.graduate_id == g, AlertEvent.kind.not_in(NOTIFICATION_DECISIONS))
        ),
        lambda key: _int_key(key, 2**63 - 1),
        _alert_entry,
    ),
    Source(
        4,
        PlanVersion.created_at,
        PlanVersion.version,
        lambda g: select(
            PlanVersion.version,
            PlanVersion.created_at,
            PlanVersion.author_id,
            PlanVersion.author_role,
            PlanVersion.changed_sections,
        ).where(PlanVersion.graduate_id == g),
        lambda key: _int_key(key, 2**31 - 1),
        _plan_entry,
    ),
    Source(
        5,
        MissedDay.closed_at,
        MissedDay.local_date,
        lambda g: select(MissedDay.local_date, MissedDay.closed_at).where(MissedDay.graduate_id == g),
        lambda key: date.fromordinal(_int_key(key, date.max.toordinal())),
        _missed_entry,
    ),
    Source(
        6,
        Outreach.occurred_at,
        Outreach.id,
        # The note stays out (see schemas); ix_outreach_graduate_id_occurred_at_id serves the page.
        lambda g: select(
            Outreach.id,
            Outreach.occurred_at,
            Outreach.alert_id,
            Outreach.method,
            Outreach.outcome,
            Outreach.recorded_by,
            Outreach.acknowledged_alert,
        ).where(Outreach.graduate_id == g),
        _same_uuid,
        _outreach_entry,
    ),
    Source(
        7,
        Dose.received_at,
        Dose.id,
        # ix_doses_graduate_id_received_at_id serves the page.
        lambda g: select(
            Dose.id,
            Dose.received_at,
            Dose.local_date,
            Dose.medication_id,
            Dose.scheduled_for,
            Dose.status,
            Dose.at,
        ).where(Dose.graduate_id == g),
        _same_uuid,
        _dose_entry,
    ),
    Source(
        8,
        TimezoneChange.effective_from,
        TimezoneChange.id,
        # ix_timezone_changes_graduate_id_effective_from serves the page (a graduate moves rarely).
        lambda g: select(TimezoneChange.id, TimezoneChange.effective_from, TimezoneChange.timezone).where(
            TimezoneChange.graduate_id == g
        ),
        _same_uuid,
        _timezone_entry,
    ),
)


# The timeline's keys: ((instant, the source's rank), the source's key as a UUID).
_CURSORS = Keyset[tuple[datetime, int]](tuple[Instant, Annotated[int, msgspec.Meta(ge=0, lt=len(SOURCES))]])


def encode_position(position: Position) -> str:
    return _CURSORS.encode((position.at, position.rank), position.key)


def decode_position(cursor: str | None) -> Position | None:
    key = _CURSORS.decode(cursor)
    if key is None:
        return None
    (at, rank), source_key = key
    try:
        SOURCES[rank].key_value(source_key)  # a key that source cannot hold is refused before a query
    except ValueError as exc:
        raise InvalidCursor() from exc
    return Position(at, rank, source_key)


def _check_range(start: datetime | None, end: datetime | None) -> None:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed.one(name, "an instant needs a UTC offset (e.g. 2026-11-24T18:00:00Z)")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed.one("to", "must be after from")


async def _fill_checkin_answers(session: AsyncSession, items: Sequence[schemas.TimelineItem]) -> None:
    """A check-in entry shows the answers as first received, an amendment those it made: the replaced
    answers are in ``checkin_versions`` (version n holds what version n + 1 replaced)."""
    ids = {i.checkin.checkin_id for i in items if i.checkin} | {
        i.amendment.checkin_id for i in items if i.amendment
    }
    if not ids:
        return
    current = {c.id: c for c in await session.scalars(select(Checkin).where(Checkin.id.in_(ids)))}
    versions = {
        (v.checkin_id, v.version): _answers(v.answers)
        for v in await session.scalars(select(CheckinVersion).where(CheckinVersion.checkin_id.in_(ids)))
    }

    def answers_at(checkin_id: uuid.UUID, version: int) -> dict[str, Any]:
        found = versions.get((checkin_id, version))
        return found if found is not None else _current_answers(current[checkin_id])

    for item in items:
        entry = item.checkin or item.amendment
        if entry is None:
            continue
        checkin = current[entry.checkin_id]
        entry.answers = answers_at(entry.checkin_id, entry.version)
        if entry.version == checkin.version:  # the answers the current assessment was made from
            entry.risk_score, entry.risk_level = checkin.risk_score, checkin.risk_level
        if item.amendment is not None:
            item.amendment.changed_fields = sorted(
                name
                for name in set(item.amendment.answers) | set(item.amendment.previous)
                if item.amendment.answers.get(name) != item.amendment.previous.get(name)
            )


async def _fill_local_times(
    session: AsyncSession, graduate_id: uuid.UUID, items: Sequence[schemas.TimelineItem]
) -> None:
    """Each entry's instant on the graduate's clock, in the zone in force at it."""
    if not items:
        return
    current = await session.scalar(select(Graduate.timezone).where(Graduate.id == graduate_id))
    if current is None:
        return
    zones = await zone_history(session, graduate_id, current=current)
    for item in items:
        tz = zones.at(item.at)
        item.local_time = item.at.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
        item.utc_offset = utc_offset_text(item.at, tz)


async def graduate_timeline(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    *,
    actor: Principal,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> schemas.TimelinePage:
    """One page of the timeline, newest first; ``start`` inclusive, ``end`` exclusive."""
    _check_range(start, end)
    position = decode_position(cursor)
    entries: list[Entry] = []
    async with session.begin():
        for source in SOURCES:
            query = source.query(graduate_id).where(source.below(position))
            if start is not None:
                query = query.where(source.at >= start)
            if end is not None:
                query = query.where(source.at < end)
            query = query.order_by(source.at.desc(), source.key.desc()).limit(limit + 1)
            entries.extend(source.to_entry(row) for row in (await session.execute(query)).all())
        entries.sort(key=lambda e: (e.position.at, e.position.rank, e.position.key), reverse=True)
        page = entries[:limit]
        await _fill_checkin_answers(session, [e.item for e in page])
        await _fill_local_times(session, graduate_id, [e.item for e in page])
        await audit.record_staff_read(
            session, actor=actor, resource="timeline", graduate_id=graduate_id, now=now
        )
    return schemas.TimelinePage(
        items=[e.item for e in page],
        next_cursor=encode_position(page[-1].position) if len(entries) > limit else None,
    )
