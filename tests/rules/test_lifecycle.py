"""Alert lifecycle: one alert per rule, severity only rises, a raise re-opens, silence once per run."""

from __future__ import annotations

from datetime import date, timedelta

from aftercare.rules.config import DEFAULT_RULES
from aftercare.rules.engine import RuleHit, RuleName, Severity, assess_silence
from aftercare.rules.lifecycle import AlertChange, AlertState, advance, apply_hits, close_handled, silence_run

D0 = date(2026, 3, 10)


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


def test_rules_are_independent() -> None:
    states, changes = step({}, [hit("isolation", "warning"), hit("combined", "high")], D0)
    assert {(c.rule, c.kind) for c in changes} == {("isolation", "opened"), ("combined", "opened")}
    states, changes = step(states, [hit("mood_falling", "warning")], D0 + timedelta(days=1))
    assert [(c.rule, c.kind) for c in changes] == [("mood_falling", "opened")]
    assert set(states) == {"isolation", "combined", "mood_falling"}


def test_no_hits_no_changes() -> None:
    states, _ = step({}, [hit("isolation", "warning")], D0)
    assert apply_hits(states, [], local_date=D0) == []


def silence_on(last: date | None, closed: date) -> RuleHit:
    silent = assess_silence(last, closed, date(2026, 3, 1), DEFAULT_RULES)
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


def test_a_new_silent_run_while_the_old_alert_is_open_updates_it() -> None:
    first = silence_on(D0, D0 + timedelta(days=2))
    states, _ = step({}, [first], D0 + timedelta(days=2))
    # A check-in on D0+3 ends the run; silence again from D0+4.
    again = silence_on(D0 + timedelta(days=3), D0 + timedelta(days=5))
    assert silence_run(again) == D0 + timedelta(days=4)
    states, changes = step(states, [again], D0 + timedelta(days=5))
    assert [(c.kind, c.severity) for c in changes] == [("updated", "warning")]
    assert states["silence"].run_started_on == D0 + timedelta(days=4)


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


def test_backtest_keeps_a_silence_alert_while_its_run_lasts() -> None:
    last = D0
    states: dict[str, AlertState] = {}
    events = []
    for n in range(1, 12):
        today = last + timedelta(days=n)
        states = close_handled(states, local_date=today, resolve_after_days=2, last_checkin_date=last)
        silent = assess_silence(last, today, date(2026, 3, 1), DEFAULT_RULES)
        states, changes = step(states, [silent] if silent else [], today)
        events += [(c.kind, c.severity, n) for c in changes]
    assert events == [("opened", "warning", 2), ("raised", "high", 4)]
    # The run ends with a check-in: now the alert closes like any other.
    checkin_day = last + timedelta(days=12)
    assert (
        close_handled(states, local_date=checkin_day, resolve_after_days=2, last_checkin_date=checkin_day)
        == {}
    )
