"""Program rules: ``{}`` is the default policy, every bound and unknown name is refused with its path."""

from __future__ import annotations

import msgspec
import pytest

from aftercare.rules.config import DEFAULT_RULES, ProgramRules, ResponseTarget, rules_decoder

RULE_NAMES = {
    "lapse",
    "safety",
    "craving_rising",
    "mood_falling",
    "support_dropoff",
    "medication_missed",
    "isolation",
    "triggers_without_coping",
    "silence",
    "combined",
}


def test_empty_body_is_the_program_default() -> None:
    assert rules_decoder.decode(b"{}") == DEFAULT_RULES == ProgramRules()


def test_defaults_match_the_contract() -> None:
    body = msgspec.json.decode(msgspec.json.encode(DEFAULT_RULES))
    assert set(body["rules"]) == RULE_NAMES
    assert all(rule["enabled"] is True for rule in body["rules"].values())
    assert body["program"] == {
        "timezone": "America/Chicago",
        "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"},
        # Issue 22: an erasure deletes check-in scores too unless the program keeps them.
        "erasure_keeps_clinical_answers": False,
        # 988 for both (the operator's AFTERCARE_CRISIS_LINE); Spanish: press 2, or text AYUDA.
        "crisis_lines": {"en": {}, "es": {"language_option": "2", "text_keyword": "AYUDA"}},
    }
    assert body["response_targets"] == {
        "critical": {"minutes": 15},
        "high": {"minutes": 240},
        "warning": {"business_days": 1},
    }
    # The first wait of escalation is the response target; the levels after it wait the same unless
    # they say otherwise.
    assert body["escalation"] == {
        "levels": [{"target": "assigned"}, {"target": "on_call"}, {"target": "supervisors"}],
        "critical_repeats": 1,
    }
    assert body["nudge_after_minutes"] == 120
    # Issue 20, fourth pass: signs that go on after their alert was handled alert again a week on.
    assert body["early_signs_realert_days"] == 7
    assert body["rules"]["silence"] == {
        "enabled": True,
        "warning_days": 2,
        "high_days": 4,
        "usual_extra_days": 1,
        "max_chance": 0.01,
    }
    assert body["rules"]["lapse"]["repeat_window_days"] == 14


def test_the_get_body_decodes_back_to_itself() -> None:
    # The backtest's --rules file is the GET body, version included.
    encoded = msgspec.json.encode(msgspec.structs.replace(DEFAULT_RULES, version=7))
    assert rules_decoder.decode(encoded).version == 7
    assert rules_decoder.decode(encoded).rules == DEFAULT_RULES.rules


