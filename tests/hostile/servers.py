"""Real servers for the hostile runs: ``aftercare serve`` in a process of its own (so it can be
SIGKILLed, flooded or starved), on a SQLite data dir or on a PostgreSQL database made for the run.

``LONG`` is the switch for the long variants (``AFTERCARE_HOSTILE_LONG=1``; docs/RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aftercare.push.vapid import generate_keys

AFTERCARE = Path(sys.executable).parent / "aftercare"
POSTGRES_URL = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
ENGINES = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]
LONG = os.environ.get("AFTERCARE_HOSTILE_LONG", "") not in ("", "0", "off", "no")
PASSWORD = "hostile-but-fine-passphrase"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database beside the one ``AFTERCARE_TEST_POSTGRES_URL`` names, dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    assert POSTGRES_URL
    name = f"hostile_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    def run(statement: str) -> None:
        # A thread of its own: the caller may be a test running in an event loop already.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(statement)).result()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_VAPID_KEY = generate_keys().private_raw_b64()


@contextmanager
def environment(engine: str, data_dir: Path, **extra: str) -> Iterator[dict[str, str]]:
    """``AFTERCARE_*`` for a server of ``engine`` ("sqlite" or "postgres"), and only those."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")},
        "AFTERCARE_DATA_DIR": str(data_dir),
        # Given, not generated into the data dir: on PostgreSQL every process must share them.
        "AFTERCARE_JWT_SECRET": "hostile-" + "s" * 48,
        "AFTERCARE_VAPID_PRIVATE_KEY": _VAPID_KEY,
        "AFTERCARE_ACCESS_TOKEN_MINUTES": "120",
        "AFTERCARE_LOG_LEVEL": "WARNING",
        **extra,
    }
    if engine == "postgres":
        with postgres_database() as url:
            yield {**env, "AFTERCARE_DATABASE_URL": url, "AFTERCARE_AUTO_MIGRATE": "on"}
    else:
        yield env


def cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(AFTERCARE), *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Served:
    """One ``aftercare serve`` process."""

    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def serve(
    env: dict[str, str], *, port: int | None = None, log: Path | None = None, timeout: float = 60
) -> Served:
    """Start ``aftercare serve`` and return once ``/health/ready`` answers 200."""
    port = port or free_port()
    log = log or Path(env["AFTERCARE_DATA_DIR"]) / f"serve-{port}-{time.monotonic_ns()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(AFTERCARE), "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink
        )
    served = Served(env, port, process, log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(served.base_url + "/health/ready", timeout=2) as response:
                if response.status == 200:
                    return served
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            served.stop()
            raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def call(
    base_url: str, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 10
) -> tuple[int, Any]:
    """One JSON request with urllib; (status, decoded body or None)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None
