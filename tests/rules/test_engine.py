"""The warning-sign engine, rule by rule: when each fires, when it stays quiet, and what it says."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from aftercare.rules.aggregates import CRAVING as CRAVING_MEASURE
from aftercare.rules.aggregates import Aggregates, CheckinFacts, Scale, baseline, fold, missed_run_chance
from aftercare.rules.backtest import Arrival, History, replay_graduate
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder
from aftercare.rules.engine import WINDOW_DAYS, Assessment, PlanFacts, RuleHit, assess, assess_silence
from aftercare.rules.step import checkin_step

D0 = date(2026, 3, 1)
PLAN = PlanFacts.from_counts(medications=1, sessions_per_week=3, trigger_coping={"t1": ("c1",)})

# A steady graduate's ordinary days: small day-to-day variation around their own normal.
CRAVING = (2, 3, 2, 1, 3, 2, 2)
MOOD = (4, 4, 3, 4, 5, 4, 4)
STRESS = (3, 4, 3, 2, 4, 3, 3)
SLEEP = (7.0, 7.5, 6.5, 7.0, 8.0, 7.0, 7.5)


def day(offset: int, **answers: object) -> CheckinFacts:
    i = offset % 7
    values: dict[str, object] = {
        "mood": MOOD[i],
        "craving": CRAVING[i],
        "stress": STRESS[i],
        "sleep_hours": SLEEP[i],
        "attended_support": True if i in (1, 3, 5) else None,
        "took_medication": True,
        "isolating": False,
    }
    values.update(answers)
    return msgspec.convert({"local_date": D0 + timedelta(days=offset), **values}, CheckinFacts)


def steady(days: int, **answers: object) -> list[CheckinFacts]:
    return [day(i, **answers) for i in range(days)]


def then(history: list[CheckinFacts], *answers: Mapping[str, object]) -> list[CheckinFacts]:
    """``history`` followed by one day per ``answers`` (missing answers: the person's ordinary day)."""
    start = (history[-1].local_date - D0).days + 1 if history else 0
    return history + [day(start + i, **a) for i, a in enumerate(answers)]


def run(
    checkins: Sequence[CheckinFacts], plan: PlanFacts = PLAN, rules: ProgramRules = DEFAULT_RULES
) -> Assessment:
    """Assess the last check-in as the service would: window of 28 days, baseline before it."""
    aggregates = Aggregates()
    for c in checkins[:-1]:
        aggregates = fold(aggregates, c)
    return assess(list(checkins[-WINDOW_DAYS:]), aggregates, plan, rules)


def hit(assessment: Assessment, rule: str) -> RuleHit | None:
    return next((h for h in assessment.hits if h.rule == rule), None)


def rules(**overrides: object) -> ProgramRules:
    return rules_decoder.decode(msgspec.json.encode({"rules": overrides}))


BASE = steady(28)
# Eight weeks: enough planned sessions answered for a usual attendance rate to be believed.
LONG = steady(56)


# --- ordinary days ----------------------------------------------------------------------------


def test_an_ordinary_day_is_low_risk_with_no_hits() -> None:
    assessment = run(then(BASE, {}))
    assert assessment.hits == ()
    assert assessment.risk_level == "low"
    assert assessment.reasons == ()
    assert 0 <= assessment.risk_score < 30


def test_a_steady_month_never_alarms() -> None:
    history = steady(60)
    for end in range(2, 61):
        assert run(history[:end]).hits == (), end


def test_the_first_checkin_ever_is_assessed() -> None:
    assert run([day(0)]).hits == ()
    assert run([day(0, used=True)]).hits[0].rule == "lapse"


# --- lapse and safety -------------------------------------------------------------------------


def test_a_lapse_is_high_and_names_the_day() -> None:
    assessment = run(then(BASE, {"used": True}))
    lapse = hit(assessment, "lapse")
    assert lapse is not None
    assert lapse.severity == "high"
    assert lapse.reasons == ("reported alcohol or drug use (2026-03-29)",)
    assert lapse.evidence["local_dates"] == ["2026-03-29"]
    assert assessment.risk_level == "high"


def test_a_second_lapse_within_14_days_is_critical() -> None:
    history = then(BASE, {"used": True}, *[{}] * 12, {"used": True})
    lapse = hit(run(history), "lapse")
    assert lapse is not None
    assert lapse.severity == "critical"
    assert "another lapse within 14 days (2026-03-29)" in lapse.reasons
    assert lapse.evidence["local_dates"] == ["2026-03-29", "2026-04-11"]


def test_a_lapse_15_days_after_another_is_high_again() -> None:
    history = then(BASE, {"used": True}, *[{}] * 14, {"used": True})
    lapse = hit(run(history), "lapse")
    assert lapse is not None
    assert lapse.severity == "high"


def test_the_repeat_window_is_configurable() -> None:
    history = then(BASE, {"used": True}, *[{}] * 14, {"used": True})
    lapse = hit(run(history, rules=rules(lapse={"repeat_window_days": 20})), "lapse")
    assert lapse is not None
    assert lapse.severity == "critical"


LATE_DAY = D0 + timedelta(days=len(BASE))


def late_lapse(days_to_the_later_one: int) -> RuleHit | None:
    """A lapse for the day after ``BASE`` synced late, after a lapse ``days_to_the_later_one`` days
    after it had arrived."""
    history = then(BASE, *[{}] * 20)
    late, later = history[len(BASE)], history[len(BASE) + days_to_the_later_one]
    later = msgspec.structs.replace(later, used=True)
    aggregates = Aggregates()
    for c in [*BASE, later]:
        aggregates = fold(aggregates, c)
    step = checkin_step(
        msgspec.structs.replace(late, used=True),
        received=[*BASE, later],
        aggregates=aggregates,
        alerts={},
        plan=PLAN,
        rules=DEFAULT_RULES,
        on=later.local_date,
    )
    return hit(step.assessment, "lapse")


def test_a_late_lapse_is_a_repeat_of_a_later_one_already_reported_within_14_days() -> None:
    lapse = late_lapse(3)
    assert lapse is not None
    assert lapse.severity == "critical"
    later = (LATE_DAY + timedelta(days=3)).isoformat()
    assert lapse.reasons == (
        f"reported alcohol or drug use ({LATE_DAY.isoformat()})",
        f"another lapse within 14 days ({later})",
    )
    assert lapse.evidence["local_dates"] == [LATE_DAY.isoformat(), later]
    assert lapse.evidence["values"]["lapses"] == 2
    # 15 days apart it is a new episode, whichever arrived first.
    far = late_lapse(15)
    assert far is not None and far.severity == "high"


def test_safety_is_critical_at_once_even_on_the_first_day() -> None:
    assessment = run([day(0, safety_concern=True)])
    safety = hit(assessment, "safety")
    assert safety is not None
    assert safety.severity == "critical"
    assert safety.reasons == ("reported thoughts of harming themselves",)
    assert assessment.risk_level == "critical"
    assert assessment.risk_score >= 85
    assert assessment.hits[0].rule == "safety"


@pytest.mark.parametrize("rule", ["lapse", "safety"])
def test_a_disabled_rule_is_silent(rule: str) -> None:
    assessment = run(
        then(BASE, {"used": True, "safety_concern": True}), rules=rules(**{rule: {"enabled": False}})
    )
    assert hit(assessment, rule) is None


# --- craving rising ---------------------------------------------------------------------------


def test_craving_high_for_this_person_on_two_of_three_days_is_a_warning_with_a_readable_reason() -> None:
    history = then(BASE, {"craving": 5}, {"craving": 2}, {"craving": 5})
    craving = hit(run(history), "craving_rising")
    assert craving is not None
    assert craving.severity == "warning"
    assert craving.reasons[0] == "craving 5, 2, 5 over the last 3 days; baseline 2.2"
    assert craving.evidence["values"]["craving"] == [5, 2, 5]
    assert craving.evidence["local_dates"] == ["2026-03-29", "2026-03-30", "2026-03-31"]


def test_one_bad_day_is_not_a_sign() -> None:
    assert hit(run(then(BASE, {"craving": 9})), "craving_rising") is None


def test_craving_back_to_normal_today_does_not_fire() -> None:
    assert hit(run(then(BASE, {"craving": 7}, {"craving": 7}, {"craving": 2})), "craving_rising") is None


def test_craving_that_keeps_rising_is_high() -> None:
    history = then(BASE, {"craving": 6}, {"craving": 7}, {"craving": 8})
    craving = hit(run(history), "craving_rising")
    assert craving is not None
    assert craving.severity == "high"
    assert "craving 6, 7, 8 over the last 3 days; baseline 2.3" in craving.reasons
    assert "still rising day after day" in craving.reasons


def test_craving_far_above_baseline_is_high() -> None:
    history = then(BASE, {"craving": 9}, {"craving": 9})
    craving = hit(run(history), "craving_rising")
    assert craving is not None
    assert craving.severity == "high"


def test_a_person_whose_normal_craving_is_6_does_not_alarm_at_6() -> None:
    history = steady(28, craving=6)
    history = [msgspec.structs.replace(c, craving=c.craving + (i % 3) - 1) for i, c in enumerate(history)]
    assert run(then(history, {"craving": 6}, {"craving": 6}, {"craving": 7})).hits == ()


def test_a_person_whose_normal_craving_is_1_alarms_at_5_sustained() -> None:
    history = steady(28, craving=1)
    assert hit(run(then(history, {"craving": 5}, {"craving": 5})), "craving_rising") is not None


def test_a_very_steady_person_does_not_alarm_on_plus_one() -> None:
    history = steady(40, craving=3, mood=4, stress=3, sleep_hours=7.0)
    assessment = run(then(history, {"craving": 4}, {"craving": 4}, {"craving": 4}))
    assert assessment.hits == ()


def test_a_climbing_craving_is_flagged_before_it_is_high() -> None:
    climbing = then(BASE, {"craving": 3}, {"craving": 4}, {"craving": 5})
    craving = hit(run(climbing), "craving_rising")
    assert craving is not None
    assert craving.severity == "warning"
    assert craving.reasons == ("craving climbing: 2, 3, 4, 5 over the last 4 check-ins; baseline 2.3",)
    plateau = then(BASE, {"craving": 4}, {"craving": 4}, {"craving": 4})
    assert hit(run(plateau), "craving_rising") is None
    spike = then(BASE, {"craving": 2}, {"craving": 2}, {"craving": 9})
    assert hit(run(spike), "craving_rising") is None


def test_the_absolute_net_catches_a_new_graduate_with_high_craving() -> None:
    history = [day(0, craving=8), day(1, craving=7), day(2, craving=8)]
    craving = hit(run(history), "craving_rising")
    assert craving is not None
    assert "craving 7 or more on 3 of the last 3 check-ins" in craving.reasons


def test_the_absolute_net_stays_quiet_for_someone_often_at_7() -> None:
    history = steady(28, craving=7)
    history = [
        msgspec.structs.replace(c, craving=(5, 7, 8, 6, 7, 9, 6)[i % 7]) for i, c in enumerate(history)
    ]
    assert hit(run(then(history, {"craving": 7}, {"craving": 8}, {"craving": 7})), "craving_rising") is None


def test_stricter_thresholds_change_the_answer() -> None:
    history = then(BASE, {"craving": 6}, {"craving": 2}, {"craving": 6})
    assert (
        hit(run(history, rules=rules(craving_rising={"z_warning": 4.0, "z_high": 5.0})), "craving_rising")
        is None
    )


# --- mood falling -----------------------------------------------------------------------------


def test_mood_well_below_baseline_on_two_days_is_a_warning() -> None:
    history = then(BASE, {"mood": 2}, {"mood": 2})
    mood = hit(run(history), "mood_falling")
    assert mood is not None
    assert mood.severity == "warning"
    assert mood.reasons[0] == "mood 4, 2, 2 over the last 3 days; baseline 4"


def test_one_low_day_is_not_a_sign() -> None:
    assert hit(run(then(BASE, {"mood": 1})), "mood_falling") is None


def test_low_mood_three_days_running_fires_for_a_new_graduate() -> None:
    mood = hit(run([day(0, mood=2), day(1, mood=2), day(2, mood=1)]), "mood_falling")
    assert mood is not None
    assert "mood 2 or lower on 3 days in a row" in mood.reasons


def test_a_chronically_low_mood_does_not_alarm_every_day() -> None:
    history = [msgspec.structs.replace(c, mood=(2, 2, 3, 2, 1, 2, 3)[i % 7]) for i, c in enumerate(BASE)]
    assert hit(run(then(history, {"mood": 2}, {"mood": 2}, {"mood": 2})), "mood_falling") is None


# --- support, medication, isolation, triggers -------------------------------------------------


def test_missed_support_three_times_in_a_week_for_a_regular_attender() -> None:
    history = then(
        LONG, {"attended_support": False}, {}, {"attended_support": False}, {"attended_support": False}
    )
    support = hit(run(history), "support_dropoff")
    assert support is not None
    assert support.severity == "warning"
    assert support.reasons[0].startswith(
        "missed 3 of 5 planned support sessions in the last 7 days; usually misses"
    )
    assert support.evidence["values"] == {"missed": 3, "planned": 5}


def test_two_misses_of_five_for_a_regular_attender_are_a_program_choice() -> None:
    # Missing 2 of 5 when one usually misses 1 in 20 is a 2% chance: judged afresh every day over a
    # rolling week, that came every few weeks for people who never lapsed; the default asks for 1%
    # (as isolation and triggers do), a program may ask for less.
    history = then(LONG, {"attended_support": False}, {}, {"attended_support": False})
    assert hit(run(history), "support_dropoff") is None
    looser = hit(run(history, rules=rules(support_dropoff={"max_chance": 0.05})), "support_dropoff")
    assert looser is not None and looser.evidence["values"] == {"missed": 2, "planned": 5}


def test_one_missed_session_is_not_a_dropoff() -> None:
    assert hit(run(then(BASE, {"attended_support": False})), "support_dropoff") is None


def test_someone_who_often_misses_is_judged_against_that() -> None:
    history = [
        msgspec.structs.replace(c, attended_support=False if i % 7 in (1, 3) else c.attended_support)
        for i, c in enumerate(LONG)
    ]
    assert (
        hit(
            run(then(history, {"attended_support": False}, {}, {"attended_support": False})),
            "support_dropoff",
        )
        is None
    )


def test_no_planned_sessions_means_nothing_to_miss() -> None:
    missed = {"attended_support": False}
    history = then(LONG, missed, {}, missed, missed)
    assert (
        hit(run(history, plan=PlanFacts.from_counts(medications=1, sessions_per_week=0)), "support_dropoff")
        is None
    )
    assert hit(run(history, plan=PlanFacts()), "support_dropoff") is not None  # no plan known: believed


def test_medication_missed_two_days_in_a_row() -> None:
    history = then(BASE, {"took_medication": False}, {"took_medication": False})
    medication = hit(run(history), "medication_missed")
    assert medication is not None
    assert medication.reasons == ("medication not taken on 2 days in a row",)
    assert medication.evidence["local_dates"] == ["2026-03-29", "2026-03-30"]


def test_medication_missed_on_separate_days_or_without_medications_is_quiet() -> None:
    apart = then(BASE, {"took_medication": False}, {}, {"took_medication": False})
    assert hit(run(apart), "medication_missed") is None
    row = then(BASE, {"took_medication": False}, {"took_medication": False})
    assert (
        hit(run(row, plan=PlanFacts.from_counts(medications=0, sessions_per_week=3)), "medication_missed")
        is None
    )


def test_isolating_on_three_days_of_a_week() -> None:
    history = then(BASE, {"isolating": True}, {}, {"isolating": True}, {"isolating": True})
    isolation = hit(run(history), "isolation")
    assert isolation is not None
    assert isolation.reasons[0].startswith("pulled away from friends or family on 3 of the last 7 days")
    assert isolation.evidence["values"] == {"days": 3}


def test_isolating_on_two_days_is_quiet() -> None:
    assert hit(run(then(BASE, {"isolating": True}, {"isolating": True})), "isolation") is None


def test_triggers_without_their_coping_skills_on_three_days() -> None:
    t = {"triggers": ["t1"], "coping_used": []}
    history = then(BASE, t, {}, t, {"triggers": ["t1"], "coping_used": ["c7"]})  # c7 is not t1's skill
    triggers = hit(run(history), "triggers_without_coping")
    assert triggers is not None
    assert triggers.reasons[0].startswith("met triggers without using a coping skill on 3 of the last 7 days")
    assert triggers.evidence["values"]["triggers"] == ["t1"]


def test_triggers_met_with_their_coping_skill_are_fine() -> None:
    coped = {"triggers": ["t1"], "coping_used": ["c1"]}
    assert hit(run(then(BASE, coped, coped, coped, coped)), "triggers_without_coping") is None


# --- combination ------------------------------------------------------------------------------


def test_modest_deviations_together_make_a_combined_warning() -> None:
    # None of these alone crosses its own rule, together they are a prodrome.
    modest = {"craving": 4, "mood": 3, "stress": 6, "sleep_hours": 5.5}
    assessment = run(then(BASE, modest, modest, modest))
    assert {h.rule for h in assessment.hits} == {"combined"}
    combined = assessment.hits[0]
    assert combined.reasons[0].endswith("warning signs together")
    assert any(r.startswith("stress 3, 6, 6, 6 over the last 4 days; baseline 3") for r in combined.reasons)
    assert any(r.startswith("sleep 7.5, 5.5, 5.5, 5.5 h over the last 4 days") for r in combined.reasons)
    assert combined.evidence["values"]["score"] >= DEFAULT_RULES.rules.combined.score_warning
    assert set(combined.evidence["values"]["signals"]) == {"craving", "mood", "stress", "sleep"}
    assert assessment.risk_level == ("high" if combined.severity == "high" else "moderate")


def test_two_modest_deviations_make_a_combined_warning_not_high() -> None:
    modest = {"stress": 6, "sleep_hours": 5.5}
    combined = hit(run(then(BASE, modest, modest, modest)), "combined")
    assert combined is not None
    assert combined.severity == "warning"
    assert combined.reasons[0] == "2 warning signs together"


def test_a_single_modestly_deviating_measure_is_not_combined() -> None:
    assessment = run(then(BASE, {"stress": 5}, {"stress": 5}))
    assert hit(assessment, "combined") is None


def test_a_single_measure_far_off_and_held_is_a_combined_warning() -> None:
    # Stress has no rule of its own, and a prodrome may carry one sign only.
    history = then(BASE, {"stress": 7}, {"stress": 7}, {"stress": 8})
    combined = hit(run(history), "combined")
    assert combined is not None
    assert combined.severity == "warning"
    assert combined.reasons[0] == "one warning sign, far from usual and held"
    assert combined.reasons[1].startswith("stress 3, 7, 7, 8 over the last 4 days")
    assert combined.evidence["values"]["signals"] == {"stress": 3.0}
    # Strengths reach at most 3: a higher bar turns the single-sign path off.
    assert hit(run(history, rules=rules(combined={"single_strength": 3.5})), "combined") is None


def test_a_shift_held_over_the_week_is_read_as_a_count_of_days() -> None:
    # Stress a little up and sleep a little down on five of the last seven days, no day dramatic:
    # the week's count of days past one spread is the signal, and the reason shows the week.
    # (Stress, judged against the normal of two weeks ago, reads stronger as its last 4 days.)
    shifted = {"sleep_hours": 6.0, "stress": 5}
    history = then(BASE, *[shifted if i not in (1, 4) else {} for i in range(7)])
    combined = hit(run(history), "combined")
    assert combined is not None
    assert combined.reasons[0] == "2 warning signs together"
    assert any(r.startswith("sleep 6, 7.5, 6, 6, 8, 6, 6 h over the last 7 days") for r in combined.reasons)


def test_several_rule_warnings_at_once_make_a_combined_high() -> None:
    history = then(
        LONG,
        {"craving": 6, "isolating": True, "attended_support": False},
        {"craving": 6, "isolating": True, "attended_support": False},
        {"craving": 7, "isolating": True, "attended_support": False},
    )
    assessment = run(history)
    combined = hit(assessment, "combined")
    assert combined is not None
    assert combined.severity == "high"
    assert combined.reasons[0].startswith(
        "3 warning signs at once: craving_rising, support_dropoff, isolation"
    )
    assert assessment.risk_level == "high"
    assert assessment.risk_score > 65


def test_combined_can_be_disabled() -> None:
    modest = {"craving": 4, "mood": 3, "stress": 6, "sleep_hours": 5.5}
    assert run(then(BASE, modest, modest, modest), rules=rules(combined={"enabled": False})).hits == ()


# --- assessment -------------------------------------------------------------------------------


def test_reasons_lead_with_the_most_severe_hit() -> None:
    history = then(
        BASE, {"isolating": True}, {"isolating": True}, {"isolating": True, "safety_concern": True}
    )
    assessment = run(history)
    assert [h.rule for h in assessment.hits][:1] == ["safety"]
    assert assessment.reasons[0] == "reported thoughts of harming themselves"
    assert any(r.startswith("pulled away") for r in assessment.reasons)


def test_risk_score_and_level_agree() -> None:
    cases = [
        then(BASE, {}),
        then(BASE, {"used": True}),
        then(BASE, {"mood": 2}, {"mood": 2}),
        [day(0, safety_concern=True)],
    ]
    for history in cases:
        a = run(history)
        assert 0 <= a.risk_score <= 100
        expected = (
            "critical"
            if a.risk_score >= 85
            else "high"
            if a.risk_score >= 60
            else "moderate"
            if a.risk_score >= 30
            else "low"
        )
        assert a.risk_level == expected


def test_check_ins_after_today_in_the_window_are_ignored() -> None:
    # The window is the past as of the check-in being assessed; a caller that passes it sorted with
    # today last gets the same answer however much older history it trims.
    history = then(BASE, {"craving": 6}, {"craving": 2}, {"craving": 6})
    aggregates = Aggregates()
    for c in history[:-1]:
        aggregates = fold(aggregates, c)
    assert (
        assess(history[-7:], aggregates, PLAN, DEFAULT_RULES).hits
        == assess(history[-28:], aggregates, PLAN, DEFAULT_RULES).hits
    )


# --- cost -------------------------------------------------------------------------------------


def test_cost_does_not_grow_with_history() -> None:
    """The engine reads a bounded window and a running state of fixed shape, so a graduate's
    thousandth day costs what their fiftieth did. Shown by what it is given, not by a stopwatch
    (timings belong to ``bench/``: a loaded machine makes a timed test flaky)."""

    def history(days: int) -> tuple[list[CheckinFacts], Aggregates]:
        # The same weekly pattern, so the two windows ask the engine the same questions.
        checkins = steady(days)
        aggregates = Aggregates()
        for c in checkins[:-1]:
            aggregates = fold(aggregates, c)
        return checkins[-WINDOW_DAYS:], aggregates

    def fixed_shape(value: object) -> bool:
        """Only scalars and structs of scalars: nothing that can grow with the days folded in."""
        if isinstance(value, msgspec.Struct):
            return all(fixed_shape(getattr(value, name)) for name in value.__struct_fields__)
        return value is None or isinstance(value, int | float | date)

    short, long = history(56), history(1050)
    assert len(short[0]) == len(long[0]) == WINDOW_DAYS
    assert long[1].count == 1049
    assert fixed_shape(long[1])
    assert run(steady(56)).hits == run(steady(1050)).hits == ()


# --- silence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "closed", "first", "expected"),
    [
        (date(2026, 3, 10), date(2026, 3, 10), date(2026, 3, 1), None),
        (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 1), None),
        (date(2026, 3, 10), date(2026, 3, 12), date(2026, 3, 1), ("warning", 2)),
        (date(2026, 3, 10), date(2026, 3, 13), date(2026, 3, 1), ("warning", 3)),
        (date(2026, 3, 10), date(2026, 3, 14), date(2026, 3, 1), ("high", 4)),
        (date(2026, 3, 10), date(2026, 3, 30), date(2026, 3, 1), ("high", 20)),
        (None, date(2026, 3, 1), date(2026, 3, 1), None),
        (None, date(2026, 3, 2), date(2026, 3, 1), ("warning", 2)),
        # A new graduate is not silent before the first day they were asked.
        (date(2026, 2, 1), date(2026, 3, 2), date(2026, 3, 1), ("warning", 2)),
        (date(2026, 2, 1), date(2026, 3, 1), date(2026, 3, 1), None),
    ],
)
def test_silence_counts_closed_days_without_a_checkin(
    last: date | None, closed: date, first: date, expected: tuple[str, int] | None
) -> None:
    silence = assess_silence(Aggregates(last_checkin_date=last), closed, first, DEFAULT_RULES)
    if expected is None:
        assert silence is None
        return
    assert silence is not None
    assert (silence.severity, silence.evidence["values"]["silent_days"]) == expected


