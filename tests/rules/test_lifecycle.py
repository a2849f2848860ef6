"""Alert lifecycle: one alert per rule, severity only rises, a raise re-opens, silence once per run."""

from __future__ import annotations

from datetime import date, timedelta

from aftercare.rules.aggregates import Aggregates, SignsEpisode
from aftercare.rules.config import DEFAULT_RULES
from aftercare.rules.engine import RuleHit, RuleName, Severity, assess_silence
from aftercare.rules.lifecycle import (
    AlertChange,
    AlertState,
    advance,
    apply_checkin_hits,
    apply_hits,
    close_handled,
    silence_run,
)
from tests.rules import test_backtest as bt

D0 = date(2026, 3, 10)
REALERT_DAYS = DEFAULT_RULES.early_signs_realert_days


def hit(rule: RuleName, severity: Severity, reason: str = "why") -> RuleHit:
    return RuleHit(
        rule=rule, severity=severity, reasons=(reason,), evidence={"local_dates": [], "values": {}}
    )  # type: ignore[arg-type]


def step(
    states: dict[str, AlertState], hits: list[RuleHit], on: date
) -> tuple[dict[str, AlertState], list[AlertChange]]:
    changes = apply_hits(states, hits, local_date=on)
    return advance(states, changes), changes


def test_a_first_hit_opens_an_alert() -> None:
    states, changes = step({}, [hit("craving_rising", "warning", "craving 8, 8, 9")], D0)
    assert [(c.rule, c.kind, c.severity, c.local_date, c.reasons) for c in changes] == [
        ("craving_rising", "opened", "warning", D0, ("craving 8, 8, 9",))
    ]
    assert states["craving_rising"] == AlertState(rule="craving_rising", severity="warning", opened_on=D0)


def test_the_same_rule_again_updates_the_one_alert() -> None:
    states, _ = step({}, [hit("isolation", "warning")], D0)
    states, changes = step(states, [hit("isolation", "warning", "4 of 7 days")], D0 + timedelta(days=1))
    assert [(c.kind, c.reasons) for c in changes] == [("updated", ("4 of 7 days",))]
    assert states["isolation"].opened_on == D0


def test_severity_rises_and_never_falls() -> None:
    states, _ = step({}, [hit("craving_rising", "warning")], D0)
    states, raised = step(states, [hit("craving_rising", "high")], D0 + timedelta(days=1))
    assert [(c.kind, c.severity) for c in raised] == [("raised", "high")]
    states, lower = step(states, [hit("craving_rising", "warning")], D0 + timedelta(days=2))
    assert [(c.kind, c.severity) for c in lower] == [("updated", "high")]
    assert states["craving_rising"].severity == "high"


def test_a_raise_reopens_an_acknowledged_alert_and_an_update_does_not() -> None:
    acknowledged = {"lapse": AlertState(rule="lapse", severity="high", status="acknowledged", opened_on=D0)}
    after_update, changes = step(acknowledged, [hit("lapse", "high")], D0 + timedelta(days=1))
    assert changes[0].kind == "updated"
    assert after_update["lapse"].status == "acknowledged"
    after_raise, changes = step(acknowledged, [hit("lapse", "critical")], D0 + timedelta(days=1))
    assert changes[0].kind == "raised"
    assert after_raise["lapse"].status == "open"
    assert after_raise["lapse"].severity == "critical"
    assert after_raise["lapse"].opened_on == D0


def test_early_signs_of_one_check_in_are_one_alert_led_by_the_most_severe() -> None:
    states, changes = step(
        {},
        [hit("isolation", "warning", "pulled away 3 of 7"), hit("combined", "high", "2 signs at once")],
        D0,
    )
    [opened] = changes
    assert (opened.rule, opened.kind, opened.severity) == ("combined", "opened", "high")
    # Honest about what fired: every rule, every reason.
    assert opened.rules == ("combined", "isolation")
    assert opened.reasons == ("2 signs at once", "pulled away 3 of 7")
    assert opened.evidence["rules"] == ["combined", "isolation"]
    assert set(states) == {"combined"}


def test_at_the_same_severity_a_single_sign_leads_combined() -> None:
    _, [opened] = step(
        {}, [hit("combined", "warning", "together"), hit("craving_rising", "warning", "8, 8, 9")], D0
    )
    assert (opened.rule, opened.rules, opened.reasons) == (
        "craving_rising",
        ("craving_rising", "combined"),
        ("8, 8, 9", "together"),
    )


