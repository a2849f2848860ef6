"""Cross-field plan rules, reported all at once at their JSON paths, and the plan diff rules."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from aftercare.errors import FieldError, ValidationFailed
from aftercare.plans.schemas import PlanBody
from aftercare.plans.validation import changed_sections, plan_ids, staff_sections_touched, validate_plan

SCHEDULE = {"rrule": "FREQ=WEEKLY;BYDAY=MO", "start_local": "2026-01-05T19:00"}


def plan(**sections: Any) -> PlanBody:
    base: dict[str, Any] = {
        "therapy": [{"id": "th-1", "kind": "individual", "provider": "Dr. Rivera", "schedule": SCHEDULE}],
        "coping_skills": [{"id": "cs-breathe", "name": "Breathe"}, {"id": "cs-call", "name": "Call sponsor"}],
        "triggers": [
            {
                "id": "tr-payday",
                "name": "Payday",
                "category": "situations",
                "coping_skill_ids": ["cs-breathe", "cs-call"],
                "risk": "high",
            }
        ],
        "crisis_plan": {"steps": ["Call 988"], "crisis_line": "988"},
    }
    base.update(sections)
    return msgspec.convert(base, PlanBody)


def errors_of(body: PlanBody) -> list[FieldError]:
    with pytest.raises(ValidationFailed) as info:
        validate_plan(body)
    return info.value.errors


def test_a_consistent_plan_passes() -> None:
    validate_plan(plan())
    validate_plan(PlanBody())


def test_ids_must_be_unique_across_the_whole_plan() -> None:
    body = plan(
        warning_signs=[{"id": "ws-1", "description": "Skipping meetings"}],
        goals=[{"id": "cs-call", "text": "Call someone daily"}, {"id": "ws-1", "text": "Sleep"}],
    )
    assert errors_of(body) == [
        FieldError("goals[0].id", "duplicate id 'cs-call' (first used at coping_skills[1].id)"),
        FieldError("goals[1].id", "duplicate id 'ws-1' (first used at warning_signs[0].id)"),
    ]


def test_duplicate_within_a_section_names_the_later_item() -> None:
    triggers = plan().triggers
    body = plan(triggers=[*map(msgspec.to_builtins, triggers)] * 3)
    assert [e.field for e in errors_of(body)] == ["triggers[1].id", "triggers[2].id"]


def test_trigger_coping_links_must_resolve() -> None:
    trigger = {"id": "tr-1", "name": "Loneliness", "category": "emotions", "risk": "medium"}
    body = plan(triggers=[{**trigger, "coping_skill_ids": ["cs-call", "x", "cs-breathe", "tr-1"]}])
    assert errors_of(body) == [
        FieldError("triggers[0].coping_skill_ids[1]", "unknown coping skill id 'x'"),
        # A trigger's own id is not a coping skill, even though it exists in the plan.
        FieldError("triggers[0].coping_skill_ids[3]", "unknown coping skill id 'tr-1'"),
    ]


def test_schedules_are_checked_by_the_recurrence_rules() -> None:
    therapy = {"id": "th-1", "kind": "group", "provider": "IOP alumni", "schedule": SCHEDULE}
    body = plan(
        therapy=[
            therapy,
            {**therapy, "id": "th-2", "schedule": {**SCHEDULE, "rrule": "FREQ=DAILY;BYHOUR=9,12"}},
        ],
        support_groups=[
            {
                "id": "sg-1",
                "name": "NA",
                "fellowship": "NA",
                "schedule": {
                    "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
                    "start_local": "2026-01-05T19:00",
                },
            }
        ],
        medications=[
            {
                "id": "med-1",
                "name": "Naltrexone",
                "schedule": {"rrule": "FREQ=DAILY", "start_local": "2026-02-30T08:00"},
            }
        ],
    )
    assert errors_of(body) == [
        FieldError(
            "therapy[1].schedule.rrule", "BYHOUR is not allowed: the time of day comes from start_local"
        ),
        FieldError(
            "support_groups[0].schedule.rrule", "the rule has no occurrence in the year after start_local"
        ),
        FieldError(
            "medications[0].schedule.start_local",
            "start_local '2026-02-30T08:00' is not a real date and time",
        ),
    ]


def test_a_reminder_offset_may_not_repeat() -> None:
    therapy = {"id": "th-1", "kind": "individual", "provider": "Dr. Rivera", "schedule": SCHEDULE}
    body = plan(therapy=[{**therapy, "reminder_minutes_before": [60, 1440, 60]}])
    assert errors_of(body) == [
        FieldError("therapy[0].reminder_minutes_before[2]", "duplicate reminder offset 60")
    ]


def test_every_problem_is_reported_in_one_422() -> None:
    body = plan(
        coping_skills=[{"id": "cs-breathe", "name": "Breathe"}, {"id": "cs-breathe", "name": "Again"}],
        therapy=[
            {
                "id": "th-1",
                "kind": "individual",
                "provider": "Dr. Rivera",
                "schedule": {**SCHEDULE, "rrule": "FREQ=HOURLY"},
            }
        ],
    )
    with pytest.raises(ValidationFailed) as info:
        validate_plan(body)
    problem = info.value.problem()
    assert problem["status"] == 422
    assert problem["type"] == "/problems/validation"
    assert [e["field"] for e in problem["errors"]] == [
        "coping_skills[1].id",
        "triggers[0].coping_skill_ids[1]",
        "therapy[0].schedule.rrule",
    ]


def test_changed_sections_of_a_first_plan_are_its_non_empty_ones() -> None:
    assert changed_sections(None, plan()) == ["therapy", "coping_skills", "triggers", "crisis_plan"]
    assert changed_sections(None, PlanBody()) == []


def test_changed_sections_compares_decoded_values() -> None:
    old = plan()
    assert changed_sections(old, plan()) == []
    renamed = plan(
        coping_skills=[
            {"id": "cs-breathe", "name": "Box breathing"},
            {"id": "cs-call", "name": "Call sponsor"},
        ]
    )
    assert changed_sections(old, renamed) == ["coping_skills"]
    # An explicit null equals an omitted optional field once decoded.
    explicit = plan(
        therapy=[
            {"id": "th-1", "kind": "individual", "provider": "Dr. Rivera", "schedule": SCHEDULE, "url": None}
        ]
    )
    assert changed_sections(old, explicit) == []


def test_a_graduate_editing_own_sections_touches_no_staff_section() -> None:
    old = plan()
    new = plan(
        goals=[{"id": "g-1", "text": "Call my sister on Sundays"}],
        warning_signs=[{"id": "ws-1", "description": "Not sleeping"}],
    )
    assert staff_sections_touched(old, new) == []


def test_a_changed_staff_section_is_named() -> None:
    old = plan()
    new = plan(
        therapy=[
            {
                "id": "th-1",
                "kind": "individual",
                "provider": "Dr. Rivera",
                "schedule": {**SCHEDULE, "rrule": "FREQ=DAILY"},
            }
        ],
        crisis_plan={"steps": ["Call 988"], "crisis_line": "911"},
    )
    assert staff_sections_touched(old, new) == ["therapy", "crisis_plan"]


def test_an_omitted_staff_section_counts_as_changed() -> None:
    old = plan()
    body = msgspec.to_builtins(old)
    del body["therapy"], body["crisis_plan"]
    assert staff_sections_touched(old, msgspec.convert(body, PlanBody)) == ["therapy", "crisis_plan"]


def test_omitting_a_staff_section_that_is_empty_changes_nothing() -> None:
    old = plan(medications=[])
    body = msgspec.to_builtins(old)
    del body["medications"], body["support_groups"]
    assert staff_sections_touched(old, msgspec.convert(body, PlanBody)) == []


def test_a_first_plan_written_by_a_graduate_may_not_fill_staff_sections() -> None:
    assert staff_sections_touched(None, plan()) == ["therapy", "crisis_plan"]
    own_only = PlanBody(goals=plan(goals=[{"id": "g-1", "text": "Walk daily"}]).goals)
    assert staff_sections_touched(None, own_only) == []


def test_plan_ids_are_what_check_ins_may_refer_to() -> None:
    ids = plan_ids(plan())
    assert ids.trigger_ids == frozenset({"tr-payday"})
    assert ids.coping_skill_ids == frozenset({"cs-breathe", "cs-call"})
