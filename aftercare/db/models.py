"""Imports every slice's models so the metadata Alembic compares against is complete."""

from aftercare.audit import models as audit_models
from aftercare.auth import models as auth_models
from aftercare.db.base import Base
from aftercare.graduates import models as graduate_models

metadata = Base.metadata

__all__ = ["audit_models", "auth_models", "graduate_models", "metadata"]