def test_a_partial_rule_keeps_the_other_defaults() -> None:
    rules = rules_decoder.decode(
        b'{"rules": {"craving_rising": {"z_warning": 2.5}, "isolation": {"enabled": false}}}'
    )
    assert rules.rules.craving_rising.z_warning == 2.5
    assert rules.rules.craving_rising.min_days == DEFAULT_RULES.rules.craving_rising.min_days
    assert rules.rules.isolation.enabled is False
    assert rules.rules.mood_falling == DEFAULT_RULES.rules.mood_falling


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"rules": {"relapse_risk": {}}}', "$.rules"),
        (b'{"rules": {"lapse": {"threshold": 3}}}', "$.rules.lapse"),
        (b'{"escalation": {"minutes": 5}}', "$.escalation"),
    ],
)
def test_unknown_names_are_refused(body: bytes, path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field") as exc:
        rules_decoder.decode(body)
    assert str(exc.value).endswith(f"`{path}`")


def test_an_unknown_top_level_field_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `colour`"):
        rules_decoder.decode(b'{"colour": "red"}')


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"rules": {"craving_rising": {"z_warning": 0.1}}}', "$.rules.craving_rising.z_warning"),
        (b'{"rules": {"silence": {"warning_days": 0}}}', "$.rules.silence.warning_days"),
        (b'{"rules": {"lapse": {"repeat_window_days": 60}}}', "$.rules.lapse.repeat_window_days"),
        (b'{"rules": {"isolation": {"max_chance": 0}}}', "$.rules.isolation.max_chance"),
        (b'{"rules": {"mood_falling": {"absolute_level": 5}}}', "$.rules.mood_falling.absolute_level"),
        (b'{"escalation": {"critical_minutes": 0}}', "$.escalation.critical_minutes"),
        (b'{"escalation": {"max_level": 9}}', "$.escalation.max_level"),
        (b'{"escalation": {"levels": []}}', "$.escalation.levels"),
        (
            b'{"escalation": {"levels": [{"target": "assigned"}, {"target": "on_call", "wait_minutes": {"high": 0}}]}}',
            "$.escalation.levels[1].wait_minutes.high",
        ),
        (
            b'{"escalation": {"levels": [{"target": "assigned"}, {"target": "on_call", "wait_minutes": {"warning": 10081}}]}}',
            "$.escalation.levels[1].wait_minutes.warning",
        ),
        (b'{"escalation": {"levels": [{"target": "nobody"}]}}', "$.escalation.levels[0].target"),
        (b'{"escalation": {"critical_repeats": 6}}', "$.escalation.critical_repeats"),
        (b'{"response_targets": {"critical": {"minutes": 0}}}', "$.response_targets.critical.minutes"),
        (b'{"response_targets": {"high": {"minutes": -5}}}', "$.response_targets.high.minutes"),
        (
            b'{"response_targets": {"warning": {"business_days": 0}}}',
            "$.response_targets.warning.business_days",
        ),
        (b'{"response_targets": {"high": {"hours": 4}}}', "$.response_targets.high"),
        (b'{"program": {"business_hours": {"days": []}}}', "$.program.business_hours.days"),
        (b'{"program": {"business_hours": {"days": ["monday"]}}}', "$.program.business_hours.days[0]"),
        (b'{"program": {"business_hours": {"start": "9:00"}}}', "$.program.business_hours.start"),
        (b'{"program": {"business_hours": {"end": "24:00"}}}', "$.program.business_hours.end"),
        (b'{"nudge_after_minutes": 100000}', "$.nudge_after_minutes"),
        (b'{"early_signs_realert_days": -1}', "$.early_signs_realert_days"),
        (b'{"early_signs_realert_days": 61}', "$.early_signs_realert_days"),
        (b'{"rules": {"safety": {"enabled": "yes"}}}', "$.rules.safety.enabled"),
    ],
)
def test_out_of_range_values_are_refused_at_their_path(body: bytes, path: str) -> None:
    with pytest.raises(msgspec.ValidationError) as exc:
        rules_decoder.decode(body)
    assert str(exc.value).endswith(f"`{path}`")


@pytest.mark.parametrize(
    ("body", "message", "path"),
    [
        (b'{"rules": {"silence": {"warning_days": 4, "high_days": 3}}}', "high_days", "$.rules.silence"),
        (b'{"rules": {"craving_rising": {"z_warning": 3, "z_high": 2}}}', "z_high", "$.rules.craving_rising"),
        (b'{"rules": {"combined": {"score_warning": 6, "score_high": 5}}}', "score_high", "$.rules.combined"),
        (b'{"rules": {"isolation": {"min_days": 5, "window_days": 3}}}', "min_days", "$.rules.isolation"),
        (
            b'{"program": {"business_hours": {"start": "17:00", "end": "09:00"}}}',
            "end must be after start",
            "$.program.business_hours",
        ),
        (
            b'{"program": {"business_hours": {"start": "09:00", "end": "09:00"}}}',
            "end must be after start",
            "$.program.business_hours",
        ),
        (
            b'{"program": {"business_hours": {"days": ["mon", "mon"]}}}',
            "must not repeat",
            "$.program.business_hours",
        ),
        (b'{"program": {"timezone": "Mars/Olympus"}}', "timezone: unknown time zone", "$.program"),
        (b'{"program": {"timezone": "../etc/passwd"}}', "timezone: unknown time zone", "$.program"),
        (
            b'{"response_targets": {"warning": {"minutes": 60, "business_days": 1}}}',
            "exactly one of minutes or business_days",
            "$.response_targets.warning",
        ),
        (b'{"response_targets": {"high": {}}}', "exactly one", "$.response_targets.high"),
    ],
)
def test_inconsistent_thresholds_are_refused(body: bytes, message: str, path: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message) as exc:
        rules_decoder.decode(body)
    assert str(exc.value).endswith(f"`{path}`")


def test_bounds_reach_the_json_schema() -> None:
    schema = msgspec.json.schema(ProgramRules)
    craving = schema["$defs"]["CravingRisingRule"]["properties"]["z_warning"]
    assert craving["minimum"] == 0.5
    assert craving["maximum"] == 8.0
    assert "description" in craving
    assert schema["$defs"]["Rules"]["additionalProperties"] is False


