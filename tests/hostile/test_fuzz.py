"""Schemathesis over the checked-in ``openapi/openapi.json``, against a real server on each engine,
as every role (anonymous, graduate, counselor, supervisor), with every check schemathesis has
(server errors, status codes, content types, headers and bodies conforming to the document, negative
data refused, positive data accepted, ...) and both generation modes, positive and negative.

Path parameters name real records (the graduate, their check-in and alert, the counselor), so the
handlers run and not only the guards. Bounded: ``EXAMPLES`` cases per operation, role and mode; the
long variant (``AFTERCARE_HOSTILE_LONG=1``) runs ten times as many.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS
from schemathesis.generation import GenerationMode

from tests.hostile.servers import ENGINES, LONG, PASSWORD, call, cli, environment, serve

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXAMPLES = 60 if LONG else 6
ROLES = ("anonymous", "graduate", "counselor", "supervisor")
CHECK_FUNCTIONS = CHECKS.get_all()
# Run at the end of the module so docs/RELIABILITY.md can quote the figures of the last run.
FIGURES: dict[str, int] = {}


@dataclass
class Target:
    base_url: str
    tokens: dict[str, str]
    path_parameters: dict[str, str]
    path_parameters_of: dict[str, dict[str, str]]  # by operation path, where it differs
    cases: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module", params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with environment(request.param, data_dir, AFTERCARE_SCHEDULER="off") as env:
        cli(env, "migrate")
        cli(env, "users", "create", "--role", "supervisor", "--email", "sup@fuzz.test", stdin=PASSWORD + "\n")
        server = serve(env)
        try:
            yield _cast(server.base_url)
        finally:
            server.stop()


def _cast(base_url: str) -> Target:
    def ok(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, answer = call(base_url, method, path, body, token)
        assert status < 300, (method, path, status, answer)
        return answer

    supervisor = ok("POST", "/v1/auth/token", {"email": "sup@fuzz.test", "password": PASSWORD})[
        "access_token"
    ]
    staff = {"email": "co@fuzz.test", "password": PASSWORD, "display_name": "Co", "role": "counselor"}
    counselor_id = ok("POST", "/v1/staff", staff, supervisor)["id"]
    counselor = ok("POST", "/v1/auth/token", {"email": "co@fuzz.test", "password": PASSWORD})["access_token"]
    made = ok("POST", "/v1/graduates", {"display_name": "F", "timezone": "Europe/Oslo"}, counselor)
    enrolled = {"enrollment_code": made["enrollment_code"], "email": "grad@fuzz.test", "password": PASSWORD}
    graduate = ok("POST", "/v1/auth/enroll", enrolled)["access_token"]
    gid = made["id"]
    # Erased by the supervisor's fuzzing of the erasure, so that the graduate above stays for the rest.
    spare = ok("POST", "/v1/graduates", {"display_name": "S", "timezone": "Europe/Oslo"}, counselor)["id"]
    ok("POST", f"/v1/graduates/{gid}/plan", {"template_id": "iop-standard"}, counselor)
    helped = ok("POST", f"/v1/graduates/{gid}/help", {"client_id": str(uuid.uuid4())}, graduate)
    today = helped["received_at"][:10]
    answers = {"mood": 3, "craving": 2, "stress": 3, "used": False, "safety_concern": False}
    body = {"client_id": str(uuid.uuid4()), "local_date": today, **answers}
    checkin = ok("POST", f"/v1/graduates/{gid}/checkins", body, graduate)
    return Target(
        base_url,
        {"graduate": graduate, "counselor": counselor, "supervisor": supervisor},
        {
            "graduate_id": gid,
            "checkin_id": checkin["id"],
            "alert_id": helped["alert_id"],
            "staff_id": counselor_id,
            "version": "1",
        },
        {"/v1/graduates/{graduate_id}/erase": {"graduate_id": spare}},
    )


@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))


def _fuzz(operation: Any, target: Target, role: str, mode: GenerationMode) -> int:
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in target.path_parameters.items() if name in names}
    fixed.update(target.path_parameters_of.get(operation.path, {}))
    headers = {"Authorization": f"Bearer {target.tokens[role]}"} if role in target.tokens else {}
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(base_url=target.base_url, headers=headers, checks=CHECK_FUNCTIONS, timeout=10)

    run()
    return sent


# Signing out everywhere ends every session of the role, its token included, and a graduate's
# accepted deletion request ends their sign-in for good: fuzzed after the rest, in this order, so
# that the rest are not all answered 401.
ENDS_SESSIONS = (("POST", "/v1/auth/logout-all"), ("POST", "/v1/me/deletion-request"))


def _session_end_rank(operation: tuple[str, str]) -> int:
    return ENDS_SESSIONS.index(operation) + 1 if operation in ENDS_SESSIONS else 0


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_as_every_role_meets_every_check(schema: Any, target: Target, role: str) -> None:
    failures: list[str] = []
    operations = sent = 0
    in_order = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: _session_end_rank((operation.method.upper(), operation.path)),
    )
    for operation in in_order:
        if operation.path == "/v1/alerts/stream":
            continue  # an allowed call never ends; the stream has tests/hostile/test_server.py
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                sent += _fuzz(operation, target, role, mode)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body
            except Exception as exc:  # collect every operation's failure, not only the first
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    FIGURES[f"{target.base_url} {role}"] = sent
    print(f"\nfuzz: {role}: {sent} cases over {operations} operations")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
