"""The warning-sign engine: pure functions from recent check-ins and a running baseline to rule hits.

Usage (the check-in service and the backtest call exactly this)::

    from aftercare.rules.aggregates import Aggregates, CheckinFacts, fold
    from aftercare.rules.config import DEFAULT_RULES
    from aftercare.rules.engine import PlanFacts, assess, assess_silence

    plan = PlanFacts.from_counts(medications=1, sessions_per_week=3, trigger_coping={"t1": ("c1",)})
    window = [...]                      # CheckinFacts of the last 28 local days, oldest first, today last
    assessment = assess(window, aggregates, plan, DEFAULT_RULES)   # aggregates: state BEFORE today
    aggregates = fold(aggregates, window[-1], trigger_coping=plan.trigger_coping)  # store on the row
    # when a local day's check-in window closes without a check-in:
    hit = assess_silence(aggregates, closed_day, first_expected_day, DEFAULT_RULES)

``assessment.hits`` go to ``lifecycle.apply_hits``, which decides what opens, raises or updates an alert.

Why it is built this way: a graduate's warning signs are deviations from their *own* normal (z-scores
against ``aggregates.baseline``, with a floor on the spread so a very steady person does not alarm on
+1; yes/no answers against their own usual rate, by binomial odds), they count only when they persist
(2 of the last 3 days, not one bad day), and several modest
deviations together (craving up, mood down, stress up, sleep down, missed support, isolation, triggers
without coping) count as much as one large one (``combined``). ``combined`` reads each measure both as
the mean of its last few days and as a count of the week's days past one personal spread (a sign test
that one wild answer cannot inflate), and lets one sign alone warn when it is as far off as a sign can
be, held over days (stress and sleep have no rule of their own). The program's absolute cut-offs
(craving 7 or more, mood 2 or less) stay as safety nets. No I/O, no clock: ``assess`` reads a bounded
window and O(1) aggregates, so its cost does not grow with a graduate's history.

Calibrated to the person's own noise, not to independent normal days (issue 20: wide but steady
people alarmed most). A deviation is measured against the spread of the measure's warning side
(bounded, skewed answers), read as the t statistic it is (``_as_normal``: the spread is an estimate),
and for days that carry over into the next (``Baseline.rho``) "2 of the last 3 days", the mean of a
few days and "k of n days" are judged as the fewer independent days they are worth (``_vif``,
``_tail_carried``). In a mean of days each day counts at most 2.5 spreads, so one wild day in
heavy-tailed answers cannot make a span look held. ``combined`` judges the scales against their
normal of a week or two ago (``_Day.reference``), which a prodrome of a week or two is not yet part
of, moved towards today's by the person's day-to-day carry-over. Silence asks the count rules'
question of missed days: is so long a run unlikely at this person's habit (``assess_silence``)?
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from functools import partial
from statistics import NormalDist
from typing import Any, Literal

import msgspec

from aftercare.rules.aggregates import (
    BASELINE_SPAN_DAYS,
    CRAVING,
    ISOLATING,
    MEDICATION_MISSED,
    MOOD,
    PRIOR_WEIGHT,
    SLEEP,
    STRESS,
    SUPPORT_MISSED,
    UNCOPED_TRIGGERS,
    WARMUP,
    Aggregates,
    Baseline,
    CheckinFacts,
    Measure,
    baseline,
    co_movement,
    missed_run_chance,
    uncoped_triggers,
    unfold,
)
from aftercare.rules.config import ProgramRules
from aftercare.rules.severity import SEVERITY_RANK, Severity

__all__ = [
    "EARLY_SIGN_RULES",
    "WINDOW_DAYS",
    "Assessment",
    "CheckinFacts",
    "PlanFacts",
    "RiskLevel",
    "RuleHit",
    "RuleName",
    "Severity",
    "assess",
    "assess_silence",
    "caseload_risk",
]

RiskLevel = Literal["low", "moderate", "high", "critical"]
RuleName = Literal[
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
]

# The window callers load: enough for every rule's look-back, and the cap that keeps assess O(1).
WINDOW_DAYS = 28
# The rules whose simultaneous warnings make a combined high (not lapse, safety or silence: they
# alert on their own and are not early signs).
_EARLY_SIGNS: tuple[RuleName, ...] = (
    "craving_rising",
    "mood_falling",
    "support_dropoff",
    "medication_missed",
    "isolation",
    "triggers_without_coping",
)
# The rules that read early signs, ``combined`` included: the lifecycle gives them one alert a
# graduate (one counselor action for overlapping signs).
EARLY_SIGN_RULES: tuple[RuleName, ...] = (*_EARLY_SIGNS, "combined")
_MAX_STRENGTH = 3.0
# The share of a person's ordinary days past one spread in one direction is about 16% for normal
# answers; rounding to whole numbers and the floor on the spread move it about, so judge against
# a fifth.
_BEYOND_ONE_SPREAD = 0.2
_NORMAL = NormalDist()
# The one mapping from an alert's (or a hit's) severity to a risk level: a day's assessment takes
# the level of its worst hit, and the caseload's ``risk_level`` the level of the graduate's worst
# active alert (``caseload_risk``). "low" has no severity: it is the level of a day without hits.
RISK_LEVEL_OF_SEVERITY: dict[Severity, RiskLevel] = {
    "warning": "moderate",
    "high": "high",
    "critical": "critical",
}
_BANDS: dict[RiskLevel, tuple[int, int]] = {
    "low": (0, 29),
    "moderate": (30, 59),
    "high": (60, 84),
    "critical": (85, 100),
}


class PlanFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the rules need from the aftercare plan. ``PlanFacts()``: no plan known, answers believed."""

    has_medications: bool | None = None
    # Planned therapy and support-group occurrences a week; 0 means nothing to miss.
    support_sessions_per_week: float | None = None
    trigger_coping: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_counts(
        cls,
        *,
        medications: int,
        sessions_per_week: float,
        trigger_coping: Mapping[str, Iterable[str]] | None = None,
    ) -> PlanFacts:
        return cls(
            has_medications=medications > 0,
            support_sessions_per_week=sessions_per_week,
            trigger_coping={t: tuple(skills) for t, skills in (trigger_coping or {}).items()},
        )


