"""Routing, pure: who each level of the escalation policy notifies at an instant, what is skipped and
why, where the alert stands and when its next step is due."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import msgspec

from aftercare.rules.config import (
    DEFAULT_RULES,
    Escalation,
    EscalationLevel,
    LevelWaits,
    ProgramRules,
)
from aftercare.rules.rota import OnCallRota
from aftercare.rules.routing import AwayFacts, Facts, Hold, Recipient, Skip, StaffFacts, walk, when_due

T = datetime(2026, 5, 5, 23, 0, tzinfo=UTC)  # Tuesday 18:00 in Chicago: outside business hours
COUNSELOR, COVER, ON_CALL, SUP1, SUP2, OTHER = (uuid.UUID(int=n) for n in range(1, 7))
ROTA = OnCallRota(participants=(ON_CALL,), rotation="week", handoff="09:00", starts_on=date(2026, 5, 4))


def staff(*, role: str = "counselor", active: bool = True, channels: tuple[str, ...] = ("push",)) -> dict:
    return {"role": role, "active": active, "channels": channels}


def facts(overrides: dict[uuid.UUID, dict] | None = None, *, away=(), rota=ROTA) -> Facts:
    people = {
        COUNSELOR: staff(),
        COVER: staff(),
        ON_CALL: staff(),
        SUP1: staff(role="supervisor"),
        SUP2: staff(role="supervisor", channels=()),
        OTHER: staff(channels=("email",)),
    }
    people.update(overrides or {})
    return Facts(
        staff={i: StaffFacts(id=i, **p) for i, p in people.items()},  # type: ignore[arg-type]
        away=tuple(away),
        rota=rota,
    )


def route(f: Facts, *, counselor=COUNSELOR, severity="critical", rules=DEFAULT_RULES, start=0):
    return walk(rules, start=start, round=0, counselor_id=counselor, severity=severity, facts=f, at=T)


def test_the_counselor_first_until_the_response_target() -> None:
    routing = route(facts())
    assert routing.level == 0 and routing.recipients == (COUNSELOR,)
    assert routing.outcomes[0].notified == (Recipient(staff_id=COUNSELOR, channels=("push",)),)
    assert routing.escalate_at == T + timedelta(minutes=15)


def test_no_counselor_goes_to_the_on_call_at_once() -> None:
    routing = route(facts(), counselor=None)
    assert [o.skipped for o in routing.outcomes] == [(Skip(reason="no_counselor"),), ()]
    assert routing.level == 1 and routing.recipients == (ON_CALL,)


def test_a_deactivated_counselor_is_skipped_as_inactive() -> None:
    routing = route(facts({COUNSELOR: staff(active=False)}))
    assert routing.outcomes[0].skipped == (Skip(reason="inactive", staff_id=COUNSELOR),)
    assert routing.recipients == (ON_CALL,)


def test_an_away_counselor_is_replaced_by_their_cover_for_exactly_the_period() -> None:
    period = AwayFacts(
        staff_id=COUNSELOR, start=T - timedelta(days=1), end=T + timedelta(hours=1), covering_staff_id=COVER
    )
    routing = route(facts(away=[period]))
    assert routing.outcomes[0].notified == (
        Recipient(staff_id=COVER, channels=("push",), covering=COUNSELOR),
    )
    later = walk(
        DEFAULT_RULES,
        start=0,
        round=0,
        counselor_id=COUNSELOR,
        severity="high",
        facts=facts(away=[period]),
        at=T + timedelta(hours=1),
    )
    assert later.recipients == (COUNSELOR,)


def test_away_with_a_cover_who_cannot_stand_in_is_skipped() -> None:
    gone = AwayFacts(staff_id=COUNSELOR, start=T, end=T + timedelta(hours=1), covering_staff_id=COVER)
    for cover_facts, away in (
        ({COVER: staff(active=False)}, [gone]),
        ({}, [gone, msgspec.structs.replace(gone, staff_id=COVER, covering_staff_id=OTHER)]),
    ):
        routing = route(facts(cover_facts, away=away))
        assert routing.outcomes[0].skipped == (Skip(reason="away_without_cover", staff_id=COUNSELOR),)
        assert routing.level == 1


def test_an_unreachable_counselor_is_skipped_and_named_for_the_inbox() -> None:
    routing = route(facts({COUNSELOR: staff(channels=())}))
    assert routing.outcomes[0].skipped == (Skip(reason="unreachable", staff_id=COUNSELOR),)
    assert routing.level == 1


def test_supervisors_reachable_are_notified_the_others_named() -> None:
    rules = msgspec.structs.replace(
        DEFAULT_RULES, escalation=Escalation(levels=(EscalationLevel(target="supervisors"),))
    )
    routing = route(facts(), rules=rules)
    (outcome,) = routing.outcomes
    assert [r.staff_id for r in outcome.notified] == [SUP1]
    assert outcome.skipped == (Skip(reason="unreachable", staff_id=SUP2),)


def test_nobody_reachable_anywhere_stands_where_someone_has_it_in_their_inbox() -> None:
    everyone = (COUNSELOR, COVER, ON_CALL, SUP1, SUP2, OTHER)
    nobody = {
        i: staff(role="supervisor" if i in (SUP1, SUP2) else "counselor", channels=()) for i in everyone
    }
    routing = route(facts(nobody))
    assert len(routing.outcomes) == 1 and routing.level == 0 and routing.recipients == ()
    assert routing.outcomes[0].skipped == (Skip(reason="unreachable", staff_id=COUNSELOR),)
    assert routing.escalate_at == T + timedelta(minutes=15)
    # Without a counselor: the on-call's inbox (level 1), the supervisors not yet.
    routing = route(facts(nobody), counselor=None)
    assert [o.level for o in routing.outcomes] == [0, 1] and routing.level == 1


def test_nobody_at_all_stands_at_the_last_level_and_tries_again() -> None:
    everyone = (COUNSELOR, COVER, ON_CALL, SUP1, SUP2, OTHER)
    gone = {i: staff(role="supervisor" if i in (SUP1, SUP2) else "counselor", active=False) for i in everyone}
    routing = route(facts(gone))
    assert [o.level for o in routing.outcomes] == [0, 1, 2] and routing.level == 2
    assert routing.outcomes[2].skipped == (Skip(reason="no_supervisors"),)
    assert routing.escalate_at == T + timedelta(minutes=15)


def test_specific_staff_and_level_waits() -> None:
    rules = ProgramRules(
        escalation=Escalation(
            levels=(
                EscalationLevel(target="assigned"),
                EscalationLevel(
                    target="staff", staff_ids=(OTHER, COVER), wait_minutes=LevelWaits(critical=5)
                ),
                EscalationLevel(target="supervisors", wait_minutes=LevelWaits(high=60)),
            ),
            critical_repeats=0,
        )
    )
    routing = route(facts(), counselor=None, rules=rules)
    assert routing.level == 1 and routing.recipients == (OTHER, COVER)
    assert routing.outcomes[1].notified[0].channels == ("email",)
    assert routing.escalate_at == T + timedelta(minutes=5)
    high = route(facts(), counselor=None, rules=rules, severity="high")
    assert high.escalate_at == T + timedelta(minutes=240)  # no minutes for high: its response target


def test_when_due_walks_on_repeats_critical_then_holds_or_rechecks() -> None:
    f = facts()
    step, routing = when_due(
        DEFAULT_RULES,
        level=0,
        round=0,
        recipients=(COUNSELOR,),
        counselor_id=COUNSELOR,
        severity="critical",
        facts=f,
        at=T,
    )  # type: ignore[misc]
    assert step == "escalate" and routing.level == 1
    step, routing = when_due(
        DEFAULT_RULES,
        level=2,
        round=0,
        recipients=(SUP1,),
        counselor_id=COUNSELOR,
        severity="critical",
        facts=f,
        at=T,
    )  # type: ignore[misc]
    assert step == "repeat" and (routing.level, routing.round) == (0, 1)
    held = when_due(
        DEFAULT_RULES,
        level=2,
        round=1,
        recipients=(SUP1,),
        counselor_id=COUNSELOR,
        severity="critical",
        facts=f,
        at=T,
    )
    assert held == Hold(escalate_at=T + timedelta(minutes=15))
    held = when_due(
        DEFAULT_RULES,
        level=2,
        round=0,
        recipients=(SUP1,),
        counselor_id=COUNSELOR,
        severity="high",
        facts=f,
        at=T,
    )
    assert isinstance(held, Hold)
    gone = facts({SUP1: staff(role="supervisor", active=False)})
    step, routing = when_due(
        DEFAULT_RULES,
        level=2,
        round=1,
        recipients=(SUP1,),
        counselor_id=COUNSELOR,
        severity="critical",
        facts=gone,
        at=T,
    )  # type: ignore[misc]
    assert step == "recheck" and routing.level == 2 and not routing.inbox_for_unreachable
