"""What a day's rule hits do to a graduate's alerts: open, raise or update, decided in one place.

The alert service (database) and the backtest (memory) both call ``apply_hits`` and keep their own
state with ``advance``, so one history gives the same alert events through either. The contract's
rules, and what this module adds to them:

- at most one open-or-acknowledged alert per (graduate, rule): a new hit of that rule updates it;
- severity only rises; a raise re-opens an acknowledged alert (the service also restarts escalation);
- silence is one alert per silent run: opened at its first threshold, raised at the next, and
  nothing more (not even an update) until a check-in ends the run;
- **one counselor action for overlapping early signs**: the early-sign rules (``EARLY_SIGN_RULES``:
  the six single-sign rules and ``combined``) share one alert per graduate. The early-sign hits of one
  check-in become one hit (``merge_hits``: the most severe leads, every rule's reasons follow), and a
  hit while an early-sign alert of another rule is open updates or raises that alert instead of
  opening a second one. Nothing is hidden: the change names every rule that fired
  (``AlertChange.rules``, and ``evidence["rules"]`` on the alert). Lapse, safety and silence keep
  alerts of their own: each must reach the counselor on its day, whatever else is open.
- **one counselor action for one episode of early signs**: once an early-sign alert is handled
  (resolved; in the backtest, closed at ``opened + N``), early signs that go on unchanged from
  check-in to check-in (``SignsEpisode``, carried by ``apply_checkin_hits``) open no new alert: only a
  hit more severe than the episode's last alert, a hit ``early_signs_realert_days`` (program rules)
  after that alert, or one after a check-in without early signs does. People whose bad days come
  in runs (slow swings, a slow benign drift, the days after a lapse) were otherwise asked about the
  same signs every ``N`` days, as long as the run lasted (docs/ENGINE.md, "One alert an episode").

Time. Every change has two days: ``local_date``, the day whose check-in (or window close) caused it,
which the backtest reports; and ``on``, the graduate's local day when it happened, which is later for
a check-in synced late. Alerts are handled in real time, so an alert's ``opened_on`` is its ``on``:
an alert opened by a check-in that arrived two days late is not "closed" the moment it opens.

The backtest closes alerts itself, as a counselor would have, with ``close_handled``: at the start of
day ``opened_on + N``. A silence alert stays open while the silent run it was opened (or raised) for
goes on, so that run's next threshold is a raise even at or after ``opened_on + N``, and the run has
one alert; once a check-in ends that run it closes like any other. A hit of a *later* run while it is
still open updates it without making it that run's alert. Per local day the backtest calls, in order:
``close_handled``, then ``apply_hits`` for each check-in's assessment, then ``apply_hits`` for
``assess_silence`` at the window close, ``advance`` after each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Literal

import msgspec

from aftercare.rules.aggregates import SignsEpisode
from aftercare.rules.engine import EARLY_SIGN_RULES, SEVERITY_RANK, RuleHit, RuleName, Severity

AlertStatus = Literal["open", "acknowledged", "resolved"]
EARLY_SIGNS_SLOT = "early_signs"


class AlertState(msgspec.Struct, frozen=True, kw_only=True):
    """What the lifecycle needs to know of one open or acknowledged alert."""

    rule: RuleName
    severity: Severity
    status: Literal["open", "acknowledged"] = "open"
    # The graduate's local day when it opened (a late sync opens it on its arrival day).
    opened_on: date
    # Silence only: the first silent day of the run the alert was opened (or last raised) for.
    run_started_on: date | None = None


class AlertChange(msgspec.Struct, frozen=True, kw_only=True):
    """One alert event: ``opened`` and ``raised`` are the ones the backtest reports."""

    rule: RuleName
    """The alert's rule (for an early-sign alert, the rule that opened it)."""
    kind: Literal["opened", "raised", "updated"]
    severity: Severity
    local_date: date
    """The day whose check-in (or window close) caused the change."""
    on: date
    """The graduate's local day when the change happened (``local_date`` or later)."""
    reasons: tuple[str, ...]
    evidence: dict[str, Any]
    rules: tuple[RuleName, ...]
    """Every rule whose hit this change carries, the leading one first."""


