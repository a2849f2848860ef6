"""Running baselines: folded in O(1), honest early on, not dragged along by a prodrome."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest

from aftercare.rules.aggregates import (
    CRAVING,
    ISOLATING,
    MOOD,
    REFERENCE_LAG_DAYS,
    SLEEP,
    STRESS,
    Aggregates,
    CheckinFacts,
    aggregates_decoder,
    aggregates_encoder,
    baseline,
    co_movement,
    fold,
    uncoped_triggers,
)

D0 = date(2026, 3, 1)


def checkin(offset: int, **answers: object) -> CheckinFacts:
    values: dict[str, object] = {"mood": 4, "craving": 2, "stress": 3, "sleep_hours": 7.0}
    values.update(answers)
    return msgspec.convert({"local_date": D0 + timedelta(days=offset), **values}, CheckinFacts)


def fold_all(checkins: list[CheckinFacts], start: Aggregates | None = None) -> Aggregates:
    aggregates = start or Aggregates()
    for c in checkins:
        aggregates = fold(aggregates, c)
    return aggregates


def test_no_history_has_no_baseline_for_measures_but_a_prior_for_yes_no_rates() -> None:
    empty = Aggregates()
    assert baseline(empty.craving, CRAVING) is None
    isolating = baseline(empty.isolating, ISOLATING)
    assert isolating is not None
    assert isolating.mean == pytest.approx(0.1)


def test_the_first_checkin_sets_the_mean_and_later_ones_average() -> None:
    aggregates = fold_all([checkin(0, craving=4), checkin(1, craving=2), checkin(2, craving=3)])
    assert aggregates.count == 3
    assert aggregates.craving.mean == pytest.approx(3.0)
    assert aggregates.last_checkin_date == D0 + timedelta(days=2)


def test_a_spread_measured_as_zero_is_tempered_by_the_prior_and_floored() -> None:
    steady = fold_all([checkin(i, craving=3, mood=4) for i in range(60)])
    craving = baseline(steady.craving, CRAVING)
    mood = baseline(steady.mood, MOOD)
    assert craving is not None and mood is not None
    assert steady.craving.var == pytest.approx(0.0)
    assert craving.mean == pytest.approx(3.0)
    assert craving.sd >= CRAVING.min_sd
    assert mood.sd >= MOOD.min_sd


def test_early_spread_leans_on_the_prior() -> None:
    two = fold_all([checkin(0, craving=3), checkin(1, craving=3)])
    base = baseline(two.craving, CRAVING)
    assert base is not None
    # Two identical answers measure no spread: a third of the prior's (2.0 squared) makes it 1.15,
    # above the floor, and the estimate is worth about two answers, so a deviation from it is read
    # as a t statistic with about two degrees of freedom (far less telling than a z-score).
    assert base.sd == pytest.approx(2.0 / 3**0.5)
    assert base.sd > CRAVING.min_sd
    assert base.df < 3


def test_a_missing_sleep_answer_leaves_the_sleep_baseline_alone() -> None:
    before = fold_all([checkin(0, sleep_hours=6.0)])
    after = fold(before, checkin(1, sleep_hours=None))
    assert after.sleep == before.sleep
    assert baseline(after.sleep, SLEEP) is not None


def test_a_prodrome_moves_the_baseline_only_a_little() -> None:
    settled = fold_all([checkin(i, craving=2 + (i % 2)) for i in range(40)])
    prodrome = fold_all([checkin(40 + i, craving=9) for i in range(5)], settled)
    # Clipped to 2.5 spreads and weighted 2/29 a day, five days of 9 cannot pull a baseline of 2.5
    # more than a couple of points.
    assert settled.craving.mean == pytest.approx(2.5, abs=0.3)
    assert prodrome.craving.mean < settled.craving.mean + 2.0


def test_a_lasting_change_is_learned() -> None:
    settled = fold_all([checkin(i, craving=2) for i in range(30)])
    moved = fold_all([checkin(30 + i, craving=6) for i in range(90)], settled)
    assert moved.craving.mean == pytest.approx(6.0, abs=0.3)


def test_yes_no_answers_become_rates_and_null_is_no_answer() -> None:
    aggregates = fold_all(
        [
            checkin(0, isolating=True, attended_support=False, took_medication=True),
            checkin(1, isolating=False, attended_support=None, took_medication=None),
        ]
    )
    assert aggregates.isolating.n == 2
    assert aggregates.isolating.mean == pytest.approx(0.5)
    assert aggregates.support_missed.n == 1
    assert aggregates.support_missed.mean == pytest.approx(1.0)
    assert aggregates.medication_missed.mean == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("offsets", "streak"),
    [
        ([0, 1, 2], 3),
        ([0, 1, 3], 1),
        ([0, 2, 3, 4], 3),
        ([0, 1, 2, 1], 3),  # a late sync of an earlier day does not change the streak
    ],
)
def test_streak_counts_consecutive_days(offsets: list[int], streak: int) -> None:
    aggregates = fold_all([checkin(o) for o in offsets])
    assert aggregates.streak_days == streak
    assert aggregates.last_checkin_date == D0 + timedelta(days=max(offsets))


def test_aggregates_round_trip_through_json() -> None:
    aggregates = fold_all([checkin(i, craving=i % 5, isolating=i % 3 == 0) for i in range(12)])
    assert aggregates_decoder.decode(aggregates_encoder.encode(aggregates)) == aggregates
    assert aggregates_decoder.decode(b"{}") == Aggregates()


def test_state_stays_the_same_size_however_long_the_history() -> None:
    # From a month on (when the two snapshots of the scales, ``reference`` and ``pending``, exist).
    short = fold_all([checkin(i, craving=i % 7) for i in range(30)])
    long = fold_all([checkin(i, craving=i % 7) for i in range(1000)])
    # Only the digits grow: counts, and floats printed to full precision.
    assert abs(len(aggregates_encoder.encode(long)) - len(aggregates_encoder.encode(short))) < 80


@pytest.mark.parametrize(
    ("triggers", "coping", "links", "uncoped"),
    [
        ((), (), {}, False),
        (("t1",), (), {}, True),
        (("t1",), ("c9",), {}, False),  # unlinked trigger: any skill counts
        (("t1",), ("c9",), {"t1": ("c1", "c2")}, True),  # linked: only its skills count
        (("t1",), ("c2",), {"t1": ("c1", "c2")}, False),
        (("t1", "t2"), ("c1",), {"t1": ("c1",), "t2": ("c3",)}, True),
    ],
)
def test_uncoped_triggers(
    triggers: tuple[str, ...], coping: tuple[str, ...], links: dict[str, tuple[str, ...]], uncoped: bool
) -> None:
    assert uncoped_triggers(checkin(0, triggers=triggers, coping_used=coping), links) is uncoped


# --- the warning side's own spread, and days that carry over ---------------------------------------


def test_a_skewed_measure_is_judged_by_the_spread_of_its_warning_side() -> None:
    # Craving mostly 0 or 1, now and then 3 or 4: it cannot go below 0, so the spread both ways
    # understates how far up an ordinary day goes.
    cravings = [0, 1, 0, 0, 4, 1, 0, 1, 0, 3] * 6
    aggregates = fold_all([checkin(i, craving=c) for i, c in enumerate(cravings)])
    both_ways = aggregates.craving.var**0.5
    base = baseline(aggregates.craving, CRAVING)
    assert base is not None
    assert aggregates.craving.side > aggregates.craving.var
    assert base.sd > both_ways


def test_days_that_carry_over_give_a_high_day_to_day_correlation() -> None:
    # Slow swings: a week up, a week down.
    slow = [(3 if (i // 7) % 2 else 1) for i in range(84)]
    # Every day on its own: up, down, up, down.
    jumpy = [(3 if i % 2 else 1) for i in range(84)]
    slow_base = baseline(fold_all([checkin(i, craving=c) for i, c in enumerate(slow)]).craving, CRAVING)
    jumpy_base = baseline(fold_all([checkin(i, craving=c) for i, c in enumerate(jumpy)]).craving, CRAVING)
    assert slow_base is not None and jumpy_base is not None
    assert slow_base.rho > 0.6
    assert jumpy_base.rho == 0.0
    # Carried-over days are worth fewer independent answers.
    assert slow_base.df < jumpy_base.df


def test_only_consecutive_days_folded_one_after_the_other_are_paired() -> None:
    days = [checkin(i, craving=c) for i, c in zip((0, 2, 4, 6, 8), (1, 3, 1, 3, 1), strict=True)]
    assert fold_all(days).craving.pairs == 0
    # (The first answer is the mean itself: it has no side, so pairs start with the second.)
    in_order = fold_all([checkin(0, craving=1), checkin(1, craving=3), checkin(2, craving=1)])
    assert in_order.craving.pairs == 1
    # A late sync of the day before is folded after a later day: not a pair.
    late = fold_all(
        [checkin(0, craving=1), checkin(1, craving=3), checkin(3, craving=1), checkin(2, craving=3)]
    )
    assert late.craving.pairs == 0
    # A day without a sleep answer leaves no yesterday for the next day's sleep.
    gap = fold_all(
        [
            checkin(0, sleep_hours=6.0, craving=1),
            checkin(1, sleep_hours=8.0, craving=3),
            checkin(2, sleep_hours=None, craving=1),
            checkin(3, sleep_hours=6.0, craving=3),
        ]
    )
    assert gap.sleep.pairs == 0 and gap.craving.pairs == 2


def test_rows_stored_before_the_new_fields_still_decode() -> None:
    old = b'{"count":3,"craving":[3,2.0,0.5],"mood":[3,4.0,0.1],"isolating":[3,0.0,0.0]}'
    aggregates = aggregates_decoder.decode(old)
    assert aggregates.craving.n == 3 and aggregates.craving.side == -1.0 and aggregates.craving.pairs == 0
    assert fold(aggregates, checkin(5, craving=4)).craving.n == 4


def test_scales_that_move_together_are_seen_to() -> None:
    # Bad days: mood down, stress up, sleep down, on the same days (one underlying state).
    bad = [i % 5 in (1, 2) for i in range(70)]
    together = fold_all(
        [
            checkin(i, mood=3 if b else 4, stress=6 if b else 3, sleep_hours=6.0 if b else 7.5, craving=2)
            for i, b in enumerate(bad)
        ]
    )
    # The same answers, but each scale's bad days fall on different days.
    apart = fold_all(
        [
            checkin(
                i,
                mood=3 if bad[i] else 4,
                stress=6 if bad[(i + 2) % 70] else 3,
                sleep_hours=6.0 if bad[(i + 4) % 70] else 7.5,
                craving=2,
            )
            for i in range(70)
        ]
    )
    assert co_movement(together.co_movement) > 0.6
    assert co_movement(apart.co_movement) < 0.1


def test_the_reference_is_the_scales_as_they_stood_one_to_two_weeks_before() -> None:
    aggregates = Aggregates()
    for i in range(40):
        aggregates = fold(aggregates, checkin(i, craving=i % 4))
        newest = D0 + timedelta(days=i)
        if i < REFERENCE_LAG_DAYS:
            assert aggregates.reference is None
            continue
        assert aggregates.reference is not None
        age = (newest - aggregates.reference.taken_on).days
        assert REFERENCE_LAG_DAYS <= age < 2 * REFERENCE_LAG_DAYS
    # The snapshot is the scales as they were after its day's check-in, not as they are now.
    snapshot = aggregates.reference
    assert snapshot is not None
    taken = (snapshot.taken_on - D0).days
    assert snapshot.craving == fold_all([checkin(i, craving=i % 4) for i in range(taken + 1)]).craving


def test_a_prodrome_moves_the_reference_less_than_the_baseline() -> None:
    # Ten days of rising stress after six steady weeks: the current baseline has taken some of it in,
    # the snapshot of a week or more ago has not.
    steady = fold_all([checkin(i) for i in range(42)])
    rising = fold_all([checkin(42 + i, stress=4 + i // 2) for i in range(10)], steady)
    now, then = baseline(rising.stress, STRESS), baseline(rising.reference.stress, STRESS)  # type: ignore[union-attr]
    assert now is not None and then is not None
    assert then.mean < 3.1  # the first day of the rise at most
    assert now.mean > then.mean + 0.5
    # Several days into a gap the snapshot is older, never newer, than a week.
    gap = fold(rising, checkin(60))
    assert gap.reference is not None and (D0 + timedelta(days=60) - gap.reference.taken_on).days >= 7