class RuleHit(msgspec.Struct, frozen=True, kw_only=True):
    """One rule's finding. ``evidence`` is ``{"local_dates": [ISO dates], "values": {...}}``."""

    rule: RuleName
    severity: Severity
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = {}


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    risk_score: int
    risk_level: RiskLevel
    reasons: tuple[str, ...]
    hits: tuple[RuleHit, ...]


def assess(
    window: Sequence[CheckinFacts],
    aggregates_before: Aggregates,
    plan: PlanFacts,
    rules: ProgramRules,
    *,
    later_lapses: Sequence[CheckinFacts] = (),
) -> Assessment:
    """Score today's check-in (``window[-1]``) against the window and the baseline before today.

    ``later_lapses``: lapses already reported for days after today's (``step.later_lapses``), when
    today's check-in is a late sync: a repeat lapse is one whichever of the two arrived first. The
    lapse rule reads those within its ``repeat_window_days``."""
    today = window[-1]
    recent = [c for c in window[-WINDOW_DAYS:] if c.local_date <= today.local_date]
    day = _Day(today.local_date, recent, aggregates_before, plan, later_lapses)
    cfg = rules.rules
    hits: list[RuleHit] = []
    checks: tuple[tuple[bool, Callable[[], RuleHit | None]], ...] = (
        (cfg.safety.enabled, lambda: _safety(day)),
        (cfg.lapse.enabled, lambda: _lapse(day, rules)),
        (cfg.craving_rising.enabled, lambda: _craving_rising(day, rules)),
        (cfg.mood_falling.enabled, lambda: _mood_falling(day, rules)),
        (cfg.support_dropoff.enabled, lambda: _support_dropoff(day, rules)),
        (cfg.medication_missed.enabled, lambda: _medication_missed(day, rules)),
        (cfg.isolation.enabled, lambda: _isolation(day, rules)),
        (cfg.triggers_without_coping.enabled, lambda: _triggers_without_coping(day, rules)),
    )
    for enabled, check in checks:
        hit = check() if enabled else None
        if hit is not None:
            hits.append(hit)
    signals = _signals(day, rules)
    if cfg.combined.enabled:
        combined = _combined(signals, hits, rules, co_movement(aggregates_before.co_movement))
        if combined is not None:
            hits.append(combined)
    return _summarise(hits, signals, rules)


def help_request_hit(local_date: date) -> RuleHit:
    """ "I need help now" pressed in the app: a critical safety hit, whatever the answers say."""
    return RuleHit(
        rule="safety",
        severity="critical",
        reasons=("asked for help now from the app",),
        evidence={"local_dates": [local_date.isoformat()], "values": {"help_request": True}},
    )


def caseload_risk(active_severities: Iterable[Severity], last_assessed: RiskLevel) -> RiskLevel:
    """A graduate's current risk on the caseload: the level of their worst active (open or
    acknowledged) alert, help-now and silence included; with none, their last assessment's level.

    Acknowledged alerts count: an acknowledgement says someone is on it, not that the risk has
    passed; only a resolution lowers the caseload's risk."""
    worst = max(active_severities, key=SEVERITY_RANK.__getitem__, default=None)
    return last_assessed if worst is None else RISK_LEVEL_OF_SEVERITY[worst]