def test_silence_reason_and_run() -> None:
    silence = assess_silence(
        Aggregates(last_checkin_date=date(2026, 3, 10)), date(2026, 3, 12), date(2026, 3, 1), DEFAULT_RULES
    )
    assert silence is not None
    assert silence.rule == "silence"
    assert silence.reasons == ("no check-in for 2 days in a row (last check-in 2026-03-10)",)
    assert silence.evidence["values"]["run_started_on"] == "2026-03-11"
    never = assess_silence(
        Aggregates(last_checkin_date=None), date(2026, 3, 3), date(2026, 3, 1), DEFAULT_RULES
    )
    assert never is not None
    assert never.reasons == ("no check-in for 3 days in a row (no check-in yet)",)


def test_silence_thresholds_come_from_the_config() -> None:
    # One missed day is ordinary for nearly anyone (the priors: 7% of days), so a program that wants
    # a call after every one also says not to wait for the usual.
    strict = rules(silence={"warning_days": 1, "high_days": 2, "usual_extra_days": 0})
    assert (
        assess_silence(
            Aggregates(last_checkin_date=date(2026, 3, 10)), date(2026, 3, 11), date(2026, 3, 1), strict
        )
        is not None
    )
    off = rules(silence={"enabled": False})
    assert (
        assess_silence(
            Aggregates(last_checkin_date=date(2026, 3, 10)), date(2026, 3, 20), date(2026, 3, 1), off
        )
        is None
    )


