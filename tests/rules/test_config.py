"""Program rules: ``{}`` is the default policy, every bound and unknown name is refused with its path."""

from __future__ import annotations

import msgspec
import pytest

from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder

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
    body = msgspec.to_builtins(DEFAULT_RULES)
    assert set(body["rules"]) == RULE_NAMES
    assert all(rule["enabled"] is True for rule in body["rules"].values())
    assert body["escalation"] == {
        "critical_minutes": 15,
        "high_minutes": 240,
        "warning_minutes": 1440,
        "max_level": 2,
    }
    assert body["nudge_after_minutes"] == 120
    assert body["rules"]["silence"] == {"enabled": True, "warning_days": 2, "high_days": 4}
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
        (b'{"nudge_after_minutes": 100000}', "$.nudge_after_minutes"),
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
