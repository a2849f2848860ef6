"""Replay graduates' histories through the warning-sign engine and alert lifecycle, offline.

A program that changes a threshold wants to see what the change would have flagged, and at what alert
burden, before it applies it. So this runs the service's own pure engine (``fold``, ``assess``,
``assess_silence``) and alert lifecycle (``apply_hits``) over JSON Lines histories, with no database,
no network and no clock. The contract's "Backtest" section is the specification.

Doses (the line's ``doses``) are read as the API reads them (``rules.doses``): a check-in that
leaves ``took_medication`` unanswered counts it as true when every dose its day's plan schedules was
marked taken by the check-in's arrival (a dose's ``received_at``, else its ``at``, else its time).

Time is simulated as the sweeper and the API see it: a check-in takes effect at its arrival
(``received_at``, else its day's ``checkin_time``), and at each local day's window close the silence
rule looks at the run of days without a check-in received by then. So a check-in synced two days late
still leaves those days silent, and still counts for the other rules from its arrival on.

The per-graduate simulation is one function, :func:`replay_graduate`; the per-check-in step is
``rules.step.checkin_step``, the very function the service runs for each submission.
Input streams one graduate at a time: memory stays flat however many graduates the file holds (only
the graduate ids are kept, to refuse a duplicate).

Graduates are replayed independently, so ``--workers`` processes (default: every core) share them
(``run_backtest_shared``): the file is checked in full first, then each process replays every n-th
graduate, and their events are put back in the input's order. The events and the summary are the
same, byte for byte, whatever the number of workers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal, TextIO
from zoneinfo import ZoneInfo

import msgspec

from aftercare.checkins.schemas import Mood, Note, PlanRefs, Scale, SleepHours, UtcTimestamp
from aftercare.doses.schemas import DoseStatus
from aftercare.errors import ValidationFailed
from aftercare.plans.schemas import Id, Medication, PlanBody, plan_body_decoder
from aftercare.plans.validation import PlanIds, plan_ids, validate_plan
from aftercare.rules.aggregates import Aggregates, CheckinFacts, facts_of
from aftercare.rules.config import DEFAULT_RULES, ProgramRules, rules_decoder
from aftercare.rules.doses import DayDoses, day_doses
from aftercare.rules.engine import WINDOW_DAYS, PlanFacts, assess_silence
from aftercare.rules.lifecycle import AlertChange, AlertState, advance, apply_hits, close_handled
from aftercare.rules.plan_facts import plan_facts
from aftercare.rules.step import checkin_step
from aftercare.scheduling.localtime import at_local_time, is_valid_zone, local_today, zone
from aftercare.scheduling.recurrence import EARLIEST_YEAR, LATEST_YEAR, occurrences

DEFAULT_CHECKIN_TIME = time(19, 0)
DEFAULT_RESOLVE_AFTER_DAYS = 2
MIDNIGHT = time(0, 0)
ONE_DAY = timedelta(days=1)
DAYS_PER_MONTH = 30
# The figures a supervisor compares rules by: a counselor's week at a caseload this size, and a
# warning that counts as early when it came 1 to LEAD_DAYS days before the first reported use.
CASELOAD = 60
LEAD_DAYS = 7
# Alerts that are not early warnings: they answer what was reported that very day.
NOT_EARLY = frozenset({"lapse", "safety"})


class CheckinRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One check-in of a history: the contract's POST body (the same bounds, from the wire's own
    types), with ``received_at`` and an optional ``client_id``. A bad value is named by its path."""

    local_date: date
    mood: Mood
    craving: Scale
    stress: Scale
    used: bool
    safety_concern: bool
    sleep_hours: SleepHours | None = None
    attended_support: bool | None = None
    took_medication: bool | None = None
    isolating: bool | None = None
    triggers: PlanRefs = []
    coping_used: PlanRefs = []
    note: Note | None = None
    client_id: uuid.UUID | None = None
    received_at: UtcTimestamp | None = None


class DoseRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One dose of a history: the contract's ``POST .../doses`` body (no ``client_id`` needed), with
    ``received_at`` (default: ``at``, else ``scheduled_for``): when the service heard of it."""

    medication_id: Id
    scheduled_for: UtcTimestamp
    status: DoseStatus
    at: UtcTimestamp | None = None
    client_id: uuid.UUID | None = None
    received_at: UtcTimestamp | None = None


class GraduateLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    graduate: Annotated[str, msgspec.Meta(min_length=1)]
    timezone: str
    start_date: date
    end_date: date
    checkins: list[CheckinRecord]
    checkin_time: Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = None
    # Decoded apart so its errors carry the ``plan.`` prefix and go through the plan slice's validation.
    # (An empty Raw: no plan given; msgspec cannot put Raw in a union with None.)
    plan: msgspec.Raw = msgspec.Raw()
    doses: list[DoseRecord] = []


class Arrival(msgspec.Struct, frozen=True):
    """A check-in and the instant it reached the service."""

    at: datetime
    checkin: CheckinFacts


class DoseArrival(msgspec.Struct, frozen=True):
    """A dose marked taken, and the instant it reached the service (skipped ones change nothing)."""

    at: datetime
    local_date: date
    medication_id: str


class History(msgspec.Struct, frozen=True):
    """A validated graduate history, check-ins in order of arrival."""

    graduate: str
    tz: ZoneInfo
    start_date: date
    end_date: date
    plan: PlanFacts | None
    arrivals: list[Arrival]
    medications: tuple[Medication, ...] = ()
    taken: dict[date, list[DoseArrival]] = msgspec.field(default_factory=dict)
    """The doses marked taken, by their local day."""

    def doses_at(self, day: date, at: datetime) -> DayDoses:
        """Local ``day``'s doses as known at ``at`` (a dose arriving at the same instant counts)."""
        taken = (d.medication_id for d in self.taken.get(day, ()) if d.at <= at)
        return day_doses(self.medications, day, taken)


class AlertEvent(msgspec.Struct, frozen=True):
    """One line of the backtest's output."""

    graduate: str
    local_date: date
    rule: str
    severity: str
    event: Literal["opened", "raised"]
    reasons: list[str]
    # Every rule whose signs the event carries, the leading one first: early signs share an alert,
    # so an alert of one rule may carry (or be raised by) another's.
    rules: list[str]