def history_with_gaps(gaps: list[int]) -> Aggregates:
    """The aggregates after check-ins separated by ``gaps`` missed days each (0: the next day)."""
    offset = 0
    aggregates = fold(Aggregates(), day(offset))
    for missed in gaps:
        offset += missed + 1
        aggregates = fold(aggregates, day(offset))
    return aggregates


def test_a_new_graduate_is_silent_at_two_days_as_by_default() -> None:
    # No history of missed days: the priors make two missed days unlikely (the contract's default).
    assert missed_run_chance(Aggregates(), 2) < DEFAULT_RULES.rules.silence.max_chance
    assert missed_run_chance(Aggregates(), 2) > missed_run_chance(Aggregates(), 3)


def test_missed_days_are_counted_between_checkins_and_bursts_raise_the_chance_of_a_run() -> None:
    steady = history_with_gaps([0] * 60)
    # The same number of missed days (12 in 72), alone or in pairs.
    alone = history_with_gaps(([0] * 4 + [1]) * 12)
    paired = history_with_gaps(([0] * 9 + [2]) * 6)
    assert missed_run_chance(steady, 2) < missed_run_chance(Aggregates(), 2)
    assert missed_run_chance(alone, 2) < missed_run_chance(paired, 2)
    assert alone.missed_days.mean == pytest.approx(paired.missed_days.mean, abs=0.06)
    # A late sync of an earlier day ends no gap.
    late = fold(steady, day(57))
    assert late.missed_days == steady.missed_days


