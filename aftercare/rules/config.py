"""The program's warning-sign rules and escalation policy: the body of ``GET/PUT /v1/program/rules``.

One Struct per rule, each with its own thresholds and their bounds (``msgspec.Meta``), so the OpenAPI
schema documents them and msgspec rejects an out-of-range value, an unknown rule or an unknown field
(``forbid_unknown_fields``) before any code sees it. Every field has a default, so ``{}`` is the
program default, and the backtest's ``--rules`` file is this very body (``version`` included: it is
what ``GET`` returns; the service ignores it on input and takes ``If-Match`` instead).

Relative thresholds are z-scores against the graduate's own baseline (see ``aggregates.py``); the
absolute ones (craving 7 or more, mood 2 or less) are the safety nets the program named.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

ZScore = Annotated[float, Meta(ge=0.5, le=8.0, description="Standard deviations from the personal baseline")]
WindowDays = Annotated[int, Meta(ge=1, le=28, description="Local days looked back, today included")]
DayCount = Annotated[int, Meta(ge=1, le=28, description="Days (or check-ins) that must show the sign")]
Minutes = Annotated[int, Meta(ge=1, le=43_200)]
Chance = Annotated[
    float,
    Meta(
        gt=0.0,
        le=0.5,
        description="Fire only if the person's own usual rate would give this many days with at most "
        "this probability",
    ),
]


def _check(ok: bool, message: str) -> None:
    # msgspec turns a ValueError raised in __post_init__ into a ValidationError at the Struct's path.
    if not ok:
        raise ValueError(message)


class _Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True


class LapseRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``used`` -> high; another lapse within ``repeat_window_days`` before it -> critical."""

    repeat_window_days: Annotated[
        int, Meta(ge=1, le=27, description="A lapse this many days after another is critical")
    ] = 14


class SafetyRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``safety_concern`` -> critical, always at once; it has no thresholds."""


class CravingRisingRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Craving above the personal baseline on several recent days, or climbing; an absolute net."""

    z_warning: ZScore = 2.0
    z_high: ZScore = 3.5
    min_days: DayCount = 2
    span_days: WindowDays = 3
    trend_points: Annotated[
        int, Meta(ge=3, le=7, description="Check-ins in the last 7 days the slope is fitted to")
    ] = 4
    trend_slope: Annotated[
        float, Meta(ge=0.1, le=3.0, description="Rise in baseline standard deviations per day")
    ] = 0.4
    trend_z: ZScore = 1.5
    absolute_level: Annotated[int, Meta(ge=1, le=10, description="Craving this high counts anyway")] = 7
    absolute_days: DayCount = 3
    absolute_of_last: Annotated[int, Meta(ge=1, le=28, description="...of this many recent check-ins")] = 5
    absolute_max_chance: Chance = 0.02

    def __post_init__(self) -> None:
        _check(self.z_high >= self.z_warning, "z_high must be at least z_warning")
        _check(self.min_days <= self.span_days, "min_days must not exceed span_days")
        _check(self.absolute_days <= self.absolute_of_last, "absolute_days must not exceed absolute_of_last")


class MoodFallingRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Mood below the personal baseline on several recent days; an absolute net for low mood."""

    z_warning: ZScore = 2.0
    min_days: DayCount = 2
    span_days: WindowDays = 3
    absolute_level: Annotated[int, Meta(ge=1, le=4, description="Mood this low counts anyway")] = 2
    absolute_days: Annotated[
        int, Meta(ge=1, le=14, description="Consecutive days at or below absolute_level")
    ] = 3
    absolute_max_chance: Chance = 0.02

    def __post_init__(self) -> None:
        _check(self.min_days <= self.span_days, "min_days must not exceed span_days")


class SupportDropoffRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Planned support groups or therapy missed repeatedly, more than the person usually does."""

    window_days: WindowDays = 7
    min_missed: DayCount = 2
    max_chance: Chance = 0.05


class MedicationMissedRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Medication not taken on consecutive days, when the plan has medications."""

    consecutive_days: Annotated[int, Meta(ge=1, le=14, description="Consecutive local days missed")] = 2
    max_chance: Chance = 0.02


class IsolationRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Pulling away from friends and family on several recent days, more than usual."""

    window_days: WindowDays = 7
    min_days: DayCount = 3
    max_chance: Chance = 0.01

    def __post_init__(self) -> None:
        _check(self.min_days <= self.window_days, "min_days must not exceed window_days")


class TriggersWithoutCopingRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Triggers met on several recent days with none of their coping skills used."""

    window_days: WindowDays = 7
    min_days: DayCount = 3
    max_chance: Chance = 0.01

    def __post_init__(self) -> None:
        _check(self.min_days <= self.window_days, "min_days must not exceed window_days")


class SilenceRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Local days whose check-in window closed without a check-in, in a row."""

    warning_days: Annotated[int, Meta(ge=1, le=28, description="Silent days for a warning")] = 2
    high_days: Annotated[int, Meta(ge=1, le=28, description="Silent days for high")] = 4

    def __post_init__(self) -> None:
        _check(self.high_days > self.warning_days, "high_days must exceed warning_days")


class CombinedRule(_Rule, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Modest deviations in several signals at once, or several other rules' warnings at once."""

    span_days: Annotated[
        int, Meta(ge=2, le=14, description="Local days whose check-ins are averaged for each measure")
    ] = 4
    window_days: WindowDays = 7
    signal_min: Annotated[
        float, Meta(ge=0.1, le=3.0, description="Strength (a z-score) at which one signal counts")
    ] = 1.1
    min_signals: Annotated[int, Meta(ge=2, le=8, description="Deviating signals needed at once")] = 2
    score_warning: Annotated[
        float, Meta(ge=0.5, le=24.0, description="Summed strength of the counting signals for a warning")
    ] = 3.0
    score_high: Annotated[
        float, Meta(ge=0.5, le=24.0, description="Summed strength of the counting signals for high")
    ] = 6.5
    single_strength: Annotated[
        float,
        Meta(
            ge=0.5,
            le=24.0,
            description="Strength at which one deviating signal alone is a warning (strengths reach at "
            "most 3, so above 3 turns this off)",
        ),
    ] = 2.7
    min_warnings: Annotated[
        int, Meta(ge=2, le=6, description="Other rules' warnings at once that make a combined high")
    ] = 2

    def __post_init__(self) -> None:
        _check(self.score_high >= self.score_warning, "score_high must be at least score_warning")


class Rules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    lapse: LapseRule = LapseRule()
    safety: SafetyRule = SafetyRule()
    craving_rising: CravingRisingRule = CravingRisingRule()
    mood_falling: MoodFallingRule = MoodFallingRule()
    support_dropoff: SupportDropoffRule = SupportDropoffRule()
    medication_missed: MedicationMissedRule = MedicationMissedRule()
    isolation: IsolationRule = IsolationRule()
    triggers_without_coping: TriggersWithoutCopingRule = TriggersWithoutCopingRule()
    silence: SilenceRule = SilenceRule()
    combined: CombinedRule = CombinedRule()


class Escalation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Minutes an open alert may wait unacknowledged, per severity, before the next level."""

    critical_minutes: Annotated[int, Meta(ge=1, le=1_440)] = 15
    high_minutes: Minutes = 240
    warning_minutes: Minutes = 1_440
    max_level: Annotated[int, Meta(ge=0, le=5, description="Escalation levels after the counselor")] = 2


class ProgramRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: Annotated[int, Meta(ge=0, description="Read-only: the stored version (ETag)")] = 0
    rules: Rules = Rules()
    escalation: Escalation = Escalation()
    nudge_after_minutes: Annotated[
        int, Meta(ge=1, le=720, description="Minutes after the daily prompt before the nudge")
    ] = 120


DEFAULT_RULES = ProgramRules()
rules_decoder = msgspec.json.Decoder(ProgramRules)