def test_an_early_sign_while_another_early_sign_alert_is_open_updates_or_raises_it() -> None:
    states, _ = step({}, [hit("craving_rising", "warning")], D0)
    states, changes = step(states, [hit("isolation", "warning", "4 of 7 days")], D0 + timedelta(days=1))
    assert [(c.rule, c.kind, c.severity, c.rules, c.reasons) for c in changes] == [
        ("craving_rising", "updated", "warning", ("isolation",), ("4 of 7 days",))
    ]
    states, changes = step(states, [hit("combined", "high", "2 signs at once")], D0 + timedelta(days=1))
    assert [(c.rule, c.kind, c.severity, c.rules) for c in changes] == [
        ("craving_rising", "raised", "high", ("combined",))
    ]
    assert set(states) == {"craving_rising"} and states["craving_rising"].severity == "high"


def test_lapse_safety_and_silence_keep_alerts_of_their_own() -> None:
    states, _ = step({}, [hit("combined", "warning")], D0)
    states, changes = step(
        states, [hit("lapse", "high"), hit("safety", "critical"), hit("mood_falling", "warning")], D0
    )
    assert {(c.rule, c.kind) for c in changes} == {
        ("lapse", "opened"),
        ("safety", "opened"),
        ("combined", "updated"),
    }
    states, changes = step(states, [silence_on(D0, D0 + timedelta(days=2))], D0 + timedelta(days=2))
    assert [(c.rule, c.kind) for c in changes] == [("silence", "opened")]
    assert set(states) == {"combined", "lapse", "safety", "silence"}


def test_no_hits_no_changes() -> None:
    states, _ = step({}, [hit("isolation", "warning")], D0)
    assert apply_hits(states, [], local_date=D0) == []


def silence_on(last: date | None, closed: date) -> RuleHit:
    silent = assess_silence(Aggregates(last_checkin_date=last), closed, date(2026, 3, 1), DEFAULT_RULES)
    assert silent is not None
    return silent


def test_silence_is_one_alert_per_run_opened_then_raised_then_quiet() -> None:
    last = D0
    states: dict[str, AlertState] = {}
    events = []
    for n in range(2, 10):
        closed = last + timedelta(days=n)
        states, changes = step(states, [silence_on(last, closed)], closed)
        events += [(c.kind, c.severity, (c.local_date - last).days) for c in changes]
    assert events == [("opened", "warning", 2), ("raised", "high", 4)]
    assert states["silence"].run_started_on == last + timedelta(days=1)


def test_a_new_silent_run_while_the_old_alert_is_open_updates_it_without_making_it_its_own() -> None:
    first = silence_on(D0, D0 + timedelta(days=2))
    states, _ = step({}, [first], D0 + timedelta(days=2))
    # A check-in for D0+1 (synced late) ends the run; silence again from D0+2.
    again = silence_on(D0 + timedelta(days=1), D0 + timedelta(days=3))
    assert silence_run(again) == D0 + timedelta(days=2) != silence_run(first)
    states, changes = step(states, [again], D0 + timedelta(days=3))
    assert [(c.kind, c.severity) for c in changes] == [("updated", "warning")]
    # Still the first run's alert: that run has ended, so it closes at opened + 2 like any other
    # (were it the new run's, it would stay open while the new run goes on).
    assert states["silence"].run_started_on == D0 + timedelta(days=1)
    assert (
        close_handled(
            states,
            local_date=D0 + timedelta(days=4),
            resolve_after_days=2,
            last_checkin_date=D0 + timedelta(days=1),
        )
        == {}
    )


def test_backtest_closes_handled_alerts_after_n_days() -> None:
    states, _ = step({}, [hit("isolation", "warning")], D0)
    kept = close_handled(
        states, local_date=D0 + timedelta(days=1), resolve_after_days=2, last_checkin_date=D0
    )
    assert set(kept) == {"isolation"}
    closed = close_handled(
        states, local_date=D0 + timedelta(days=2), resolve_after_days=2, last_checkin_date=D0
    )
    assert closed == {}
    _, changes = step(closed, [hit("isolation", "warning")], D0 + timedelta(days=2))
    assert [c.kind for c in changes] == ["opened"]


class Graduate:
    """One graduate's check-ins through the lifecycle (``apply_checkin_hits``, as
    ``rules.step.checkin_step`` runs it), with the backtest's counselor closing alerts ``opened + 2``."""

    def __init__(self, realert_days: int = REALERT_DAYS) -> None:
        self.realert_days = realert_days
        self.states: dict[str, AlertState] = {}
        self.episode: SignsEpisode | None = None

    def checkin(self, on: date, *hits: RuleHit) -> list[tuple[str, str, str]]:
        self.states = close_handled(self.states, local_date=on, resolve_after_days=2, last_checkin_date=on)
        taken = apply_checkin_hits(
            self.states, hits, local_date=on, on=on, episode=self.episode, realert_days=self.realert_days
        )
        self.states, self.episode = taken.alerts, taken.episode
        return [(c.rule, c.kind, c.severity) for c in taken.changes]


