from tests.checkins.conftest import cast
from tests.conftest import POSTGRES_URL
from tests.push.conftest import (
    push_sender,
    push_session,
    quiet_outbox,
    session_factory,
    start_push_service,
    vapid_keys,
    vapid_signer,
)

# The NOTIFY wake-up exists only on PostgreSQL: without it, its tests are absent like every other
# PostgreSQL variant, not skipped.
collect_ignore = [] if POSTGRES_URL else ["test_wakeup.py"]

__all__ = [
    "cast",
    "push_sender",
    "push_session",
    "quiet_outbox",
    "session_factory",
    "start_push_service",
    "vapid_keys",
    "vapid_signer",
]
