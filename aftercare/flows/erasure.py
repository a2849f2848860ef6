"""A graduate's right to erasure: the request (``POST /v1/me/deletion-request``) and a supervisor's
erasure (``POST /v1/graduates/{id}/erase``), each one transaction.

The request ends the graduate's sign-in at once (the account inactive, its refresh tokens revoked,
its devices forgotten), discharges them (``flows/discharge.py``: no more prompts, reminders or day
closes, so no silence alerts about someone who has left; critical alerts stay open) and tells their
counselor, or the counselor's cover while they are away, or the supervisors when neither can be
reached, with a notice that names nobody. The record stays until a supervisor erases it.

Erasure removes or overwrites the graduate's personal data in every table (``flows/personal_data.py``
says what, table by table) and leaves a tombstone: who erased, when, and a reason code. A supervisor
may erase without a request (a retention period that ended, a legal order); erasing again answers
with the same tombstone and changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.routing import load_facts
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.auth.service import end_sign_in
from aftercare.errors import NotFound, ValidationFailed
from aftercare.flows import personal_data
from aftercare.flows.discharge import discharge
from aftercare.graduates.service import lock_graduate
from aftercare.i18n import _
from aftercare.personal_data import schemas
from aftercare.personal_data import service as requests
from aftercare.program.service import current_rules
from aftercare.push.service import NotificationSpec, enqueue_notifications, forget_devices
from aftercare.push.webpush import make_topic
from aftercare.rules.config import EscalationLevel, ProgramRules
from aftercare.rules.routing import Channel, Facts, resolve_level

NOTICE_TTL = timedelta(days=7)


async def request_deletion(
    session: AsyncSession, data: schemas.DeletionRequestCreate, *, actor: Principal, now: datetime
) -> schemas.DeletionRequest:
    if not data.confirm:
        raise ValidationFailed.one("confirm", _("must be true: signing in stops at once"))
    assert actor.graduate_id is not None  # Access.GRADUATE: a graduate's token names their record
    async with session.begin():
        # Read.
        graduate = await lock_graduate(session, actor.graduate_id)
        rules = await current_rules(session)
        facts = await load_facts(session, at=now)

        # Decide: who is told.
        recipients = notice_recipients(rules, facts, counselor_id=graduate.counselor_id, at=now)

        # Write.
        request = requests.add_request(session, graduate_id=graduate.id, reason=data.reason, now=now)
        await end_sign_in(session, actor.user_id, now=now)
        await forget_devices(session, actor.user_id)
        if graduate.status == "active":
            await discharge(session, graduate, now=now)
            await audit.record(
                session, actor=actor, action="update", resource="graduate", graduate_id=graduate.id, now=now
            )
        await enqueue_notifications(
            session,
            [_notice(request.id, user_id, channels, now=now) for user_id, channels in recipients],
            now=now,
        )
        await audit.record(
            session,
            actor=actor,
            action="create",
            resource="deletion_request",
            graduate_id=graduate.id,
            resource_id=str(request.id),
            now=now,
        )
    # Committed.
    return requests.to_schema(request)


def notice_recipients(
    rules: ProgramRules, facts: Facts, *, counselor_id: uuid.UUID | None, at: datetime
) -> list[tuple[uuid.UUID, tuple[Channel, ...]]]:
    """The graduate's counselor, or their cover while they are away (routing's own rule for the
    ``assigned`` level); if neither can act (none, deactivated, away without cover), the active
    supervisors. Someone with no push subscription still gets the notice in their inbox. By push
    only: alert e-mail is for alerts."""
    for target in ("assigned", "supervisors"):
        outcome = resolve_level(
            EscalationLevel(target=target), 0, counselor_id=counselor_id, facts=facts, rules=rules, at=at
        )
        people: list[tuple[uuid.UUID, tuple[Channel, ...]]] = [
            (r.staff_id, tuple(c for c in r.channels if c == "push")) for r in outcome.notified
        ]
        people += [
            (skip.staff_id, ()) for skip in outcome.skipped if skip.reason == "unreachable" and skip.staff_id
        ]
        if people:
            return people
    return []


def _notice(
    request_id: uuid.UUID, user_id: uuid.UUID, channels: tuple[Channel, ...], *, now: datetime
) -> NotificationSpec:
    """Lock screens are public: no name, no graduate id; the console reads the request."""
    return NotificationSpec(
        user_id=user_id,
        kind="deletion_request",
        title="Data deletion request",
        body="A graduate asked for their data to be erased. A supervisor completes it in the console.",
        url="/console",
        tag=f"deletion-{request_id}",
        ref_id=str(request_id),
        urgency="normal",
        expires_at=now + NOTICE_TTL,
        topic=make_topic("deletion_request", str(request_id)),
        channels=channels,
    )


async def erase_graduate(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    data: schemas.EraseRequest,
    *,
    actor: Principal,
    now: datetime,
) -> schemas.DeletionRequest:
    async with session.begin():
        # Read: the graduate, locked (their check-ins, sweeps and requests wait, then find them gone).
        graduate = await lock_graduate(session, graduate_id, erased=True)
        if graduate.erased_at is not None:
            tombstone = await requests.tombstone_of(session, graduate_id)
            if tombstone is None:
                raise NotFound(_("graduate not found"))
            return requests.to_schema(tombstone)
        keep = (await current_rules(session)).program.erasure_keeps_clinical_answers
        subject = await personal_data.subject_of(session, graduate)

        # Write: every table, then the tombstone and its audit row (ids and a reason code only).
        await personal_data.erase(session, subject, personal_data.ErasePolicy(keep_clinical=keep, now=now))
        tombstone = await requests.complete(
            session,
            graduate_id=graduate_id,
            actor=actor,
            reason=data.reason,
            kept_clinical_answers=keep,
            now=now,
        )
        await audit.record(
            session,
            actor=actor,
            action="erase",
            resource="graduate",
            graduate_id=graduate_id,
            resource_id=str(tombstone.id),
            now=now,
        )
    # Committed.
    return requests.to_schema(tombstone)