def assess_silence(
    aggregates: Aggregates,
    closed_day: date,
    first_expected_day: date,
    rules: ProgramRules,
) -> RuleHit | None:
    """The silence hit when ``closed_day``'s window closes, counting silent days up to and including it.

    The run starts at the later of the day after the last check-in and ``first_expected_day`` (the
    first day a check-in was asked for), so a new graduate is not silent before they were asked.
    A run of ``warning_days`` warns if it is unlikely at the person's usual rates of missed days
    (``missed_run_chance``), and ``usual_extra_days`` later whatever they are: someone who often
    misses two days in a row is not paged for each, and a dropout is still seen within days.
    ``evidence["values"]["run_started_on"]`` names the run: the lifecycle opens one alert per run.
    """
    cfg = rules.rules.silence
    if not cfg.enabled:
        return None
    last_checkin_date = aggregates.last_checkin_date
    start = first_expected_day
    if last_checkin_date is not None:
        start = max(start, last_checkin_date + timedelta(days=1))
    silent = (closed_day - start).days + 1
    if silent < cfg.warning_days:
        return None
    chance = missed_run_chance(aggregates, silent)
    if silent < min(cfg.warning_days + cfg.usual_extra_days, cfg.high_days) and chance >= cfg.max_chance:
        return None
    since = f"last check-in {last_checkin_date.isoformat()}" if last_checkin_date else "no check-in yet"
    reasons = [f"no check-in for {silent} days in a row ({since})"]
    if silent > cfg.warning_days and missed_run_chance(aggregates, cfg.warning_days) >= cfg.max_chance:
        # Why this alert came later than the program's warning_days: the counselor should know the
        # shorter runs are this person's ordinary life, and that this one is not.
        reasons.append(f"{cfg.warning_days} missed days in a row are usual for them; this run is longer")
    return RuleHit(
        rule="silence",
        severity="high" if silent >= cfg.high_days else "warning",
        reasons=tuple(reasons),
        evidence=_evidence(
            (),
            silent_days=silent,
            run_started_on=start.isoformat(),
            last_checkin_date=last_checkin_date.isoformat() if last_checkin_date else None,
            usual_chance=round(chance, 4),
        ),
    )


class _Day:
    """Today seen through the window: recent check-ins by local day and the baselines before today."""

    def __init__(
        self,
        today: date,
        window: list[CheckinFacts],
        before: Aggregates,
        plan: PlanFacts,
        later_lapses: Sequence[CheckinFacts] = (),
    ):
        self.today = today
        self.window = window
        self.before = before
        self.plan = plan
        # Lapses already reported for days after today's, oldest first (a late sync's repeat).
        self.later_lapses = later_lapses
        # Several rules look back over the same days, read the same baselines and count the same
        # answers: each is worked out once a day, and a look-back is a slice, not a re-scan.
        self._within: dict[int, list[CheckinFacts]] = {}
        self._baselines: dict[str, Baseline | None] = {}
        self.counts: dict[tuple[str, int], _Count] = {}
        self.current = window[-1]

    def within(self, days: int) -> list[CheckinFacts]:
        """Check-ins of the last ``days`` local days, today included, oldest first."""
        found = self._within.get(days)
        if found is None:
            first = self.today - timedelta(days=days - 1)
            start = bisect_left(self.window, first, key=_local_date)
            found = self._within[days] = self.window[start:]
        return found

    def baseline(self, measure: Measure) -> Baseline | None:
        name = measure.name
        if name not in self._baselines:
            self._baselines[name] = baseline(getattr(self.before, name), measure)
        return self._baselines[name]

    def relative(self, measure: Measure) -> Baseline | None:
        """The baseline, once there is enough history for deviations from it to mean something."""
        base = self.baseline(measure)
        return base if base is not None and base.n >= WARMUP else None

    def reference(self, measure: Measure) -> Baseline | None:
        """The normal the recent days are judged against in ``combined``: the baseline as it stood a
        week or two ago (``Aggregates.reference``), which the recent days are not part of, its mean
        moved towards today's by the person's day-to-day carry-over (``rho``). For someone whose
        days are independent the recent days say nothing about their normal, and a prodrome of a
        week or two must not be absorbed into it before the lapse; for someone with slow swings the
        recent level is, to that extent, their normal, or every swing would read as a slide. The
        current baseline while there is no snapshot with enough answers yet."""
        name = "reference:" + measure.name
        if name not in self._baselines:
            snapshot = self.before.reference
            then = None if snapshot is None else baseline(getattr(snapshot, measure.name), measure)
            now = self.relative(measure)
            if then is None or then.n < WARMUP or now is None:
                self._baselines[name] = now
            else:
                mean = then.mean + now.rho * (now.mean - then.mean)
                self._baselines[name] = msgspec.structs.replace(then, mean=mean)
        return self._baselines[name]

    def support_counts(self) -> bool:
        return self.plan.support_sessions_per_week != 0

    def medication_counts(self) -> bool:
        return self.plan.has_medications is not False


def _local_date(checkin: CheckinFacts) -> date:
    return checkin.local_date


