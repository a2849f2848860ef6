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
computes both); ``escalation`` is the policy: ordered levels, each naming whom it notifies and how
long it has before the next, the first waiting the response target (``rules/routing.py`` walks it).
The bodies before response targets and before the policy spelled the waits
``escalation.{critical,high,warning}_minutes`` and the levels ``escalation.max_level``; such a body
still decodes (a stored row, an old client, a backtest ``--rules`` file), and ``ProgramRules`` reads
those fields in the new shape (see its docstring). They are never written back.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from aftercare.i18n import Locale
from aftercare.rules.severity import Severity
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
    """``used`` -> high; another lapse within ``repeat_window_days`` of it, either side -> critical."""

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
    # As strict as the other count rules (1-2%): at 5%, judged afresh every day over a rolling week,
    # it alarmed regular attenders every few weeks and was the least telling rule on all three
    # synthetic cohorts (docs/ENGINE.md).
    max_chance: Chance = 0.01


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

    warning_days: Annotated[
        int,
        Meta(
            ge=1,
            le=28,
            description="Silent days for a warning, if that long a run is unlikely (max_chance) at the "
            "person's usual rate of missed days",
        ),
    ] = 2
    high_days: Annotated[int, Meta(ge=1, le=28, description="Silent days for high")] = 4
    usual_extra_days: Annotated[
        int,
        Meta(
            ge=0,
            le=7,
            description="Days a warning may wait past warning_days for a graduate who often misses that "
            "many in a row; after them it warns whatever the usual rate (0: never waits)",
        ),
    ] = 1
    # A graduate who misses one day in ten, in bursts, goes quiet for two days every few weeks: at
    # two days they were paged for their ordinary life. Waiting one more day for them, and only for
    # them, keeps a dropout's alert within three days (docs/ENGINE.md).
    max_chance: Chance = 0.01

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
    ] = 1.2
    min_signals: Annotated[int, Meta(ge=2, le=8, description="Deviating signals needed at once")] = 2
    score_warning: Annotated[
        float, Meta(ge=0.5, le=24.0, description="Summed strength of the counting signals for a warning")
    ] = 3.4
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
    ] = 2.8
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


class CrisisLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The crisis line given to graduates who read one language: with a check-in's safety answer,
    with "help now", and in a crisis plan that has no line of its own."""

    number: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=64,
                description="What to call or text; null: the operator's AFTERCARE_CRISIS_LINE (988 by "
                "default)",
                examples=["988"],
            ),
        ]
        | None
    ) = None
    language_option: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=8,
                description="The menu option that reaches someone speaking this language (988: 2 for "
                "Spanish); null: none to press",
                examples=["2"],
            ),
        ]
        | None
    ) = None
    text_keyword: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=32,
                description="The word to text to reach someone writing this language (988: AYUDA for "
                "Spanish); null: any text",
                examples=["AYUDA"],
            ),
        ]
        | None
    ) = None


class CrisisLines(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The crisis line for each graduate locale (one field per locale the service speaks)."""

    en: CrisisLine = CrisisLine()
    # 988 answers a call in Spanish after option 2, and a text in Spanish when it says AYUDA
    # (988lifeline.org, "What to expect"); in English it needs neither.
    es: CrisisLine = CrisisLine(language_option="2", text_keyword="AYUDA")

    def __getitem__(self, locale: Locale) -> CrisisLine:
        line: CrisisLine = getattr(self, locale)
        return line


class ProgramSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and when the program works: business days are counted in this zone."""

    timezone: Annotated[
        str, Meta(min_length=1, max_length=64, description="IANA time zone", examples=["America/Chicago"])
    ] = "America/Chicago"
    business_hours: BusinessHours = BusinessHours()
    erasure_keeps_clinical_answers: Annotated[
        bool,
        Meta(
            description="When a graduate's data is erased, keep their check-in scores (without notes "
            "or plan item ids) for the program's statistics; false (default): they are deleted too"
        ),
    ] = False
    crisis_lines: Annotated[
        CrisisLines,
        Meta(description="Per graduate locale (en, es), the crisis line their crisis texts give"),
    ] = CrisisLines()

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


class ResponseTargets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per severity, how soon an open alert must be acknowledged. An alert's ``respond_by`` is its
    target counted from its opening (or from the raise or re-open that restarted the clock), and the
    same target is each escalation level's wait."""

    critical: ResponseTarget = ResponseTarget(minutes=15)
    high: ResponseTarget = ResponseTarget(minutes=240)
    warning: ResponseTarget = ResponseTarget(business_days=1)

    def of(self, severity: Severity) -> ResponseTarget:
        target: ResponseTarget = getattr(self, severity)
        return target