def slot_of(rule: str) -> str:
    """Alerts of one slot are one counselor action: the early signs share one, the rest each their own."""
    return EARLY_SIGNS_SLOT if rule in EARLY_SIGN_RULES else rule


def merge_hits(hits: Iterable[RuleHit]) -> list[RuleHit]:
    """One hit per slot: a check-in's early-sign hits become one, led by the most severe (a single-
    sign rule before ``combined`` at the same severity: its reason is the most specific), carrying
    every rule's reasons (each once) and naming every rule in ``evidence["rules"]``."""
    merged: list[RuleHit] = []
    early: list[RuleHit] = []
    for hit in hits:
        (early if hit.rule in EARLY_SIGN_RULES else merged).append(hit)
    if not early:
        return merged
    order = {rule: i for i, rule in enumerate(EARLY_SIGN_RULES)}
    early.sort(key=lambda h: (-SEVERITY_RANK[h.severity], order[h.rule]))
    lead = early[0]
    reasons = list(dict.fromkeys(r for h in early for r in h.reasons))
    dates = sorted({d for h in early for d in h.evidence.get("local_dates", ())})
    evidence: dict[str, Any] = {
        **lead.evidence,
        "local_dates": dates,
        "rules": [h.rule for h in early],
    }
    if len(early) > 1:
        evidence["by_rule"] = {h.rule: h.evidence.get("values", {}) for h in early}
    merged.append(RuleHit(rule=lead.rule, severity=lead.severity, reasons=tuple(reasons), evidence=evidence))
    return merged


def apply_hits(
    open_alerts: Mapping[str, AlertState],
    hits: Iterable[RuleHit],
    *,
    local_date: date,
    on: date | None = None,
    episode: SignsEpisode | None = None,
    realert_days: int = 0,
) -> list[AlertChange]:
    """The changes ``hits`` (of the check-in or window close of ``local_date``, happening on local
    day ``on``, by default the same) make to the open-or-acknowledged alerts, keyed by rule.
    ``episode``: the early-sign episode the graduate's previous check-in continued, if any, whose
    unchanged signs open no alert until ``realert_days`` after its last one."""
    happened = local_date if on is None else on
    changes: list[AlertChange] = []
    for hit in merge_hits(hits):
        state = _in_slot(open_alerts, slot_of(hit.rule))
        kind: Literal["opened", "raised", "updated"]
        if state is None and hit.rule in EARLY_SIGN_RULES and _handled(episode, hit, happened, realert_days):
            continue
        if state is None:
            kind, rule, severity = "opened", hit.rule, hit.severity
        elif SEVERITY_RANK[hit.severity] > SEVERITY_RANK[state.severity]:
            kind, rule, severity = "raised", state.rule, hit.severity
        elif hit.rule == "silence" and state.run_started_on == silence_run(hit):
            continue
        else:
            kind, rule, severity = "updated", state.rule, state.severity
        changes.append(
            AlertChange(
                rule=rule,
                kind=kind,
                severity=severity,
                local_date=local_date,
                on=happened,
                reasons=hit.reasons,
                evidence=hit.evidence,
                rules=tuple(hit.evidence.get("rules", (hit.rule,))),
            )
        )
    return changes


def _handled(episode: SignsEpisode | None, hit: RuleHit, on: date, realert_days: int) -> bool:
    """Whether an early-sign ``hit`` with no alert open only continues an ``episode`` whose alert a
    counselor has handled: no more severe, and within ``realert_days`` of that alert."""
    return (
        episode is not None
        and SEVERITY_RANK[hit.severity] <= SEVERITY_RANK[episode.severity]
        and on < episode.alerted_on + timedelta(days=realert_days)
    )


class CheckinAlerts(msgspec.Struct, frozen=True):
    """What one check-in's hits did to a graduate's alerts."""

    changes: list[AlertChange]
    alerts: dict[str, AlertState]
    """The open-or-acknowledged alerts after the changes, keyed by rule."""
    episode: SignsEpisode | None
    """The early-sign episode after the check-in (``Aggregates.signs_episode``)."""