class _Continuous(msgspec.Struct, frozen=True):
    measure: Measure
    label: str
    # +1 when a higher value is the warning sign (craving, stress), -1 when lower is (mood, sleep).
    direction: int
    value: Callable[[CheckinFacts], float | None]
    unit: str = ""


_CRAVING = _Continuous(CRAVING, "craving", 1, lambda c: c.craving)
_MOOD = _Continuous(MOOD, "mood", -1, lambda c: c.mood)
_STRESS = _Continuous(STRESS, "stress", 1, lambda c: c.stress)
_SLEEP = _Continuous(SLEEP, "sleep", -1, lambda c: c.sleep_hours, unit=" h")
_SCALE_LABELS = frozenset(kind.label for kind in (_CRAVING, _MOOD, _STRESS, _SLEEP))


def _z(kind: _Continuous, value: float, base: Baseline) -> float:
    """How far ``value`` is from the baseline in the warning direction, in baseline spreads, as the
    z-score equally unlikely (``_as_normal``: the spread is itself an estimate)."""
    return _as_normal(kind.direction * (value - base.mean) / base.sd, base.df)


def _as_normal(t: float, df: float) -> float:
    """The z-score as unlikely as ``t`` is for a t distribution with ``df`` degrees of freedom (a
    deviation over a spread estimated from ``df`` answers is one), by Wallace's approximation. With a
    spread from a month of answers a "2" is as rare as a normal 1.9; from a week's, as a 1.7."""
    return t * (1 - 1 / (4 * df)) / math.sqrt(1 + t * t / (2 * df))


def _series(kind: _Continuous, checkins: Iterable[CheckinFacts]) -> list[tuple[CheckinFacts, float]]:
    return [(c, v) for c in checkins if (v := kind.value(c)) is not None]


def _safety(day: _Day) -> RuleHit | None:
    if not day.current.safety_concern:
        return None
    return RuleHit(
        rule="safety",
        severity="critical",
        reasons=("reported thoughts of harming themselves",),
        evidence=_evidence([day.current]),
    )


def _lapse(day: _Day, rules: ProgramRules) -> RuleHit | None:
    if not day.current.used:
        return None
    cfg = rules.rules.lapse
    earlier = [c for c in day.within(cfg.repeat_window_days + 1)[:-1] if c.used]
    last = day.today + timedelta(days=cfg.repeat_window_days)
    later = [c for c in day.later_lapses if day.today < c.local_date <= last]
    reasons = [f"reported alcohol or drug use ({day.today.isoformat()})"]
    # The nearest other lapse: the one before, or (a late sync) one already reported for a day after.
    other = earlier[-1] if earlier else (later[0] if later else None)
    if other is not None:
        reasons.append(f"another lapse within {cfg.repeat_window_days} days ({other.local_date.isoformat()})")
    return RuleHit(
        rule="lapse",
        severity="critical" if other is not None else "high",
        reasons=tuple(reasons),
        evidence=_evidence([*earlier, day.current, *later], lapses=len(earlier) + 1 + len(later)),
    )


def _craving_rising(day: _Day, rules: ProgramRules) -> RuleHit | None:
    cfg = rules.rules.craving_rising
    base = day.relative(CRAVING)
    today_value = day.current.craving
    span = _series(_CRAVING, day.within(cfg.span_days))
    severity: Severity | None = None
    reasons: list[str] = []
    shown = span
    if base is not None:
        # Two high days of three are ordinary for someone whose days carry over into the next: for
        # two days correlated rho, both past z is about as likely as both past z / sqrt(1 + rho)
        # for independent ones, so their deviations are read that much smaller.
        carry = math.sqrt(1 + base.rho)
        zs = [_z(_CRAVING, v, base) / carry for _, v in span]
        today_z = zs[-1]
        elevated = [z for z in zs if z >= cfg.z_warning]
        if today_z >= cfg.z_warning and len(elevated) >= cfg.min_days:
            severity = "warning"
            values = [v for _, v in span]
            climbing = len(values) >= 3 and values[-3] < values[-2] < values[-1]
            if sum(z >= cfg.z_high for z in zs) >= cfg.min_days or climbing:
                severity = "high"
            reasons.append(_relative_reason(_CRAVING, span, base, cfg.span_days))
            if climbing:
                reasons.append("still rising day after day")
        elif today_z >= cfg.z_warning:
            trend = _series(_CRAVING, day.within(7))[-cfg.trend_points :]
            trend_z = [_z(_CRAVING, v, base) / carry for _, v in trend]
            # A climb, not one spike and not a plateau: the previous check-in already past trend_z,
            # today past z_warning and higher than two check-ins ago, the fitted slope upwards.
            # (The cheap tests first: on most days today is not past z_warning and no slope is fitted.)
            if (
                len(trend) == cfg.trend_points
                and trend_z[-1] >= cfg.z_warning
                and trend_z[-2] >= cfg.trend_z
                and trend[-1][1] > trend[-3][1]
                and _slope([(c.local_date, z) for (c, _), z in zip(trend, trend_z, strict=True)])
                >= cfg.trend_slope
            ):
                severity = "warning"
                shown = trend
                reasons.append(
                    f"craving climbing: {_values(v for _, v in trend)} over the last "
                    f"{len(trend)} check-ins; baseline {_num(base.mean)}"
                )
    # The net counts only when that many high days are unlikely for this person: someone whose
    # craving often sits at 7 would otherwise hold an alert open forever and teach the counselor
    # to ignore it.
    recent = (
        _series(_CRAVING, day.window[-cfg.absolute_of_last :]) if today_value >= cfg.absolute_level else []
    )
    high_days = [(c, v) for c, v in recent if v >= cfg.absolute_level]
    if (
        len(high_days) >= cfg.absolute_days
        and (
            0.0
            if base is None
            else _tail_carried(
                len(high_days),
                len(recent),
                _share_beyond(base, cfg.absolute_level - 0.5, above=True),
                base.rho,
            )
        )
        <= cfg.absolute_max_chance
    ):
        severity = severity or "warning"
        reasons.append(
            f"craving {cfg.absolute_level} or more on {len(high_days)} of the last {len(recent)} check-ins"
        )
        shown = recent if len(recent) > len(shown) else shown
    if severity is None:
        return None
    return RuleHit(
        rule="craving_rising",
        severity=severity,
        reasons=tuple(reasons),
        evidence=_evidence([c for c, _ in shown], craving=[v for _, v in shown], baseline=_base(base)),
    )


