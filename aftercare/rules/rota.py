"""The on-call rota: who answers for the program at an instant. Pure: no clock, no I/O.

A rota names its ``participants`` in order; each holds a shift of one ``rotation`` (a local day or a
local week) that begins at the ``handoff`` time, in the program's time zone, the first on
``starts_on``; after the last participant the first comes again. ``overrides`` put someone else on
call from one instant until another (a swap, a sick day) and win over the rota, also in business
hours. ``hours: outside_business_hours`` leaves business hours (``program.business_hours``, the same
hours the response targets count) to the counselors: then nobody is on call.

Handoffs are wall-clock times and follow the contract's DST rule (``scheduling/localtime.py``): a
handoff in a spring-forward gap happens once, moved forward by the gap (02:30 on 2026-03-08 in
Chicago is 03:30 CDT), and one in a fall-back overlap happens once, at its first instant (01:30 on
2026-11-01 is 01:30 CDT). Shifts are counted in local dates, so a day shift on a DST day is 23 or 25
hours long and the next handoff is again at the wall-clock time.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Meta

from aftercare.rules.config import WEEKDAYS, BusinessHours, ClockTime, ProgramSettings
from aftercare.scheduling.localtime import at_local_time, zone

UtcTimestamp = Annotated[datetime, Meta(tz=True)]
Rotation = Literal["day", "week"]
RotaHours = Literal["always", "outside_business_hours"]
_ROTATION_DAYS: dict[Rotation, int] = {"day": 1, "week": 7}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


class RotaOverride(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``staff_id`` is on call from ``from`` (inclusive) until ``until`` (exclusive)."""

    staff_id: uuid.UUID
    start: UtcTimestamp = msgspec.field(name="from")
    end: UtcTimestamp = msgspec.field(name="until")

    def __post_init__(self) -> None:
        _check(self.end > self.start, "until: must be after from")
        _check(self.end - self.start <= timedelta(days=366), "until: an override lasts at most 366 days")
        # One instant, one spelling: stored and compared in UTC.
        msgspec.structs.force_setattr(self, "start", self.start.astimezone(UTC))
        msgspec.structs.force_setattr(self, "end", self.end.astimezone(UTC))


class OnCallRota(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of ``GET/PUT /v1/program/on-call-rota``."""

    version: Annotated[int, Meta(ge=0, description="Read-only: the stored version (ETag)")] = 0
    participants: Annotated[
        tuple[uuid.UUID, ...],
        Meta(min_length=1, max_length=100, description="Staff ids in the order their shifts come"),
    ]
    rotation: Rotation = "week"
    handoff: ClockTime = "09:00"
    starts_on: Annotated[
        date, Meta(description="The local date the first participant's first shift begins, at the handoff")
    ]
    hours: Annotated[
        RotaHours,
        Meta(description="outside_business_hours: nobody is on call in the program's business hours"),
    ] = "always"
    overrides: Annotated[tuple[RotaOverride, ...], Meta(max_length=200)] = ()

    def __post_init__(self) -> None:
        _check(len(set(self.participants)) == len(self.participants), "participants: must not repeat an id")
        ordered = sorted(range(len(self.overrides)), key=lambda i: self.overrides[i].start)
        for before, after in itertools.pairwise(ordered):
            _check(
                self.overrides[after].start >= self.overrides[before].end,
                f"overrides[{after}]: overlaps overrides[{before}]",
            )

    def staff_ids(self) -> set[uuid.UUID]:
        """Everyone the rota names: participants and the people of its overrides."""
        return {*self.participants, *(override.staff_id for override in self.overrides)}


class OnCall(msgspec.Struct, frozen=True, kw_only=True):
    """Who is on call at an instant, and why; ``start``/``end`` bound the stretch that answer holds
    for (the override, or the rota's shift), null when nobody is on call."""

    staff_id: uuid.UUID | None
    source: Literal["override", "rota"] | None
    reason: Literal["no_rota", "business_hours"] | None = None
    start: datetime | None = None
    end: datetime | None = None


def handoff_on(rota: OnCallRota, day: date, tz: ZoneInfo) -> datetime:
    """The instant of the handoff on local ``day`` (once, by the contract's DST rule)."""
    return at_local_time(day, time.fromisoformat(rota.handoff), tz)


def shift_at(rota: OnCallRota, tz: ZoneInfo, at: datetime) -> tuple[int, datetime, datetime]:
    """The rota's shift holding ``at``: its number (0 is the one starting on ``starts_on``; earlier
    ones are negative) and the instants it begins and ends."""
    length = _ROTATION_DAYS[rota.rotation]
    at = at.astimezone(UTC)
    number = (at.astimezone(tz).date() - rota.starts_on).days // length
    begins = handoff_on(rota, rota.starts_on + timedelta(days=number * length), tz)
    if at < begins:  # the local day of a handoff, before it: still the shift before
        number -= 1
        begins = handoff_on(rota, rota.starts_on + timedelta(days=number * length), tz)
    ends = handoff_on(rota, rota.starts_on + timedelta(days=(number + 1) * length), tz)
    return number, begins, ends


def in_business_hours(hours: BusinessHours, tz: ZoneInfo, at: datetime) -> bool:
    day = at.astimezone(tz).date()
    if WEEKDAYS[day.weekday()] not in hours.days:
        return False
    opens = at_local_time(day, time.fromisoformat(hours.start), tz)
    closes = at_local_time(day, time.fromisoformat(hours.end), tz)
    return opens <= at < closes


def on_call_at(rota: OnCallRota | None, program: ProgramSettings, at: datetime) -> OnCall:
    """Who is on call at ``at``: an override holding it, else (outside business hours, when the rota
    says so) the participant whose shift holds it."""
    if rota is None:
        return OnCall(staff_id=None, source=None, reason="no_rota")
    at = at.astimezone(UTC)
    for override in rota.overrides:
        if override.start <= at < override.end:
            return OnCall(
                staff_id=override.staff_id, source="override", start=override.start, end=override.end
            )
    tz = zone(program.timezone)
    if rota.hours == "outside_business_hours" and in_business_hours(program.business_hours, tz, at):
        return OnCall(staff_id=None, source=None, reason="business_hours")
    number, begins, ends = shift_at(rota, tz, at)
    return OnCall(
        staff_id=rota.participants[number % len(rota.participants)], source="rota", start=begins, end=ends
    )
