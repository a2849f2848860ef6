"""Demo data: a small program with staff, graduates, plans and a few weeks of history, created
through the same services the API uses, so demo data obeys every rule real data does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.auth import service as auth_service
from aftercare.auth.models import User
from aftercare.auth.principal import Principal
from aftercare.auth.ratelimit import MemoryFailureStore
from aftercare.auth.schemas import EnrollRequest
from aftercare.checkins.schemas import CheckinCreate
from aftercare.config import Settings
from aftercare.db.engine import bound_engine
from aftercare.flows import submit as checkins
from aftercare.graduates import service as graduate_service
from aftercare.graduates.schemas import GraduateCreate
from aftercare.plans import schemas as plan_schemas
from aftercare.plans import service as plans_service
from aftercare.plans import templates as plan_templates
from aftercare.plans.service import Precondition
from aftercare.scheduling import localtime
from aftercare.staff import service as staff_service
from aftercare.staff.schemas import StaffCreate

DEMO_PASSWORD = "recovery-demo-2026"
DEMO_LOGINS = (
    ("supervisor", "supervisor@demo.aftercare.test", DEMO_PASSWORD),
    ("counselor", "counselor@demo.aftercare.test", DEMO_PASSWORD),
    ("graduate", "jordan@demo.aftercare.test", DEMO_PASSWORD),
)
# A week of answers per enrolled graduate, oldest first: (mood, craving, stress, attended, isolating).
# Jordan is steady; Sam's craving climbs while meetings and friends fall away (a prodrome the
# counselor should see flagged); Priya has one hard day and uses her skills.
DEMO_WEEKS = (
    [
        (4, 2, 3, True, False),
        (4, 1, 3, None, False),
        (5, 2, 2, True, False),
        (4, 2, 4, None, False),
        (4, 3, 3, True, False),
        (4, 2, 3, None, False),
        (5, 1, 2, True, False),
    ],
    [
        (4, 2, 3, True, False),
        (3, 3, 4, None, False),
        (3, 5, 6, False, False),
        (3, 6, 6, None, True),
        (2, 7, 7, False, True),
        (2, 8, 8, False, True),
        (2, 8, 8, False, True),
    ],
    [
        (4, 3, 4, True, False),
        (3, 4, 5, None, False),
        (2, 6, 8, True, False),
        (3, 4, 5, None, False),
        (4, 3, 4, True, False),
        (4, 2, 3, None, False),
        (4, 2, 3, True, False),
    ],
)
DEMO_GRADUATES = (
    # (display name, IANA zone, check-in time, email or None if not yet enrolled)
    ("Jordan M.", "America/Chicago", "19:00", "jordan@demo.aftercare.test"),
    ("Sam R.", "America/New_York", "20:00", "sam@demo.aftercare.test"),
    ("Priya K.", "Europe/London", "18:30", "priya@demo.aftercare.test"),
    ("Alex T.", "America/Los_Angeles", "21:00", None),
)


async def seed_demo(
    session_factory: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime
) -> bool:
    """Load the demo program into an empty database; False (and no change) if it has accounts."""
    async with session_factory() as session:
        async with session.begin():
            if await session.scalar(select(func.count()).select_from(User)):
                return False
        await staff_service.create_staff(
            session, StaffCreate(DEMO_LOGINS[0][1], DEMO_PASSWORD, "Dana (supervisor)", "supervisor"), now=now
        )
        counselor = await staff_service.create_staff(
            session, StaffCreate(DEMO_LOGINS[1][1], DEMO_PASSWORD, "Chris (counselor)", "counselor"), now=now
        )
        actor = Principal(user_id=counselor.id, role="counselor")
        limits = auth_service.LoginLimits(MemoryFailureStore())
        graduate_ids = []
        enrolled = []
        for name, zone, checkin_time, email in DEMO_GRADUATES:
            created = await graduate_service.create_graduate(
                session,
                GraduateCreate(display_name=name, timezone=zone, checkin_time=checkin_time),
                actor=actor,
                settings=settings,
                now=now,
            )
            graduate_ids.append(created.id)
            if email:
                tokens = await auth_service.enroll(
                    session,
                    EnrollRequest(created.enrollment_code, email, DEMO_PASSWORD),
                    settings=settings,
                    limits=limits,
                    client_address="demo",
                    now=now,
                )
                enrolled.append((created.id, zone, tokens.user_id))
    await seed_demo_plans(session_factory, graduate_ids, now=now)
    for (graduate_id, zone, user_id), week in zip(enrolled, DEMO_WEEKS, strict=False):
        await _seed_week(session_factory, graduate_id, zone, user_id, week, settings=settings, now=now)
    return True


async def _seed_week(
    session_factory: async_sessionmaker[AsyncSession],
    graduate_id: uuid.UUID,
    zone: str,
    user_id: uuid.UUID,
    week: list[tuple[int, int, int, bool | None, bool]],
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """The last seven local days of check-ins, each submitted as the phone synced it today (the
    offline window allows a week), so the engine, alerts and timeline have something to show."""
    tz = localtime.zone(zone)
    today = localtime.local_today(now, tz)
    graduate = Principal(user_id=user_id, role="graduate", graduate_id=graduate_id)
    async with session_factory() as session:
        engine = bound_engine(session)  # check-ins are written by batches with sessions of their own
    for back, (mood, craving, stress, attended, isolating) in zip(range(7, 0, -1), week, strict=True):
        day = today - timedelta(days=back)
        data = CheckinCreate(
            client_id=uuid.uuid4(),
            local_date=day,
            mood=mood,
            craving=craving,
            stress=stress,
            used=False,
            safety_concern=False,
            sleep_hours=7.0 if stress < 7 else 5.0,
            attended_support=attended,
            isolating=isolating,
            took_medication=None,
        )
        await checkins.submit_checkin(
            engine,
            graduate_id=graduate_id,
            data=data,
            actor=graduate,
            crisis_line=settings.crisis_line,
            now=now,
        )


async def seed_demo_plans(
    session_factory: async_sessionmaker[AsyncSession], graduate_ids: Sequence[uuid.UUID], *, now: datetime
) -> None:
    """Each graduate's plan from the standard template, then made their own by a second version (as
    a counselor and graduate would in the first session), so the history has two entries."""
    template = plan_templates.load_templates()[0]
    for index, graduate_id in enumerate(graduate_ids):
        async with session_factory() as session:
            first = await plans_service.put_plan(
                session, graduate_id, template.plan, actor=None, precondition=Precondition(), now=now
            )
            await plans_service.put_plan(
                session,
                graduate_id,
                _personal_touch(first.plan, index),
                actor=None,
                precondition=Precondition(if_match=plans_service.etag(first.plan.version)),
                now=now,
            )


_DEMO_TOUCHES: tuple[tuple[str, str, str], ...] = (
    # (goal, warning sign, support contact's relation)
    ("Ninety meetings in ninety days", "Skipping dinner and staying up past 1 a.m.", "sponsor"),
    ("Go back to work part-time by spring", "Telling myself one drink won't matter", "sister"),
    ("Run a 5K with my running group", "Avoiding calls from my sponsor", "friend from group"),
    ("Repair things with my dad", "Driving past the old bar on the way home", "partner"),
)


def _personal_touch(plan: plan_schemas.Plan, index: int) -> plan_schemas.PlanBody:
    goal, sign, relation = _DEMO_TOUCHES[index % len(_DEMO_TOUCHES)]
    sections = {name: getattr(plan, name) for name in plan_schemas.SECTION_NAMES}
    sections["goals"] = [*plan.goals, plan_schemas.Goal(id="goal-personal", text=goal)]
    sections["warning_signs"] = [
        *plan.warning_signs,
        plan_schemas.WarningSign(id="ws-personal", description=sign),
    ]
    sections["support_contacts"] = [
        *plan.support_contacts,
        plan_schemas.SupportContact(
            id="sc-personal", name="Robin", relation=relation, phone="+1 312 555 0147"
        ),
    ]
    return plan_schemas.PlanBody(**sections)
