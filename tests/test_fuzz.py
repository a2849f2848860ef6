"""Schemathesis against a real server: requests generated from the app's own OpenAPI document, as a
supervisor and as a graduate. No 5xx, and every response conforms to the documented schema.

Bounded (a few examples per operation and role) so the whole run stays under a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from aftercare.app import create_app
from aftercare.config import Settings
from aftercare.openapi import render
from tests.test_cli import free_port

AFTERCARE = Path(sys.executable).parent / "aftercare"
PASSWORD = "fuzzing-is-a-fine-passphrase"
EXAMPLES = 8
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@dataclass
class Server:
    base_url: str
    tokens: dict[str, str]
    graduate_id: str


def _call(base_url: str, method: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(
        base_url + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")},
        "AFTERCARE_DATA_DIR": str(tmp_path_factory.mktemp("fuzz")),
        "AFTERCARE_SCHEDULER": "off",
        "AFTERCARE_ACCESS_TOKEN_MINUTES": "60",
    }
    made = subprocess.run(
        [str(AFTERCARE), "users", "create", "--role", "supervisor", "--email", "sup@fuzz.test"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(AFTERCARE), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base_url + "/health/ready", timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        supervisor = _call(
            base_url, "POST", "/v1/auth/token", {"email": "sup@fuzz.test", "password": PASSWORD}
        )
        graduate = _call(
            base_url,
            "POST",
            "/v1/graduates",
            {"display_name": "F", "timezone": "Europe/Oslo"},
            supervisor["access_token"],
        )
        enrolled = _call(
            base_url,
            "POST",
            "/v1/auth/enroll",
            {"enrollment_code": graduate["enrollment_code"], "email": "grad@fuzz.test", "password": PASSWORD},
        )
        yield Server(
            base_url,
            {"supervisor": supervisor["access_token"], "graduate": enrolled["access_token"]},
            graduate["id"],
        )
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    doc_settings = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz-doc"),
        jwt_secret="s" * 48,
    )
    return schemathesis.openapi.from_dict(json.loads(render(create_app(doc_settings))))


def _fuzz(operation: Any, server: Server, role: str) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if "graduate_id" in (case.path_parameters or {}):
            # Reach a real record, so the handlers run and not only the guard.
            case.path_parameters["graduate_id"] = server.graduate_id
        case.call_and_validate(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.tokens[role]}"},
            checks=CHECKS,
            timeout=5,
        )

    run()


@pytest.mark.parametrize("role", ["supervisor", "graduate"])
def test_no_server_errors_and_responses_match_the_schema(schema: Any, server: Server, role: str) -> None:
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/v1/auth/"):
            continue  # sign-in with random bodies only meets the rate limit; tested in tests/auth
        operations += 1
        try:
            _fuzz(operation, server, role)
        except Exception as exc:  # collect every operation's failure, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 8
    assert not failures, "\n\n".join(failures)
