from tests.checkins.conftest import cast
from tests.push.conftest import (
    push_sender,
    push_session,
    quiet_outbox,
    session_factory,
    start_push_service,
    vapid_keys,
    vapid_signer,
)

__all__ = [
    "cast", "push_sender", "push_session", "quiet_outbox", "session_factory", "start_push_service",
    "vapid_keys", "vapid_signer",
]
