"""Each graduate's running baseline, folded one check-in at a time and kept on the graduate row.

Warning signs are judged against the person's own normal, not a population cut-off: craving 6 is
ordinary for one graduate and alarming for another. ``fold`` keeps an exponentially weighted mean and
variance (span about 28 days) per measure, and an exponentially weighted rate per yes/no answer, in O(1)
per check-in, so the engine's cost never grows with a graduate's history.

Eight choices keep the baseline honest:

- Early on the weight is ``1/(n+1)`` (a plain running mean), so a baseline forms within days.
- ``baseline`` blends the variance (and the yes/no rates) with a population prior (worth one
  check-in for a spread, four for a rate), and floors the spread at a minimum: a person who always
  answers 3 has a measured spread of zero, and without the floor every 4 would be an alarm.
- Values far from the baseline are clipped before they are folded in (winsorised), and the mean
  moves at most ``MEAN_CLIP`` spreads' worth a day (a Huber-type step), so a prodrome of a week does
  not drag the baseline along with it and hide itself, while a slow benign drift is still followed.
- **The spread is an estimate.** ``Baseline.df`` says how many independent answers it rests on (the
  prior's included, fewer when days carry over), so the engine can read a deviation as the t
  statistic it is: early on, or for a person with slow swings, a "2" is less rare than a normal 2.
- **The warning side has its own spread.** Answers are bounded and skewed: someone whose craving is
  usually 0 or 1 cannot go lower, so their spread, measured both ways, understates how far up an
  ordinary day goes, and every such person looked alarming on their ordinary high days. Each measure
  also keeps the spread of the deviations on its warning side (up for craving and stress, down for
  mood and sleep), and the rules judge against that (``Baseline.sd``).
- **Days are not independent.** A person's mood carries over from one day to the next; for someone
  with slow swings, three high days in a row are ordinary, and tests that treat days as independent
  ("2 of the last 3 days", the mean of 4 days) alarm on every swing. Each measure keeps how often two
  consecutive days deviate on the same side of the mean, the sign concordance, which gives the
  person's day-to-day correlation (``Baseline.rho``) without being moved by how far a wild day goes.
- **How often the person goes quiet.** Silence asks whether a run of missed days is unusual for
  this person (``missed_run_chance``): each check-in that ends a gap folds the gap's missed days into
  the person's rate of missed days and of a missed day followed by another (misses come in bursts: a
  weekend away, a phone offline), over about two months.
- **A normal the recent days are not part of.** Clipping and the mean's step limit slow a prodrome's
  way into the baseline but do not stop it: a slide of one to three weeks is a third to half absorbed
  by the day before a lapse. The four scales are also kept as they stood 7 to 13 days before the
  newest check-in (``Aggregates.reference``), for the engine to judge the last week against.

Aggregates are a JSON column: ``aggregates_encoder``/``aggregates_decoder`` round-trip them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

import msgspec

from aftercare.rules.severity import Severity

# An EWMA with span N has weight 2/(N+1); 28 days is the "personal baseline" the program speaks of.
BASELINE_SPAN_DAYS = 28
ALPHA = 2 / (BASELINE_SPAN_DAYS + 1)
# The prior counts as this many check-ins when the yes/no rates are read.
PRIOR_WEIGHT = 4
# ...and as this many when a spread is read. One, not four: the spread is also read as the estimate
# it is (``Baseline.df``, a t statistic) and floored, and a heavier prior kept every steady person's
# spread about a sixth wider than their own for good (craving of spread 1 against the prior's 2: at
# the span's 28 answers, 4 of 32 were the prior's): for them "2 spreads" meant about 2.3, and they
# alarmed half as often as a wide person with the same kind of days (``bench/engine_noise.py``,
# ``iid`` against ``wide``; docs/ENGINE.md).
SPREAD_PRIOR_WEIGHT = 1
# Past this many check-ins, folded values are clipped to mean +- CLIP_SD spreads.
WARMUP = 5
CLIP_SD = 2.5
# The mean follows a day's answer by at most this many spreads times its weight.
MEAN_CLIP = 1.0
# The warning side's spread and the concordance of consecutive days are read from half the answers
# or fewer: they are weighted over a longer span, about two months.
SLOW_SPAN_DAYS = 56
SLOW_ALPHA = 2 / (SLOW_SPAN_DAYS + 1)
# Before a person's own pairs of days say otherwise, assume a little carry-over (diary studies find
# day-to-day correlations of mood and craving mostly between 0.1 and 0.6), worth this many pairs.
PRIOR_RHO = 0.2
PRIOR_PAIRS = 12
RHO_MAX = 0.8
# A prodrome of a week or two is folded into a 28-day baseline as it happens and hides itself: by
# the day before a lapse about half of its deviation has become the person's "normal". The scales
# are also kept as they stood at least this many days (and less than twice as many) before the
# newest check-in, so the recent days can be judged against a normal they are not part of.
REFERENCE_LAG_DAYS = 7


class CheckinFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The answers of one daily check-in that the rules read (the contract's fields, decoded)."""

    local_date: date
    mood: int
    craving: int
    stress: int
    sleep_hours: float | None = None
    used: bool = False
    attended_support: bool | None = None
    took_medication: bool | None = None
    isolating: bool | None = None
    triggers: tuple[str, ...] = ()
    coping_used: tuple[str, ...] = ()
    safety_concern: bool = False


