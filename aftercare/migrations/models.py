"""Imports every slice's models so the metadata Alembic compares against is complete.

Here beside its only users (``env.py`` and the test that compares the migrated schema with the
models), not in ``db/``, so that ``db/`` imports no slice and every slice can build on it."""

from aftercare.alerts import models as alert_models
from aftercare.audit import models as audit_models
from aftercare.auth import models as auth_models
from aftercare.checkins import models as checkin_models
from aftercare.db.base import Base
from aftercare.doses import models as dose_models
from aftercare.graduates import models as graduate_models
from aftercare.outreach import models as outreach_models
from aftercare.personal_data import models as personal_data_models
from aftercare.plans import models as plan_models
from aftercare.program import models as program_models
from aftercare.push import models as push_models
from aftercare.scheduling import models as scheduling_models
from aftercare.staff import models as staff_models

metadata = Base.metadata

SLICES = (
    alert_models,
    audit_models,
    auth_models,
    checkin_models,
    dose_models,
    graduate_models,
    outreach_models,
    personal_data_models,
    plan_models,
    push_models,
    program_models,
    scheduling_models,
    staff_models,
)
__all__ = ["SLICES", "metadata"]
