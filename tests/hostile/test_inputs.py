"""Hostile input, answered 4xx on both engines and never a 500: the cases of issue 21 by name, then
the same attacks on every route the OpenAPI document lists, derived from it field by field.

For each operation that takes a body, ``EXAMPLES`` (conftest) holds a valid call; the suite checks
that the example names every string the request schema has (so a new free-text field joins the
suite or fails it), then sends variants of it: NUL and invalid UTF-8 in each string and key, NaN and
infinities in each number, each date at the calendar's ends, 10 MB, deep nesting and the wrong
Content-Type. Query and header parameters, cursors, RRULEs and push endpoints get their own catalogues.
"HelpNow" is the exception by design: its message is cleaned and stored, never refused.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from aftercare.app import create_app
from aftercare.checkins.models import HelpRequest
from aftercare.config import Settings
from aftercare.openapi import render
from tests.hostile.conftest import EXAMPLES, PLAN, TODAY, Example, Scene, checkin, fill

PROBLEM = "application/problem+json"
Path = tuple[str | int, ...]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("hostile-doc"), jwt_secret="s" * 48))
    parsed: dict[str, Any] = json.loads(render(app))
    return parsed


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def text(path: Path) -> str:
    """``therapy[0].schedule.rrule``: the JSON path as problem+json names a field."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def objects(value: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every JSON object in ``value``, the body itself first."""
    if isinstance(value, dict):
        yield path
        for key, item in value.items():
            yield from objects(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from objects(item, (*path, index))


def replaced(body: Any, path: Path, new: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return body


def is_text(path: Path, value: Any) -> bool:
    return isinstance(value, str)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_help_message(operation_id: str, path: Path) -> bool:
    return operation_id == "requestHelp" and path == ("message",)


async def call(
    scene: Scene, example: Example, *, body: Any = None, raw: bytes | None = None, **headers: str
) -> httpx.Response:
    account = example.account(scene)
    sent = {
        **(account.headers if account else {}),
        **example.headers,
        "Content-Type": "application/json",
        **headers,
    }
    content = raw if raw is not None else json.dumps(body).encode()
    operation_id = _operation_of(example)
    method = (
        "PUT"
        if operation_id.startswith(("put", "set"))
        else "PATCH"
        if operation_id.startswith(("update", "amend"))
        else "POST"
    )
    return await scene.program.client.request(
        method, fill(scene, example.path), content=content, headers=sent
    )


def _operation_of(example: Example) -> str:
    return next(name for name, candidate in EXAMPLES.items() if candidate is example)


def assert_problem(response: httpx.Response, status: int, label: str) -> dict[str, Any]:
    assert response.status_code == status, f"{label}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith(PROBLEM), label
    problem: dict[str, Any] = response.json()
    return problem


# -- the example bodies cover every free-text field ------------------------------------------------


def _schema_strings(
    document: dict[str, Any], schema: dict[str, Any], path: Path, seen: frozenset[str]
) -> Iterator[Path]:
    """Paths of the string fields a request schema declares (array items as ``[0]``)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        yield from _schema_strings(document, document["components"]["schemas"][name], path, seen | {name})
        return
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _schema_strings(document, alternative, path, seen)
    kind = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        yield path
    for name, prop in schema.get("properties", {}).items():
        yield from _schema_strings(document, prop, (*path, name), seen)
    if "items" in schema:
        yield from _schema_strings(document, schema["items"], (*path, 0), seen)


class _AnyScene(str):
    """Stands for a scene where only the shape of an example matters: every attribute is text."""

    def __getattr__(self, name: str) -> _AnyScene:
        return _AnyScene("x")


def test_every_body_has_an_example_that_fills_each_of_its_strings(document: dict[str, Any]) -> None:
    with_body = {op["operationId"]: op for _, _, op in operations(document) if "requestBody" in op}
    assert set(with_body) == set(EXAMPLES), "each operation with a body needs an example in tests/hostile"
    for operation_id, operation in with_body.items():
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        declared = set(_schema_strings(document, schema, (), frozenset()))
        filled = {path for path, _ in leaves(EXAMPLES[operation_id].body(_AnyScene("x")))}  # type: ignore[arg-type]
        missing = sorted(text(p) for p in declared - filled)
        assert not missing, f"{operation_id}: the example leaves out {missing}"


# -- every free-text field ---------------------------------------------------------------------


async def test_a_nul_in_any_string_or_key_is_a_422_naming_it(scene: Scene) -> None:
    sent = 0
    for operation_id, example in EXAMPLES.items():
        body = example.body(scene)
        for path, value in leaves(body):
            if not is_text(path, value) or is_help_message(operation_id, path):
                continue
            response = await call(scene, example, body=replaced(body, path, value[:1] + "\x00" + value[1:]))
            problem = assert_problem(response, 422, f"{operation_id} {text(path)}")
            assert [e["field"] for e in problem["errors"]] == [text(path)], problem
            sent += 1
        for path in objects(body):
            target = body
            for part in path:
                target = target[part]
            if not target:
                continue
            key = next(iter(target))
            renamed = (
                replaced(body, (*path, f"{key}\x00"), target[key])
                if path
                else {**body, f"{key}\x00": body[key]}
            )
            response = await call(scene, example, body=renamed)
            assert_problem(response, 422, f"{operation_id} key {text((*path, key))}")
            sent += 1
    assert sent > 80


async def test_invalid_utf8_in_any_string_is_a_400(scene: Scene) -> None:
    sent = 0
    for operation_id, example in EXAMPLES.items():
        body = example.body(scene)
        for path, value in leaves(body):
            if not is_text(path, value) or is_help_message(operation_id, path):
                continue
            raw = json.dumps(replaced(body, path, "@@BAD@@")).encode().replace(b"@@BAD@@", b"ok\xff\xfeok")
            response = await call(scene, example, raw=raw)
            if operation_id == "requestHelp":  # read leniently: the id is then text, but not a UUID
                assert_problem(response, 422, f"{operation_id} {text(path)}")
                continue
            problem = assert_problem(response, 400, f"{operation_id} {text(path)}")
            assert problem["type"] == "/problems/malformed-body"
            sent += 1
    assert sent > 60


async def test_help_now_stores_its_message_cleaned_and_never_refuses_it(scene: Scene) -> None:
    example = EXAMPLES["requestHelp"]
    cases: list[tuple[bytes, str]] = [
        (b'"help\\u0000 me"', "help me"),
        (b'"help \xff\xfe me"', "help \ufffd\ufffd me"),
        (b'"line one\\nline two\\u0007"', "line one\nline two"),
        (json.dumps("x" * 5000).encode(), "x" * 2000),
        (b'"\\u0000"', ""),
    ]
    for message, stored in cases:
        client_id = str(uuid.uuid4())
        raw = b'{"client_id": "%s", "message": %s}' % (client_id.encode(), message)
        response = await call(scene, example, raw=raw)
        assert response.status_code == 201, (message, response.text)
        async with scene.program.app.state.session_factory() as session:
            kept = await session.scalar(
                select(HelpRequest.message).where(HelpRequest.client_id == uuid.UUID(client_id))
            )
        assert kept == stored, message
        again = await call(scene, example, raw=raw)  # the phone's retry: the same answer, once
        assert again.status_code == 200 and again.json() == response.json()


async def test_nan_and_infinities_in_any_number_are_a_400(scene: Scene) -> None:
    sent = 0
    for operation_id, example in EXAMPLES.items():
        body = example.body(scene)
        for path, value in leaves(body):
            if not is_number(value):
                continue
            for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"):
                raw = json.dumps(replaced(body, path, "@@NUM@@")).encode().replace(b'"@@NUM@@"', literal)
                assert_problem(
                    await call(scene, example, raw=raw), 400, f"{operation_id} {text(path)} {literal!r}"
                )
                sent += 1
    assert sent > 50


# Dates and instants of a body at and past the ends of the calendar the service can hold.
BODY_DATES = ["0001-01-01", "1899-12-31", "9001-01-01", "9999-12-31"]
BODY_INSTANTS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1899-12-31T23:59:59Z",
    "9001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-12:00",
]
BODY_LOCAL_TIMES = ["0001-01-01T00:00", "0001-01-01T23:59", "9999-12-31T23:59", "1899-12-31T00:00"]
EXPIRATIONS = [-62135596800001, -1e300, 253402300800000, 1e300, 2**63]


def _schema_dates(
    document: dict[str, Any], schema: dict[str, Any], path: Path, seen: frozenset[str]
) -> Iterator[tuple[Path, str]]:
    """(path, "date" or "date-time") of every date and instant a request schema declares."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _schema_dates(document, document["components"]["schemas"][name], path, seen | {name})
        return
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _schema_dates(document, alternative, path, seen)
    if schema.get("format") in ("date", "date-time"):
        yield path, schema["format"]
    for name, prop in schema.get("properties", {}).items():
        yield from _schema_dates(document, prop, (*path, name), seen)
    if "items" in schema:
        yield from _schema_dates(document, schema["items"], (*path, 0), seen)


async def test_every_date_in_a_body_at_the_ends_of_the_calendar_is_a_422(
    scene: Scene, document: dict[str, Any]
) -> None:
    """Every date and instant the document declares in a request body (and the two it cannot say are
    dates: a schedule's ``start_local``, a push subscription's ``expirationTime``)."""
    bodies = {op["operationId"]: op for _, _, op in operations(document) if "requestBody" in op}
    sent, failures = 0, []
    for operation_id, example in EXAMPLES.items():
        body = example.body(scene)
        schema = bodies[operation_id]["requestBody"]["content"]["application/json"]["schema"]
        extremes = {
            path: BODY_DATES if kind == "date" else BODY_INSTANTS
            for path, kind in _schema_dates(document, schema, (), frozenset())
        }
        for path, _ in leaves(body):
            if path and path[-1] == "start_local":
                extremes[path] = BODY_LOCAL_TIMES
            elif path and path[-1] == "expirationTime":
                extremes[path] = EXPIRATIONS
        for path, values in extremes.items():
            if not any(path == filled for filled, _ in leaves(body)):
                continue  # an optional date the example leaves out (the coverage test names strings)
            for extreme in values:
                response = await call(scene, example, body=replaced(body, path, extreme))
                label = f"{operation_id} {text(path)}={extreme}: {response.status_code} {response.text[:150]}"
                # Named, or its object named (an override's range is one check: "until: must be after from").
                named = text(path[:-1]) if len(path) > 1 else text(path)
                fields = [e["field"] for e in response.json().get("errors", [])]
                if response.status_code != 422 or not any(f.startswith(named) for f in fields):
                    failures.append(label)
                sent += 1
    assert not failures, "\n".join(failures)
    assert sent >= 30


# -- whole bodies --------------------------------------------------------------------------------


async def test_bodies_too_big_too_deep_or_not_json_are_refused(scene: Scene) -> None:
    for operation_id, example in EXAMPLES.items():
        body = example.body(scene)
        ten_mb = b'{"a": "' + b"x" * (10 * 1024 * 1024) + b'"}'
        assert_problem(await call(scene, example, raw=ten_mb), 413, f"{operation_id} 10 MB")
        for deep in (b"[" * 3000 + b"]" * 3000, b'{"a":' * 2000 + b"1" + b"}" * 2000):
            assert_problem(await call(scene, example, raw=deep), 400, f"{operation_id} deep")
            nested = json.dumps(body).encode()[:-1] + b', "deep": ' + deep + b"}"
            assert_problem(await call(scene, example, raw=nested), 400, f"{operation_id} deep field")
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            response = await call(scene, example, body=body, **{"Content-Type": content_type})
            problem = assert_problem(response, 415, f"{operation_id} as {content_type}")
            assert problem["type"] == "/problems/unsupported-media-type"
        assert_problem(await call(scene, example, raw=b'{"a": 1'), 400, f"{operation_id} truncated")
        assert_problem(await call(scene, example, raw=b"\xef\xbb\xbf{}"), 400, f"{operation_id} BOM")


async def test_the_examples_themselves_are_accepted(scene: Scene) -> None:
    """Last, so that what the suite refused was refused for the field it changed."""
    for operation_id, example in EXAMPLES.items():
        response = await call(scene, example, body=example.body(scene))
        assert response.status_code == example.accepted, f"{operation_id}: {response.text[:300]}"


# -- parameters ---------------------------------------------------------------------------------

QUERY_DATES = ["0001-01-01", "1899-12-31", "9001-01-01", "9999-12-31"]
QUERY_INSTANTS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1899-12-31T23:59:59Z",
    "9001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-12:00",
]
# Inside the years the service holds: answered, or refused for what they say, never a 500.
QUERY_EDGES = ["1900-01-01T00:00:00+14:00", "9000-12-31T23:59:59-12:00", "1900-01-01", "9000-12-31"]


def _query_parameters(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, method, operation in operations(document):
        if (
            method != "get" or operation["operationId"] == "streamAlerts"
        ):  # the stream: tests/hostile/test_server
            continue
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                yield path, operation["operationId"], parameter


def _concrete(scene: Scene, template: str) -> str:
    return (
        template.replace("{graduate_id}", str(scene.gid))
        .replace("{version}", "1")
        .replace("{alert_id}", scene.alert_id)
    )


async def test_nul_invalid_utf8_and_calendar_ends_in_query_parameters_are_4xx(
    scene: Scene, document: dict[str, Any]
) -> None:
    client, headers = scene.program.client, scene.supervisor.headers
    checked = 0
    for template, operation_id, parameter in _query_parameters(document):
        name, schema = parameter["name"], json.dumps(parameter.get("schema", {}))
        values = ["%00", "a%00b", "%FF", "%ED%A0%80", "%C0%80"]
        if '"date-time"' in schema:
            values += [v.replace("+", "%2B") for v in QUERY_INSTANTS]
        elif '"date"' in schema:
            values += QUERY_DATES
        for value in values:
            url = f"{_concrete(scene, template)}?{name}={value}"
            caller = scene.graduate.headers if operation_id == "listMyNotifications" else headers
            response = await client.get(url, headers=caller)
            assert 400 <= response.status_code < 500, f"{operation_id} {name}={value}: {response.text[:200]}"
            assert response.headers["content-type"].startswith(PROBLEM)
            checked += 1
        for value in QUERY_EDGES if ('"date' in schema) else []:
            if ('"date-time"' in schema) != ("T" in value):
                continue
            url = f"{_concrete(scene, template)}?{name}={value.replace('+', '%2B')}"
            response = await client.get(url, headers=headers)
            assert response.status_code < 500, f"{operation_id} {name}={value}: {response.text[:200]}"
    assert checked >= 60


async def test_header_parameters_with_odd_bytes_are_never_a_500(scene: Scene) -> None:
    client = scene.program.client
    plan_url = f"/v1/graduates/{scene.gid}/plan"
    for value in (b"\xff\xfe", b'"1\xff"', b"W/" + b'"' * 200, b"*, *", b'"99999999999999999999999999"'):
        for header in ("If-Match", "If-None-Match"):
            response = await client.put(
                plan_url,
                headers={**scene.counselor.headers, header: value},
                json=PLAN,  # type: ignore[dict-item]
            )
            assert response.status_code < 500, (header, value, response.text[:200])
        ruled = await client.put(
            "/v1/program/rules",
            headers={**scene.supervisor.headers, "If-Match": value},
            json={},  # type: ignore[dict-item]
        )
        assert ruled.status_code < 500, (value, ruled.text[:200])
    for request_id in (b"\xff" * 20, b"a" * 5000, b"../../etc"):
        response = await client.get("/v1/me", headers={**scene.graduate.headers, "X-Request-ID": request_id})  # type: ignore[dict-item]
        assert response.status_code == 200 and response.headers["x-request-id"].encode() != request_id


# -- lists and cursors ----------------------------------------------------------------------------


def b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ANY_ID = "01936f5e-1c2a-7b3c-8d4e-5f6a7b8c9d0e"
CRAFTED_CURSORS = [
    b64(["9999-12-31T23:59:59.999999Z", ANY_ID]),
    b64(["0001-01-01T00:00:00+14:00", ANY_ID]),
    b64(["0001-01-01", ANY_ID]),
    b64(["9999-12-31", ANY_ID]),
    b64([1e308, ANY_ID]),
    b64([-(2**63), ANY_ID]),
    b64([2**64, ANY_ID]),
    b64([["9999-12-31T23:59:59Z", 2**62], ANY_ID]),
    b64([None, "not-a-uuid"]),
    b64(["\u0000", ANY_ID]),
    b64([{"$gt": ""}, ANY_ID]),
    b64(b"\xff\xfe\x00"),
    b64("x" * 140),
    "%00",
    "'; DROP TABLE alerts; --",
]


async def test_every_list_refuses_crafted_cursors(scene: Scene, document: dict[str, Any]) -> None:
    lists = [
        (template, operation_id)
        for template, operation_id, parameter in _query_parameters(document)
        if parameter["name"] == "cursor"
    ]
    assert len(lists) >= 7, lists
    for template, operation_id in lists:
        caller = scene.graduate.headers if operation_id == "listMyNotifications" else scene.supervisor.headers
        for cursor in CRAFTED_CURSORS:
            response = await scene.program.client.get(
                _concrete(scene, template), params={"cursor": cursor}, headers=caller
            )
            problem = assert_problem(response, 400, f"{operation_id} cursor={cursor[:30]}")
            assert problem["type"] == "/problems/invalid-cursor", problem


# -- plans, push --------------------------------------------------------------------------------

PATHOLOGICAL_RRULES = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # never happens: dateutil searched for seconds
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31;INTERVAL=7",
    "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11",
    "FREQ=MONTHLY;BYDAY=+5FR;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=MINUTELY",
    "FREQ=HOURLY",
    "FREQ=SECONDLY;INTERVAL=1",
    "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=2",
    "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
    "FREQ=DAILY;BYMINUTE=" + ",".join(str(m) for m in range(60)),
    "FREQ=DAILY;BYSECOND=1",
    "FREQ=DAILY;COUNT=0",
    "FREQ=DAILY;COUNT=99999999999999999999",
    "FREQ=DAILY;INTERVAL=0",
    "FREQ=DAILY;INTERVAL=-1",
    "FREQ=DAILY;INTERVAL=99999999999999999999",
    "FREQ=WEEKLY;BYDAY=XX",
    "FREQ=WEEKLY;BYDAY=" + ",".join(["MO"] * 200),
    "FREQ=MONTHLY;BYDAY=+99MO",
    "FREQ=MONTHLY;BYSETPOS=-366;BYDAY=MO",
    "FREQ=DAILY;UNTIL=00010101T000000Z",
    "FREQ=DAILY;UNTIL=99991231T235959Z;COUNT=3",
    "FREQ=DAILY;UNTIL=20261130",
    "FREQ=DAILY;WKST=XX",
    "FREQ=DAILY;FREQ=WEEKLY",
    "FREQ=DAILY\nDTSTART:20000101T000000",
    "DTSTART:20000101T000000\nRRULE:FREQ=DAILY",
    "FREQ=DAILY;EXDATE=20261201",
    "RRULE:RRULE:FREQ=DAILY",
    "FREQ=DAILY;" * 60,
    "FREQ=\u0661",
    "freq=daily;byday=mo;bymonth=13",
]


async def test_pathological_rrules_are_refused_at_once(scene: Scene) -> None:
    url = f"/v1/graduates/{scene.gid}/plan"
    for rrule in PATHOLOGICAL_RRULES:
        body = replaced(PLAN, ("therapy", 0, "schedule"), {**PLAN["therapy"][0]["schedule"], "rrule": rrule})
        started = time.perf_counter()
        response = await scene.program.client.put(
            url, headers={**scene.counselor.headers, "If-Match": "*"}, json=body
        )
        elapsed = time.perf_counter() - started
        problem = assert_problem(response, 422, f"rrule {rrule[:60]!r}")
        assert any(e["field"].startswith("therapy[0].schedule") for e in problem["errors"]), problem
        assert elapsed < 1.0, f"rrule {rrule[:60]!r} took {elapsed:.2f} s"


PRIVATE_ENDPOINTS = [
    "https://127.0.0.1/push/1",
    "https://localhost/push/1",
    "https://10.0.0.8/push/1",
    "https://172.16.0.1/push/1",
    "https://192.168.1.1/push/1",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/push/1",
    "https://[fe80::1]/push/1",
    "https://[fd00::1]/push/1",
    "https://[::ffff:127.0.0.1]/push/1",
    "https://0x7f000001/push/1",
    "https://2130706433/push/1",
    "https://0177.0.0.1/push/1",
    "https://metadata.google.internal/computeMetadata/v1/",
    "http://fcm.googleapis.com/fcm/send/1",
    "https://fcm.googleapis.com.evil.example/fcm/send/1",
    "https://fcm.googleapis.com@169.254.169.254/fcm/send/1",
    "https://fcm.googleapis.com:8443/fcm/send/1",
    "https://fcm.googleapis.com\\@127.0.0.1/fcm/send/1",
    "https://fcm.googleapis.com%2F@127.0.0.1/x",
    "https://fcm.googleapis.com\t.evil.example/x",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_FLUSHALL",
    "https://xn--fcm-googleapis-com.example/x",
]


async def test_private_link_local_and_lookalike_push_endpoints_are_refused(scene: Scene) -> None:
    example = EXAMPLES["createPushSubscription"]
    for endpoint in PRIVATE_ENDPOINTS:
        body = {**example.body(scene), "endpoint": endpoint}
        problem = assert_problem(await call(scene, example, body=body), 422, endpoint)
        assert [e["field"] for e in problem["errors"]] == ["endpoint"], problem


# -- issue 21, finding by finding -------------------------------------------------------------------


async def test_the_findings_of_issue_21(scene: Scene) -> None:
    client, gid = scene.program.client, scene.gid
    json_type = {"Content-Type": "application/json"}
    deep = b"[" * 3000 + b"]" * 3000
    cases: list[tuple[str, httpx.Response, int]] = [
        (
            "deep JSON to the unauthenticated sign-in",
            await client.post("/v1/auth/token", content=b'{"email":' + deep + b"}", headers=json_type),
            400,
        ),
        (
            "deep JSON in 2 kB",
            await client.post("/v1/auth/token", content=b"[" * 1000 + b"]" * 1000, headers=json_type),
            400,
        ),
        (
            "invalid UTF-8 in a JSON string",
            await client.post(
                "/v1/auth/token", content=b'{"email":"a\xff@b.example","password":"x"}', headers=json_type
            ),
            400,
        ),
        (
            "local_date 0001-01-01",
            await client.post(
                f"/v1/graduates/{gid}/checkins",
                headers=scene.graduate.headers,
                json=checkin(TODAY, local_date="0001-01-01"),
            ),
            422,
        ),
        (
            "reminders in the year 9999",
            await client.get(
                f"/v1/graduates/{gid}/reminders",
                params={"from": "9999-12-30T00:00:00Z"},
                headers=scene.graduate.headers,
            ),
            422,
        ),
        (
            "a NUL in a note",
            await client.post(
                f"/v1/graduates/{gid}/checkins",
                headers=scene.graduate.headers,
                json=checkin(TODAY, note="fine\x00"),
            ),
            422,
        ),
        (
            "a NUL in a display name",
            await client.patch(
                f"/v1/graduates/{gid}", headers=scene.counselor.headers, json={"display_name": "A\x00"}
            ),
            422,
        ),
        (
            "a NUL in a sign-in email",
            await client.post("/v1/auth/token", json={"email": "a\x00@b.example", "password": "x"}),
            422,
        ),
        (
            "a JSON body sent as text/plain",
            await client.post(
                "/v1/auth/token",
                content=json.dumps({"email": scene.supervisor.email, "password": "x"}),
                headers={"Content-Type": "text/plain"},
            ),
            415,
        ),
    ]
    for zone in ("localtime", "posixrules", "Factory", "posix/Europe/Oslo", "right/UTC", "zone.tab"):
        cases.append(
            (
                f"time zone {zone}",
                await client.patch(
                    f"/v1/graduates/{gid}", headers=scene.counselor.headers, json={"timezone": zone}
                ),
                422,
            )
        )
    for label, response, status in cases:
        assert_problem(response, status, label)

    help_now = await client.post(
        f"/v1/graduates/{gid}/help",
        headers=scene.graduate.headers,
        json={"client_id": str(uuid.uuid4()), "message": "help\x00"},
    )
    assert help_now.status_code == 201, "a NUL in a help message: stored cleaned, never refused"

    first = await client.get("/v1/plan-templates", params={"limit": 1}, headers=scene.counselor.headers)
    assert first.status_code == 200 and len(first.json()["items"]) == 1, "/v1/plan-templates honours limit"
    rest = await client.get(
        "/v1/plan-templates",
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=scene.counselor.headers,
    )
    assert [t["id"] for t in first.json()["items"] + rest.json()["items"]] == [
        "iop-standard",
        "iop-smart-co-occurring",
    ]
