"""The checked-in OpenAPI document: Litestar's schema, plus what clients rely on that it leaves out.

Litestar documents validation failures as a 400 of its own shape; this API answers problem+json with
422. Every operation gets the problem responses it can actually return, pointing at one ``Problem``
schema, so generated clients (and schemathesis) see the real contract.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar import Litestar

from aftercare.auth.access import Access
from aftercare.auth.guards import route_access

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "stable URI of the kind of problem, e.g. /problems/validation"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    "400": "Malformed request body",
    "401": "Missing, invalid or expired credentials",
    "403": "This role may never do this",
    "404": "Not found, or outside the caller's reach",
    "409": "Conflict with the stored state",
    "412": "Stale version (If-Match)",
    "413": "Request body over 64 KiB",
    "422": "Validation failed; errors name each field",
    "428": "If-Match required",
    "429": "Too many requests; see Retry-After",
}


def _problem(code: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[code],
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def build_openapi(app: Litestar) -> dict[str, Any]:
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    handlers = _handlers_by_operation(app)
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("400", None)  # Litestar's own validation shape: we answer 422 instead
            codes = ["422", "413"] if "requestBody" in operation else ["422"]
            if "requestBody" in operation:
                codes.append("400")
            rule, extra_problems = handlers.get(operation.get("operationId", ""), (None, ()))
            if rule is not Access.PUBLIC:
                codes += ["401", "403"]
                operation["security"] = [{"bearer": []}]
            if "parameters" in operation and any(p.get("in") == "path" for p in operation["parameters"]):
                codes.append("404")
            codes += [str(code) for code in extra_problems]
            for code in codes:
                responses.setdefault(code, _problem(code))
    return schema


def _handlers_by_operation(app: Litestar) -> dict[str, tuple[Access | None, tuple[int, ...]]]:
    """operationId -> (access rule, extra problem statuses the handler declares in ``opt["problems"]``)."""
    found: dict[str, tuple[Access | None, tuple[int, ...]]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            operation_id = getattr(handler, "operation_id", None)
            if isinstance(operation_id, str):
                found[operation_id] = (route_access(handler), tuple(handler.opt.get("problems", ())))
    return found


def render(app: Litestar) -> str:
    return json.dumps(build_openapi(app), indent=2, sort_keys=True) + "\n"


def write_or_check(app: Litestar, path: Path, *, check: bool) -> bool:
    """Write the document, or with ``check`` report whether the file on disk matches the code."""
    text = render(app)
    if check:
        return path.exists() and path.read_text() == text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