def facts_of(answers: Any) -> CheckinFacts:
    """The facts of anything that carries a check-in's answers by name: a POST body, a stored row,
    a backtest record. One reading, so the API and the backtest judge the same values."""
    return CheckinFacts(
        local_date=answers.local_date,
        mood=answers.mood,
        craving=answers.craving,
        stress=answers.stress,
        sleep_hours=answers.sleep_hours,
        used=answers.used,
        attended_support=answers.attended_support,
        took_medication=answers.took_medication,
        isolating=answers.isolating,
        triggers=tuple(answers.triggers),
        coping_used=tuple(answers.coping_used),
        safety_concern=answers.safety_concern,
    )


class Stat(msgspec.Struct, frozen=True, array_like=True):
    """An exponentially weighted mean and variance over ``n`` observations (a yes/no is 1.0 or 0.0)."""

    n: int = 0
    mean: float = 0.0
    var: float = 0.0


class Scale(Stat, frozen=True, array_like=True):
    """A measure with a warning side (``Measure.direction``): also ``side``, the weighted mean square of
    the deviations on that side, doubled so it compares with ``var`` (-1: not yet known); ``above``,
    the weighted share of answers on the warning side of the mean; and the day-to-day concordance:
    ``pairs`` consecutive days seen, ``together`` the weighted share of them that deviated on the same
    side, ``last`` the side of the last folded answer (+1 warning side, -1 the other, 0 none). Rows
    stored before these existed hold three fields; the rest start at their defaults."""

    side: float = -1.0
    above: float = 0.5
    pairs: int = 0
    together: float = 0.0
    last: int = 0


class CoMovement(msgspec.Struct, frozen=True, array_like=True):
    """How the scales move together on a day: over ``n`` days with two or more of them off their mean,
    the weighted share of pairs on the same side (``together``) and the share expected were they
    independent, from each one's share of days on its warning side (``expected``)."""

    n: int = 0
    together: float = 0.5
    expected: float = 0.5


class Reference(msgspec.Struct, frozen=True, array_like=True):
    """The four scales as they stood after the check-in of ``taken_on`` (see ``REFERENCE_LAG_DAYS``)."""

    taken_on: date
    craving: Scale
    mood: Scale
    stress: Scale
    sleep: Scale


class Measure(msgspec.Struct, frozen=True):
    """How one measure is read: its population prior, the smallest spread believed, clipping."""

    name: str
    prior_sd: float
    min_sd: float
    # None: the person's own mean from the first check-in on (a population mean would bias it).
    prior_mean: float | None = None
    winsorize: bool = True
    # +1 when a higher value is the warning sign (craving, stress), -1 when lower is (mood, sleep),
    # 0 for yes/no rates (no side spread, no concordance).
    direction: int = 0


