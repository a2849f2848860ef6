from tests.foundation.inloop import client

__all__ = ["client"]
