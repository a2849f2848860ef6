"""Amending a check-in: answers change until the end of the next local day, the old ones are kept,
the assessment is re-run, and alerts may open or rise, never fall or close (the lifecycle only ever
raises). One transaction: the new answers, the alerts, the baseline and the audit row commit together.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.alerts.service import AlertChanges
from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.checkins import schemas
from aftercare.checkins import service as checkins
from aftercare.doses.service import taken_by_day
from aftercare.errors import Discharged
from aftercare.graduates.service import lock_graduate
from aftercare.i18n import _, locale_of
from aftercare.plans import reads as plans
from aftercare.program.service import current_rules
from aftercare.rules.aggregates import Aggregates, facts_of
from aftercare.rules.doses import day_doses
from aftercare.rules.plan_facts import plan_facts
from aftercare.rules.step import checkin_step
from aftercare.scheduling.localtime import local_today, zone


async def amend_checkin(
    session: AsyncSession,
    *,
    graduate_id: uuid.UUID,
    checkin_id: uuid.UUID,
    data: schemas.CheckinAmend,
    actor: Principal,
    crisis_line: str,
    now: datetime,
) -> schemas.CheckinResult:
    """``PATCH .../checkins/{id}``: change some answers and judge the day again."""
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    async with session.begin():
        # Read: the graduate first (locked: their check-ins and alerts change one act at a time).
        graduate = await lock_graduate(session, graduate_id)
        if graduate.status == "discharged":
            raise Discharged(_("the graduate is discharged from aftercare; asking for help still works"))
        checkin = await checkins.lock_for_amending(
            session, graduate_id=graduate_id, checkin_id=checkin_id, timezone=graduate.timezone, now=now
        )
        if all(getattr(checkin, name) == value for name, value in changes.items()):
            # Nothing to change: most often the phone's retry of an amendment that was stored but
            # whose answer was lost. It gets the check-in as it stands; no second version, no audit.
            plan = await plans.current_plan_body(session, graduate_id)
            crisis = checkins.crisis_for(
                (await current_rules(session)).program, locale_of(graduate.locale), operator_line=crisis_line
            )
            return schemas.CheckinResult(
                **msgspec.structs.asdict(checkins.to_schema(checkin)),
                support=checkins.support_for(plan, facts_of(checkin), crisis),
            )
        if changes.get("triggers") or changes.get("coping_used"):
            checkins.check_plan_refs(
                await plans.known_plan_ids(session, graduate_id),
                changes.get("triggers", []),
                changes.get("coping_used", []),
            )
        plan = await plans.current_plan_body(session, graduate_id)
        rules = await current_rules(session)
        crisis = checkins.crisis_for(rules.program, locale_of(graduate.locale), operator_line=crisis_line)
        received = await checkins.checkins_around(
            session, graduate_id, checkin.local_date, after_days=rules.rules.lapse.repeat_window_days
        )
        medications = plan.medications if plan is not None else []
        # The amendment is a new arrival: it reads the day's doses known by now (``rules.doses``).
        taken = (
            await taken_by_day(await session.connection(), [graduate_id], [checkin.local_date])
            if medications
            else {}
        )
        alerts = await AlertChanges.load(session, [graduate_id], rules)

        # Decide: the same step as a submission, on the baseline from before this day.
        facts = checkins.amend_answers(session, checkin, changes, now=now)
        step = checkin_step(
            facts,
            received=received,
            aggregates=msgspec.convert(checkin.aggregates_before, Aggregates),
            alerts=alerts.states(graduate_id),
            plan=plan_facts(plan),
            rules=rules,
            on=local_today(now, zone(graduate.timezone)),
            doses=day_doses(
                medications, checkin.local_date, taken.get((graduate_id, checkin.local_date), ())
            ),
        )
        alerts.record(
            graduate_id=graduate_id,
            counselor_id=graduate.counselor_id,
            changes=step.changes,
            now=now,
            checkin_id=checkin.id,
        )
        assessment = checkins.wire_assessment(step.assessment)

        # Write.
        await alerts.write(session)
        checkins.store_assessment(checkin, assessment, now=now)
        checkin.took_medication_from_doses = step.checkin.took_medication != facts.took_medication
        if checkin.local_date == graduate.last_checkin_date:
            # The latest day: its answers are the last folded, so fold the amended ones instead.
            graduate.aggregates = msgspec.to_builtins(step.aggregates)
            graduate.last_assessed_level = assessment.risk_level
        graduate.risk_level = alerts.risk_level(graduate_id, graduate.last_assessed_level)
        graduate.updated_at = now
        await audit.record(
            session,
            actor=actor,
            action="update",
            resource="checkin",
            graduate_id=graduate_id,
            resource_id=str(checkin.id),
            now=now,
        )
    # Committed.
    return schemas.CheckinResult(
        **msgspec.structs.asdict(checkins.to_schema(checkin)),
        support=checkins.support_for(plan, facts, crisis),
    )
