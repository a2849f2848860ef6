"""The program's warning-sign rules and escalation policy: the body of ``GET/PUT /v1/program/rules``.

One Struct per rule, each with its own thresholds and their bounds (``msgspec.Meta``), so the OpenAPI
schema documents them and msgspec rejects an out-of-range value, an unknown rule or an unknown field
(``forbid_unknown_fields``) before any code sees it. Every field has a default, so ``{}`` is the
program default, and the backtest's ``--rules`` file is this very body (``version`` included: it is
what ``GET`` returns; the service ignores it on input and takes ``If-Match`` instead).

Relative thresholds are z-scores against the graduate's own baseline (see ``aggregates.py``); the
absolute ones (craving 7 or more, mood 2 or less) are the safety nets the program named.

Besides the rules, the body holds the program's settings (``program``: its time zone and business
hours) and its response targets per severity (``response_targets``): how soon an alert must be
acknowledged. The targets are the one source of the escalation waits (``rules/targets.py``
computes both); ``escalation`` keeps only how many levels follow the counselor. The body before
response targets existed spelled the waits ``escalation.{critical,high,warning}_minutes``; such a
body still decodes (a stored row, an old client, a backtest ``--rules`` file), and ``ProgramRules``
reads those minutes as response targets (see its docstring). They are never written back.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from aftercare.scheduling.localtime import is_valid_zone

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
    ] = 1.25
    min_signals: Annotated[int, Meta(ge=2, le=8, description="Deviating signals needed at once")] = 2
    score_warning: Annotated[
        float, Meta(ge=0.5, le=24.0, description="Summed strength of the counting signals for a warning")
    ] = 3.5
    score_high: Annotated[
        float, Meta(ge=0.5, le=24.0, description="Summed strength of the counting signals for high")
    ] = 7.5
    single_strength: Annotated[
        float,
        Meta(
            ge=0.5,
            le=24.0,
            description="Strength at which one deviating signal alone is a warning (strengths reach at "
            "most 3, so above 3 turns this off)",
        ),
    ] = 3.0
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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
ClockTime = Annotated[
    str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Local time of day, HH:MM")
]


class BusinessHours(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When the program's staff are at work, in the program's time zone: the same window
    ``[start, end)`` on each of ``days``. One window a day, within the day (no overnight hours);
    holidays are not modelled."""

    days: Annotated[tuple[Weekday, ...], Meta(min_length=1, max_length=7, description="Business days")] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    start: ClockTime = "09:00"
    end: ClockTime = "17:00"

    def __post_init__(self) -> None:
        _check(len(set(self.days)) == len(self.days), "days must not repeat a day")
        # HH:MM strings of one width compare as times do.
        _check(self.end > self.start, "end must be after start (one window within the local day)")


class ProgramSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and when the program works: business days are counted in this zone."""

    timezone: Annotated[
        str, Meta(min_length=1, max_length=64, description="IANA time zone", examples=["America/Chicago"])
    ] = "America/Chicago"
    business_hours: BusinessHours = BusinessHours()

    def __post_init__(self) -> None:
        _check(is_valid_zone(self.timezone), f"timezone: unknown time zone {self.timezone!r}")


TargetMinutes = Annotated[int, Meta(ge=1, le=43_200, description="Minutes of elapsed time, round the clock")]
BusinessDays = Annotated[
    int, Meta(ge=1, le=10, description="Business days, in the program's time zone and business hours")
]


class ResponseTarget(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """How soon an alert must be acknowledged: exactly one of ``minutes`` (elapsed time, nights and
    weekends included) or ``business_days`` (counted in the program's business hours; the precise
    rule is ``rules/targets.py::add_business_days``)."""

    minutes: TargetMinutes | None = None
    business_days: BusinessDays | None = None

    def __post_init__(self) -> None:
        _check(
            (self.minutes is None) != (self.business_days is None),
            "give exactly one of minutes or business_days",
        )


# engine.Severity's values (engine.py imports this module, so it cannot be imported from there).
SeverityName = Literal["warning", "high", "critical"]


class ResponseTargets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per severity, how soon an open alert must be acknowledged. An alert's ``respond_by`` is its
    target counted from its opening (or from the raise or re-open that restarted the clock), and the
    same target is each escalation level's wait."""

    critical: ResponseTarget = ResponseTarget(minutes=15)
    high: ResponseTarget = ResponseTarget(minutes=240)
    warning: ResponseTarget = ResponseTarget(business_days=1)

    def of(self, severity: SeverityName) -> ResponseTarget:
        target: ResponseTarget = getattr(self, severity)
        return target