@pytest.mark.parametrize(("gaps", "opens_on"), [([0] * 60, 2), (([0] * 4 + [2]) * 12, 3)])
def test_silence_waits_a_day_for_someone_who_often_misses_two_in_a_row(
    gaps: list[int], opens_on: int
) -> None:
    history = history_with_gaps(gaps)
    last = history.last_checkin_date
    assert last is not None
    hits = {
        silent: assess_silence(history, last + timedelta(days=silent), D0, DEFAULT_RULES)
        for silent in range(1, 6)
    }
    opened = [silent for silent, hit in hits.items() if hit is not None]
    assert opened[0] == opens_on
    assert opened == list(range(opens_on, 6))
    # High at high_days for everyone: four silent days are urgent whatever one's habits.
    assert [hits[silent].severity for silent in opened] == ["warning"] * (4 - opens_on) + ["high"] * 2  # type: ignore[union-attr]
    assert hits[opens_on].evidence["values"]["usual_chance"] < 1  # type: ignore[union-attr]
    # The counselor reads why the alert came a day later than for others.
    usual = "2 missed days in a row are usual for them; this run is longer"
    assert (usual in hits[opens_on].reasons) == (opens_on == 3)  # type: ignore[union-attr]


def test_silence_never_waits_past_the_usual_extra_days_nor_when_told_not_to() -> None:
    # Missing every other day: two in a row is as ordinary as it gets, yet three still warn.
    often = history_with_gaps([1, 3] * 20)
    last = often.last_checkin_date
    assert last is not None
    assert assess_silence(often, last + timedelta(days=2), D0, DEFAULT_RULES) is None
    assert assess_silence(often, last + timedelta(days=3), D0, DEFAULT_RULES) is not None
    never_waits = rules(silence={"usual_extra_days": 0})
    assert assess_silence(often, last + timedelta(days=2), D0, never_waits) is not None
    # A waiting day that would reach high_days is not taken: high comes at high_days regardless.
    tight = rules(silence={"warning_days": 2, "high_days": 3, "usual_extra_days": 3})
    hit = assess_silence(often, last + timedelta(days=3), D0, tight)
    assert hit is not None and hit.severity == "high"