def _mood_falling(day: _Day, rules: ProgramRules) -> RuleHit | None:
    cfg = rules.rules.mood_falling
    base = day.relative(MOOD)
    span = _series(_MOOD, day.within(cfg.span_days))
    reasons: list[str] = []
    shown = span
    if base is not None:
        carry = math.sqrt(1 + base.rho)  # as for craving
        zs = [_z(_MOOD, v, base) / carry for _, v in span]
        if zs[-1] >= cfg.z_warning and sum(z >= cfg.z_warning for z in zs) >= cfg.min_days:
            reasons.append(_relative_reason(_MOOD, span, base, cfg.span_days))
    # The absolute net counts only when such a run is unlikely for this person (a chronically low
    # mood is known to the counselor; a daily alert about it would drown the new signs).
    low = _series(_MOOD, day.within(cfg.absolute_days)) if day.current.mood <= cfg.absolute_level else []
    if (
        len(low) == cfg.absolute_days
        and all(v <= cfg.absolute_level for _, v in low)
        and (
            0.0
            if base is None
            else _tail_carried(
                cfg.absolute_days,
                cfg.absolute_days,
                _share_beyond(base, cfg.absolute_level + 0.5, above=False),
                base.rho,
            )
        )
        <= cfg.absolute_max_chance
    ):
        reasons.append(f"mood {cfg.absolute_level} or lower on {cfg.absolute_days} days in a row")
        shown = low if len(low) > len(shown) else shown
    if not reasons:
        return None
    return RuleHit(
        rule="mood_falling",
        severity="warning",
        reasons=tuple(reasons),
        evidence=_evidence([c for c, _ in shown], mood=[v for _, v in shown], baseline=_base(base)),
    )


class _Count(msgspec.Struct, frozen=True):
    """Days with a yes/no sign in a look-back, judged against the person's usual rate of it."""

    days: list[CheckinFacts]
    answered: int
    rate: float
    # How likely the usual rate alone gives this many days or more (binomial upper tail).
    chance: float

    @property
    def strength(self) -> float:
        return _strength(self.chance)


def _strength(chance: float) -> float:
    """A chance as a z-score (0 to 3), so a count weighs the same as a measure that far off its baseline."""
    if chance >= 0.5:
        return 0.0
    return _MAX_STRENGTH if chance <= 1e-9 else min(_MAX_STRENGTH, _NORMAL.inv_cdf(1 - chance))


def _count(day: _Day, days: int, measure: Measure, sign: Callable[[CheckinFacts], bool | None]) -> _Count:
    key = (measure.name, days)
    if key in day.counts:
        return day.counts[key]
    look_back = day.within(days)
    marked = [c for c in look_back if sign(c)]
    if not marked:
        # Nothing to judge (most days): the answers and the usual rate are only worked out, and
        # shown, when a day shows the sign.
        count = day.counts[key] = _Count(days=[], answered=0, rate=0.0, chance=1.0)
        return count
    answers = [(c, s) for c in look_back if (s := sign(c)) is not None]
    # Today is not in the aggregates yet; the earlier days of the look-back are, and come out.
    folded = [float(s) for c, s in answers if c is not day.current]
    base = baseline(unfold(getattr(day.before, measure.name), folded), measure)
    assert base is not None  # yes/no measures have a prior rate
    # The usual rate is itself an estimate from a few weeks of answers: judge against the upper
    # end of what it may be (one standard error up), or a person who isolates one day in seven
    # would alarm whenever their estimate happens to sit low.
    known = min(base.n, BASELINE_SPAN_DAYS) + PRIOR_WEIGHT
    rate = min(1.0, base.mean + math.sqrt(base.mean * (1 - base.mean) / known))
    count = _Count(
        days=marked, answered=len(answers), rate=rate, chance=_tail(len(marked), len(answers), rate)
    )
    day.counts[key] = count
    return count