# Spreads are on each answer's own scale: craving and stress 0-10, mood 1-5, sleep in hours. The
# floors are set so that one step of the scale is never more than two spreads (an hour of sleep,
# a point of mood) or one and a third (a point of craving or stress, on scales twice as fine): a
# person who always gives the same answer is not alarmed by one step, yet a steady person's own
# spread is read as theirs. Floors of a step or more hid steady people's moves (most of the main
# cohort's stable graduates had a mood and a sleep spread under them) and made them alarm far less
# than wide people with the same kind of days (docs/ENGINE.md, third pass).
CRAVING = Measure("craving", prior_sd=2.0, min_sd=0.75, direction=1)
MOOD = Measure("mood", prior_sd=0.9, min_sd=0.5, direction=-1)
STRESS = Measure("stress", prior_sd=2.0, min_sd=0.75, direction=1)
SLEEP = Measure("sleep", prior_sd=1.25, min_sd=0.5, direction=-1)
SUPPORT_MISSED = Measure("support_missed", prior_sd=0.0, min_sd=0.0, prior_mean=0.15, winsorize=False)
MEDICATION_MISSED = Measure("medication_missed", prior_sd=0.0, min_sd=0.0, prior_mean=0.1, winsorize=False)
# A day whose check-in window closed without one; a missed day followed by another. The priors
# (worth PRIOR_WEIGHT days) make a run of two missed days a 1-in-200 event for a new graduate, so the
# silence rule treats them as the contract's default does until their own history says otherwise.
MISSED_DAY = Measure("missed_day", prior_sd=0.0, min_sd=0.0, prior_mean=0.07, winsorize=False)
MISSED_AGAIN = Measure("missed_again", prior_sd=0.0, min_sd=0.0, prior_mean=0.07, winsorize=False)
ISOLATING = Measure("isolating", prior_sd=0.0, min_sd=0.0, prior_mean=0.1, winsorize=False)
UNCOPED_TRIGGERS = Measure("uncoped_triggers", prior_sd=0.0, min_sd=0.0, prior_mean=0.15, winsorize=False)


class Baseline(msgspec.Struct, frozen=True):
    mean: float
    # The spread on the warning side (measures with one), or both ways.
    sd: float
    n: int
    # Day-to-day correlation of the deviations (0 to RHO_MAX), for measures with a warning side.
    rho: float = 0.0
    # How many independent answers the spread is worth (the prior's included): a deviation measured
    # with a spread estimated from few answers is a t statistic, not a z-score.
    df: float = math.inf


class SignsEpisode(msgspec.Struct, frozen=True, array_like=True):
    """Early signs that have held on every check-in since an alert was opened (or raised) for them:
    that alert's ``severity`` and the local day it opened or rose (``alerted_on``). Kept by the
    lifecycle (``rules.lifecycle.apply_checkin_hits``), so that a counselor who has handled the alert is not
    asked again for the same unchanged signs (``ProgramRules.early_signs_realert_days``)."""

    severity: Severity
    alerted_on: date


class Aggregates(msgspec.Struct, frozen=True, kw_only=True):
    """Running state before (or after) a check-in; ``Aggregates()`` is a graduate with no history."""

    count: int = 0
    last_checkin_date: date | None = None
    # The local day of the check-in folded last (a late sync is folded after later days): a pair of
    # consecutive days is counted only when they are folded one after the other.
    folded_date: date | None = None
    # Consecutive local days with a check-in, ending at last_checkin_date (the caseload's streak).
    streak_days: int = 0
    craving: Scale = Scale()
    mood: Scale = Scale()
    stress: Scale = Scale()
    sleep: Scale = Scale()
    support_missed: Stat = Stat()
    medication_missed: Stat = Stat()
    isolating: Stat = Stat()
    uncoped_triggers: Stat = Stat()
    co_movement: CoMovement = CoMovement()
    # Missed days between check-ins (per day), and missed days followed by another (per missed day):
    # rows stored before these existed start with no history of their own (the priors serve).
    missed_days: Stat = Stat()
    missed_again: Stat = Stat()
    # The scales as they stood REFERENCE_LAG_DAYS to twice that many days ago (``reference``), and
    # the newer snapshot that will take its place (``pending``): None until there is one.
    reference: Reference | None = None
    pending: Reference | None = None
    # The early-sign episode the last check-in continued (None: its check-in had no early sign).
    # Rows stored before it existed start with none: their next early sign alerts as before.
    signs_episode: SignsEpisode | None = None


aggregates_encoder = msgspec.json.Encoder()
aggregates_decoder = msgspec.json.Decoder(Aggregates)


