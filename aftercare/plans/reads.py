"""What other slices and the flows read of a graduate's plan, inside the caller's transaction.

Apart from ``plans.service`` (which writes plans, and re-plans the schedule when it does) so that
scheduling and the check-in flows can read plans without importing the plan writer: no circle.
"""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.db.base import table_of
from aftercare.plans import models, schemas
from aftercare.plans.validation import PlanIds

_plans = table_of(models.Plan)


async def current_plan_body(session: AsyncSession, graduate_id: uuid.UUID) -> schemas.PlanBody | None:
    """The graduate's current plan, or None."""
    text = await session.scalar(select(cast(_plans.c.body, Text)).where(_plans.c.graduate_id == graduate_id))
    return None if text is None else schemas.plan_body_decoder.decode(text)


async def known_plan_ids(session: AsyncSession, graduate_id: uuid.UUID) -> PlanIds:
    """Trigger and coping-skill ids of the current plan and every earlier version (one key read): a
    check-in from a phone that was offline while the plan changed still refers to valid ids."""
    stored = await session.scalar(select(_plans.c.known_ids).where(_plans.c.graduate_id == graduate_id))
    if stored is None:
        return PlanIds(trigger_ids=frozenset(), coping_skill_ids=frozenset())
    return msgspec.convert(stored, PlanIds)
