from tests.checkins.conftest import cast
from tests.push.conftest import start_push_service
from tests.scheduling.conftest import fresh

__all__ = ["cast", "fresh", "start_push_service"]