# --- a prodrome, end to end -------------------------------------------------------------------


def test_a_week_long_prodrome_is_flagged_before_the_lapse_and_an_ordinary_week_is_not() -> None:
    prodrome: list[Mapping[str, object]] = [
        {"craving": 3, "stress": 4},
        {"craving": 4, "stress": 5, "sleep_hours": 6.0},
        {"craving": 4, "mood": 3, "stress": 6, "attended_support": False},
        {"craving": 5, "mood": 3, "stress": 6, "isolating": True, "sleep_hours": 5.5},
        {"craving": 6, "mood": 3, "stress": 7, "isolating": True, "attended_support": False},
        {"craving": 7, "mood": 2, "stress": 7, "isolating": True, "sleep_hours": 5.0},
    ]
    flagged = [bool(run(then(BASE, *prodrome[: n + 1])).hits) for n in range(len(prodrome))]
    # Flagged by the third day of six, and from then on.
    assert flagged == [False, False, True, True, True, True]
    ordinary = [bool(run(then(BASE, *[{}] * (n + 1))).hits) for n in range(6)]
    assert not any(ordinary)


def test_hits_are_stable_for_the_same_input() -> None:
    history = then(BASE, *itertools.repeat({"craving": 6, "isolating": True}, 3))
    assert run(history) == run(history)