def uncoped_triggers(checkin: CheckinFacts, trigger_coping: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether a trigger was met without coping: none of its linked skills used (any skill if unlinked)."""
    used = set(checkin.coping_used)
    for trigger in checkin.triggers:
        linked = trigger_coping.get(trigger, ())
        if not (used.intersection(linked) if linked else used):
            return True
    return False


# A check-in reads the same baselines several times: the engine reads them, the fold after it reads
# them again to clip the day's answers, and the reference a week old is read every day until the
# next one. They are a pure function of two frozen structs, so they are remembered for a while.
@lru_cache(maxsize=256)
def baseline(stat: Stat, measure: Measure) -> Baseline | None:
    """The person's normal for ``measure``, or None before their first answer to it."""
    if stat.n == 0 and measure.prior_mean is None:
        return None
    # The prior's weight stays fixed while the person's saturates at the EWMA's span, so a
    # pseudo-observation always tempers a spread measured as near zero (the floor does the rest).
    own = min(stat.n, BASELINE_SPAN_DAYS)
    mean = stat.mean
    if measure.prior_mean is not None:
        mean = (own * stat.mean + PRIOR_WEIGHT * measure.prior_mean) / (own + PRIOR_WEIGHT)
    var = stat.var
    if isinstance(stat, Scale) and stat.side >= 0:
        # The warning side's spread, but never less than the spread both ways: a side that has
        # seldom moved is as yet unmeasured, not narrow.
        var = max(var, stat.side)
    var = (own * var + SPREAD_PRIOR_WEIGHT * measure.prior_sd**2) / (own + SPREAD_PRIOR_WEIGHT)
    day_to_day = rho(stat) if isinstance(stat, Scale) else 0.0
    # Carried-over days are worth fewer independent ones: (1 - rho) / (1 + rho) each.
    df = own * (1 - day_to_day) / (1 + day_to_day) + SPREAD_PRIOR_WEIGHT
    return Baseline(mean=mean, sd=max(measure.min_sd, math.sqrt(var)), n=stat.n, rho=day_to_day, df=df)


def rho(stat: Scale) -> float:
    """The day-to-day correlation of a measure's deviations, from how often two consecutive days fall
    on the same side of the mean, blended with the prior.

    The same-side share is turned into the correlation of the two days' sides (the phi coefficient,
    so a skewed measure, most days just below the mean, is not mistaken for a persistent one), and
    that into the correlation of the answers as for normal ones split at the middle
    (rho = sin(pi/2 * phi))."""
    p = min(0.95, max(0.05, stat.above))
    # Same side = both up or both down: together = 1 - 2 (p - P(both up)).
    both_up = (stat.together - 1) / 2 + p
    phi = (both_up - p * p) / (p * (1 - p))
    own = min(stat.pairs, SLOW_SPAN_DAYS)
    phi = (own * phi + PRIOR_PAIRS * _PHI_OF_PRIOR) / (own + PRIOR_PAIRS)
    return min(RHO_MAX, max(0.0, math.sin(math.pi / 2 * phi)))


_PHI_OF_PRIOR = 2 / math.pi * math.asin(PRIOR_RHO)


def co_movement(stat: CoMovement) -> float:
    """The correlation of the scales with each other on the same day (0 to RHO_MAX), as ``rho`` reads
    day-to-day carry-over: mood, stress and sleep often move with one underlying state, and then
    three of them off on the same days are one sign, not three."""
    expected = min(0.95, stat.expected)
    phi = (stat.together - expected) / (1 - expected)
    own = min(stat.n, SLOW_SPAN_DAYS)
    phi = (own * phi + PRIOR_PAIRS * _PHI_OF_PRIOR) / (own + PRIOR_PAIRS)
    return min(RHO_MAX, max(0.0, math.sin(math.pi / 2 * phi)))


def fold(
    aggregates: Aggregates,
    checkin: CheckinFacts,
    *,
    trigger_coping: Mapping[str, tuple[str, ...]] | None = None,
) -> Aggregates:
    """The aggregates after ``checkin``, in O(1). Fold each check-in once, in the order they arrive.

    Pass the plan's ``trigger_coping`` (as in ``PlanFacts``) so "triggers without coping" is
    counted the way the engine counts it.
    """
    last = aggregates.last_checkin_date
    if last is None or (checkin.local_date - last).days > 1:
        streak = 1
    elif (checkin.local_date - last).days == 1:
        streak = aggregates.streak_days + 1
    else:
        # A late sync of an earlier day: the streak that ends at `last` is unchanged.
        streak = aggregates.streak_days
    follows = aggregates.folded_date is not None and (checkin.local_date - aggregates.folded_date).days == 1
    scales = (
        _update_scale(aggregates.craving, CRAVING, checkin.craving, follows=follows),
        _update_scale(aggregates.mood, MOOD, checkin.mood, follows=follows),
        _update_scale(aggregates.stress, STRESS, checkin.stress, follows=follows),
        _update_scale(aggregates.sleep, SLEEP, checkin.sleep_hours, follows=follows),
    )
    craving, mood, stress, sleep = scales
    missed_days, missed_again = aggregates.missed_days, aggregates.missed_again
    if last is not None and checkin.local_date > last:
        missed_days, missed_again = _fold_gap(missed_days, missed_again, (checkin.local_date - last).days - 1)
    newest = checkin.local_date if last is None else max(last, checkin.local_date)
    reference, pending = aggregates.reference, aggregates.pending
    if pending is None or (newest - pending.taken_on).days >= REFERENCE_LAG_DAYS:
        reference = pending or reference
        pending = Reference(newest, craving, mood, stress, sleep)
    return msgspec.structs.replace(
        aggregates,
        count=aggregates.count + 1,
        last_checkin_date=newest,
        folded_date=checkin.local_date,
        streak_days=streak,
        craving=craving,
        mood=mood,
        stress=stress,
        sleep=sleep,
        support_missed=_update(aggregates.support_missed, SUPPORT_MISSED, _missed(checkin.attended_support)),
        medication_missed=_update(
            aggregates.medication_missed, MEDICATION_MISSED, _missed(checkin.took_medication)
        ),
        isolating=_update(aggregates.isolating, ISOLATING, _yes(checkin.isolating)),
        uncoped_triggers=_update(
            aggregates.uncoped_triggers,
            UNCOPED_TRIGGERS,
            float(uncoped_triggers(checkin, trigger_coping or {})),
        ),
        co_movement=_update_co_movement(aggregates.co_movement, scales),
        missed_days=missed_days,
        missed_again=missed_again,
        reference=reference,
        pending=pending,
    )


def missed_run_chance(aggregates: Aggregates, days: int) -> float:
    """The chance, at the person's usual rates, that a given day is the ``days``-th missed day in a
    row: a missed day, then ``days - 1`` more each following a miss (for someone whose misses are
    independent, the miss rate to the power ``days``; bursts make it larger). Until a month of days
    has been seen, the priors': a habit is not read from a few weeks."""
    missed_days, missed_again = aggregates.missed_days, aggregates.missed_again
    if missed_days.n < BASELINE_SPAN_DAYS:
        missed_days, missed_again = Stat(), Stat()
    return _rate(missed_days, MISSED_DAY) * _rate(missed_again, MISSED_AGAIN) ** (days - 1)


def _rate(stat: Stat, measure: Measure) -> float:
    usual = baseline(stat, measure)
    assert usual is not None  # the measure has a prior
    return usual.mean


# A run longer than this is not an ordinary absence but a silence alert of its own (and a high one
# at the program default): it counts as this long, so one week away does not make every later pair
# of missed days look usual.
_MAX_RUN_FOLDED = 3


def _fold_gap(missed_days: Stat, missed_again: Stat, missed: int) -> tuple[Stat, Stat]:
    """The missed-day rates after a gap of ``missed`` days ended by a check-in: each missed day, then
    the answered one, into the rate per day; and each missed day's sequel (another miss, or the
    answer that ended the run) into the rate per missed day."""
    missed = min(missed, _MAX_RUN_FOLDED)
    for _ in range(missed):
        missed_days = _update_slow(missed_days, 1.0)
    missed_days = _update_slow(missed_days, 0.0)
    if missed:
        for _ in range(missed - 1):
            missed_again = _update_slow(missed_again, 1.0)
        missed_again = _update_slow(missed_again, 0.0)
    return missed_days, missed_again


def _update_slow(stat: Stat, value: float) -> Stat:
    """A rate over about two months (missed days are rarer than answers: a month holds few of them)."""
    weight = max(SLOW_ALPHA, 1 / (stat.n + 1))
    return Stat(n=stat.n + 1, mean=stat.mean + weight * (value - stat.mean), var=0.0)


def _update_co_movement(stat: CoMovement, scales: tuple[Scale, ...]) -> CoMovement:
    """Fold one day's sides of the scales answered today (``last``: +1 warning side, -1 the other)."""
    sides = [(scale.last, scale.above) for scale in scales if scale.last]
    if len(sides) < 2:
        return stat
    pairs = same = expected = 0.0
    for i, (side_i, p_i) in enumerate(sides):
        for side_j, p_j in sides[i + 1 :]:
            pairs += 1
            same += side_i == side_j
            expected += p_i * p_j + (1 - p_i) * (1 - p_j)
    weight = max(SLOW_ALPHA, 1 / (stat.n + 1))
    return CoMovement(
        n=stat.n + 1,
        together=stat.together + weight * (same / pairs - stat.together),
        expected=stat.expected + weight * (expected / pairs - stat.expected),
    )


def unfold(stat: Stat, values: Sequence[float]) -> Stat:
    """``stat`` as it was before ``values`` (oldest first, the latest folded) were folded into it.

    Only for measures folded without clipping (the yes/no rates), where ``_update`` is exactly
    invertible. The engine uses it so that the days it is judging are not part of the usual rate
    they are judged against: two isolated days must not raise the rate that makes a third look
    ordinary.
    """
    n, mean = stat.n, stat.mean
    for value in reversed(values):
        if n <= 1:
            # Back before the first answer: nothing of the person's own is left, only the prior.
            return Stat()
        weight = max(ALPHA, 1 / n)
        mean = min(1.0, max(0.0, (mean - weight * value) / (1 - weight)))
        n -= 1
    return Stat(n=n, mean=mean, var=stat.var)


def _update(stat: Stat, measure: Measure, value: float | None) -> Stat:
    if value is None:
        return stat
    if stat.n == 0:
        return Stat(n=1, mean=float(value), var=0.0)
    weight = max(ALPHA, 1 / (stat.n + 1))
    delta = value - stat.mean
    # West's incremental form of the exponentially weighted variance.
    return Stat(
        n=stat.n + 1,
        mean=stat.mean + weight * delta,
        var=(1 - weight) * (stat.var + weight * delta * delta),
    )


def _update_scale(stat: Scale, measure: Measure, value: float | None, *, follows: bool) -> Scale:
    if value is None:
        # Not answered today: tomorrow's answer has no yesterday to pair with.
        return stat if stat.last == 0 else msgspec.structs.replace(stat, last=0)
    if stat.n == 0:
        return Scale(n=1, mean=float(value), var=0.0, side=0.0)
    step_limit = math.inf
    if measure.winsorize and stat.n >= WARMUP:
        current = baseline(stat, measure)
        assert current is not None  # n > 0
        limit = CLIP_SD * current.sd
        value = min(max(value, stat.mean - limit), stat.mean + limit)
        step_limit = MEAN_CLIP * current.sd
    weight = max(ALPHA, 1 / (stat.n + 1))
    delta = value - stat.mean
    # West's incremental form of the exponentially weighted variance.
    var = (1 - weight) * (stat.var + weight * delta * delta)
    step = min(max(delta, -step_limit), step_limit)
    slow = max(SLOW_ALPHA, 1 / (stat.n + 1))
    warning = measure.direction * delta
    side = stat.var if stat.side < 0 else stat.side
    # Doubled: on symmetric answers half the days fall on each side.
    side = (1 - slow) * side + slow * (1 - weight) * (2 * delta * delta if warning > 0 else 0.0)
    last = (warning > 0) - (warning < 0)
    above = stat.above + slow * (float(warning > 0) - stat.above)
    pairs, together = stat.pairs, stat.together
    if follows and stat.last and last:
        pair_weight = max(SLOW_ALPHA, 1 / (pairs + 1))
        together += pair_weight * (float(last == stat.last) - together)
        pairs += 1
    return Scale(
        n=stat.n + 1,
        mean=stat.mean + weight * step,
        var=var,
        side=side,
        above=above,
        pairs=pairs,
        together=together,
        last=last,
    )


def _missed(answer: bool | None) -> float | None:
    return None if answer is None else float(not answer)


def _yes(answer: bool | None) -> float | None:
    return None if answer is None else float(answer)
