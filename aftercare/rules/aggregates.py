"""Each graduate's running baseline, folded one check-in at a time and kept on the graduate row.

Warning signs are judged against the person's own normal, not a population cut-off: craving 6 is
ordinary for one graduate and alarming for another. ``fold`` keeps an exponentially weighted mean and
variance (span about 28 days) per measure, and an exponentially weighted rate per yes/no answer, in O(1)
per check-in, so the engine's cost never grows with a graduate's history.

Three choices keep the baseline honest:

- Early on the weight is ``1/(n+1)`` (a plain running mean), so a baseline forms within days.
- ``baseline`` blends the variance (and the yes/no rates) with a population prior worth a few
  check-ins, and floors the spread at a minimum: a person who always answers 3 has a measured spread of
  zero, and without the floor every 4 would be an alarm.
- Values far from the baseline are clipped before they are folded in (winsorised), so a prodrome of a
  week does not drag the baseline along with it and hide itself.

Aggregates are a JSON column: ``aggregates_encoder``/``aggregates_decoder`` round-trip them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import msgspec

# An EWMA with span N has weight 2/(N+1); 28 days is the "personal baseline" the program speaks of.
BASELINE_SPAN_DAYS = 28
ALPHA = 2 / (BASELINE_SPAN_DAYS + 1)
# The prior counts as this many check-ins when the spread and the yes/no rates are read.
PRIOR_WEIGHT = 4
# Past this many check-ins, folded values are clipped to mean +- CLIP_SD spreads.
WARMUP = 5
CLIP_SD = 2.5


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


class Measure(msgspec.Struct, frozen=True):
    """How one measure is read: its population prior, the smallest spread believed, clipping."""

    name: str
    prior_sd: float
    min_sd: float
    # None: the person's own mean from the first check-in on (a population mean would bias it).
    prior_mean: float | None = None
    winsorize: bool = True


# Spreads are on each answer's own scale: craving and stress 0-10, mood 1-5, sleep in hours.
CRAVING = Measure("craving", prior_sd=2.0, min_sd=1.0)
MOOD = Measure("mood", prior_sd=0.9, min_sd=0.6)
STRESS = Measure("stress", prior_sd=2.0, min_sd=1.0)
SLEEP = Measure("sleep", prior_sd=1.25, min_sd=0.75)
SUPPORT_MISSED = Measure("support_missed", prior_sd=0.0, min_sd=0.0, prior_mean=0.15, winsorize=False)
MEDICATION_MISSED = Measure("medication_missed", prior_sd=0.0, min_sd=0.0, prior_mean=0.1, winsorize=False)
ISOLATING = Measure("isolating", prior_sd=0.0, min_sd=0.0, prior_mean=0.1, winsorize=False)
UNCOPED_TRIGGERS = Measure("uncoped_triggers", prior_sd=0.0, min_sd=0.0, prior_mean=0.15, winsorize=False)


class Baseline(msgspec.Struct, frozen=True):
    mean: float
    sd: float
    n: int


class Aggregates(msgspec.Struct, frozen=True, kw_only=True):
    """Running state before (or after) a check-in; ``Aggregates()`` is a graduate with no history."""

    count: int = 0
    last_checkin_date: date | None = None
    # Consecutive local days with a check-in, ending at last_checkin_date (the caseload's streak).
    streak_days: int = 0
    craving: Stat = Stat()
    mood: Stat = Stat()
    stress: Stat = Stat()
    sleep: Stat = Stat()
    support_missed: Stat = Stat()
    medication_missed: Stat = Stat()
    isolating: Stat = Stat()
    uncoped_triggers: Stat = Stat()


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


def baseline(stat: Stat, measure: Measure) -> Baseline | None:
    """The person's normal for ``measure``, or None before their first answer to it."""
    if stat.n == 0 and measure.prior_mean is None:
        return None
    # The prior's weight stays fixed while the person's saturates at the EWMA's span, so a few
    # pseudo-observations always temper a spread measured as near zero.
    own = min(stat.n, BASELINE_SPAN_DAYS)
    mean = stat.mean
    if measure.prior_mean is not None:
        mean = (own * stat.mean + PRIOR_WEIGHT * measure.prior_mean) / (own + PRIOR_WEIGHT)
    var = (own * stat.var + PRIOR_WEIGHT * measure.prior_sd**2) / (own + PRIOR_WEIGHT)
    return Baseline(mean=mean, sd=max(measure.min_sd, math.sqrt(var)), n=stat.n)


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
    return msgspec.structs.replace(
        aggregates,
        count=aggregates.count + 1,
        last_checkin_date=checkin.local_date if last is None else max(last, checkin.local_date),
        streak_days=streak,
        craving=_update(aggregates.craving, CRAVING, checkin.craving),
        mood=_update(aggregates.mood, MOOD, checkin.mood),
        stress=_update(aggregates.stress, STRESS, checkin.stress),
        sleep=_update(aggregates.sleep, SLEEP, checkin.sleep_hours),
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
    if measure.winsorize and stat.n >= WARMUP:
        current = baseline(stat, measure)
        assert current is not None  # n > 0
        limit = CLIP_SD * current.sd
        value = min(max(value, stat.mean - limit), stat.mean + limit)
    weight = max(ALPHA, 1 / (stat.n + 1))
    delta = value - stat.mean
    # West's incremental form of the exponentially weighted variance.
    return Stat(
        n=stat.n + 1,
        mean=stat.mean + weight * delta,
        var=(1 - weight) * (stat.var + weight * delta * delta),
    )


def _missed(answer: bool | None) -> float | None:
    return None if answer is None else float(not answer)


def _yes(answer: bool | None) -> float | None:
    return None if answer is None else float(answer)
