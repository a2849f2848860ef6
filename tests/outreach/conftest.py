from tests.checkins.conftest import cast

__all__ = ["cast"]