def test_early_signs_that_go_on_unchanged_after_their_alert_was_handled_open_nothing_more() -> None:
    graduate = Graduate()
    assert graduate.checkin(D0, hit("combined", "warning")) == [("combined", "opened", "warning")]
    assert graduate.episode == SignsEpisode(severity="warning", alerted_on=D0)
    assert graduate.checkin(D0 + timedelta(days=1), hit("isolation", "warning")) == [
        ("combined", "updated", "warning")
    ]
    # Handled at the start of day 2; the same signs that day and after are the episode it was for.
    for n in range(2, REALERT_DAYS):
        assert graduate.checkin(D0 + timedelta(days=n), hit("combined", "warning")) == []
    assert graduate.states == {}
    # A week after its alert, signs still there are asked about again.
    assert graduate.checkin(D0 + timedelta(days=REALERT_DAYS), hit("combined", "warning")) == [
        ("combined", "opened", "warning")
    ]


def test_realert_days_0_is_the_old_rule_a_new_alert_for_each_hit_after_handling() -> None:
    graduate = Graduate(realert_days=0)
    opened = [graduate.checkin(D0 + timedelta(days=n), hit("combined", "warning")) for n in range(6)]
    assert [n for n, changes in enumerate(opened) if changes == [("combined", "opened", "warning")]] == [
        0,
        2,
        4,
    ]


def test_a_handled_episode_that_worsens_alerts_at_once() -> None:
    graduate = Graduate()
    graduate.checkin(D0, hit("craving_rising", "warning"))
    assert graduate.checkin(D0 + timedelta(days=2), hit("craving_rising", "warning")) == []
    assert graduate.checkin(D0 + timedelta(days=3), hit("combined", "high")) == [
        ("combined", "opened", "high")
    ]
    assert graduate.episode == SignsEpisode(severity="high", alerted_on=D0 + timedelta(days=3))


def test_a_check_in_without_early_signs_ends_the_episode() -> None:
    graduate = Graduate()
    graduate.checkin(D0, hit("combined", "warning"))
    assert graduate.checkin(D0 + timedelta(days=2)) == []
    assert graduate.episode is None
    # The same signs back the next day are news.
    assert graduate.checkin(D0 + timedelta(days=3), hit("combined", "warning")) == [
        ("combined", "opened", "warning")
    ]


def test_lapse_and_safety_alert_whatever_the_episode() -> None:
    graduate = Graduate()
    graduate.checkin(D0, hit("combined", "high"))
    changes = graduate.checkin(
        D0 + timedelta(days=2), hit("combined", "warning"), hit("lapse", "high"), hit("safety", "critical")
    )
    assert changes == [("lapse", "opened", "high"), ("safety", "opened", "critical")]
    # A lapse alone is no early sign: the episode ends with it.
    graduate.checkin(D0 + timedelta(days=3), hit("lapse", "high"))
    assert graduate.episode is None


def test_an_episode_takes_the_open_alert_its_signs_update() -> None:
    graduate = Graduate()
    graduate.checkin(D0, hit("isolation", "warning"))
    graduate.checkin(D0 + timedelta(days=1))  # no early sign: the episode ends, the alert stays open
    assert graduate.episode is None and set(graduate.states) == {"isolation"}
    # Another check-in arriving that day (a late sync) brings the signs back while the alert is open.
    assert graduate.checkin(D0 + timedelta(days=1), hit("combined", "warning")) == [
        ("isolation", "updated", "warning")
    ]
    assert graduate.episode == SignsEpisode(severity="warning", alerted_on=D0)


def test_backtest_keeps_a_silence_alert_while_its_run_lasts() -> None:
    last = D0
    states: dict[str, AlertState] = {}
    events = []
    for n in range(1, 12):
        today = last + timedelta(days=n)
        states = close_handled(states, local_date=today, resolve_after_days=2, last_checkin_date=last)
        silent = assess_silence(Aggregates(last_checkin_date=last), today, date(2026, 3, 1), DEFAULT_RULES)
        states, changes = step(states, [silent] if silent else [], today)
        events += [(c.kind, c.severity, n) for c in changes]
    assert events == [("opened", "warning", 2), ("raised", "high", 4)]
    # The run ends with a check-in: now the alert closes like any other.
    checkin_day = last + timedelta(days=12)
    assert (
        close_handled(states, local_date=checkin_day, resolve_after_days=2, last_checkin_date=checkin_day)
        == {}
    )


