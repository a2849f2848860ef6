"""The real ``aftercare`` console script, run in subprocesses against a temporary data dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AFTERCARE = Path(sys.executable).parent / "aftercare"
STRONG = "a-long-and-unusual-passphrase"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    return {**clean, "AFTERCARE_DATA_DIR": str(tmp_path / "data"), "AFTERCARE_SCHEDULER": "off"}


def run(
    env: dict[str, str], *args: str, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AFTERCARE), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    for _ in range(2):
        result = run(env, "migrate")
        assert result.returncode == 0, result.stderr
        assert "current" in result.stdout


def test_users_create_reads_the_password_from_stdin(env: dict[str, str]) -> None:
    weak = run(
        env, "users", "create", "--role", "supervisor", "--email", "boss@example.org", stdin="password123\n"
    )
    assert weak.returncode != 0
    assert "common" in weak.stderr or "password" in weak.stderr
    short = run(
        env, "users", "create", "--role", "supervisor", "--email", "boss@example.org", stdin="short\n"
    )
    assert short.returncode != 0 and "at least" in short.stderr
    made = run(
        env, "users", "create", "--role", "supervisor", "--email", "boss@example.org", stdin=STRONG + "\n"
    )
    assert made.returncode == 0, made.stderr
    assert "boss@example.org" in made.stdout and STRONG not in made.stdout + made.stderr
    again = run(
        env, "users", "create", "--role", "supervisor", "--email", "BOSS@example.org", stdin=STRONG + "\n"
    )
    assert again.returncode != 0 and "exists" in again.stderr


def test_seed_demo_is_idempotent_and_secret_file_is_private(env: dict[str, str]) -> None:
    first = run(env, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert "demo data loaded" in first.stdout and "supervisor@demo.aftercare.test" in first.stdout
    second = run(env, "seed-demo")
    assert second.returncode == 0 and "already present" in second.stdout
    secret = Path(env["AFTERCARE_DATA_DIR"]) / "jwt_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_text().strip()) >= 40


def test_openapi_check_fails_on_a_modified_file(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    assert run(env, "openapi", "--out", str(out)).returncode == 0
    assert run(env, "openapi", "--check", "--out", str(out)).returncode == 0
    document = json.loads(out.read_text())
    document["info"]["title"] = "Edited by hand"
    out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    failed = run(env, "openapi", "--check", "--out", str(out))
    assert failed.returncode != 0 and "aftercare openapi" in failed.stderr


def test_serve_refuses_a_schema_that_is_behind(env: dict[str, str]) -> None:
    result = run({**env, "AFTERCARE_AUTO_MIGRATE": "off"}, "serve", "--port", str(free_port()), timeout=30)
    assert result.returncode != 0
    assert "aftercare migrate" in result.stderr


def test_sync_database_url_is_refused_clearly(env: dict[str, str]) -> None:
    for url in ("postgresql://postgres@127.0.0.1/test", "sqlite:///x.db"):
        result = run({**env, "AFTERCARE_DATABASE_URL": url}, "migrate")
        assert result.returncode != 0
        assert "async driver" in result.stderr and "postgresql+asyncpg" in result.stderr
        assert "Traceback" not in result.stderr


def test_serve_answers_ready_and_shuts_down_gracefully(env: dict[str, str]) -> None:
    port, metrics_port = free_port(), free_port()
    env = {**env, "AFTERCARE_METRICS_PORT": str(metrics_port)}
    process = subprocess.Popen(
        [str(AFTERCARE), "serve", "--port", str(port), "--demo"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as response:
                    status = response.status
            except OSError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.1)
        assert status == 200
        body = json.dumps(
            {"email": "supervisor@demo.aftercare.test", "password": "recovery-demo-2026"}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/auth/token", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.loads(response.read())["role"] == "supervisor"
        # The scrape port answers without a token; the API port's /metrics wants one.
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            assert b"litestar_requests_total" in response.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
            raise AssertionError("/metrics on the API port answered without a token")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    # uvicorn drains, runs the app's shutdown, then re-raises the signal it caught: exit by SIGTERM.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr
    assert f"http://127.0.0.1:{port}" in stdout and "supervisor@demo.aftercare.test" in stdout
    assert "Traceback" not in stderr


def test_dockerfile_command_exists() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = json.loads(next(line for line in dockerfile.splitlines() if line.startswith("CMD "))[4:])
    assert cmd[0] == "aftercare"
    result = subprocess.run([str(AFTERCARE), *cmd[1:], "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--port" in result.stdout
