"""Changing a graduate's profile (``PATCH /v1/graduates/{id}``): one transaction that sets the fields,
discharges or re-admits (``flows.discharge``: a status change crosses the alerts and scheduling
slices), re-plans what the change moved, and records it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.audit import service as audit
from aftercare.auth.principal import Principal
from aftercare.flows.discharge import discharge, local_day, readmit
from aftercare.graduates import schemas, zones
from aftercare.graduates import service as graduates
from aftercare.plans.reads import current_plan_body
from aftercare.program.service import current_rules
from aftercare.scheduling.service import replan_graduate


async def patch_graduate(
    session: AsyncSession,
    graduate_id: uuid.UUID,
    data: schemas.GraduatePatch,
    *,
    actor: Principal,
    now: datetime,
) -> schemas.GraduateDetail:
    given = graduates.patch_fields(data, actor=actor)  # 403 before anything is read
    async with session.begin():
        # Read: the graduate, locked (their check-ins, alerts and sweeps wait for this change).
        graduate = await graduates.lock_graduate(session, graduate_id)
        status = given.pop("status", graduate.status)
        moved = given.get("timezone", graduate.timezone) != graduate.timezone

        # Decide and write: the fields, then what the status (or a discharge date that has begun) means.
        await graduates.apply_patch(session, graduate, given, now=now)
        if moved:
            # Kept with when it was reported: days before it keep reading in the old zone.
            await zones.record_timezone(session, graduate_id, graduate.timezone, now=now)
        if graduate.status == "active" and (
            status == "discharged"
            or (graduate.discharge_date is not None and graduate.discharge_date <= local_day(graduate, now))
        ):
            await discharge(session, graduate, now=now)
        elif graduate.status == "discharged" and status == "active":
            await readmit(session, graduate, discharge_date_given="discharge_date" in given, now=now)
        elif given.keys() & graduates.SCHEDULE_FIELDS:
            await replan_graduate(
                session,
                graduate_id,
                plan=await current_plan_body(session, graduate_id),
                nudge_after_minutes=(await current_rules(session)).nudge_after_minutes,
                now=now,
            )
        await audit.record(
            session, actor=actor, action="update", resource="graduate", graduate_id=graduate_id, now=now
        )
        if "counselor_id" in given:
            # Who may see this graduate's record changed: its own row, naming the new counselor.
            await audit.record(
                session,
                actor=actor,
                action="update",
                resource="assignment",
                graduate_id=graduate_id,
                resource_id=str(given["counselor_id"]),
                now=now,
            )
        history = await zones.latest_changes(session, graduate_id)
    # Committed.
    return graduates.to_detail(graduate, history, now=now)