class Summary(msgspec.Struct):
    """What a replay opened, and how it bears on the history's own reported lapses.

    Measured on the histories' ``used: true`` check-ins (no other truth is known):

    - a *lapse episode* begins with a reported use that has no other in the lapse rule's
      ``repeat_window_days`` before it (within them a lapse is a repeat of the same episode), and is
      counted when at least ``LEAD_DAYS`` days of the history precede it;
    - it was *flagged ahead* when an alert of a rule other than lapse and safety opened or rose on
      one of the ``LEAD_DAYS`` days before it;
    - *precision* is the share of alerts opened by rules other than lapse and safety (with
      ``LEAD_DAYS`` days of the history after them) followed by a reported use within ``LEAD_DAYS``
      days;
    - each has a *chance level*: the same figure for a day picked at random (the share of days with
      such an alert in the days before; the share of days followed by a use), so a figure can be
      read against what alerts that knew nothing would have scored.
    """

    graduates: int = 0
    graduate_days: int = 0
    checkins: int = 0
    opened: dict[str, int] = msgspec.field(default_factory=dict)
    errors: list[str] = msgspec.field(default_factory=list)
    episodes: int = 0
    episodes_flagged: int = 0
    days_judged: int = 0
    days_flagged: int = 0
    early_alerts: int = 0
    early_alerts_followed: int = 0
    days_ahead: int = 0
    days_followed: int = 0

    @property
    def alerts_per_graduate_month(self) -> float:
        months = self.graduate_days / DAYS_PER_MONTH
        return sum(self.opened.values()) / months if months else 0.0

    def per_graduate_month(self, rule: str) -> float:
        months = self.graduate_days / DAYS_PER_MONTH
        return self.opened.get(rule, 0) / months if months else 0.0

    @property
    def alerts_per_counselor_week(self) -> float:
        """Alerts a counselor with ``CASELOAD`` graduates like these would open in a week."""
        return self.alerts_per_graduate_month / DAYS_PER_MONTH * 7 * CASELOAD

    def add(self, other: Summary) -> None:
        """Count ``other``'s graduates in too: the figures of a replay shared among processes are
        the sums of their shares', whatever the order they are added in."""
        for name in self.__struct_fields__:
            mine = getattr(self, name)
            if isinstance(mine, int):
                setattr(self, name, mine + getattr(other, name))
        opened = Counter(self.opened)
        opened.update(other.opened)
        self.opened = dict(opened)
        self.errors += other.errors

    def measure(self, history: History, events: Iterable[AlertEvent], repeat_window_days: int) -> None:
        """Add one graduate's figures (see the class docstring)."""
        first, last = history.start_date, history.end_date
        days = (last - first).days + 1
        used = sorted({a.checkin.local_date for a in history.arrivals if a.checkin.used})
        # Per day of the history (index from the first): an early alert opened or raised that day.
        early = [False] * days
        opened_early: list[date] = []
        for event in events:
            if event.rule in NOT_EARLY:
                continue
            offset = (event.local_date - first).days
            if 0 <= offset < days:
                early[offset] = True
            if event.event == "opened":
                opened_early.append(event.local_date)
        # flagged[d]: an early alert on one of the LEAD_DAYS days before day d.
        flagged = [any(early[max(0, d - LEAD_DAYS) : d]) for d in range(days)]
        use_days = {(d - first).days for d in used}
        previous: date | None = None
        for day in used:
            offset = (day - first).days
            new_episode = previous is None or (day - previous).days > repeat_window_days
            previous = day
            if new_episode and offset >= LEAD_DAYS:
                self.episodes += 1
                self.episodes_flagged += flagged[offset]
        for d in range(LEAD_DAYS, days):
            if d not in use_days:
                self.days_judged += 1
                self.days_flagged += flagged[d]
        followed = [any(u in use_days for u in range(d + 1, d + LEAD_DAYS + 1)) for d in range(days)]
        for day in opened_early:
            offset = (day - first).days
            if offset + LEAD_DAYS < days:
                self.early_alerts += 1
                self.early_alerts_followed += followed[offset]
        for d in range(days - LEAD_DAYS):
            self.days_ahead += 1
            self.days_followed += followed[d]

    def text(self) -> str:
        per_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(self.opened.items())) or "none"
        burden = ", ".join(f"{rule} {self.per_graduate_month(rule):.3f}" for rule in sorted(self.opened))
        return (
            f"graduates: {self.graduates}\n"
            f"graduate-days: {self.graduate_days}\n"
            f"check-ins: {self.checkins}\n"
            f"alerts opened: {sum(self.opened.values())} ({per_rule})\n"
            f"alerts per graduate-month: {self.alerts_per_graduate_month:.3f}\n"
            f"alerts per graduate-month by rule: {burden or 'none'}\n"
            f"alerts per counselor-week at a caseload of {CASELOAD}: {self.alerts_per_counselor_week:.1f}\n"
            f"reported lapse episodes (first use in the lapse rule's window, {LEAD_DAYS} days of history "
            f"before): {self.episodes}\n"
            f"  flagged 1-{LEAD_DAYS} days before by an alert of another rule (not lapse or safety): "
            f"{_share(self.episodes_flagged, self.episodes)} (a day at random: "
            f"{_share(self.days_flagged, self.days_judged, counts=False)})\n"
            f"alerts (not lapse or safety) followed by a reported use within {LEAD_DAYS} days (precision): "
            f"{_share(self.early_alerts_followed, self.early_alerts)} (a day at random: "
            f"{_share(self.days_followed, self.days_ahead, counts=False)})\n"
        )


def _share(part: int, whole: int, *, counts: bool = True) -> str:
    if not whole:
        return "n/a (none)"
    share = f"{100 * part / whole:.1f}%"
    return f"{part} of {whole} = {share}" if counts else share