# --- calibration: each person's own noise, not independent normal days --------------------------


def carrying_over(aggregates: Aggregates, concordance: float) -> Aggregates:
    """``aggregates`` as if two months of consecutive days had fallen on the same side of the mean
    ``concordance`` of the time (0.5: days independent of each other)."""

    def with_pairs(stat: Scale) -> Scale:
        return msgspec.structs.replace(stat, pairs=56, together=concordance, above=0.5)

    return msgspec.structs.replace(
        aggregates,
        craving=with_pairs(aggregates.craving),
        mood=with_pairs(aggregates.mood),
        stress=with_pairs(aggregates.stress),
        sleep=with_pairs(aggregates.sleep),
    )


def test_high_days_in_a_row_are_less_telling_for_someone_whose_days_carry_over() -> None:
    history = then(LONG, {"craving": 5}, {"craving": 5}, {"craving": 5})
    aggregates = Aggregates()
    for c in history[:-1]:
        aggregates = fold(aggregates, c)
    window = history[-WINDOW_DAYS:]
    independent = carrying_over(aggregates, 0.5)
    swinging = carrying_over(aggregates, 0.85)  # slow swings: a day like the one before, mostly
    assert baseline(independent.craving, CRAVING_MEASURE).rho < 0.05  # type: ignore[union-attr]  (the prior)
    assert baseline(swinging.craving, CRAVING_MEASURE).rho > 0.7  # type: ignore[union-attr]
    assert hit(assess(window, independent, PLAN, DEFAULT_RULES), "craving_rising") is not None
    # The same three days are this person's ordinary swing.
    assert hit(assess(window, swinging, PLAN, DEFAULT_RULES), "craving_rising") is None


