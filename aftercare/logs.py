"""JSON log lines. Records carry ids, routes, counts and durations: never names, notes or values
from a health record (the callers make sure of that; this only formats)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    """One JSON handler on the root logger, so the server's and the scheduler's lines are JSON too.

    uvicorn's access log is off: our own access line carries the route template, not the path."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    level = level if level in logging.getLevelNamesMapping() else "INFO"
    root.setLevel(level)
    logging.getLogger("aftercare").setLevel(level)
    # The scheduler logs every job run at INFO: once every few seconds is noise, not news.
    logging.getLogger("apscheduler").setLevel("WARNING")
    # These log statements with their parameters (a note, a name, an email) at DEBUG or INFO, so
    # they stay quiet even when the service's own lines are wanted at DEBUG.
    for chatty in ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(chatty).setLevel("WARNING")
    logging.getLogger("uvicorn.access").disabled = True