_line_decoder = msgspec.json.Decoder(GraduateLine)
_event_encoder = msgspec.json.Encoder()
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.DOTALL)
_BOUND = re.compile(r"^Expected `\w+` (?P<bound>[<>]=? -?[\d.]+)$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>.*)`$", re.DOTALL)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _decode_problem(exc: msgspec.ValidationError, prefix: str = "") -> tuple[str, str]:
    """msgspec's one-line error as (field path, message), in the wording of the API's 422s."""
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches every string
    message, path = match["message"], match["path"] or ""
    if m := _MISSING.match(message):
        path, message = _join(path, m["field"]), "required"
    elif m := _UNKNOWN.match(message):
        # The input's own key: quoted unless it is a plain name, so an empty or blank key, or one
        # holding a colon or a line break, still makes one readable ``FIELD: message`` line.
        name = m["field"] if _PLAIN_NAME.fullmatch(m["field"]) else json.dumps(m["field"])
        path, message = _join(path, name), "unknown field"
    elif m := _BOUND.match(message):
        message = f"must be {m['bound']}"
    return _join(prefix, path) or "(line)", message


def _join(base: str, tail: str) -> str:
    if not base:
        return tail
    if not tail:
        return base
    return base + tail if tail.startswith("[") else f"{base}.{tail}"


def parse_history(text: str, *, where: str, seen: set[str]) -> History | list[str]:
    """Decode and check one input line; ``where`` is ``FILE:LINE``. Returns every problem found as
    ``FILE:LINE: FIELD: message``, or the history ready to replay. Adds the graduate id to ``seen``."""
    try:
        line = _line_decoder.decode(text)
    except msgspec.ValidationError as exc:
        field, message = _decode_problem(exc)
        return [f"{where}: {field}: {message}"]
    except msgspec.DecodeError as exc:
        return [f"{where}: (line): not JSON: {exc}"]
    problems: list[tuple[str, str]] = []
    if line.graduate in seen:
        problems.append(("graduate", f"graduate {line.graduate!r} appears twice"))
    seen.add(line.graduate)
    # The API's rule: an IANA name a client may mean, never ``localtime`` or a ``posix/`` copy.
    tz: ZoneInfo | None = zone(line.timezone) if is_valid_zone(line.timezone) else None
    if tz is None:
        problems.append(("timezone", f"unknown time zone {line.timezone!r}"))
    if line.end_date < line.start_date:
        problems.append(("end_date", "must not be before start_date"))
    body, plan, ids = _plan(line.plan, problems)
    prompt = time.fromisoformat(line.checkin_time) if line.checkin_time else DEFAULT_CHECKIN_TIME
    arrivals: list[Arrival] = []
    days_seen: dict[date, int] = {}
    for i, checkin in enumerate(line.checkins):
        path = f"checkins[{i}]"
        if not line.start_date <= checkin.local_date <= line.end_date:
            problems.append((f"{path}.local_date", "outside start_date..end_date"))
        if checkin.local_date in days_seen:
            problems.append(
                (
                    f"{path}.local_date",
                    f"a second check-in for this day (checkins[{days_seen[checkin.local_date]}])",
                )
            )
        days_seen.setdefault(checkin.local_date, i)
        for key, given, known in (
            ("triggers", checkin.triggers, ids.trigger_ids),
            ("coping_used", checkin.coping_used, ids.coping_skill_ids),
        ):
            for j, item in enumerate(given):
                if item not in known:
                    problems.append((f"{path}.{key}[{j}]", f"unknown id {item!r}: not in the plan"))
        if tz is None:
            continue
        # Before its day begins <=> its local date is an earlier day (cheaper than the day's bounds).
        if checkin.received_at is not None and local_today(checkin.received_at, tz) < checkin.local_date:
            problems.append((f"{path}.received_at", "before its local day begins"))
        arrival = checkin.received_at or at_local_time(checkin.local_date, prompt, tz)
        arrivals.append(Arrival(at=arrival, checkin=facts_of(checkin)))
    taken = _doses(line.doses, body, tz, problems) if tz is not None else []
    if problems or tz is None:
        return [f"{where}: {field}: {message}" for field, message in problems]
    # Same-instant ties fall back to the day, so the order never depends on the input's order.
    arrivals.sort(key=lambda a: (a.at, a.checkin.local_date))
    medications = tuple(body.medications) if body is not None else ()
    by_day: dict[date, list[DoseArrival]] = {}
    for dose in taken:
        by_day.setdefault(dose.local_date, []).append(dose)
    return History(line.graduate, tz, line.start_date, line.end_date, plan, arrivals, medications, by_day)