# The shape before response targets: what every stored row and old --rules file looks like.
OLD_DEFAULTS = {"critical_minutes": 15, "high_minutes": 240, "warning_minutes": 1440, "max_level": 2}


def test_an_old_body_at_its_defaults_reads_as_the_new_defaults() -> None:
    # GET returned every field, so a saved body carried the old defaults whether anyone chose them
    # or not: they mean "the default", which for warnings is now 1 business day.
    rules = rules_decoder.decode(msgspec.json.encode({"escalation": OLD_DEFAULTS}))
    assert rules == DEFAULT_RULES
    assert msgspec.to_builtins(rules)["escalation"] == msgspec.to_builtins(DEFAULT_RULES.escalation)


def test_an_old_body_s_chosen_minutes_become_response_targets() -> None:
    body = {"escalation": {**OLD_DEFAULTS, "critical_minutes": 10, "warning_minutes": 2880, "max_level": 3}}
    rules = rules_decoder.decode(msgspec.json.encode(body))
    assert rules.response_targets.critical == ResponseTarget(minutes=10)
    assert rules.response_targets.high == ResponseTarget(minutes=240)
    assert rules.response_targets.warning == ResponseTarget(minutes=2880)
    # max_level 3: the default levels, and a critical alert starts again twice.
    assert rules.escalation.levels == DEFAULT_RULES.escalation.levels
    assert rules.escalation.critical_repeats == 2
    # Never written back in the old form: what GET returns (and the row stores) is the new shape.
    encoded = msgspec.to_builtins(rules)
    assert encoded["escalation"]["critical_repeats"] == 2 and "max_level" not in encoded["escalation"]
    assert encoded["response_targets"]["warning"] == {"minutes": 2880}
    assert rules_decoder.decode(msgspec.json.encode(encoded)) == rules
    # The stored row is read with convert, not the decoder: the same translation.
    assert msgspec.convert(body, ProgramRules) == rules


def test_old_minutes_and_new_targets_together_are_refused() -> None:
    body = {
        "escalation": {"critical_minutes": 10},
        "response_targets": {"high": {"minutes": 60}},
    }
    with pytest.raises(msgspec.ValidationError, match="old form of response_targets"):
        rules_decoder.decode(msgspec.json.encode(body))
    # Old defaults beside new targets say nothing: the new targets stand.
    body = {"escalation": OLD_DEFAULTS, "response_targets": {"high": {"minutes": 60}}}
    rules = rules_decoder.decode(msgspec.json.encode(body))
    assert rules.response_targets.high == ResponseTarget(minutes=60)


def test_a_partial_targets_body_keeps_the_other_defaults() -> None:
    rules = rules_decoder.decode(b'{"response_targets": {"high": {"business_days": 2}}}')
    assert rules.response_targets.high == ResponseTarget(business_days=2)
    assert rules.response_targets.critical == DEFAULT_RULES.response_targets.critical
    assert rules.response_targets.of("warning") == ResponseTarget(business_days=1)


def test_an_old_max_level_of_zero_is_the_counselor_alone() -> None:
    rules = rules_decoder.decode(b'{"escalation": {"max_level": 0}}')
    assert [level.target for level in rules.escalation.levels] == ["assigned"]
    assert rules.escalation.critical_repeats == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"levels": [{"target": "assigned"}, {"target": "supervisors"}, {"target": "on_call"}]},
            "levels[2]: can never be reached: the chain ends at levels[1] (supervisors)",
        ),
        (
            {"levels": [{"target": "assigned", "wait_minutes": {"critical": 5}}]},
            "levels[0].wait_minutes: the first level waits the severity's response target",
        ),
        ({"levels": [{"target": "staff"}]}, "staff_ids: a staff level names at least one"),
        (
            {"levels": [{"target": "on_call", "staff_ids": ["0192f6a0-0000-7000-8000-000000000001"]}]},
            "staff_ids: only a staff level names people",
        ),
        ({"max_level": 1, "critical_repeats": 3}, "max_level is the old form of escalation.levels"),
    ],
)
def test_bad_policies_are_refused(body: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as refused:
        rules_decoder.decode(msgspec.json.encode({"escalation": body}))
    assert message in str(refused.value)
