"""The coverage invariant as a property (hypothesis), over random sequences of assign, deactivate,
away, rota change, subscribe and unsubscribe, alert, acknowledge and clock steps:

    every open alert has, at every step, a notified recipient who is active and reachable, or an
    escalation due within its level's wait.

The model holds the facts and the alerts in memory and steps them with the very functions the
service runs (``rules/routing.py::walk`` when an alert opens, ``when_due`` when its wait runs out,
applied as ``alerts/service.py`` applies them), so thousands of sequences run in seconds. And right
after an alert is routed, if anyone at a level from where it started could be reached, it has been
notified: a level that reaches nobody never holds an alert for its whole wait.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftercare.rules.config import Escalation, EscalationLevel, LevelWaits, ProgramRules
from aftercare.rules.rota import OnCallRota
from aftercare.rules.routing import (
    AwayFacts,
    Facts,
    Hold,
    Routing,
    StaffFacts,
    level_wait_ends,
    walk,
    when_due,
)

T0 = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # the day before spring-forward in Chicago
STAFF = [uuid.UUID(int=n) for n in range(1, 7)]
SUPERVISORS = set(STAFF[4:])
POLICIES = [
    ProgramRules(),  # assigned, on_call, supervisors; critical repeats once
    ProgramRules(
        escalation=Escalation(
            levels=(
                EscalationLevel(target="assigned"),
                EscalationLevel(
                    target="staff",
                    staff_ids=(STAFF[2], STAFF[3]),
                    wait_minutes=LevelWaits(critical=5, high=30),
                ),
                EscalationLevel(target="supervisors", wait_minutes=LevelWaits(critical=10)),
            ),
            critical_repeats=2,
        )
    ),
    ProgramRules(escalation=Escalation(levels=(EscalationLevel(target="on_call"),), critical_repeats=0)),
]


@dataclass
class Alert:
    counselor: uuid.UUID | None
    severity: str
    level: int = 0
    round: int = 0
    escalate_at: datetime = T0
    recipients: tuple[uuid.UUID, ...] = ()
    open: bool = True


@dataclass
class World:
    rules: ProgramRules
    now: datetime = T0
    active: dict[uuid.UUID, bool] = field(default_factory=lambda: dict.fromkeys(STAFF, True))
    push: dict[uuid.UUID, bool] = field(default_factory=lambda: dict.fromkeys(STAFF, False))
    away: list[AwayFacts] = field(default_factory=list)
    rota: OnCallRota | None = None
    counselor: dict[int, uuid.UUID | None] = field(default_factory=dict)  # graduate -> counselor
    alerts: list[Alert] = field(default_factory=list)

    def facts(self) -> Facts:
        return Facts(
            staff={
                s: StaffFacts(
                    id=s,
                    role="supervisor" if s in SUPERVISORS else "counselor",
                    active=self.active[s],
                    channels=("push",) if self.push[s] else (),
                )
                for s in STAFF
            },
            away=tuple(self.away),
            rota=self.rota,
        )

    def place(self, alert: Alert, routing: Routing) -> None:
        alert.level, alert.round = routing.level, routing.round
        alert.escalate_at, alert.recipients = routing.escalate_at, routing.recipients
        check_routed(self, routing)

    def sweep(self) -> None:
        """Every due alert takes its step, as ``escalate_due_alerts`` does (repeatedly: a step
        may be due again at once only if a wait ended before now, which a wait of a minute or more
        after ``now`` never does)."""
        for alert in self.alerts:
            if alert.open and alert.escalate_at <= self.now:
                decision = when_due(
                    self.rules,
                    level=alert.level,
                    round=alert.round,
                    recipients=alert.recipients,
                    counselor_id=alert.counselor,
                    severity=alert.severity,  # type: ignore[arg-type]
                    facts=self.facts(),
                    at=self.now,
                )
                if isinstance(decision, Hold):
                    alert.escalate_at = decision.escalate_at
                else:
                    self.place(alert, decision[1])


def check_routed(world: World, routing: Routing) -> None:
    """Right after routing: someone reachable at a level walked was notified, or nobody was."""
    facts = world.facts()
    if routing.recipients:
        assert all(facts.live(r) for r in routing.recipients)
    else:
        assert all(not outcome.notified for outcome in routing.outcomes)


def check_invariant(world: World) -> None:
    facts = world.facts()
    for alert in world.alerts:
        if not alert.open:
            continue
        someone = any(facts.live(r) for r in alert.recipients)
        wait_ends = level_wait_ends(world.rules, alert.level, alert.severity, start=world.now)  # type: ignore[arg-type]
        assert someone or alert.escalate_at <= wait_ends, (alert, world.now)
        assert alert.escalate_at > world.now, "a due step was left untaken"


staff_ids = st.sampled_from(STAFF)
steps = st.one_of(
    st.tuples(st.just("assign"), st.integers(0, 3), st.one_of(st.none(), staff_ids)),
    st.tuples(st.just("deactivate"), staff_ids),
    st.tuples(st.just("activate"), staff_ids),
    st.tuples(st.just("away"), staff_ids, staff_ids, st.integers(1, 72)),
    st.tuples(
        st.just("rota"),
        st.lists(staff_ids, min_size=1, max_size=3, unique=True),
        st.sampled_from(["day", "week"]),
        st.sampled_from(["always", "outside_business_hours"]),
    ),
    st.tuples(st.just("no_rota")),
    st.tuples(st.just("subscribe"), staff_ids),
    st.tuples(st.just("unsubscribe"), staff_ids),
    st.tuples(st.just("alert"), st.integers(0, 3), st.sampled_from(["warning", "high", "critical"])),
    st.tuples(st.just("acknowledge"), st.integers(0, 20)),
    st.tuples(st.just("clock"), st.integers(1, 6 * 60)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=st.sampled_from(POLICIES), program=st.lists(steps, max_size=40))
def test_every_open_alert_always_has_someone_or_a_step_due(
    policy: ProgramRules, program: list[tuple]
) -> None:
    world = World(rules=policy)
    for step in program:
        kind = step[0]
        if kind == "assign":
            world.counselor[step[1]] = step[2]
        elif kind == "deactivate":
            world.active[step[1]] = False
        elif kind == "activate":
            world.active[step[1]] = True
        elif kind == "away" and step[1] != step[2]:
            start, end = world.now, world.now + timedelta(hours=step[3])
            if not any(p.staff_id == step[1] and p.start < end and p.end > start for p in world.away):
                world.away.append(
                    AwayFacts(staff_id=step[1], start=start, end=end, covering_staff_id=step[2])
                )
        elif kind == "rota":
            world.rota = OnCallRota(
                participants=tuple(step[1]),
                rotation=step[2],
                handoff="02:30",
                starts_on=date(2026, 3, 1),
                hours=step[3],
            )
        elif kind == "no_rota":
            world.rota = None
        elif kind == "subscribe":
            world.push[step[1]] = True
        elif kind == "unsubscribe":
            world.push[step[1]] = False
        elif kind == "alert":
            alert = Alert(counselor=world.counselor.get(step[1]), severity=step[2])
            world.alerts.append(alert)
            routing = walk(
                world.rules,
                start=0,
                round=0,
                counselor_id=alert.counselor,
                severity=alert.severity,  # type: ignore[arg-type]
                facts=world.facts(),
                at=world.now,
            )
            world.place(alert, routing)
        elif kind == "acknowledge" and world.alerts:
            world.alerts[step[1] % len(world.alerts)].open = False
        elif kind == "clock":
            world.now += timedelta(minutes=step[1])
            world.sweep()
        check_invariant(world)


def test_the_model_s_policies_are_valid_bodies() -> None:
    for rules in POLICIES:
        assert msgspec.json.decode(msgspec.json.encode(rules), type=ProgramRules) == rules