def apply_checkin_hits(
    open_alerts: Mapping[str, AlertState],
    hits: Sequence[RuleHit],
    *,
    local_date: date,
    on: date,
    episode: SignsEpisode | None,
    realert_days: int,
) -> CheckinAlerts:
    """``apply_hits`` for a check-in's hits, with the early-sign ``episode`` its graduate's previous
    check-in continued, and the episode this one leaves."""
    changes = apply_hits(
        open_alerts, hits, local_date=local_date, on=on, episode=episode, realert_days=realert_days
    )
    after = advance(open_alerts, changes)
    return CheckinAlerts(changes=changes, alerts=after, episode=_carry_episode(episode, hits, changes, after))


def _carry_episode(
    episode: SignsEpisode | None,
    hits: Iterable[RuleHit],
    changes: Iterable[AlertChange],
    open_alerts: Mapping[str, AlertState],
) -> SignsEpisode | None:
    """The early-sign episode after a check-in's ``hits`` made ``changes`` (``open_alerts``: the
    alerts after them): none when the check-in had no early sign; the alert opened or raised for its
    signs, if any; else the open early-sign alert they updated, or the episode they continued."""
    if not any(h.rule in EARLY_SIGN_RULES for h in hits):
        return None
    for change in changes:
        if slot_of(change.rule) == EARLY_SIGNS_SLOT and change.kind != "updated":
            episode = SignsEpisode(severity=change.severity, alerted_on=change.on)
    if episode is None:
        state = _in_slot(open_alerts, EARLY_SIGNS_SLOT)
        if state is not None:
            episode = SignsEpisode(severity=state.severity, alerted_on=state.opened_on)
    return episode


def _in_slot(open_alerts: Mapping[str, AlertState], slot: str) -> AlertState | None:
    """The open alert of ``slot``; should there be several (alerts opened before early signs shared
    one), the most severe, then the first in the contract's rule order."""
    found = [s for s in open_alerts.values() if slot_of(s.rule) == slot]
    if len(found) <= 1:
        return found[0] if found else None
    order = {rule: i for i, rule in enumerate(EARLY_SIGN_RULES)}
    return min(found, key=lambda s: (-SEVERITY_RANK[s.severity], order.get(s.rule, 0)))


def advance(open_alerts: Mapping[str, AlertState], changes: Iterable[AlertChange]) -> dict[str, AlertState]:
    """The open-or-acknowledged alerts after ``changes``."""
    states = dict(open_alerts)
    for change in changes:
        state = states.get(change.rule)
        if state is None or change.kind == "opened":
            states[change.rule] = AlertState(
                rule=change.rule,
                severity=change.severity,
                opened_on=change.on,
                run_started_on=silence_run(change),
            )
        elif change.kind == "raised":
            # A raise makes a silence alert the alert of the run that raised it.
            states[change.rule] = msgspec.structs.replace(
                state, severity=change.severity, status="open", run_started_on=silence_run(change)
            )
    return states


def close_handled(
    open_alerts: Mapping[str, AlertState],
    *,
    local_date: date,
    resolve_after_days: int,
    last_checkin_date: date | None,
) -> dict[str, AlertState]:
    """The backtest's counselor on local day ``local_date``: alerts opened ``resolve_after_days`` or
    more days before are closed, but a silence alert whose run is still going (no check-in for a day
    of the run yet) stays open."""
    kept: dict[str, AlertState] = {}
    for rule, state in open_alerts.items():
        if run_going(state, last_checkin_date) or local_date < state.opened_on + timedelta(
            days=resolve_after_days
        ):
            kept[rule] = state
    return kept


def run_going(state: AlertState, last_checkin_date: date | None) -> bool:
    """Whether a silence alert's run goes on: no check-in has arrived for a day of it."""
    return state.run_started_on is not None and (
        last_checkin_date is None or last_checkin_date < state.run_started_on
    )


def silence_run(hit: RuleHit | AlertChange) -> date | None:
    """The first silent day of the run a silence hit belongs to (None for other rules)."""
    if hit.rule != "silence":
        return None
    return date.fromisoformat(hit.evidence["values"]["run_started_on"])