# --- The two violations of issue 20, replayed through the backtest -------------------------------
# (The same histories go through the API in tests/rules/test_api_equivalence.py.)


def steady_then_prodrome(days: int = 30) -> dict[int, dict[str, object]]:
    """Steady answers, then craving climbing with isolation from day 20: a combined warning on day
    21, and on day 22 craving_rising and isolation at once (a combined high)."""
    answers: dict[int, dict[str, object]] = {
        n: {"craving": (1, 2, 3, 2)[n % 4], "isolating": False} for n in range(1, days + 1)
    }
    for n, craving in ((20, 5), (21, 6), (22, 7), (23, 7)):
        answers[n] |= {"craving": craving, "isolating": True}
    return answers


def late_pair_of_days() -> str:
    """Day 21's check-in reaches the service on day 23 (10:00 Chicago), day 22's half an hour later."""
    answers = steady_then_prodrome()
    answers[21] |= {"received_at": f"{bt.day(23)}T15:00:00Z"}
    answers[22] |= {"received_at": f"{bt.day(23)}T15:30:00Z"}
    return bt.graduate(bt.daily(30, answers), days=30)


def early_signs(events: list[dict[str, object]], *days: int) -> list[tuple[object, ...]]:
    wanted = {bt.day(n) for n in days}
    return [
        (e["local_date"], e["rule"], e["event"], e["severity"])
        for e in events
        if e["rule"] not in ("lapse", "safety", "silence") and e["local_date"] in wanted
    ]


def test_issue_20_a_an_alert_opened_by_a_late_sync_is_open_for_the_next_day_synced_with_it() -> None:
    on_time = bt.replay(bt.graduate(bt.daily(30, steady_then_prodrome()), days=30))
    late = bt.replay(late_pair_of_days())
    # Both arrive on day 23: the alert day 21's check-in opens that morning is still open for day
    # 22's, whose "2 warning signs at once: craving_rising, isolation" raise or update it, as they
    # do when both arrive on time. (It was "closed at day 21 + 2" before it opened, so day 22
    # opened a second alert of the same rule the next day.)
    assert early_signs(late, 21, 22) == early_signs(on_time, 21, 22)
    opened = [
        (e["rule"]) for e in late if e["event"] == "opened" and e["local_date"] in (bt.day(21), bt.day(22))
    ]
    assert len(opened) == len(set(opened)), opened


def silence_with_a_late_day() -> str:
    """Check-ins to day 10; day 11's arrives late, on day 13; nothing more until day 18."""
    late = bt.checkin(11, received_at=f"{bt.day(13)}T15:00:00Z")
    return bt.graduate([*bt.daily(10), late, *bt.daily(30)[17:]], days=30)


def test_issue_20_b_a_silence_alert_whose_run_ended_closes_and_is_never_raised_after() -> None:
    events = bt.of_rule(bt.replay(silence_with_a_late_day()), "silence")
    # Opened for the run from day 11 on day 12. Day 11's check-in (late, on day 13) ends that run,
    # so the alert closes at the start of day 14 (12 + 2) like any other; the run from day 12 goes
    # on and gets an alert of its own, raised at its fourth day (it was raised on the closed one).
    assert events == [
        (bt.day(12), "opened", "warning"),
        (bt.day(14), "opened", "warning"),
        (bt.day(15), "raised", "high"),
    ]


def long_episode(days: int = 40) -> str:
    """Steady answers, then craving at 6 and pulling away on days 20-33: two weeks of the same signs."""
    answers: dict[int, dict[str, object]] = {
        n: {"craving": (1, 2, 3, 2)[n % 4], "isolating": False} for n in range(1, days + 1)
    }
    for n in range(20, 34):
        answers[n] |= {"craving": 6, "isolating": True}
    return bt.graduate(bt.daily(days, answers), days=days)


def test_two_weeks_of_the_same_signs_are_an_alert_a_week_not_one_every_n_days() -> None:
    # Opened on day 21, raised on 22; closed (handled) at the start of day 24. Before episodes were
    # kept, the same signs opened a new alert on days 23, 25, 27, 29, 31 and 33.
    assert early_signs(bt.replay(long_episode()), *range(1, 41)) == [
        (bt.day(21), "craving_rising", "opened", "warning"),
        (bt.day(22), "craving_rising", "raised", "high"),
        (bt.day(29), "isolation", "opened", "warning"),
    ]
