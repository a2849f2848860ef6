"""What the HTTP benchmarks share: serving an app the way `aftercare serve` does, so the bare
baseline and the real app differ only in the app."""

from __future__ import annotations

import gc
from typing import Any


def serve_like_aftercare(app: Any, port: int) -> None:
    """uvicorn with the settings of `aftercare serve` (aftercare/cli.py), minus its log configuration,
    including its ``gc.freeze()`` of everything built before the first request."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()