def test_one_wild_day_in_heavy_tailed_answers_is_not_a_combined_sign() -> None:
    # Stress far off on one day (a row with someone), ordinary the next: one day is a bad day.
    assessment = run(then(LONG, {"stress": 10}, {}))
    assert hit(assessment, "combined") is None


def test_scales_that_move_together_count_as_less_evidence_than_independent_ones() -> None:
    from aftercare.rules.engine import _score, _Signal

    def signal(name: str, strength: float) -> _Signal:
        return _Signal(name, strength, lambda: name, [])

    mood_and_stress = [signal("mood", 1.6), signal("stress", 1.6)]
    assert _score(mood_and_stress, 0.0) == pytest.approx(3.2)
    # For a person whose mood and stress move together (correlation 0.7): about one sign's worth.
    assert _score(mood_and_stress, 0.7) == pytest.approx(3.2 / 1.7**0.5)
    # Counts (isolation, missed support...) are not discounted.
    assert _score([*mood_and_stress, signal("isolation", 1.5)], 0.7) == pytest.approx(3.2 / 1.7**0.5 + 1.5)


# --- judged against the normal of a week or two ago ---------------------------------------------


def test_a_slow_creep_is_flagged_against_the_normal_it_is_not_part_of() -> None:
    # Stress creeping up and sleep creeping down over twelve days, no day dramatic. Judged against
    # a baseline that has taken the creep in, it looks ordinary for longer, and weaker.
    creep = [
        {"stress": stress, "sleep_hours": sleep}
        for stress, sleep in zip(
            (3, 3, 4, 4, 4, 4, 4, 4, 5, 4, 5, 5),
            (7.0, 7.0, 7.0, 6.5, 6.5, 7.0, 6.5, 6.5, 6.0, 6.5, 6.0, 6.0),
            strict=True,
        )
    ]

    def on_day(n: int) -> tuple[RuleHit | None, RuleHit | None]:
        """Day ``n`` of the creep's combined hit against the normal of a week or two ago, and
        against the baseline that has absorbed the creep (no snapshot)."""
        history = then(LONG, *creep[:n])
        aggregates = Aggregates()
        for c in history[:-1]:
            aggregates = fold(aggregates, c)
        assert aggregates.reference is not None
        window = history[-WINDOW_DAYS:]
        absorbed = msgspec.structs.replace(aggregates, reference=None)
        return (
            hit(assess(window, aggregates, PLAN, DEFAULT_RULES), "combined"),
            hit(assess(window, absorbed, PLAN, DEFAULT_RULES), "combined"),
        )

    days = {n: on_day(n) for n in range(3, len(creep) + 1)}
    first = min(n for n, (against_then, _) in days.items() if against_then is not None)
    first_absorbed = min(n for n, (_, absorbed) in days.items() if absorbed is not None)
    assert first < first_absorbed
    combined, _ = days[first]
    assert combined is not None
    assert combined.reasons[0] == "2 warning signs together"
    # The reason names the normal it was judged against: stress about 3 before the creep (the
    # week's days past one spread: days at 4 are unusual for this steady person).
    assert any(r.startswith("stress ") and r.endswith("baseline 3.2") for r in combined.reasons)
    # And every day the creep reads stronger against it than against the absorbed baseline.
    for against_then, absorbed in days.values():
        if absorbed is not None:
            assert against_then is not None
            assert against_then.evidence["values"]["score"] > absorbed.evidence["values"]["score"]