def _missed_support(day: _Day, days: int) -> _Count | None:
    if not day.support_counts():
        return None
    return _count(day, days, SUPPORT_MISSED, lambda c: _negated(c.attended_support))


def _missed_medication(day: _Day, days: int) -> _Count | None:
    if not day.medication_counts():
        return None
    return _count(day, days, MEDICATION_MISSED, lambda c: _negated(c.took_medication))


def _isolating(day: _Day, days: int) -> _Count:
    return _count(day, days, ISOLATING, lambda c: c.isolating)


def _uncoped(day: _Day, days: int) -> _Count:
    return _count(day, days, UNCOPED_TRIGGERS, lambda c: uncoped_triggers(c, day.plan.trigger_coping))


def _support_dropoff(day: _Day, rules: ProgramRules) -> RuleHit | None:
    cfg = rules.rules.support_dropoff
    missed = _missed_support(day, cfg.window_days)
    if missed is None or len(missed.days) < cfg.min_missed or missed.chance > cfg.max_chance:
        return None
    return RuleHit(
        rule="support_dropoff",
        severity="warning",
        reasons=(
            f"missed {len(missed.days)} of {missed.answered} planned support sessions in the last "
            f"{cfg.window_days} days; usually misses {_percent(missed.rate)}",
        ),
        evidence=_evidence(missed.days, missed=len(missed.days), planned=missed.answered),
    )


def _medication_missed(day: _Day, rules: ProgramRules) -> RuleHit | None:
    cfg = rules.rules.medication_missed
    missed = _missed_medication(day, cfg.consecutive_days)
    if (
        missed is None
        or len(missed.days) < cfg.consecutive_days
        or len({c.local_date for c in missed.days}) < cfg.consecutive_days
        or missed.chance > cfg.max_chance
    ):
        return None
    return RuleHit(
        rule="medication_missed",
        severity="warning",
        reasons=(f"medication not taken on {cfg.consecutive_days} days in a row",),
        evidence=_evidence(missed.days, missed=len(missed.days)),
    )


def _isolation(day: _Day, rules: ProgramRules) -> RuleHit | None:
    cfg = rules.rules.isolation
    isolating = _isolating(day, cfg.window_days)
    if len(isolating.days) < cfg.min_days or isolating.chance > cfg.max_chance:
        return None
    return RuleHit(
        rule="isolation",
        severity="warning",
        reasons=(
            f"pulled away from friends or family on {len(isolating.days)} of the last "
            f"{cfg.window_days} days; usually {_percent(isolating.rate)} of days",
        ),
        evidence=_evidence(isolating.days, days=len(isolating.days)),
    )


def _triggers_without_coping(day: _Day, rules: ProgramRules) -> RuleHit | None:
    cfg = rules.rules.triggers_without_coping
    uncoped = _uncoped(day, cfg.window_days)
    if len(uncoped.days) < cfg.min_days or uncoped.chance > cfg.max_chance:
        return None
    triggers = sorted({t for c in uncoped.days for t in c.triggers})
    return RuleHit(
        rule="triggers_without_coping",
        severity="warning",
        reasons=(
            f"met triggers without using a coping skill on {len(uncoped.days)} of the last "
            f"{cfg.window_days} days; usually {_percent(uncoped.rate)} of days",
        ),
        evidence=_evidence(uncoped.days, days=len(uncoped.days), triggers=triggers),
    )


class _Signal(msgspec.Struct, frozen=True):
    """One warning-sign dimension's deviation today, 0 (usual) to 3 (far off), and how to say it."""

    name: str
    strength: float
    # Words are made only for a signal that is shown (most days none is): formatting them for every
    # deviation cost more than finding it.
    say: Callable[[], str]
    checkins: list[CheckinFacts]

    @property
    def reason(self) -> str:
        return self.say()


