"""Who must hear of an alert, at which level of the escalation policy, now. Pure: the facts in (staff,
their channels, who is away and who covers, the rota), a decision out; no clock and no I/O, so the
alert service stores what this decides and the property test drives it fast.

A level's target is resolved to people (``resolve_level``): ``assigned`` is the graduate's counselor,
``on_call`` whoever the rota names at that instant (``rota.on_call_at``), ``supervisors`` every
active supervisor, ``staff`` the people it names. Then each person must be able to act now:

    inactive            deactivated (or no staff member by that id): skipped
    away                replaced by their cover (the notification says ``covering``); skipped as
                        ``away_without_cover`` when the cover is inactive or away too
    unreachable         active and present, but with no channel (no push subscription, no e-mail
                        opt-in): skipped, and the notification still goes to their inbox (the record)
    else                notified, on every channel they have

A level with nobody notified is skipped at once and the next is tried, in the same transaction
(``walk``); the alert stands at the first level that reached someone, until that level's wait runs
out. If nobody at any remaining level can be reached, the alert stands at the first of them where
someone active was passed over (their inbox has it: a program without push or e-mail works as
before), else at the last; its next step is due after that level's wait: never routed to nobody
without a due escalation.

When a level's wait runs out (``when_due``): the next level; after the last, a critical alert starts
again at the first level (``critical_repeats`` times); after that the last level holds, and is
notified again only if nobody notified at it can still be reached.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

from aftercare.rules.config import EscalationLevel, EscalationTarget, ProgramRules
from aftercare.rules.rota import OnCallRota, on_call_at
from aftercare.rules.severity import Severity
from aftercare.rules.targets import respond_by

Channel = Literal["push", "email"]
CHANNELS: tuple[Channel, ...] = ("push", "email")
SkipReason = Literal[
    "no_counselor", "inactive", "away_without_cover", "unreachable", "no_one_on_call", "no_supervisors"
]
StaffRole = Literal["counselor", "supervisor"]


class StaffFacts(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    role: StaffRole
    active: bool
    channels: tuple[Channel, ...]
    """How they can be reached now: a push subscription, an e-mail opt-in; empty: unreachable."""


class AwayFacts(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: uuid.UUID
    start: datetime
    end: datetime
    covering_staff_id: uuid.UUID

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What routing needs to know of the program at an instant."""

    staff: Mapping[uuid.UUID, StaffFacts]
    away: Sequence[AwayFacts] = ()
    rota: OnCallRota | None = None

    def away_at(self, staff_id: uuid.UUID, at: datetime) -> AwayFacts | None:
        return next((p for p in self.away if p.staff_id == staff_id and p.holds(at)), None)

    def live(self, staff_id: uuid.UUID) -> bool:
        """Active and reachable: someone a notification can reach who can act on it."""
        person = self.staff.get(staff_id)
        return person is not None and person.active and bool(person.channels)


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    staff_id: uuid.UUID
    channels: tuple[Channel, ...]
    covering: uuid.UUID | None = None
    """The away staff member this recipient stands in for, if any."""


class Skip(msgspec.Struct, frozen=True, kw_only=True):
    reason: SkipReason
    staff_id: uuid.UUID | None = None
    """Who was passed over (for ``unreachable``: who gets only the inbox entry); None when nobody was
    named (no counselor, nobody on call, no supervisors)."""


class LevelOutcome(msgspec.Struct, frozen=True, kw_only=True):
    level: int
    target: EscalationTarget
    notified: tuple[Recipient, ...]
    skipped: tuple[Skip, ...]


class Routing(msgspec.Struct, frozen=True, kw_only=True):
    """What ``walk`` decided: each level tried in order, where the alert now stands, and when its
    next step is due."""

    outcomes: tuple[LevelOutcome, ...]
    level: int
    round: int
    escalate_at: datetime
    inbox_for_unreachable: bool = True

    @property
    def recipients(self) -> tuple[uuid.UUID, ...]:
        """Everyone notified at the level the alert now stands at."""
        last = self.outcomes[-1] if self.outcomes else None
        return (
            tuple(r.staff_id for r in last.notified) if last is not None and last.level == self.level else ()
        )


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    """At the end of the chain with someone notified who can still act: nothing to do until then."""

    escalate_at: datetime


Step = Literal["escalate", "repeat", "recheck"]


def _stand_in(staff_id: uuid.UUID, facts: Facts, at: datetime) -> Recipient | Skip:
    person = facts.staff.get(staff_id)
    if person is None or not person.active:
        return Skip(reason="inactive", staff_id=staff_id)
    covering = None
    away = facts.away_at(staff_id, at)
    if away is not None:
        cover = facts.staff.get(away.covering_staff_id)
        if cover is None or not cover.active or facts.away_at(cover.id, at) is not None:
            return Skip(reason="away_without_cover", staff_id=staff_id)
        person, covering = cover, staff_id
    if not person.channels:
        return Skip(reason="unreachable", staff_id=person.id)
    return Recipient(staff_id=person.id, channels=person.channels, covering=covering)


