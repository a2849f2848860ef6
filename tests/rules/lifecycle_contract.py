"""The alert lifecycle of ``../shared/CONTRACT.md`` ("Alert", "Backtest") as a checker over what happened.

Fed the alert changes of one graduate in the order they happened, each with the local day it
happened on (``on``), it returns every way they break the lifecycle, as the backtest's counselor
(``--resolve-after-days N``) sees it:

- an alert is open from the day it opened (``on``) until the start of day ``opened + N``; a silence
  alert also for as long as the silent run it was opened (or raised) for goes on;
- a slot (a rule; the early-sign rules share one, see ``rules.lifecycle.slot_of``) has at most one
  open alert: ``opened`` only when none is open, ``raised`` and ``updated`` only on the open one;
- severity only rises: a raise goes strictly higher, an update keeps the severity;
- silence is one alert per silent run: at most one ``opened`` per run, its severity what the run's
  length gives, and nothing more for a run once its alert carries that run (no update, no raise at
  the same severity).

It reads what a silence change itself says of the moment (its evidence: the run, the days silent,
the last check-in day), so it needs nothing else of the history; the API's events and the
backtest's changes are checked alike. Written from the contract, not from ``lifecycle.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aftercare.rules.config import ProgramRules
from aftercare.rules.lifecycle import AlertChange

RANK = {"warning": 1, "high": 2, "critical": 3}
EARLY = {
    "craving_rising",
    "mood_falling",
    "support_dropoff",
    "medication_missed",
    "isolation",
    "triggers_without_coping",
    "combined",
}


@dataclass(frozen=True)
class Act:
    """One alert change: ``kind`` is opened, raised or updated (the API records no updates)."""

    on: date
    local_date: date
    rule: str
    kind: str
    severity: str
    evidence: dict[str, Any]

    @classmethod
    def of(cls, change: AlertChange) -> Act:
        return cls(change.on, change.local_date, change.rule, change.kind, change.severity, change.evidence)


@dataclass
class _Open:
    rule: str
    opened_on: date
    severity: str
    run: date | None


def _slot(rule: str) -> str:
    return "early signs" if rule in EARLY else rule


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def violations(acts: Iterable[Act], *, resolve_after_days: int, rules: ProgramRules) -> list[str]:
    """Every breach of the lifecycle in ``acts`` (one graduate's, in the order they happened)."""
    found: list[str] = []
    open_alerts: dict[str, _Open] = {}
    runs_opened: set[date] = set()
    silence = rules.rules.silence
    for act in acts:
        where = f"{act.on} ({act.local_date}) {act.rule} {act.kind} {act.severity}"
        slot = _slot(act.rule)
        current = open_alerts.get(slot)
        run = last = None
        if act.rule == "silence":
            values = act.evidence["values"]
            run, last = _day(values["run_started_on"]), _day(values["last_checkin_date"])
            wanted = "high" if values["silent_days"] >= silence.high_days else "warning"
            if act.kind != "updated" and act.severity != wanted:
                found.append(f"{where}: {values['silent_days']} silent days give {wanted}")
        if current is not None:
            run_going = (
                current.run is not None and act.rule == "silence" and (last is None or last < current.run)
            )
            if not run_going and act.on >= current.opened_on + timedelta(days=resolve_after_days):
                del open_alerts[slot]
                current = None
        if act.kind == "opened":
            if current is not None:
                found.append(f"{where}: opened while {current.rule} (opened {current.opened_on}) is open")
            if run is not None:
                if run in runs_opened:
                    found.append(f"{where}: a second alert for the silent run from {run}")
                runs_opened.add(run)
            open_alerts[slot] = _Open(act.rule, act.on, act.severity, run)
            continue
        if current is None:
            found.append(f"{where}: no open alert to {act.kind}")
            continue
        if current.rule != act.rule:
            found.append(f"{where}: the open alert of its slot is {current.rule}")
        if act.kind == "raised":
            if RANK[act.severity] <= RANK[current.severity]:
                found.append(f"{where}: not above {current.severity}")
            current.severity = act.severity
            current.run = run if run is not None else current.run
        else:
            if act.severity != current.severity:
                found.append(f"{where}: an update changed severity from {current.severity}")
            if run is not None and run == current.run:
                found.append(f"{where}: an update for the run its alert already carries")
    return found
