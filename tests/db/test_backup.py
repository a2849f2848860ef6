"""``aftercare backup PATH``: a consistent copy of the SQLite database taken while the service writes.

The copy must pass ``PRAGMA integrity_check`` and its foreign-key check, hold every help request
answered before the backup began (and nothing that was never answered), and serve: a server started
on a data dir holding only the copy signs in the same people and shows the same records."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from aftercare.db.backup import BackupError, backup_sqlite
from tests.hostile.servers import AFTERCARE, PASSWORD, POSTGRES_URL, call, cli, environment, serve

WRITERS = 4


class Writers:
    """Graduates asking for help as fast as the server answers, each answer with its time."""

    def __init__(self, base_url: str, graduates: list[tuple[str, str]]) -> None:
        self.base_url, self.graduates = base_url, graduates
        self.answered: list[tuple[float, str]] = []  # (monotonic time of the answer, client_id)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(g,)) for g in graduates]

    def _write(self, graduate: tuple[str, str]) -> None:
        gid, token = graduate
        while not self.stop.is_set():
            client_id = str(uuid.uuid4())
            status, _ = call(
                self.base_url, "POST", f"/v1/graduates/{gid}/help", {"client_id": client_id}, token
            )
            assert status == 201
            self.answered.append((time.monotonic(), client_id))

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def _program(base: str) -> tuple[str, list[tuple[str, str]]]:
    supervisor = call(base, "POST", "/v1/auth/token", {"email": "sup@backup.test", "password": PASSWORD})[1]
    graduates = []
    for number in range(WRITERS):
        made = call(
            base,
            "POST",
            "/v1/graduates",
            {"display_name": f"B{number}", "timezone": "UTC"},
            supervisor["access_token"],
        )[1]
        enroll = {
            "enrollment_code": made["enrollment_code"],
            "email": f"b{number}@backup.test",
            "password": PASSWORD,
        }
        graduates.append((made["id"], call(base, "POST", "/v1/auth/enroll", enroll)[1]["access_token"]))
    return supervisor["access_token"], graduates


def test_a_backup_taken_under_writes_is_consistent_and_serves(tmp_path: Path) -> None:
    with environment("sqlite", tmp_path / "live", AFTERCARE_SCHEDULER="off") as env:
        cli(
            env,
            "users",
            "create",
            "--role",
            "supervisor",
            "--email",
            "sup@backup.test",
            stdin=PASSWORD + "\n",
        )
        server = serve(env)
        copies: list[tuple[Path, float]] = []
        try:
            supervisor, graduates = _program(server.base_url)
            with Writers(server.base_url, graduates) as writers:
                for number in range(2):
                    time.sleep(0.7)
                    began = time.monotonic()
                    copy = tmp_path / f"copy-{number}.db"
                    printed = cli(env, "backup", str(copy))
                    assert "integrity ok" in printed, printed
                    copies.append((copy, began))
                time.sleep(0.5)
            answered = list(writers.answered)
            graduates_before = call(server.base_url, "GET", "/v1/graduates", token=supervisor)[1]["items"]
        finally:
            server.stop()
    assert len(answered) > 50, "the service was hardly writing during the backups"
    every_answer = {client_id for _, client_id in answered}

    for copy, began in copies:
        assert not list(tmp_path.glob(f"*{copy.name}*partial*")), "a partial file was left behind"
        assert not copy.with_name(copy.name + "-wal").exists(), "the copy is one file"
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            stored = {uuid.UUID(str(row[0])) for row in db.execute("SELECT client_id FROM help_requests")}
        before = {uuid.UUID(c) for at, c in answered if at < began}
        assert before <= stored, (
            f"{len(before - stored)} help requests answered before the backup are missing"
        )
        assert stored <= {uuid.UUID(c) for c in every_answer}, (
            "the copy holds a request that was never answered"
        )

    # Restore the last copy into a data dir of its own and serve from it.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    shutil.copy(copies[-1][0], restored_dir / "aftercare.db")
    with environment("sqlite", restored_dir, AFTERCARE_SCHEDULER="off") as env:
        restored = serve(env)
        try:
            status, signed_in = call(
                restored.base_url,
                "POST",
                "/v1/auth/token",
                {"email": "sup@backup.test", "password": PASSWORD},
            )
            assert status == 200, signed_in
            items = call(restored.base_url, "GET", "/v1/graduates", token=signed_in["access_token"])[1][
                "items"
            ]
            assert sorted(g["id"] for g in items) == sorted(g["id"] for g in graduates_before)
            gid, token = graduates[0]
            status, _ = call(
                restored.base_url,
                "POST",
                f"/v1/graduates/{gid}/help",
                {"client_id": str(uuid.uuid4())},
                token,
            )
            assert status == 201, "the restored service takes writes"
        finally:
            restored.stop()


def test_a_backup_never_overwrites_and_leaves_nothing_when_it_fails(tmp_path: Path) -> None:
    source = tmp_path / "live.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('0013')")
    taken = tmp_path / "copy.db"
    backup_sqlite(source, taken)
    with pytest.raises(BackupError, match="exists"):
        backup_sqlite(source, taken)
    with pytest.raises(BackupError, match="no SQLite database"):
        backup_sqlite(tmp_path / "missing.db", tmp_path / "other.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db", "live.db"]


if POSTGRES_URL:  # like every PostgreSQL variant: absent without it, not skipped

    def test_on_postgresql_the_command_points_to_pg_dump(tmp_path: Path) -> None:
        with environment("postgres", tmp_path) as env:
            done = subprocess.run(
                [str(AFTERCARE), "backup", str(tmp_path / "x.db")],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert done.returncode != 0 and "pg_dump" in done.stderr
        assert not (tmp_path / "x.db").exists()
