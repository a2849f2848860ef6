"""Dose records as a fact of the day: the one place that decides what a day's doses say about
``took_medication``, for the API (``flows/submit.py``, ``flows/amend.py``) and the backtest alike,
through ``rules.step.checkin_step``.

The rule: a check-in that leaves ``took_medication`` unanswered (null) counts as ``true`` when its
local day has at least one dose scheduled by the plan's medications and every medication scheduled
that day has a dose marked **taken** that arrived before the check-in. A ``skipped`` dose never
counts as medication taken, and is not read as "not taken" either (a prescriber may have said to
skip it): the day stays unanswered. An answer the graduate gave is never overridden.

A dose that arrives after its day's check-in does not judge the day again: the check-in was judged
with what was known when it arrived (as a late check-in is). An amendment of that check-in is a new
arrival, and reads the doses known by then.

Which medications are due on a day is decided on the wall clock (an accepted RRULE has at most one
occurrence a day and takes its time from ``start_local``), so it does not depend on the zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from functools import lru_cache

import msgspec

from aftercare.plans.schemas import Medication
from aftercare.rules.aggregates import CheckinFacts
from aftercare.scheduling.recurrence import expand_local, parse_rrule


class DayDoses(msgspec.Struct, frozen=True, kw_only=True):
    """A local day's doses as known when its check-in arrived."""

    due: frozenset[str] = frozenset()
    """The plan's medications with a dose scheduled on the day."""
    taken: frozenset[str] = frozenset()
    """The medications with a dose of the day marked taken."""


NO_DOSES = DayDoses()


def medications_due(medications: Iterable[Medication], day: date) -> frozenset[str]:
    """The ids of ``medications`` whose schedule has a dose on local ``day``."""
    return frozenset(m.id for m in medications if _due_on(m.schedule.rrule, m.schedule.start_local, day))


def _due_on(rrule: str, start_local: str, day: date) -> bool:
    return day in _due_days(rrule, start_local, day.toordinal() // _BLOCK_DAYS)


# A graduate's check-ins ask for one schedule day after day: its days are expanded a block at a
# time (a replayed history of 120 days takes two or three blocks, not 120 expansions).
_BLOCK_DAYS = 64


@lru_cache(maxsize=4096)
def _due_days(rrule: str, start_local: str, block: int) -> frozenset[date]:
    """The local days of ``block`` (ordinals ``block * _BLOCK_DAYS`` on) with an occurrence of the rule."""
    # Held within the calendar (ordinal 1 is 0001-01-01; the last block ends at date.max).
    lo = date.fromordinal(max(1, block * _BLOCK_DAYS))
    hi = date.fromordinal(min(date.max.toordinal(), (block + 1) * _BLOCK_DAYS))
    walls = expand_local(
        parse_rrule(rrule, start_local), datetime.combine(lo, time()), datetime.combine(hi, time())
    )
    return frozenset(wall.date() for wall in walls)


def day_doses(medications: Iterable[Medication], day: date, taken: Iterable[str]) -> DayDoses:
    """Local ``day``'s doses: those the plan's ``medications`` schedule, and the medications of
    ``taken`` (those with a dose of the day marked taken, known at the check-in's arrival)."""
    due = medications_due(medications, day)
    return DayDoses(due=due, taken=frozenset(taken)) if due else NO_DOSES


def with_doses(checkin: CheckinFacts, doses: DayDoses) -> CheckinFacts:
    """``checkin`` as the engine reads it: an unanswered ``took_medication`` is true when every dose
    due that day was marked taken (see the module docstring); otherwise ``checkin`` unchanged."""
    if checkin.took_medication is not None or not doses.due or not doses.due <= doses.taken:
        return checkin
    return msgspec.structs.replace(checkin, took_medication=True)
