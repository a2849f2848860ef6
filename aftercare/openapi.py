"""The checked-in OpenAPI document: Litestar's schema, plus what clients rely on that it leaves out.

Litestar documents validation failures as a 400 of its own shape; this API answers problem+json with
422. Every operation gets the problem responses it can actually return, pointing at one ``Problem``
schema, so generated clients (and schemathesis) see the real contract: among them 503 with
``Retry-After`` for every operation that reads the database (every signed-in one, since the guard
does; public ones declare it in ``opt["problems"]``). A list (an operation taking a
``cursor``) also answers 400 ``/problems/invalid-cursor`` for a cursor it did not issue.

Litestar's schemas of msgspec Structs also drop constraints (zero-valued bounds, list item limits,
``forbid_unknown_fields``, tagged unions: litestar #4650, #4514, #3999) and leave Struct defaults as
objects. The wire types' component schemas are therefore msgspec's own, which are exactly what the
decoder enforces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar

from aftercare.auth.access import Access
from aftercare.auth.guards import route_access

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "description": "stable URI of the kind of problem, e.g. /problems/validation",
        },
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
    "415": "Request body not sent as application/json",
    "422": "Validation failed; errors name each field",
    "428": "If-Match required",
    "429": "Too many requests; see Retry-After",
    "503": "The database (or the shared rate-limit store) is unreachable just now; retry after Retry-After seconds",
}
# A list takes no body, so its 400 is always the cursor's.
_INVALID_CURSOR = "Not a cursor this list issued; errors name `cursor`"


def _problem(code: str, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or _DESCRIPTIONS[code],
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def build_openapi(app: Litestar) -> dict[str, Any]:
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(msgspec_components(app, names=set(components)))
    components["Problem"] = PROBLEM_SCHEMA
    schema["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    handlers = _handlers_by_operation(app)
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("400", None)  # Litestar's own validation shape: we answer 422 instead
            codes = ["422", "413"] if "requestBody" in operation else ["422"]
            if "requestBody" in operation:
                codes += ["400", "415"]
            rule, extra_problems = handlers.get(operation.get("operationId", ""), (None, ()))
            if rule is not Access.PUBLIC:
                # The guard reads the account on every request: any of these can find the database away.
                codes += ["401", "403", "503"]
                operation["security"] = [{"bearer": []}]
            if "parameters" in operation and any(p.get("in") == "path" for p in operation["parameters"]):
                codes.append("404")
            codes += [str(code) for code in extra_problems]
            for code in codes:
                responses.setdefault(code, _problem(code))
            if _takes_cursor(operation):
                responses.setdefault("400", _problem("400", _INVALID_CURSOR))
    return schema


def _takes_cursor(operation: dict[str, Any]) -> bool:
    return any(p.get("in") == "query" and p.get("name") == "cursor" for p in operation.get("parameters", []))


def msgspec_components(app: Litestar, *, names: set[str]) -> dict[str, Any]:
    """msgspec's schemas of the request and response types of the app's routes: those Litestar also
    named (replacing its versions), plus the ones they refer to."""
    wire_types = [t for t in route_types(app) if has_msgspec_schema(t)]
    _, found = msgspec.json.schema_components(wire_types, ref_template="#/components/schemas/{name}")
    wanted = {name for name in found if name in names}
    pending = list(wanted)
    while pending:  # close over references, so no replaced schema points at a missing component
        for ref in _refs(found[pending.pop()]):
            if ref in found and ref not in wanted:
                wanted.add(ref)
                pending.append(ref)
    return {name: found[name] for name in wanted}


def route_types(app: Litestar) -> Iterator[Any]:
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not getattr(handler, "include_in_schema", True):
                continue
            signature = handler.parsed_fn_signature
            yield signature.return_type.annotation
            if "data" in signature.parameters:
                yield signature.parameters["data"].annotation


def has_msgspec_schema(annotation: Any) -> bool:
    try:
        msgspec.json.schema(annotation)
    except (TypeError, ValueError):  # Responses, None, dicts of Any: Litestar's schema stands
        return False
    return True


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref.rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


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
    # Litestar keeps Struct defaults of its remaining schemas as objects: encode them as msgspec would.
    return json.dumps(build_openapi(app), indent=2, sort_keys=True, default=msgspec.to_builtins) + "\n"


def write_or_check(app: Litestar, path: Path, *, check: bool) -> bool:
    """Write the document, or with ``check`` report whether the file on disk matches the code."""
    text = render(app)
    if check:
        return path.exists() and path.read_text() == text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
