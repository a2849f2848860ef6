"""An HTTP client that runs the app on the test's own event loop.

Litestar's ``AsyncTestClient`` calls the app through a blocking portal on another thread's loop:
asyncpg connections pooled on the test loop then fail ("attached to a different loop"), and
``asyncio.gather`` of two requests runs them one after the other. httpx's ASGI transport runs the
app in this loop, so PostgreSQL works and concurrent requests really overlap.

Import ``client`` into a test module (or a conftest) to replace the shared fixture there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    # No app.lifespan(): its task group cannot span pytest-asyncio's setup and teardown tasks,
    # and with an injected engine the app's shutdown has nothing of the test's to release.
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield http