def _doses(
    records: list[DoseRecord], plan: PlanBody | None, tz: ZoneInfo, problems: list[tuple[str, str]]
) -> list[DoseArrival]:
    """The doses marked taken, checked as ``POST .../doses`` checks them: a medication of the plan, an
    occurrence of its schedule, heard of within the dose's local day or the next, once per dose."""
    medications = {m.id: m for m in plan.medications} if plan is not None else {}
    taken: list[DoseArrival] = []
    seen: dict[tuple[str, datetime], int] = {}
    for i, dose in enumerate(records):
        path = f"doses[{i}]"
        medication = medications.get(dose.medication_id)
        if medication is None:
            problems.append(
                (f"{path}.medication_id", f"unknown id {dose.medication_id!r}: not a medication of the plan")
            )
            continue
        at = dose.scheduled_for
        schedule = medication.schedule
        if (
            not EARLIEST_YEAR <= at.year <= LATEST_YEAR
        ):  # no schedule reaches there; the window would overflow
            problems.append(
                (f"{path}.scheduled_for", f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
            )
            continue
        if at not in occurrences(schedule.rrule, schedule.start_local, tz, at, at + timedelta(seconds=1)):
            problems.append((f"{path}.scheduled_for", "not a dose of this medication's schedule"))
            continue
        if (dose.medication_id, at) in seen:
            problems.append(
                (
                    f"{path}.scheduled_for",
                    f"a second record of this dose (doses[{seen[(dose.medication_id, at)]}])",
                )
            )
        seen.setdefault((dose.medication_id, at), i)
        local_date = local_today(at, tz)
        received = dose.received_at or dose.at or at
        opens = at_local_time(local_date, MIDNIGHT, tz)
        if not opens <= received < at_local_time(local_date + 2 * ONE_DAY, MIDNIGHT, tz):
            problems.append((f"{path}.received_at", "outside the dose's local day and the next"))
        elif dose.at is not None and not opens <= dose.at <= received:
            problems.append(
                (f"{path}.at", "must lie between the start of the dose's local day and its arrival")
            )
        elif dose.status == "taken":
            taken.append(DoseArrival(received, local_date, dose.medication_id))
    return taken


_NO_IDS = PlanIds(trigger_ids=frozenset(), coping_skill_ids=frozenset())


def _plan(
    raw: msgspec.Raw, problems: list[tuple[str, str]]
) -> tuple[PlanBody | None, PlanFacts | None, PlanIds]:
    if not raw or bytes(raw) == b"null":
        return None, None, _NO_IDS
    try:
        body: PlanBody = plan_body_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        problems.append(_decode_problem(exc, "plan"))
        return None, None, _NO_IDS
    try:
        validate_plan(body)
    except ValidationFailed as exc:
        problems.extend((_join("plan", e.field), e.message) for e in exc.errors)
        return None, None, _NO_IDS
    return body, plan_facts(body), plan_ids(body)


def _around(received: dict[int, CheckinFacts], checkin: CheckinFacts, after: int) -> Iterator[CheckinFacts]:
    """The check-ins received so far (keyed by ordinal) for the window's days before ``checkin``'s,
    and for the ``after`` days after it (a late sync's lapse meets a later one already received)."""
    day = checkin.local_date.toordinal()
    return (
        c
        for d in range(day - WINDOW_DAYS + 1, day + after + 1)
        if d != day and (c := received.get(d)) is not None
    )


def replay_graduate(history: History, rules: ProgramRules, resolve_after_days: int) -> list[AlertChange]:
    """Every alert change in one graduate's history, in the order it happened (``replay``)."""
    return replay(history, rules, resolve_after_days).changes


class Replayed(msgspec.Struct, frozen=True):
    """What a replay of one graduate's history did, and the state it left."""

    changes: list[AlertChange]
    aggregates: Aggregates
    """The graduate's aggregates after the last check-in: what the API keeps on the graduate row."""


def replay(history: History, rules: ProgramRules, resolve_after_days: int) -> Replayed:
    """One graduate's history, replayed.

    Day by day in the graduate's zone: first the check-ins that arrive before the day's window
    closes, each in arrival order (``checkin_step``), then the silence rule at the close. An alert
    opened on day O is taken as handled at the start of day O + ``resolve_after_days`` (a silence
    alert only once its run has ended; early signs that go on unchanged after it open no new one
    until ``early_signs_realert_days``, see ``rules.lifecycle``). Check-ins arriving after the last
    day still count.
    """
    plan = history.plan or PlanFacts()
    tz = history.tz
    received: dict[int, CheckinFacts] = {}
    aggregates = Aggregates()
    alerts: dict[str, AlertState] = {}
    changes: list[AlertChange] = []
    pending = iter(history.arrivals)
    arrival = next(pending, None)
    day = history.start_date
    while day <= history.end_date or arrival is not None:
        # A day's window closes when the next local day begins.
        close = at_local_time(day + ONE_DAY, MIDNIGHT, tz) if day <= history.end_date else None
        while arrival is not None and (close is None or arrival.at < close):
            arrived_on = local_today(arrival.at, tz)
            alerts = close_handled(
                alerts,
                local_date=arrived_on,
                resolve_after_days=resolve_after_days,
                last_checkin_date=aggregates.last_checkin_date,
            )
            step = checkin_step(
                arrival.checkin,
                received=_around(received, arrival.checkin, rules.rules.lapse.repeat_window_days),
                aggregates=aggregates,
                alerts=alerts,
                plan=plan,
                rules=rules,
                on=arrived_on,
                doses=history.doses_at(arrival.checkin.local_date, arrival.at),
            )
            received[arrival.checkin.local_date.toordinal()] = step.checkin
            aggregates, alerts = step.aggregates, step.alerts
            changes.extend(step.changes)
            arrival = next(pending, None)
        if close is None:
            break
        alerts = close_handled(
            alerts,
            local_date=day,
            resolve_after_days=resolve_after_days,
            last_checkin_date=aggregates.last_checkin_date,
        )
        hit = assess_silence(aggregates, day, history.start_date, rules)
        if hit is not None:
            made = apply_hits(alerts, [hit], local_date=day)
            alerts = advance(alerts, made)
            changes.extend(made)
        day += ONE_DAY
    return Replayed(changes, aggregates)


def alert_events(graduate: str, changes: Iterable[AlertChange]) -> list[AlertEvent]:
    """The backtest's output lines for one graduate: opens and raises, days in order.

    A late sync's event carries its own (earlier) local day, so the stable sort by day can move it
    before a silence event that happened first in time.
    """
    events = [
        AlertEvent(graduate, c.local_date, c.rule, c.severity, c.kind, list(c.reasons), list(c.rules))
        for c in changes
        if c.kind == "opened" or c.kind == "raised"
    ]
    events.sort(key=lambda e: e.local_date)
    return events


def file_problem(path: Path, exc: OSError | UnicodeDecodeError) -> str:
    """A history file that cannot be read at all, as one problem line (``FILE: (file): message``)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"{path}: (file): not UTF-8: {exc.reason}"
    return f"{path}: (file): {exc.strerror}"


def numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield number, text


def run_backtest(
    lines: Iterable[str],
    *,
    source_name: str,
    rules: ProgramRules,
    resolve_after_days: int,
    out: TextIO,
) -> Summary:
    """Replay every graduate of ``lines`` (JSON Lines), writing alert events to ``out``.

    Reads one line at a time. Every problem of every line is collected in ``summary.errors``
    (``FILE:LINE: FIELD: message``); after the first one nothing more is replayed or written, and
    what was written must be discarded by the caller (``main`` writes aside and renames).
    """
    summary = Summary()
    seen: set[str] = set()
    opened: Counter[str] = Counter()
    for number, text in numbered(lines):
        parsed = parse_history(text, where=f"{source_name}:{number}", seen=seen)
        if isinstance(parsed, list):
            summary.errors.extend(parsed)
            continue
        if summary.errors:
            continue
        _write_events(out, replay_events(parsed, rules, resolve_after_days, summary, opened))
    summary.opened = dict(opened)
    return summary


def _write_events(out: TextIO, events: Iterable[AlertEvent]) -> None:
    for event in events:
        out.write(_event_encoder.encode(event).decode())
        out.write("\n")


def run_backtest_shared(
    cohort: Cohort, *, rules: ProgramRules, resolve_after_days: int, out: TextIO, workers: int
) -> Summary:
    """``run_backtest`` of a file every line of which replays (``cohort.problems()`` is empty), its
    graduates shared among ``workers`` processes: the same events in the same order, and the same
    summary, in about 1 / ``workers`` of the time. ``CohortChanged`` if the file no longer reads as
    it did when it was checked.

    Each process replays every ``workers``-th graduate into a file of its own, a blank line after
    each graduate's events; the files are then read in turn, a graduate from each, so the events
    keep the input's order."""
    with tempfile.TemporaryDirectory(prefix="aftercare-backtest-") as tmp, worker_pool(workers) as pool:
        parts = [Path(tmp) / f"share-{share}.jsonl" for share in range(workers)]
        shares = [
            pool.submit(_backtest_share, cohort.path, share, workers, rules, resolve_after_days, part)
            for share, part in enumerate(parts)
        ]
        summary = Summary()
        for share in shares:
            summary.add(share.result())
        with ExitStack() as files:
            written = [files.enter_context(part.open(encoding="utf-8")) for part in parts]
            for graduate in range(summary.graduates):
                for line in written[graduate % workers]:
                    if line == "\n":
                        break
                    out.write(line)
    return summary


def _backtest_share(
    path: Path, share: int, shares: int, rules: ProgramRules, resolve_after_days: int, part: Path
) -> Summary:
    """In a worker process: every ``shares``-th graduate of the file, from the ``share``-th, their
    events written to ``part``, each graduate's followed by a blank line."""
    summary = Summary()
    opened: Counter[str] = Counter()
    with part.open("w", encoding="utf-8") as out:
        for history in Cohort(path).share(share, shares):
            _write_events(out, replay_events(history, rules, resolve_after_days, summary, opened))
            out.write("\n")
    summary.opened = dict(opened)
    return summary


def available_cores() -> int:
    """The cores this process may run on: a container's CPU set, not the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """Processes to replay graduates on (``aftercare backtest`` and ``aftercare calibrate``)."""
    # Spawned, not forked: a fork copies whatever locks the caller's threads hold at that moment.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


class CohortChanged(Exception):
    """The history file no longer reads as it did when it was checked."""


class Cohort:
    """The history file, iterable again and again: each pass reads it from disk, one graduate at a
    time, so only one history is held (``aftercare calibrate`` replays it once per rules it tries)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def problems(self) -> list[str]:
        """Every problem of every line, as ``aftercare backtest`` names them; [] if the file replays."""
        problems: list[str] = []
        try:
            for parsed in self._parsed():
                if isinstance(parsed, list):
                    problems.extend(parsed)
        except (OSError, UnicodeDecodeError) as exc:
            return [file_problem(self.path, exc)]
        return problems

    def __iter__(self) -> Iterator[History]:
        return self.share(0, 1)

    def share(self, share: int, shares: int) -> Iterator[History]:
        """The ``share``-th of every ``shares`` graduates, read from the file now."""
        try:
            for parsed in self._parsed(share, shares):
                if isinstance(parsed, list):
                    raise CohortChanged(f"{parsed[0]} (the file changed while it was replayed)")
                yield parsed
        except (OSError, UnicodeDecodeError) as exc:
            raise CohortChanged(f"{self.path}: (file): changed while it was replayed: {exc}") from exc

    def _parsed(self, share: int = 0, shares: int = 1) -> Iterator[History | list[str]]:
        seen: set[str] = set()  # within the share: the whole file's ids were checked by ``problems``
        with self.path.open(encoding="utf-8") as lines:
            for index, (number, text) in enumerate(numbered(lines)):
                if index % shares == share:
                    yield parse_history(text, where=f"{self.path.name}:{number}", seen=seen)


def replay_events(
    history: History, rules: ProgramRules, resolve_after_days: int, summary: Summary, opened: Counter[str]
) -> list[AlertEvent]:
    """One graduate's events, counted into ``summary`` and ``opened`` (per rule)."""
    summary.graduates += 1
    summary.graduate_days += (history.end_date - history.start_date).days + 1
    summary.checkins += len(history.arrivals)
    events = alert_events(history.graduate, replay_graduate(history, rules, resolve_after_days))
    opened.update(e.rule for e in events if e.event == "opened")
    summary.measure(history, events, rules.rules.lapse.repeat_window_days)
    return events


def load_rules(path: Path | None) -> ProgramRules | str:
    if path is None:
        return DEFAULT_RULES
    try:
        return rules_decoder.decode(path.read_bytes())
    except OSError as exc:
        return f"{path}: (file): {exc.strerror}"
    except msgspec.ValidationError as exc:
        field, message = _decode_problem(exc)
        return f"{path}: {field}: {message}"
    except msgspec.DecodeError as exc:
        return f"{path}: (file): not JSON: {exc}"


def main(argv: list[str] | None = None) -> int:
    """``aftercare backtest COHORT.jsonl [--rules RULES.json] [--resolve-after-days N] [--out EVENTS.jsonl]``.

    Exit 0 with the events written, 2 on bad input with every problem on stderr and nothing written.
    """
    parser = argparse.ArgumentParser(
        prog="aftercare backtest", description="Replay histories through the warning-sign engine."
    )
    parser.add_argument("cohort", type=Path, help="JSON Lines, one graduate a line")
    parser.add_argument(
        "--rules", type=Path, help="body of GET /v1/program/rules (default: program defaults)"
    )
    parser.add_argument("--resolve-after-days", type=int, default=DEFAULT_RESOLVE_AFTER_DAYS)
    parser.add_argument("--out", type=Path, help="events file (default: stdout)")
    parser.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="processes to replay with (default: every core)",
    )
    args = parser.parse_args(argv)
    if args.resolve_after_days < 1:
        print("--resolve-after-days: must be >= 1", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("--workers: must be >= 1", file=sys.stderr)
        return 2
    rules = load_rules(args.rules)
    if isinstance(rules, str):
        print(rules, file=sys.stderr)
        return 2
    target_dir = args.out.resolve().parent if args.out else None
    fd, tmp_name = tempfile.mkstemp(prefix=".backtest-", suffix=".jsonl", dir=target_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            try:
                summary = _replay_file(args.cohort, rules, args.resolve_after_days, out, args.workers)
            except (OSError, UnicodeDecodeError) as exc:
                print(file_problem(args.cohort, exc), file=sys.stderr)
                return 2
            except CohortChanged as exc:
                print(exc, file=sys.stderr)
                return 2
        if summary.errors:
            print("\n".join(summary.errors), file=sys.stderr)
            return 2
        if args.out:
            os.replace(tmp, args.out)
        else:
            with tmp.open(encoding="utf-8") as written:
                for line in written:
                    sys.stdout.write(line)
        print(summary.text(), end="", file=sys.stderr)
        return 0
    finally:
        tmp.unlink(missing_ok=True)


def _replay_file(
    path: Path, rules: ProgramRules, resolve_after_days: int, out: TextIO, workers: int
) -> Summary:
    """The backtest of the file at ``path``: streamed in this process, or on ``workers`` processes
    once every line is known to replay (a problem found halfway would leave the others' work
    wasted, and the problems are reported the same either way)."""
    if workers == 1:
        with path.open(encoding="utf-8") as lines:
            return run_backtest(
                lines, source_name=path.name, rules=rules, resolve_after_days=resolve_after_days, out=out
            )
    cohort = Cohort(path)
    problems = cohort.problems()
    if problems:
        return Summary(errors=problems)
    return run_backtest_shared(
        cohort, rules=rules, resolve_after_days=resolve_after_days, out=out, workers=workers
    )


if __name__ == "__main__":
    sys.exit(main())