# What every body before response targets carried, chosen or not (``GET`` returned every field).
_LEGACY_DEFAULT_MINUTES: dict[Severity, int] = {"critical": 15, "high": 240, "warning": 1_440}
# The old fields' bounds, kept so an old body that decoded before still decodes.
_LegacyCriticalMinutes = Annotated[
    int, Meta(ge=1, le=1_440, description="Deprecated: read as response_targets.critical {minutes}")
]
_LegacyMinutes = Annotated[
    int, Meta(ge=1, le=43_200, description="Deprecated: read as response_targets.<severity> {minutes}")
]


EscalationTarget = Literal["assigned", "on_call", "supervisors", "staff"]
WaitMinutes = Annotated[
    int, Meta(ge=1, le=10_080, description="Minutes before the next level: at least 1, at most 7 days")
]


class LevelWaits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Per severity, how long a level has before the next one is notified. A severity left out waits
    its response target (``response_targets``), as the first level always does."""

    critical: WaitMinutes | None = None
    high: WaitMinutes | None = None
    warning: WaitMinutes | None = None

    def of(self, severity: Severity) -> int | None:
        minutes: int | None = getattr(self, severity)
        return minutes


class EscalationLevel(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One level of the escalation policy: whom it notifies, and how long it has before the next.

    ``target``: ``assigned`` (the graduate's counselor, or their cover while they are away),
    ``on_call`` (whoever the on-call rota names at that instant), ``supervisors`` (every active
    supervisor) or ``staff`` (the staff members in ``staff_ids``). Anyone away is replaced by their
    cover. A level none of whose people can be reached is skipped at once (``rules/routing.py``)."""

    target: EscalationTarget
    staff_ids: Annotated[
        tuple[uuid.UUID, ...],
        Meta(max_length=20, description="The people of a `staff` level, and only of one"),
    ] = ()
    wait_minutes: LevelWaits | None = None

    def __post_init__(self) -> None:
        if self.target == "staff":
            _check(bool(self.staff_ids), "staff_ids: a staff level names at least one staff member")
            _check(len(set(self.staff_ids)) == len(self.staff_ids), "staff_ids: must not repeat an id")
        else:
            _check(not self.staff_ids, f"staff_ids: only a staff level names people, not {self.target}")


# The program default: the counselor (or their cover), then whoever is on call, then the supervisors.
# Without an on-call rota its level is skipped at once, so the supervisors follow the counselor.
DEFAULT_LEVELS: tuple[EscalationLevel, ...] = (
    EscalationLevel(target="assigned"),
    EscalationLevel(target="on_call"),
    EscalationLevel(target="supervisors"),
)


class Escalation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The escalation policy: ordered ``levels``, notified one after another until the alert is
    acknowledged (or outreach is recorded on it). The first level is notified as the alert opens (or
    rises, or re-opens) and waits the severity's response target; each later level waits its
    ``wait_minutes``. The chain ends at a ``supervisors`` level: nobody is above them, so a level
    after one could never be reached and is refused. A critical alert nobody acknowledged after the
    last level's wait starts again at the first level, ``critical_repeats`` times. Then the last
    level holds: after each of its waits, it is notified again if nobody notified at it can still be
    reached.

    ``max_level`` and ``*_minutes`` are the old spelling (read on input, never returned):
    ``max_level: 0`` is the counselor alone, ``max_level: N`` the default levels with
    ``critical_repeats: N - 1``; the minutes are read as response targets (see ``ProgramRules``)."""

    levels: Annotated[tuple[EscalationLevel, ...], Meta(min_length=1, max_length=10)] = DEFAULT_LEVELS
    critical_repeats: Annotated[
        int, Meta(ge=0, le=5, description="Times a critical alert starts again at the first level")
    ] = 1
    max_level: Annotated[int, Meta(ge=0, le=5, description="Deprecated: read as levels")] | UnsetType = UNSET
    critical_minutes: _LegacyCriticalMinutes | UnsetType = UNSET
    high_minutes: _LegacyMinutes | UnsetType = UNSET
    warning_minutes: _LegacyMinutes | UnsetType = UNSET

    def __post_init__(self) -> None:
        _check(
            self.levels[0].wait_minutes is None,
            "levels[0].wait_minutes: the first level waits the severity's response target (response_targets)",
        )
        for index, level in enumerate(self.levels[:-1]):
            _check(
                level.target != "supervisors",
                f"levels[{index + 1}]: can never be reached: the chain ends at levels[{index}] (supervisors)",
            )

    def legacy_minutes(self) -> dict[Severity, int]:
        """The old per-severity waits this body chose: those given and not at their old default."""
        given: dict[Severity, int | UnsetType] = {
            "critical": self.critical_minutes,
            "high": self.high_minutes,
            "warning": self.warning_minutes,
        }
        return {
            severity: minutes
            for severity, minutes in given.items()
            if isinstance(minutes, int) and minutes != _LEGACY_DEFAULT_MINUTES[severity]
        }

    @property
    def legacy(self) -> bool:
        return any(
            value is not UNSET
            for value in (self.max_level, self.critical_minutes, self.high_minutes, self.warning_minutes)
        )

    def wait_after(self, level: int, severity: Severity) -> int | None:
        """Minutes level ``level`` has before the next; None: the severity's response target."""
        waits = self.levels[level].wait_minutes
        return None if waits is None else waits.of(severity)


class ProgramRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole body. A body in the old shapes still decodes, and is read so:

    - ``escalation.{critical,high,warning}_minutes``: each minutes value that differs from its old
      default (15, 240, 1440) becomes that severity's target ``{minutes: N}``; a value equal to its
      old default is what every saved body carried whether anyone chose it or not, so it takes the
      new default (warning: 1 business day). A body that sets both an old minutes value and
      ``response_targets`` other than the defaults is refused: one source of truth.
    - ``escalation.max_level``: 0 is the counselor alone (``levels: [assigned]``, no repeats); N is
      the default levels with ``critical_repeats: N - 1`` (the old default, 2, is the new default).
      A body that sets both ``max_level`` and ``levels`` or ``critical_repeats`` is refused.

    The old fields are then dropped, so ``GET`` returns the new shape only."""

    version: Annotated[int, Meta(ge=0, description="Read-only: the stored version (ETag)")] = 0
    rules: Rules = Rules()
    program: ProgramSettings = ProgramSettings()
    response_targets: ResponseTargets = ResponseTargets()
    escalation: Escalation = Escalation()
    nudge_after_minutes: Annotated[
        int, Meta(ge=1, le=720, description="Minutes after the daily prompt before the nudge")
    ] = 120
    # A week: the rhythm of a counselor's review of their caseload. Without it, people whose bad days
    # come in runs (slow swings, a benign drift, the days after a lapse) were asked about the same
    # signs again each time their alert was handled (docs/ENGINE.md, "One alert an episode").
    early_signs_realert_days: Annotated[
        int,
        Meta(
            ge=0,
            le=60,
            description="Days after an early-sign alert opened (or rose) before the same signs, going "
            "on unchanged from check-in to check-in, alert again once it has been resolved; worse "
            "signs, or signs back after a check-in without any, alert at once. 0: any early sign "
            "after the alert is resolved opens a new one",
        ),
    ] = 7

    def __post_init__(self) -> None:
        escalation = self.escalation
        if not escalation.legacy:
            return
        legacy = escalation.legacy_minutes()
        _check(
            not legacy or self.response_targets == ResponseTargets(),
            "escalation.critical_minutes, high_minutes and warning_minutes are the old form of "
            "response_targets: send one or the other",
        )
        levels, repeats = escalation.levels, escalation.critical_repeats
        if isinstance(escalation.max_level, int):
            _check(
                levels == DEFAULT_LEVELS and repeats == Escalation().critical_repeats,
                "escalation.max_level is the old form of escalation.levels: send one or the other",
            )
            if escalation.max_level == 0:
                levels, repeats = (EscalationLevel(target="assigned"),), 0
            else:
                repeats = escalation.max_level - 1
        targets = msgspec.structs.replace(
            self.response_targets,
            **{severity: ResponseTarget(minutes=minutes) for severity, minutes in legacy.items()},
        )
        # Frozen: decoding is the only time this runs, and the body must leave it in the new shape.
        msgspec.structs.force_setattr(self, "response_targets", targets)
        msgspec.structs.force_setattr(self, "escalation", Escalation(levels=levels, critical_repeats=repeats))


DEFAULT_RULES = ProgramRules()
rules_decoder = msgspec.json.Decoder(ProgramRules)
