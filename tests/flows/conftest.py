from tests.checkins.conftest import cast
from tests.scheduling.conftest import fresh

__all__ = ["cast", "fresh"]
