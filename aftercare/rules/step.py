"""One check-in taking effect: the step the API and the backtest both run.

A check-in is judged against the check-ins of the days before it (the engine's bounded window; a
lapse also against lapses already reported for the days after it, when it arrives late) and the
person's baseline before it; the rule hits it makes change the open alerts (the lifecycle); then
it is folded into the baseline. The service runs this for each submission and amendment of a batch,
the backtest for each arrival of a history, so one history gives the same alerts through either
(``tests/rules/test_api_equivalence.py`` holds them to it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from operator import attrgetter

import msgspec

from aftercare.rules.aggregates import Aggregates, CheckinFacts, fold
from aftercare.rules.config import ProgramRules
from aftercare.rules.doses import NO_DOSES, DayDoses, with_doses
from aftercare.rules.engine import WINDOW_DAYS, Assessment, PlanFacts, assess
from aftercare.rules.lifecycle import AlertChange, AlertState, apply_checkin_hits


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """What one check-in did."""

    checkin: CheckinFacts
    """The check-in as judged: with its day's doses read in (``rules.doses.with_doses``). Later days'
    windows hold this, not the bare answers."""
    assessment: Assessment
    changes: list[AlertChange]
    """Opened, raised and updated alerts, in the order the lifecycle decided them."""
    alerts: dict[str, AlertState]
    """The open-or-acknowledged alerts after the changes, keyed by rule."""
    aggregates: Aggregates
    """The baseline with this check-in folded in."""


_by_day = attrgetter("local_date")


def window_for(checkin: CheckinFacts, received: Iterable[CheckinFacts]) -> list[CheckinFacts]:
    """The engine's window ending at ``checkin``: those of ``received`` on the ``WINDOW_DAYS - 1``
    local days before its own, oldest first. A late sync is judged on the days before its own day,
    so a check-in already received for a later day does not count as its future."""
    start = checkin.local_date - timedelta(days=WINDOW_DAYS - 1)
    before = sorted((c for c in received if start <= c.local_date < checkin.local_date), key=_by_day)
    return [*before, checkin]


def later_lapses(checkin: CheckinFacts, received: Iterable[CheckinFacts]) -> list[CheckinFacts]:
    """The lapses of ``received`` reported for local days after ``checkin``'s, oldest first: the one
    exception to "no future" above. Two lapses within the lapse rule's repeat window (the engine
    reads them against it) are a repeat whichever arrived first; a late sync of the earlier one must
    find the later one."""
    return sorted((c for c in received if c.used and c.local_date > checkin.local_date), key=_by_day)


def checkin_step(
    checkin: CheckinFacts,
    *,
    received: Iterable[CheckinFacts],
    aggregates: Aggregates,
    alerts: Mapping[str, AlertState],
    plan: PlanFacts,
    rules: ProgramRules,
    on: date,
    doses: DayDoses = NO_DOSES,
) -> Step:
    """Read the day's ``doses`` into ``checkin``, assess it on its window (``received``: the check-ins
    already received for the days around its own) and the baseline before it, apply the hits to
    ``alerts`` (keyed by rule) as of ``on`` (the graduate's local day at its arrival: later than its
    own day for a late sync), fold it into the baseline."""
    checkin = with_doses(checkin, doses)
    nearby = list(received)
    repeats = later_lapses(checkin, nearby) if checkin.used else []
    assessment = assess(window_for(checkin, nearby), aggregates, plan, rules, later_lapses=repeats)
    taken = apply_checkin_hits(
        alerts,
        assessment.hits,
        local_date=checkin.local_date,
        on=on,
        episode=aggregates.signs_episode,
        realert_days=rules.early_signs_realert_days,
    )
    return Step(
        checkin=checkin,
        assessment=assessment,
        changes=taken.changes,
        alerts=taken.alerts,
        aggregates=msgspec.structs.replace(
            fold(aggregates, checkin, trigger_coping=plan.trigger_coping), signs_episode=taken.episode
        ),
    )