# What every body before response targets carried, chosen or not (``GET`` returned every field).
_LEGACY_DEFAULT_MINUTES: dict[SeverityName, int] = {"critical": 15, "high": 240, "warning": 1_440}
# The old fields' bounds, kept so an old body that decoded before still decodes.
_LegacyCriticalMinutes = Annotated[
    int, Meta(ge=1, le=1_440, description="Deprecated: read as response_targets.critical {minutes}")
]
_LegacyMinutes = Annotated[
    int, Meta(ge=1, le=43_200, description="Deprecated: read as response_targets.<severity> {minutes}")
]


class Escalation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Levels after the counselor. Each level waits the severity's response target (``response_targets``);
    the ``*_minutes`` fields are the old spelling of those targets, read on input, never returned."""

    max_level: Annotated[int, Meta(ge=0, le=5, description="Escalation levels after the counselor")] = 2
    critical_minutes: _LegacyCriticalMinutes | UnsetType = UNSET
    high_minutes: _LegacyMinutes | UnsetType = UNSET
    warning_minutes: _LegacyMinutes | UnsetType = UNSET

    def legacy_minutes(self) -> dict[SeverityName, int]:
        """The old per-severity waits this body chose: those given and not at their old default."""
        given: dict[SeverityName, int | UnsetType] = {
            "critical": self.critical_minutes,
            "high": self.high_minutes,
            "warning": self.warning_minutes,
        }
        return {
            severity: minutes
            for severity, minutes in given.items()
            if isinstance(minutes, int) and minutes != _LEGACY_DEFAULT_MINUTES[severity]
        }


class ProgramRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole body. A body in the old shape (``escalation.{critical,high,warning}_minutes``) is
    read so: each minutes value that differs from its old default (15, 240, 1440) becomes that
    severity's target ``{minutes: N}``; a value equal to its old default is what every saved body
    carried whether anyone chose it or not, so it takes the new default (warning: 1 business day).
    The old fields are then dropped, so ``GET`` returns the new shape only. A body that sets both an
    old minutes value and ``response_targets`` other than the defaults is refused: one source of truth."""

    version: Annotated[int, Meta(ge=0, description="Read-only: the stored version (ETag)")] = 0
    rules: Rules = Rules()
    program: ProgramSettings = ProgramSettings()
    response_targets: ResponseTargets = ResponseTargets()
    escalation: Escalation = Escalation()
    nudge_after_minutes: Annotated[
        int, Meta(ge=1, le=720, description="Minutes after the daily prompt before the nudge")
    ] = 120

    def __post_init__(self) -> None:
        escalation = self.escalation
        if escalation == Escalation(max_level=escalation.max_level):
            return
        legacy = escalation.legacy_minutes()
        _check(
            not legacy or self.response_targets == ResponseTargets(),
            "escalation.critical_minutes, high_minutes and warning_minutes are the old form of "
            "response_targets: send one or the other",
        )
        targets = msgspec.structs.replace(
            self.response_targets,
            **{severity: ResponseTarget(minutes=minutes) for severity, minutes in legacy.items()},
        )
        # Frozen: decoding is the only time this runs, and the body must leave it in the new shape.
        msgspec.structs.force_setattr(self, "response_targets", targets)
        msgspec.structs.force_setattr(self, "escalation", Escalation(max_level=escalation.max_level))


DEFAULT_RULES = ProgramRules()
rules_decoder = msgspec.json.Decoder(ProgramRules)
