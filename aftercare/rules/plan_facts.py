"""What the warning-sign rules read from a stored aftercare plan, in one place.

The check-in service and the backtest must read a plan the same way, or the same history would
give different alerts through the API and offline: so both call :func:`plan_facts`. It lives beside
the engine (not in the backtest) because the service depends on it on every check-in.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from aftercare.plans.schemas import PlanBody
from aftercare.rules.engine import PlanFacts
from aftercare.scheduling.recurrence import expand_local, parse_rrule

SESSION_SPAN_WEEKS = 12


def plan_facts(plan: PlanBody | None) -> PlanFacts:
    """Medications, planned sessions a week, and each trigger's coping skills; ``PlanFacts()`` for
    no plan (answers believed as given).

    Sessions a week are averaged over the twelve weeks after each schedule's start (a monthly group
    counts as about a quarter of a session a week); a year would cost a millisecond a graduate for
    the same answer.
    """
    if plan is None:
        return PlanFacts()
    schedules = [t.schedule for t in plan.therapy] + [g.schedule for g in plan.support_groups]
    sessions = sum(sessions_in_span(schedule.rrule, schedule.start_local) for schedule in schedules)
    return PlanFacts.from_counts(
        medications=len(plan.medications),
        sessions_per_week=sessions / SESSION_SPAN_WEEKS,
        trigger_coping={t.id: t.coping_skill_ids for t in plan.triggers},
    )


@lru_cache(maxsize=4096)
def sessions_in_span(rrule: str, start_local: str) -> int:
    """Occurrences of one schedule in the twelve weeks after its start. Cached by its text: the
    expansion costs a few hundred microseconds, every check-in of a graduate whose plan this process
    has not analysed yet needs it, and most plans share a handful of schedules (the templates')."""
    rule = parse_rrule(rrule, start_local)
    return len(expand_local(rule, rule.start, rule.start + timedelta(weeks=SESSION_SPAN_WEEKS)))
