"""Demo data: a small program with staff, graduates, plans and a few weeks of history, created
through the same services the API uses, so demo data obeys every rule real data does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.auth import service as auth_service
from aftercare.auth.models import User
from aftercare.auth.ratelimit import MemoryFailureCounter
from aftercare.auth.schemas import EnrollRequest
from aftercare.auth.tokens import Principal
from aftercare.config import Settings
from aftercare.graduates import service as graduate_service
from aftercare.graduates.schemas import GraduateCreate
from aftercare.plans import service as plans_service
from aftercare.staff import service as staff_service
from aftercare.staff.schemas import StaffCreate

DEMO_PASSWORD = "recovery-demo-2026"
DEMO_LOGINS = (
    ("supervisor", "supervisor@demo.aftercare.test", DEMO_PASSWORD),
    ("counselor", "counselor@demo.aftercare.test", DEMO_PASSWORD),
    ("graduate", "jordan@demo.aftercare.test", DEMO_PASSWORD),
)
DEMO_GRADUATES = (
    # (display name, IANA zone, check-in time, email or None if not yet enrolled)
    ("Jordan M.", "America/Chicago", "19:00", "jordan@demo.aftercare.test"),
    ("Sam R.", "America/New_York", "20:00", "sam@demo.aftercare.test"),
    ("Priya K.", "Europe/London", "18:30", "priya@demo.aftercare.test"),
    ("Alex T.", "America/Los_Angeles", "21:00", None),
)


async def seed_demo(session_factory: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime) -> bool:
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
        limits = auth_service.LoginLimits(MemoryFailureCounter(), per_account=100, per_address=100,
                                          window_seconds=60)
        graduate_ids = []
        for name, zone, checkin_time, email in DEMO_GRADUATES:
            created = await graduate_service.create_graduate(
                session, GraduateCreate(display_name=name, timezone=zone, checkin_time=checkin_time),
                actor=actor, settings=settings, now=now,
            )
            graduate_ids.append(created.id)
            if email:
                await auth_service.enroll(
                    session, EnrollRequest(created.enrollment_code, email, DEMO_PASSWORD),
                    settings=settings, limits=limits, client_address="demo", now=now,
                )
    await plans_service.seed_demo_plans(session_factory, graduate_ids, now=now)
    return True
