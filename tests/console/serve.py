"""The app as the browser tests run it: uvicorn on a loopback port, no sweeper, and a clock the test
can move. The offset (seconds to add to the wall clock) is read from the file named by
CONSOLE_CLOCK_FILE on every reading, so a test writes the file to jump ahead (token expiry). On
PostgreSQL, CONSOLE_SCHEMA names the test's schema, put first on the search path."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

from aftercare.app import create_app
from aftercare.config import Settings
from aftercare.db.engine import make_engine


class TravelClock:
    def __init__(self, offset_file: Path) -> None:
        self.offset_file = offset_file

    def now(self) -> datetime:
        try:
            offset = float(self.offset_file.read_text() or 0)
        except (FileNotFoundError, ValueError):
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)


if __name__ == "__main__":
    settings = Settings.from_env(scheduler=False)
    clock = TravelClock(Path(os.environ["CONSOLE_CLOCK_FILE"]))
    schema = os.environ.get("CONSOLE_SCHEMA")
    engine = make_engine(
        settings, **({"connect_args": {"server_settings": {"search_path": schema}}} if schema else {})
    )
    uvicorn.run(
        create_app(settings, clock=clock, engine=engine),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        timeout_graceful_shutdown=2,
    )
