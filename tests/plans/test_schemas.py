"""The plan's wire schema: the contract's fields and enumerations, and the bounds decoding enforces."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import pytest

from aftercare.plans.schemas import (
    SECTION_NAMES,
    SELF_MANAGED_SECTIONS,
    STAFF_SECTIONS,
    Plan,
    PlanBody,
    PlanFromTemplate,
    plan_body_decoder,
)

SCHEDULE = {"rrule": "FREQ=WEEKLY;BYDAY=TU,TH", "start_local": "2026-12-01T19:00"}


def full_plan() -> dict[str, Any]:
    return {
        "therapy": [
            {
                "id": "th-1",
                "kind": "individual",
                "provider": "Dr. Rivera",
                "location": "Suite 4",
                "url": "https://clinic.example/visit",
                "schedule": {**SCHEDULE, "duration_minutes": 50},
                "reminder_minutes_before": [1440, 60],
            }
        ],
        "support_groups": [
            {
                "id": "sg-1",
                "name": "Home group",
                "fellowship": "NA",
                "schedule": SCHEDULE,
                "reminder_minutes_before": [60],
            }
        ],
        "coping_skills": [
            {"id": "cs-1", "name": "Box breathing", "category": "mindfulness", "instructions": "4-4-4-4"}
        ],
        "triggers": [
            {
                "id": "tr-1",
                "name": "Payday",
                "category": "situations",
                "coping_skill_ids": ["cs-1"],
                "risk": "high",
            }
        ],
        "warning_signs": [{"id": "ws-1", "description": "Skipping meetings"}],
        "medications": [
            {"id": "med-1", "name": "Naltrexone", "dose": "50 mg", "schedule": SCHEDULE, "remind": True}
        ],
        "support_contacts": [
            {"id": "sc-1", "name": "Sam", "relation": "sponsor", "phone": "+1 (555) 010-2030"}
        ],
        "goals": [{"id": "g-1", "text": "90 meetings in 90 days", "target_date": "2027-03-01"}],
        "crisis_plan": {"steps": ["Call my sponsor"], "crisis_line": "988"},
    }


def decode(body: dict[str, Any]) -> PlanBody:
    return plan_body_decoder.decode(msgspec.json.encode(body))


def rejection(body: dict[str, Any]) -> str:
    with pytest.raises(msgspec.ValidationError) as info:
        decode(body)
    return str(info.value)


def test_a_full_plan_decodes_and_round_trips() -> None:
    plan = decode(full_plan())
    assert plan.goals[0].target_date == date(2027, 3, 1)
    assert plan.therapy[0].schedule.duration_minutes == 50
    assert plan_body_decoder.decode(msgspec.json.encode(plan)) == plan


def test_omitted_sections_are_empty_and_crisis_plan_is_optional() -> None:
    plan = decode({})
    assert all(getattr(plan, name) == [] for name in SECTION_NAMES if name != "crisis_plan")
    assert plan.crisis_plan is None


def test_section_names_are_the_contracts_and_split_between_graduate_and_staff() -> None:
    assert SECTION_NAMES == (
        "therapy",
        "support_groups",
        "coping_skills",
        "triggers",
        "warning_signs",
        "medications",
        "support_contacts",
        "goals",
        "crisis_plan",
    )
    assert set(SELF_MANAGED_SECTIONS) | set(STAFF_SECTIONS) == set(SECTION_NAMES)
    assert not set(SELF_MANAGED_SECTIONS) & set(STAFF_SECTIONS)


def test_a_section_holds_at_most_100_items() -> None:
    skills = [{"id": f"cs-{i}", "name": "Breathe"} for i in range(101)]
    assert len(decode({"coping_skills": skills[:100]}).coping_skills) == 100
    assert "length <= 100" in rejection({"coping_skills": skills})
    assert "$.coping_skills" in rejection({"coping_skills": skills})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", {"notes": "x"}),
        ("$.therapy[0]", {"therapy": [{**full_plan()["therapy"][0], "room": "4"}]}),
        (
            "$.therapy[0].schedule",
            {"therapy": [{**full_plan()["therapy"][0], "schedule": {**SCHEDULE, "dtstart": "x"}}]},
        ),
        ("$.crisis_plan", {"crisis_plan": {"steps": [], "crisis_line": "988", "extra": 1}}),
    ],
)
def test_unknown_fields_are_refused(path: str, body: dict[str, Any]) -> None:
    message = rejection(body)
    assert "unknown field" in message.lower()
    assert message.endswith(f"at `{path}`" if path else "`notes`")


def _with(section: str, **fields: Any) -> dict[str, Any]:
    item = {**full_plan()[section][0], **fields}
    return {section: [item]}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (_with("therapy", kind="massage"), "$.therapy[0].kind"),
        (_with("support_groups", fellowship="aa"), "$.support_groups[0].fellowship"),
        (_with("triggers", category="weather"), "$.triggers[0].category"),
        (_with("triggers", risk="extreme"), "$.triggers[0].risk"),
        (_with("triggers", coping_skill_ids=[f"c{i}" for i in range(101)]), "$.triggers[0].coping_skill_ids"),
        (
            _with("therapy", reminder_minutes_before=[1, 2, 3, 4, 5, 6]),
            "$.therapy[0].reminder_minutes_before",
        ),
        (_with("therapy", reminder_minutes_before=[10081]), "$.therapy[0].reminder_minutes_before[0]"),
        (_with("therapy", reminder_minutes_before=[-1]), "$.therapy[0].reminder_minutes_before[0]"),
        (_with("therapy", url="javascript:alert(1)"), "$.therapy[0].url"),
        (_with("therapy", url="https://x.example/" + "a" * 500), "$.therapy[0].url"),
        (_with("therapy", provider=""), "$.therapy[0].provider"),
        (_with("therapy", provider="x" * 201), "$.therapy[0].provider"),
        (_with("coping_skills", instructions="x" * 2001), "$.coping_skills[0].instructions"),
        (_with("coping_skills", id=""), "$.coping_skills[0].id"),
        (_with("coping_skills", id="x" * 65), "$.coping_skills[0].id"),
        (_with("coping_skills", id="has space"), "$.coping_skills[0].id"),
        (_with("support_contacts", phone="call me"), "$.support_contacts[0].phone"),
        (_with("support_contacts", phone="1" * 33), "$.support_contacts[0].phone"),
        (_with("goals", target_date="2027-13-01"), "$.goals[0].target_date"),
        (_with("medications", remind="yes"), "$.medications[0].remind"),
        (
            _with("therapy", schedule={**SCHEDULE, "start_local": "2026-12-01 19:00"}),
            "$.therapy[0].schedule.start_local",
        ),
        (
            _with("therapy", schedule={**SCHEDULE, "duration_minutes": 0}),
            "$.therapy[0].schedule.duration_minutes",
        ),
        (
            _with("therapy", schedule={**SCHEDULE, "duration_minutes": 1441}),
            "$.therapy[0].schedule.duration_minutes",
        ),
        (_with("therapy", schedule={"start_local": "2026-12-01T19:00"}), "$.therapy[0].schedule"),
        ({"crisis_plan": {"steps": []}}, "$.crisis_plan"),
    ],
)
def test_bounds_and_enumerations_are_enforced_at_their_path(body: dict[str, Any], path: str) -> None:
    assert rejection(body).endswith(f"at `{path}`")


@pytest.mark.parametrize("phone", ["988", "+1 (555) 010-2030", "555.010.2030", "(020) 7946 0018"])
def test_ordinary_phone_numbers_are_accepted(phone: str) -> None:
    assert decode(_with("support_contacts", phone=phone)).support_contacts[0].phone == phone


def test_a_stored_plan_carries_version_and_a_utc_timestamp() -> None:
    graduate_id = uuid.uuid4()
    stored = {
        **full_plan(),
        "graduate_id": str(graduate_id),
        "version": 3,
        "updated_at": "2026-11-24T18:00:00Z",
    }
    plan = msgspec.json.decode(msgspec.json.encode(stored), type=Plan)
    assert plan.graduate_id == graduate_id
    assert plan.updated_at == datetime(2026, 11, 24, 18, tzinfo=UTC)
    assert plan.updated_by is None
    naive = {**stored, "updated_at": "2026-11-24T18:00:00"}
    with pytest.raises(msgspec.ValidationError, match="timezone"):
        msgspec.json.decode(msgspec.json.encode(naive), type=Plan)


def test_plan_from_template_takes_only_a_template_id() -> None:
    assert (
        msgspec.json.decode(b'{"template_id": "iop-standard"}', type=PlanFromTemplate).template_id
        == "iop-standard"
    )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"template_id": "iop-standard", "force": true}', type=PlanFromTemplate)


def test_the_published_json_schema_keeps_the_bounds() -> None:
    schema = msgspec.json.schema(PlanBody)
    body = schema["$defs"]["PlanBody"]
    assert body["additionalProperties"] is False
    assert body["properties"]["triggers"]["maxItems"] == 100
    offsets = schema["$defs"]["TherapyItem"]["properties"]["reminder_minutes_before"]
    assert offsets["maxItems"] == 5
    assert offsets["items"] == {"type": "integer", "minimum": 0, "maximum": 10080}
