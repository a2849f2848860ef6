"""An online backup of the SQLite database, for ``aftercare backup PATH``.

SQLite's backup API copies the database page by page through an ordinary connection. Done in one
step (``pages=-1``) it reads inside one read transaction, so the copy is the database as of one
instant, a consistent snapshot, while the service goes on writing: in WAL mode a reader blocks no
writer. (In several steps, a write by another connection between steps restarts the copy, which a
busy service could keep doing for ever.)

The copy is written beside its destination, checked with ``PRAGMA integrity_check``, switched out of
WAL mode so it is one self-contained file, flushed to disk and only then renamed into place: a crash
or a failed check leaves no half-written file under the name an operator would restore from.

PostgreSQL is backed up with its own tools (``pg_dump``; docs/RELIABILITY.md, "Backups").
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


class BackupError(RuntimeError):
    """The backup could not be made or failed its check; nothing was left at the destination."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    bytes: int
    pages: int
    revisions: tuple[str, ...]  # the schema's Alembic revisions in the copy


def backup_sqlite(source: Path, destination: Path, *, busy_timeout_seconds: float = 5.0) -> BackupReport:
    """Copy the live SQLite database at ``source`` to ``destination`` (which must not exist)."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    if destination.exists():
        raise BackupError(f"{destination} exists; choose a new file name (a backup never overwrites)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            closing(sqlite3.connect(source, timeout=busy_timeout_seconds, isolation_level=None)) as live,
            closing(sqlite3.connect(partial, timeout=busy_timeout_seconds, isolation_level=None)) as copy,
        ):
            live.backup(copy, pages=-1)
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(f"the copy failed its integrity check: {'; '.join(problems[:5])}")
            copy.execute("PRAGMA journal_mode=DELETE")  # one file: no -wal or -shm beside it
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
            revisions = tuple(
                sorted(row[0] for row in copy.execute("SELECT version_num FROM alembic_version"))
            )
        _fsync(partial)
        os.replace(partial, destination)
        _fsync(destination.parent)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(destination, destination.stat().st_size, pages, revisions)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
