"""What a day's rule hits do to a graduate's alerts: open, raise or update, decided in one place.

The alert service (database) and the backtest (memory) both call ``apply_hits`` and keep their own
state with ``advance``, so one history gives the same alert events through either. The contract's
rules, and nothing else:

- at most one open-or-acknowledged alert per (graduate, rule): a new hit of that rule updates it;
- severity only rises; a raise re-opens an acknowledged alert (the service also restarts escalation);
- silence is one alert per silent run: opened at its first threshold, raised at the next, and
  nothing more (not even an update) until a check-in ends the run.

The backtest closes alerts itself, as a counselor would have, with ``close_handled``; a silence alert
stays until its run ends, so its raise is a raise and not a second alert. Per local day the backtest
calls, in order: ``close_handled``, then ``apply_hits`` for the check-in's assessment (if any), then
``apply_hits`` for ``assess_silence`` at the window close, ``advance`` after each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, Literal

import msgspec

from aftercare.rules.engine import SEVERITY_RANK, RuleHit, RuleName, Severity

AlertStatus = Literal["open", "acknowledged", "resolved"]


class AlertState(msgspec.Struct, frozen=True, kw_only=True):
    """What the lifecycle needs to know of one open or acknowledged alert."""

    rule: RuleName
    severity: Severity
    status: Literal["open", "acknowledged"] = "open"
    opened_on: date
    # Silence only: the first silent day of the run the alert was opened or last updated for.
    run_started_on: date | None = None


class AlertChange(msgspec.Struct, frozen=True, kw_only=True):
    """One alert event: ``opened`` and ``raised`` are the ones the backtest reports."""

    rule: RuleName
    kind: Literal["opened", "raised", "updated"]
    severity: Severity
    local_date: date
    reasons: tuple[str, ...]
    evidence: dict[str, Any]


def apply_hits(
    open_alerts: Mapping[str, AlertState], hits: Iterable[RuleHit], *, local_date: date
) -> list[AlertChange]:
    """The changes ``hits`` make to the open-or-acknowledged alerts (keyed by rule) on ``local_date``."""
    changes: list[AlertChange] = []
    for hit in hits:
        state = open_alerts.get(hit.rule)
        if state is None:
            kind: Literal["opened", "raised", "updated"] = "opened"
        elif SEVERITY_RANK[hit.severity] > SEVERITY_RANK[state.severity]:
            kind = "raised"
        elif hit.rule == "silence" and state.run_started_on == silence_run(hit):
            continue
        else:
            kind = "updated"
        severity = hit.severity if kind != "updated" or state is None else state.severity
        changes.append(
            AlertChange(
                rule=hit.rule,
                kind=kind,
                severity=severity,
                local_date=local_date,
                reasons=hit.reasons,
                evidence=hit.evidence,
            )
        )
    return changes


def advance(open_alerts: Mapping[str, AlertState], changes: Iterable[AlertChange]) -> dict[str, AlertState]:
    """The open-or-acknowledged alerts after ``changes``."""
    states = dict(open_alerts)
    for change in changes:
        run = silence_run(change)
        state = states.get(change.rule)
        if state is None or change.kind == "opened":
            states[change.rule] = AlertState(
                rule=change.rule, severity=change.severity, opened_on=change.local_date, run_started_on=run
            )
        else:
            states[change.rule] = msgspec.structs.replace(
                state,
                severity=change.severity,
                status="open" if change.kind == "raised" else state.status,
                run_started_on=run,
            )
    return states


def close_handled(
    open_alerts: Mapping[str, AlertState],
    *,
    local_date: date,
    resolve_after_days: int,
    last_checkin_date: date | None,
) -> dict[str, AlertState]:
    """The backtest's counselor: alerts opened ``resolve_after_days`` or more days ago are closed.

    A silence alert whose run is still going (no check-in since the run began) stays open.
    """
    kept: dict[str, AlertState] = {}
    for rule, state in open_alerts.items():
        run_going = state.run_started_on is not None and (
            last_checkin_date is None or last_checkin_date < state.run_started_on
        )
        if run_going or local_date < state.opened_on + timedelta(days=resolve_after_days):
            kept[rule] = state
    return kept


def silence_run(hit: RuleHit | AlertChange) -> date | None:
    """The first silent day of the run a silence hit belongs to (None for other rules)."""
    if hit.rule != "silence":
        return None
    return date.fromisoformat(hit.evidence["values"]["run_started_on"])
