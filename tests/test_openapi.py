"""The checked-in OpenAPI document: current, complete for the contract, and as strict as the decoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar

from aftercare.app import create_app
from aftercare.config import Settings
from aftercare.openapi import has_msgspec_schema, render, route_types

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
FOUNDATION = {
    "/v1/auth/token": {"post"},
    "/v1/auth/refresh": {"post"},
    "/v1/auth/enroll": {"post"},
    "/v1/me": {"get"},
    "/v1/staff": {"get", "post"},
    "/v1/staff/{staff_id}": {"patch"},
    "/v1/graduates": {"get", "post"},
    "/v1/graduates/{graduate_id}": {"get", "patch"},
    "/v1/graduates/{graduate_id}/enrollment-code": {"post"},
    "/health/live": {"get"},
    "/health/ready": {"get"},
}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema_app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("openapi"),
        jwt_secret="s" * 48,
    )
    return create_app(settings)


@pytest.fixture(scope="module")
def document(schema_app: Litestar) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(render(schema_app))
    return parsed


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_checked_in_document_matches_the_code(schema_app: Litestar) -> None:
    assert DOCUMENT.read_text() == render(schema_app), (
        "run `aftercare openapi` and commit openapi/openapi.json"
    )


def test_foundation_paths_and_methods(document: dict[str, Any]) -> None:
    for path, methods in FOUNDATION.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), (path, set(document["paths"][path]))
    assert document["openapi"].startswith("3.1")


def test_every_operation_has_a_unique_operation_id(document: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(document)]
    assert all(ids), [(p, m) for p, m, op in _operations(document) if not op.get("operationId")]
    assert len(ids) == len(set(ids))


def test_problem_responses_are_problem_json(document: dict[str, Any]) -> None:
    assert {"type", "title", "status", "detail"} <= set(
        document["components"]["schemas"]["Problem"]["required"]
    )
    for path, method, op in _operations(document):
        codes = {c for c in op["responses"] if c.startswith("4")}
        assert "422" in codes, (path, method)
        if "requestBody" in op:
            assert {"400", "413", "415"} <= codes, (path, method)
        if op.get("security"):
            assert {"401", "403"} <= codes, (path, method)
        if "{" in path:
            assert "404" in codes, (path, method)
        for code in codes:
            content = op["responses"][code]["content"]
            assert list(content) == ["application/problem+json"], (path, method, code)
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_every_list_declares_the_400_of_a_cursor_it_did_not_issue(document: dict[str, Any]) -> None:
    lists = {
        path: op
        for path, method, op in _operations(document)
        if any(p["in"] == "query" and p["name"] == "cursor" for p in op.get("parameters", []))
    }
    assert set(lists) == {
        "/v1/alerts",
        "/v1/audit",
        "/v1/deletion-requests",
        "/v1/graduates",
        "/v1/graduates/{graduate_id}/checkins",
        "/v1/graduates/{graduate_id}/doses",
        "/v1/graduates/{graduate_id}/outreach",
        "/v1/graduates/{graduate_id}/plan/versions",
        "/v1/graduates/{graduate_id}/timeline",
        "/v1/me/notifications",
        "/v1/plan-templates",
        "/v1/push/subscriptions",
        "/v1/staff",
        "/v1/staff/colleagues",
    }
    for path, op in lists.items():
        assert "cursor" in op["responses"]["400"]["description"], path


def test_token_endpoints_are_public_and_the_rest_needs_a_bearer(document: dict[str, Any]) -> None:
    for path, method, op in _operations(document):
        # Signing out: the refresh token in the body is the credential (its access token may have
        # expired); signing out everywhere (/v1/auth/logout-all) needs a bearer like the rest.
        public = path == "/v1/auth/logout" or path.startswith(
            ("/v1/auth/token", "/v1/auth/refresh", "/v1/auth/enroll", "/health/", "/v1/push/vapid-public-key")
        )
        assert bool(op.get("security")) is not public, (path, method)


def test_wire_schemas_keep_msgspec_bounds(schema_app: Litestar, document: dict[str, Any]) -> None:
    wire_types = [t for t in route_types(schema_app) if has_msgspec_schema(t)]
    _, expected = msgspec.json.schema_components(wire_types, ref_template="#/components/schemas/{name}")
    # As JSON, like the document: a default that is a tuple (business days) is an array there.
    expected = msgspec.json.decode(msgspec.json.encode(expected))
    components = document["components"]["schemas"]
    request_bodies = set()
    for _, _, op in _operations(document):
        if "requestBody" in op:
            ref = op["requestBody"]["content"]["application/json"]["schema"].get("$ref", "")
            request_bodies.add(ref.rsplit("/", 1)[-1])
    assert {
        "TokenRequest",
        "RefreshRequest",
        "EnrollRequest",
        "StaffCreate",
        "StaffPatch",
        "GraduateCreate",
        "GraduatePatch",
    } <= request_bodies
    for name in request_bodies:
        assert components[name] == expected[name], name
    # The bounds that matter to clients and fuzzers, spelled out.
    create = components["GraduateCreate"]
    assert create["additionalProperties"] is False
    assert create["properties"]["display_name"] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert components["QuietHours"]["properties"]["start"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"
    assert components["StaffCreate"]["properties"]["role"] == {"enum": ["counselor", "supervisor"]}


def test_list_parameters_are_bounded(document: dict[str, Any]) -> None:
    for path in ("/v1/graduates", "/v1/staff", "/v1/staff/colleagues"):
        params = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
        limit = params["limit"]["schema"]
        assert (limit.get("minimum"), limit.get("maximum"), limit.get("default")) == (1, 200, 50)
