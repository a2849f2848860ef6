"""Routing in the database: read the facts routing needs, and write what it decided.

Who must hear of an alert is decided by the pure ``rules/routing.py`` (``walk`` when an alert opens,
rises or re-opens; ``when_due`` when its level's wait runs out). This module reads the facts it
needs in a few statements (``load_facts``: staff with their channels, who is away now and who
covers, the on-call rota) and turns a decision into rows, inside the caller's transaction: the
alert's new place in the policy, one alert event per decision (``notified`` per recipient and
channel, ``skipped`` with its reason, ``escalated``/``repeated`` as the alert moves) and the
notifications (``push.service.enqueue_notifications``: the inbox row, a push per device, an e-mail
for staff who opted in). Never commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.models import User
from aftercare.program.service import current_rota
from aftercare.push.models import PushSubscription
from aftercare.push.service import NotificationSpec
from aftercare.push.webpush import make_topic
from aftercare.rules.routing import AwayFacts, Channel, Facts, LevelOutcome, Routing, StaffFacts
from aftercare.staff.service import away_at

ALERT_PUSH_TTL = timedelta(hours=24)


async def load_facts(session: AsyncSession, *, at: datetime) -> Facts:
    """Every staff member with how they can be reached, who is away at ``at`` with their cover, and
    the rota: three statements, whatever the number of alerts routed with them (a program has tens
    of staff, not thousands)."""
    subscribed = exists().where(PushSubscription.user_id == User.id)  # ix_push_subscriptions_user_id
    rows = await session.execute(
        select(User.id, User.role, User.active, User.email_alerts, subscribed.label("subscribed")).where(
            User.role.in_(("counselor", "supervisor"))
        )
    )
    staff = {}
    for row in rows:
        channels: tuple[Channel, ...] = (
            *(("push",) if row.subscribed else ()),
            *(("email",) if row.email_alerts else ()),
        )
        staff[row.id] = StaffFacts(id=row.id, role=row.role, active=row.active, channels=channels)
    away = tuple(
        AwayFacts(
            staff_id=p.staff_id, start=p.starts_at, end=p.ends_at, covering_staff_id=p.covering_staff_id
        )
        for p in await away_at(session, at)
    )
    return Facts(staff=staff, away=away, rota=await current_rota(session))


def notification_for(
    alert_id: uuid.UUID,
    severity: str,
    *,
    first_level: bool,
    user_id: uuid.UUID,
    channels: tuple[Channel, ...],
    now: datetime,
) -> NotificationSpec:
    """A notification about an alert. Lock screens and mailboxes are not private: the alert id and
    its severity only; the console fetches the rest over the authenticated API."""
    kind = "alert" if first_level else "escalation"
    return NotificationSpec(
        user_id=user_id,
        kind=kind,
        title="New alert in Aftercare" if first_level else "Escalated alert",
        body=f"Severity: {severity}. Open the console to review.",
        url=f"/console/alerts/{alert_id}",
        tag=f"alert-{alert_id}",
        ref_id=str(alert_id),
        urgency="high" if severity == "critical" or not first_level else "normal",
        expires_at=now + ALERT_PUSH_TTL,
        topic=make_topic(kind, str(alert_id)),
        channels=channels,
    )


def decision_rows(
    *,
    alert_id: uuid.UUID,
    graduate_id: uuid.UUID,
    severity: str,
    routing: Routing,
    entered_from: int | None,
    repeated: bool,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[NotificationSpec]]:
    """The events and notifications of one routing decision, in the order they happened.

    ``entered_from``: the level the alert stood at before (an ``escalated`` event for each level
    entered after it); None when the walk re-tried the level it stands at. ``repeated``: the walk
    started the policy again (a ``repeated`` event at its first level)."""
    events: list[dict[str, Any]] = []
    notifications: list[NotificationSpec] = []

    def event(kind: str, outcome: LevelOutcome | None, level: int, **decision: Any) -> None:
        events.append(
            {
                "alert_id": alert_id,
                "graduate_id": graduate_id,
                "kind": kind,
                "severity": severity,
                "escalation_level": level,
                "actor_id": None,
                "at": now,
                "checkin_id": None,
                "target": outcome.target if outcome is not None else None,
                "recipient_id": decision.get("recipient_id"),
                "channel": decision.get("channel"),
                "reason": decision.get("reason"),
            }
        )

    if repeated:
        event("repeated", None, 0)
    for outcome in routing.outcomes:
        if (
            entered_from is not None
            and outcome.level > entered_from
            and not (repeated and outcome.level == 0)
        ):
            event("escalated", None, outcome.level)
        first_level = outcome.level == 0 and routing.round == 0
        for skip in outcome.skipped:
            event("skipped", outcome, outcome.level, recipient_id=skip.staff_id, reason=skip.reason)
            if skip.reason == "unreachable" and skip.staff_id is not None and routing.inbox_for_unreachable:
                # The inbox is the record: someone who can act but has no channel finds it there.
                notifications.append(
                    notification_for(
                        alert_id,
                        severity,
                        first_level=first_level,
                        user_id=skip.staff_id,
                        channels=(),
                        now=now,
                    )
                )
        for recipient in outcome.notified:
            for channel in recipient.channels:
                event(
                    "notified",
                    outcome,
                    outcome.level,
                    recipient_id=recipient.staff_id,
                    channel=channel,
                    reason="covering" if recipient.covering is not None else None,
                )
            notifications.append(
                notification_for(
                    alert_id,
                    severity,
                    first_level=first_level,
                    user_id=recipient.staff_id,
                    channels=recipient.channels,
                    now=now,
                )
            )
    return events, notifications


def placed(routing: Routing) -> dict[str, Any]:
    """The alert's columns for where ``routing`` put it."""
    return {
        "escalation_level": routing.level,
        "escalation_round": routing.round,
        "escalate_at": routing.escalate_at,
        "recipients": [str(staff_id) for staff_id in routing.recipients],
    }