def resolve_level(
    level: EscalationLevel,
    index: int,
    *,
    counselor_id: uuid.UUID | None,
    facts: Facts,
    rules: ProgramRules,
    at: datetime,
) -> LevelOutcome:
    """The people level ``index`` notifies at ``at``, and everyone it passed over with why."""
    people: list[uuid.UUID] = []
    skipped: list[Skip] = []
    if level.target == "assigned":
        if counselor_id is None:
            skipped.append(Skip(reason="no_counselor"))
        else:
            people.append(counselor_id)
    elif level.target == "on_call":
        on_call = on_call_at(facts.rota, rules.program, at).staff_id
        if on_call is None:
            skipped.append(Skip(reason="no_one_on_call"))
        else:
            people.append(on_call)
    elif level.target == "supervisors":
        people = sorted(s.id for s in facts.staff.values() if s.role == "supervisor" and s.active)
        if not people:
            skipped.append(Skip(reason="no_supervisors"))
    else:
        people = list(level.staff_ids)
    notified: dict[uuid.UUID, Recipient] = {}
    for staff_id in people:
        found = _stand_in(staff_id, facts, at)
        if isinstance(found, Skip):
            if found not in skipped:
                skipped.append(found)
        elif found.staff_id not in notified:
            notified[found.staff_id] = found
    # Someone passed over as unreachable who is notified anyway (a supervisor covering for another)
    # was not passed over.
    skipped = [s for s in skipped if not (s.reason == "unreachable" and s.staff_id in notified)]
    return LevelOutcome(
        level=index, target=level.target, notified=tuple(notified.values()), skipped=tuple(skipped)
    )


def level_wait_ends(rules: ProgramRules, level: int, severity: Severity, *, start: datetime) -> datetime:
    """When level ``level``'s wait, begun at ``start``, runs out: the first level's (and any level's
    without minutes for ``severity``) is the severity's response target."""
    minutes = rules.escalation.wait_after(level, severity) if level > 0 else None
    if minutes is None:
        return respond_by(rules, severity, start=start)
    return start.astimezone(UTC) + timedelta(minutes=minutes)


def walk(
    rules: ProgramRules,
    *,
    start: int,
    round: int,
    counselor_id: uuid.UUID | None,
    severity: Severity,
    facts: Facts,
    at: datetime,
    inbox_for_unreachable: bool = True,
) -> Routing:
    """Try the levels from ``start`` on, skipping at once each that reaches nobody; the alert stands
    at the first that reached someone, or at the last if none did (tried again after its wait)."""
    levels = rules.escalation.levels
    outcomes: list[LevelOutcome] = []
    held: int | None = None  # outcomes up to the first level with someone active to hold it
    for index in range(start, len(levels)):
        outcome = resolve_level(
            levels[index], index, counselor_id=counselor_id, facts=facts, rules=rules, at=at
        )
        outcomes.append(outcome)
        if outcome.notified:
            break
        if held is None and any(s.reason == "unreachable" for s in outcome.skipped):
            held = len(outcomes)
    else:
        # Nobody can be reached at any level left: stand at the first where someone active was
        # passed over (their inbox holds it, as a program without push or e-mail works), else at
        # the last; either way the next step is due after that level's wait.
        if held is not None:
            outcomes = outcomes[:held]
    stands = outcomes[-1].level if outcomes else len(levels) - 1
    return Routing(
        outcomes=tuple(outcomes),
        level=stands,
        round=round,
        escalate_at=level_wait_ends(rules, stands, severity, start=at),
        inbox_for_unreachable=inbox_for_unreachable,
    )


def when_due(
    rules: ProgramRules,
    *,
    level: int,
    round: int,
    recipients: Sequence[uuid.UUID],
    counselor_id: uuid.UUID | None,
    severity: Severity,
    facts: Facts,
    at: datetime,
) -> tuple[Step, Routing] | Hold:
    """An open alert standing at ``level`` (in repeat ``round``) whose wait ran out at or before
    ``at``, having notified ``recipients`` there: what happens now."""
    levels = rules.escalation.levels
    level = min(level, len(levels) - 1)  # the policy may have lost levels since

    def from_level(start: int, round: int, *, inbox: bool = True) -> Routing:
        return walk(
            rules,
            start=start,
            round=round,
            counselor_id=counselor_id,
            severity=severity,
            facts=facts,
            at=at,
            inbox_for_unreachable=inbox,
        )

    if level + 1 < len(levels):
        return "escalate", from_level(level + 1, round)
    if severity == "critical" and round < rules.escalation.critical_repeats:
        return "repeat", from_level(0, round + 1)
    if any(facts.live(staff_id) for staff_id in recipients):
        return Hold(escalate_at=level_wait_ends(rules, level, severity, start=at))
    # Nobody notified here can act any more: this level again, without filling inboxes again.
    return "recheck", from_level(level, round, inbox=False)