def swinging_days(seed: int, rho: float, wide: float, days: int = 120) -> list[CheckinFacts]:
    """A graduate who never lapses: four measures as AR(1) days (correlation ``rho`` with the day
    before), ``wide`` times a steady person's spread, rounded to the app's scales."""
    rng = random.Random(seed)
    state = [0.0] * 4
    history = []
    for i in range(days):
        state = [rho * x + (1 - rho * rho) ** 0.5 * rng.gauss(0, 1) for x in state]
        craving, mood, stress, sleep = state
        history.append(
            day(
                i,
                craving=min(10, max(0, round(3 + 1.2 * wide * craving))),
                mood=min(5, max(1, round(3.5 - 0.6 * wide * mood))),
                stress=min(10, max(0, round(4 + 1.2 * wide * stress))),
                sleep_hours=round((7 - 0.7 * wide * sleep) * 2) / 2,
            )
        )
    return history


def alerts_a_month(rho: float, wide: float) -> float:
    """Alerts opened a month (from day 30) for five never-lapsing ``swinging_days`` graduates, replayed
    by the backtest (each check-in arriving on its day, each alert handled at the start of ``opened
    + 2``): the counselor's workload, not the days on which a rule would fire (a run of those is one
    alert)."""
    opened = judged = 0
    for seed in range(5):
        days = swinging_days(seed, rho, wide)
        history = History(
            graduate=f"swinging-{seed}",
            tz=ZoneInfo("UTC"),
            start_date=days[0].local_date,
            end_date=days[-1].local_date,
            plan=PLAN,
            arrivals=[Arrival(at=datetime.combine(c.local_date, time(19), UTC), checkin=c) for c in days],
        )
        counted_from = days[30].local_date
        judged += len(days) - 30
        opened += sum(
            change.kind == "opened" and change.local_date >= counted_from
            for change in replay_graduate(history, DEFAULT_RULES, 2)
        )
    return opened / (judged / 30)


@pytest.mark.parametrize(
    ("rho", "wide"),
    [
        (0.0, 1.7),  # wide but steady: independent days
        (0.7, 1.4),  # slow swings: a swing is not a slide
    ],
)
def test_noisy_but_stable_histories_are_seldom_alerted_about(rho: float, wide: float) -> None:
    assert alerts_a_month(rho, wide) <= 0.6


def test_slow_swings_cost_a_counselor_about_what_independent_days_do() -> None:
    # Before an episode of early signs was one alert, each swing was asked about again every time
    # its alert was handled: three times the independent days' alerts for these five people.
    assert alerts_a_month(0.7, 1.4) <= 1.5 * alerts_a_month(0.0, 1.7)
