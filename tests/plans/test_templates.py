"""The program's plan templates: they load, validate, and make a usable starting plan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from aftercare.plans.schemas import PlanTemplate
from aftercare.plans.templates import TemplateError, get_template, load_templates, read_templates
from aftercare.plans.validation import validate_plan
from aftercare.scheduling.recurrence import occurrences

NEW_YORK = ZoneInfo("America/New_York")


def test_templates_load_with_unique_ids_and_valid_plans() -> None:
    templates = load_templates()
    assert len(templates) >= 1
    assert len({t.id for t in templates}) == len(templates)
    for template in templates:
        validate_plan(template.plan)
        assert get_template(template.id) == template


def test_unknown_template_is_none() -> None:
    assert get_template("no-such-template") is None


def test_callers_cannot_change_the_cached_list() -> None:
    load_templates().clear()
    assert load_templates()


def test_the_standard_template_follows_common_iop_aftercare() -> None:
    template = get_template("iop-standard")
    assert template is not None
    plan = template.plan
    assert {t.kind for t in plan.therapy} == {"individual", "group"}
    assert len(plan.support_groups) == 3
    assert {t.category for t in plan.triggers} >= {"people", "places", "emotions", "situations"}
    skill_ids = {c.id for c in plan.coping_skills}
    assert len(skill_ids) >= 8
    assert all(t.coping_skill_ids and set(t.coping_skill_ids) <= skill_ids for t in plan.triggers)
    assert plan.warning_signs
    assert plan.crisis_plan is not None
    assert plan.crisis_plan.crisis_line == "988"


def test_a_template_week_has_two_sessions_and_three_meetings_at_their_local_times() -> None:
    template = get_template("iop-standard")
    assert template is not None
    week = (datetime(2026, 11, 2, 5, tzinfo=UTC), datetime(2026, 11, 9, 5, tzinfo=UTC))  # Mon 00:00 EST
    plan = template.plan
    sessions = [
        t
        for item in plan.therapy
        for t in occurrences(item.schedule.rrule, item.schedule.start_local, NEW_YORK, *week)
    ]
    meetings = [
        t
        for item in plan.support_groups
        for t in occurrences(item.schedule.rrule, item.schedule.start_local, NEW_YORK, *week)
    ]
    assert len(sessions) == 2
    assert sorted(t.astimezone(NEW_YORK).strftime("%a %H:%M") for t in meetings) == [
        "Mon 19:00",
        "Sat 10:00",
        "Wed 19:00",
    ]


def test_templates_leave_support_contacts_to_the_graduate() -> None:
    # Contacts are personal; a template must not ship someone else's phone number.
    for template in load_templates():
        assert template.plan.support_contacts == []


def _write(folder: Path, name: str, templates: list[dict[str, object]]) -> None:
    (folder / name).write_bytes(msgspec.json.encode(templates))


def _template(template_id: str, **plan: object) -> dict[str, object]:
    return {"id": template_id, "name": "T", "description": "D", "plan": plan}


def test_a_folder_of_templates_reads_in_file_name_order(tmp_path: Path) -> None:
    _write(tmp_path, "b.json", [_template("second")])
    _write(tmp_path, "a.json", [_template("first")])
    (tmp_path / "notes.txt").write_text("not a template")
    found = read_templates(tmp_path)
    assert list(found) == ["first", "second"]
    assert isinstance(found["first"], PlanTemplate)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.json": b"[{"}, "plan template file a.json"),
        (
            {"a.json": b'[{"id": "x", "name": "T", "description": "D", "plan": {}, "extra": 1}]'},
            "unknown field",
        ),
        (
            {
                "a.json": msgspec.json.encode(
                    [
                        _template(
                            "x",
                            triggers=[
                                {
                                    "id": "t",
                                    "name": "n",
                                    "category": "people",
                                    "risk": "low",
                                    "coping_skill_ids": ["nope"],
                                }
                            ],
                        )
                    ]
                )
            },
            "plan template 'x' in a.json: triggers[0].coping_skill_ids[0]: unknown coping skill id 'nope'",
        ),
        (
            {
                "a.json": msgspec.json.encode([_template("x")]),
                "b.json": msgspec.json.encode([_template("x")]),
            },
            "template id 'x' is used twice",
        ),
    ],
)
def test_a_broken_template_is_a_startup_error(tmp_path: Path, files: dict[str, bytes], message: str) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(TemplateError) as info:
        read_templates(tmp_path)
    assert message in str(info.value)
