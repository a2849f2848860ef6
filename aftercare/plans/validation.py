"""What a plan must satisfy beyond its schema, and how two versions of a plan differ.

Decoding (``schemas.py``) already bounded every field; the rules here span fields: ids are unique across
the whole plan (check-ins refer to them), references resolve, schedules obey the contract's RRULE
subset. All problems are reported at once, each at its JSON path, so a counselor fixes a plan in one
round trip. The diff functions carry the contract's rule for what a graduate may change.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from aftercare.errors import FieldError, ValidationFailed
from aftercare.i18n import _
from aftercare.plans.schemas import (
    SECTION_NAMES,
    STAFF_SECTIONS,
    PlanBody,
    Schedule,
)
from aftercare.scheduling.recurrence import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    RuleError,
    parse_start_local,
    validate_rrule,
)


class PlanIds(msgspec.Struct, frozen=True, kw_only=True):
    """The ids a check-in may refer to."""

    trigger_ids: frozenset[str]
    coping_skill_ids: frozenset[str]


def validate_plan(plan: PlanBody, *, validated: PlanBody | None = None) -> None:
    """Raise ``ValidationFailed`` listing every cross-field problem of ``plan``; return if there is none.

    ``validated`` is a plan that already passed (the stored version a PUT replaces): a schedule equal
    to one of its schedules is not judged again. Judging a schedule expands its rule over a year (about
    half a millisecond each), and most edits leave the schedules alone.
    """
    known_good = {_schedule_key(s) for _, s, _ in _scheduled(validated)} if validated is not None else set()
    errors = [
        *_duplicate_ids(plan),
        *_unknown_coping_refs(plan),
        *_schedule_problems(plan, known_good),
        *_goal_dates(plan),
    ]
    if errors:
        raise ValidationFailed(errors)


def changed_sections(old: PlanBody | None, new: PlanBody) -> list[str]:
    """Sections of ``new`` whose decoded value differs from ``old``'s; for a first plan, the non-empty
    ones. Decoded values are compared, so an omitted section equals an empty one."""
    if old is None:
        return [name for name in SECTION_NAMES if getattr(new, name)]
    return [name for name in SECTION_NAMES if getattr(old, name) != getattr(new, name)]


def staff_sections_touched(old: PlanBody | None, new: PlanBody) -> list[str]:
    """The staff-managed sections a write of ``new`` over ``old`` would change.

    A graduate's PUT is refused (403 naming these) when this is not empty. An omitted section decodes
    to its empty default, so omitting a stored staff section counts as changing it.
    """
    return [name for name in changed_sections(old, new) if name in STAFF_SECTIONS]


def plan_ids(plan: PlanBody) -> PlanIds:
    return PlanIds(
        trigger_ids=frozenset(t.id for t in plan.triggers),
        coping_skill_ids=frozenset(c.id for c in plan.coping_skills),
    )


def _item_ids(plan: PlanBody) -> Iterator[tuple[str, str]]:
    """``(path, id)`` of every item in every list section, in document order."""
    for section in SECTION_NAMES:
        items = getattr(plan, section)
        if isinstance(items, list):
            for index, item in enumerate(items):
                yield f"{section}[{index}].id", item.id


def _duplicate_ids(plan: PlanBody) -> Iterator[FieldError]:
    first_seen: dict[str, str] = {}
    for path, item_id in _item_ids(plan):
        if item_id in first_seen:
            yield FieldError(
                path, _("duplicate id %(id)r (first used at %(path)s)", id=item_id, path=first_seen[item_id])
            )
        else:
            first_seen[item_id] = path


def _unknown_coping_refs(plan: PlanBody) -> Iterator[FieldError]:
    known = plan_ids(plan).coping_skill_ids
    for t_index, trigger in enumerate(plan.triggers):
        for r_index, ref in enumerate(trigger.coping_skill_ids):
            if ref not in known:
                yield FieldError(
                    f"triggers[{t_index}].coping_skill_ids[{r_index}]",
                    _("unknown coping skill id %(id)r", id=ref),
                )


def _goal_dates(plan: PlanBody) -> Iterator[FieldError]:
    # The years a schedule may start in (``recurrence``): a goal in the year 1 or
    # 9999 is a typo, and the calendar's very ends overflow the first arithmetic done on them.
    for index, goal in enumerate(plan.goals):
        if goal.target_date is not None and not EARLIEST_YEAR <= goal.target_date.year <= LATEST_YEAR:
            yield FieldError(
                f"goals[{index}].target_date",
                _("must lie between the years %(first)d and %(last)d", first=EARLIEST_YEAR, last=LATEST_YEAR),
            )


def _schedule_key(schedule: Schedule) -> tuple[str, str]:
    # What a schedule's validity depends on (duration is bounded by the schema alone).
    return schedule.rrule, schedule.start_local


def _scheduled(plan: PlanBody) -> list[tuple[str, Schedule, list[int]]]:
    """``(path, schedule, reminder offsets)`` of every scheduled item."""
    return [
        *((f"therapy[{i}]", t.schedule, t.reminder_minutes_before) for i, t in enumerate(plan.therapy)),
        *(
            (f"support_groups[{i}]", g.schedule, g.reminder_minutes_before)
            for i, g in enumerate(plan.support_groups)
        ),
        *((f"medications[{i}]", m.schedule, []) for i, m in enumerate(plan.medications)),
    ]


def _schedule_problems(plan: PlanBody, known_good: set[tuple[str, str]]) -> Iterator[FieldError]:
    for path, schedule, offsets in _scheduled(plan):
        if _schedule_key(schedule) not in known_good:
            yield from _schedule_errors(f"{path}.schedule", schedule)
        yield from _repeated_offsets(f"{path}.reminder_minutes_before", offsets)


def _schedule_errors(path: str, schedule: Schedule) -> Iterator[FieldError]:
    try:
        parse_start_local(schedule.start_local)
    except RuleError as exc:
        # The rule cannot be judged without a start; one error is enough.
        yield FieldError(f"{path}.start_local", str(exc))
        return
    problem = validate_rrule(schedule.rrule, schedule.start_local)
    if problem is not None:
        yield FieldError(f"{path}.rrule", problem)


def _repeated_offsets(path: str, offsets: list[int]) -> Iterator[FieldError]:
    # Each offset becomes its own reminder row; a repeat would remind twice at the same moment.
    for index, minutes in enumerate(offsets):
        if minutes in offsets[:index]:
            yield FieldError(f"{path}[{index}]", _("duplicate reminder offset %(minutes)d", minutes=minutes))