def _signals(day: _Day, rules: ProgramRules) -> list[_Signal]:
    cfg = rules.rules.combined
    signals: list[_Signal] = []
    span_first = day.today - timedelta(days=cfg.span_days - 1)
    look_back = day.within(max(cfg.span_days, cfg.window_days))
    week_first = day.today - timedelta(days=cfg.window_days - 1)
    for kind in (_CRAVING, _MOOD, _STRESS, _SLEEP):
        # Against the normal of a week or two ago (``_Day.reference``): a prodrome of a week or two
        # is otherwise half absorbed into the baseline by the day before the lapse, and hides itself.
        base = day.reference(kind.measure)
        if base is None:
            continue
        # Each answer's deviation (as ``_z``, inlined: this is the engine's innermost loop) is worked
        # out once and read by both tests below.
        # ``_as_normal`` inlined too: t * a / sqrt(1 + t * t * b).
        scale, mean = kind.direction / base.sd, base.mean
        a, b = 1 - 1 / (4 * base.df), 1 / (2 * base.df)
        scored = [
            (c, v, t * a / math.sqrt(1 + t * t * b))
            for c in look_back
            if (v := kind.value(c)) is not None
            for t in ((v - mean) * scale,)
        ]
        # One pass over the answers: the span's days (each counted at most 2.5 spreads, so one wild
        # day in heavy-tailed answers cannot make a span look held) and the week's days past one
        # spread.
        span_sum = 0.0
        span_n = beyond = week_n = 0
        for c, _, z in scored:
            if c.local_date >= week_first:
                week_n += 1
                beyond += z >= 1.0
            if c.local_date >= span_first:
                span_n += 1
                span_sum += z if z < 2.5 else 2.5
        # One day is a bad day, not a sign: a measure needs two answers in the span to count.
        if span_n < 2:
            continue
        days = cfg.span_days
        # The z-score of the span's mean, as likely by chance whether the span holds 2 days or 3,
        # and for days that carry over (rho) as likely as for independent ones.
        level = span_sum / math.sqrt(span_n * _vif(span_n, base.rho))
        in_span = span_first
        # A slow prodrome is seldom dramatic on any one day, and one wild day (heavy-tailed
        # answers) can make a mean look dramatic: so also count the week's days past one personal
        # spread, a sign test that outliers cannot inflate, judged as a count is.
        # (Two such days of seven are never unlikely, a 42% chance: skip the tail for them.)
        if beyond >= 3:
            persistent = _strength(_tail(beyond, week_n, _BEYOND_ONE_SPREAD)) / math.sqrt(
                _vif(week_n, 2 / math.pi * math.asin(base.rho))
            )
            if persistent > level:
                level, in_span, days = persistent, week_first, cfg.window_days
        if level > 0:
            shown = [(c, v) for c, v, _ in scored if c.local_date >= in_span]
            signals.append(
                _Signal(
                    kind.label,
                    min(level, _MAX_STRENGTH),
                    partial(_relative_reason, kind, shown, base, days),
                    [c for c, _ in shown],
                )
            )
    counts = (
        ("missed support", _missed_support(day, cfg.window_days), "missed support sessions"),
        ("missed medication", _missed_medication(day, cfg.window_days), "medication not taken"),
        ("isolation", _isolating(day, cfg.window_days), "pulled away from others"),
        ("triggers without coping", _uncoped(day, cfg.window_days), "triggers without coping"),
    )
    for name, count, what in counts:
        if count is None or not count.days or count.strength <= 0:
            continue
        signals.append(
            _Signal(name, count.strength, partial(_count_reason, what, count, cfg.window_days), count.days)
        )
    return signals


def _count_reason(what: str, count: _Count, days: int) -> str:
    return f"{what} on {len(count.days)} of the last {days} days; usually {_percent(count.rate)}"


def _combined(
    signals: list[_Signal], hits: list[RuleHit], rules: ProgramRules, together: float = 0.0
) -> RuleHit | None:
    cfg = rules.rules.combined
    warnings = [h for h in hits if h.rule in _EARLY_SIGNS]
    deviating = [s for s in signals if s.strength >= cfg.signal_min]
    score = _score(deviating, together)
    severity: Severity
    if len(warnings) >= cfg.min_warnings:
        severity = "high"
        reasons = [f"{len(warnings)} warning signs at once: " + ", ".join(h.rule for h in warnings)]
    elif len(deviating) >= cfg.min_signals and score >= cfg.score_warning:
        severity = "high" if score >= cfg.score_high else "warning"
        reasons = [f"{len(deviating)} warning signs together"]
    elif deviating and max(s.strength for s in deviating) >= cfg.single_strength:
        # One sign alone, but far off the person's normal and held: stress or sleep have no rule
        # of their own, and a prodrome may carry only one sign.
        severity = "warning"
        deviating = [max(deviating, key=lambda s: s.strength)]
        reasons = ["one warning sign, far from usual and held"]
    else:
        return None
    reasons.extend(s.reason for s in sorted(deviating, key=lambda s: -s.strength))
    checkins = {c.local_date: c for s in deviating for c in s.checkins}
    return RuleHit(
        rule="combined",
        severity=severity,
        reasons=tuple(reasons),
        evidence=_evidence(
            [checkins[d] for d in sorted(checkins)],
            score=round(score, 2),
            signals={s.name: round(s.strength, 2) for s in deviating},
            rules=[h.rule for h in warnings],
        ),
    )


def _score(deviating: list[_Signal], together: float) -> float:
    """The summed strength of the deviating signals, the scales' part discounted for how much they
    move together for this person (``together``, their correlation on a day): k scales correlated r
    hold as much evidence as their sum over sqrt(1 + (k - 1) r) independent ones."""
    scales = [s.strength for s in deviating if s.name in _SCALE_LABELS]
    counts = sum(s.strength for s in deviating if s.name not in _SCALE_LABELS)
    if len(scales) < 2 or together <= 0:
        return sum(scales) + counts
    return sum(scales) / math.sqrt(1 + (len(scales) - 1) * together) + counts


def _summarise(hits: list[RuleHit], signals: list[_Signal], rules: ProgramRules) -> Assessment:
    ordered = sorted(hits, key=lambda h: -SEVERITY_RANK[h.severity])
    counting = [s for s in signals if s.strength >= rules.rules.combined.signal_min]
    signal_score = round(8 * sum(s.strength for s in counting))
    # The level is the worst hit's severity (without hits, at most moderate); the score places the
    # day within that level's band: further hits and larger deviations read higher.
    level: RiskLevel
    if ordered:
        level = RISK_LEVEL_OF_SEVERITY[ordered[0].severity]
    else:
        level = "moderate" if signal_score >= _BANDS["moderate"][0] else "low"
    low, high = _BANDS[level]
    score = min(high, max(low, signal_score) + 5 * max(0, len(ordered) - 1))
    if ordered:
        reasons = tuple(r for h in ordered for r in h.reasons)
    else:
        reasons = tuple(s.reason for s in counting) if level != "low" else ()
    return Assessment(risk_score=score, risk_level=level, reasons=reasons, hits=tuple(ordered))


def _relative_reason(
    kind: _Continuous, span: list[tuple[CheckinFacts, float]], base: Baseline, days: int
) -> str:
    # "craving 8, 8, 9 over the last 3 days; baseline 3"
    values = _values(v for _, v in span)
    return (
        f"{kind.label} {values}{kind.unit} over the last {days} days; baseline {_num(base.mean)}{kind.unit}"
    )


def _evidence(checkins: Iterable[CheckinFacts], **values: Any) -> dict[str, Any]:
    dates = sorted({c.local_date for c in checkins})
    return {"local_dates": [d.isoformat() for d in dates], "values": values}


def _base(base: Baseline | None) -> dict[str, float] | None:
    return None if base is None else {"mean": round(base.mean, 2), "sd": round(base.sd, 2)}


def _slope(points: list[tuple[date, float]]) -> float:
    """Least-squares slope per local day (check-ins need not be on consecutive days)."""
    if len(points) < 2:
        return 0.0
    xs = [float(d.toordinal()) for d, _ in points]
    ys = [y for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def _vif(n: int, rho: float) -> float:
    """How much more a mean of ``n`` consecutive days varies than if they were independent, for days
    correlated ``rho`` with the day before (and rho**k with k days before):
    1 + 2 * sum((1 - k / n) * rho**k for k in 1..n-1), in closed form."""
    if rho <= 0 or n <= 1:
        return 1.0
    return 1 + 2 * rho / (1 - rho) - 2 * rho * (1 - rho**n) / (n * (1 - rho) ** 2)


def _tail_carried(k: int, n: int, p: float, rho: float) -> float:
    """``_tail`` for days that carry over into the next (correlated ``rho`` day to day): k of n such
    days hold about as much evidence as k and n scaled by (1 - rho) / (1 + rho) independent ones,
    the effective sample size of a mean of correlated days (never fewer than one)."""
    if rho <= 0:
        return _tail(k, n, p)
    scale = (1 - rho) / (1 + rho)
    k_eff = max(1, round(k * scale))
    return _tail(k_eff, max(k_eff, round(n * scale)), p)


def _tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how likely k or more of n days show a sign of rate p."""
    if k <= 0 or p >= 1.0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    # Sum the probability mass from k up, each term from the last (no factorials per term).
    term = math.comb(n, k) * p**k * (1 - p) ** (n - k)
    total, odds = term, p / (1 - p)
    for i in range(k, n):
        term *= (n - i) / (i + 1) * odds
        total += term
    return min(1.0, total)


def _share_beyond(base: Baseline, cut: float, *, above: bool) -> float:
    """The share of this person's days expected beyond ``cut``, were their answers normal around base."""
    below = 0.5 * math.erfc(-(cut - base.mean) / (base.sd * math.sqrt(2)))
    return 1 - below if above else below


def _negated(answer: bool | None) -> bool | None:
    return None if answer is None else not answer


def _num(value: float) -> str:
    return str(round(value)) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _values(values: Iterable[float]) -> str:
    return ", ".join(_num(v) for v in values)


def _percent(rate: float) -> str:
    return f"{round(rate * 100)}%"
