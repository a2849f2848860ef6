"""HTTP edges shared by every slice: problem+json responses, request ids, access logs, security
headers, client addresses. Services raise ``AftercareError``s; this module is the one place they
become HTTP."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.config import Settings
from aftercare.db.faults import database_unavailable
from aftercare.errors import (
    AftercareError,
    FieldError,
    TooManyRequests,
    UnsupportedMediaType,
    ValidationFailed,
    summary,
)
from aftercare.i18n import DEFAULT_LOCALE, Locale, Text, _, negotiate, translate
from aftercare.pagination import EARLIEST_YEAR, LATEST_YEAR
from aftercare.request_context import current_request_id

PROBLEM_JSON = "application/problem+json"
# What a 503 asks a client to wait: a database restart takes a second or two here; clients back
# off further on their own when it repeats.
RETRY_AFTER_SECONDS = 2
# While the database is away every request fails alike: one log line per this many seconds says so.
_UNAVAILABLE_LOG_SECONDS = 30.0
log = logging.getLogger("aftercare.http")
_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MSGSPEC_FIELD = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]+)`")
# A Struct's own check names the part of it at fault before a colon (``levels[2]: can never be
# reached`` at ``$.escalation``): that part belongs in the field.
_CHECK_PART = re.compile(
    r"^(?P<part>[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (?P<rest>.+)$", re.S
)


def caller(request: Request[Principal, Any, Any]) -> tuple[Principal, datetime]:
    """The principal the access guard authenticated, and the app clock's now. For the hot routes,
    which take these from the request rather than as dependencies: Litestar resolves several
    independent dependencies in an anyio task group (three tasks per request), which costs more
    than the whole guard's token check."""
    principal: Principal = request.scope["user"]
    clock: Clock = request.app.state.clock
    return principal, clock.now()


# The one way a NUL can appear in a JSON text is this escape (a raw 0x00 byte in a string is
# malformed JSON), so bodies without it, nearly all of them, skip the walk for it.
_NUL_ESCAPE = b"\\u0000"
_body_decoder = msgspec.json.Decoder()
# A route whose free text must never be refused for what it contains (``"help now"``) says so with
# ``opt={CLEANED_TEXT: True}``: its body is read leniently and its schema cleans the text.
CLEANED_TEXT = "cleaned_text"


class JsonRequest(Request[Any, Any, Any]):
    """The app's request class: it reads a request body as JSON the same way for every route,
    and answers every way a body can be hostile with a 4xx, never a 500:

    - a body declared as anything but JSON (``text/plain``, a form, no Content-Type): 415;
    - invalid UTF-8, or nesting deeper than the decoder's recursion limit (about 1,000; a 2 kB
      body can nest that deep): 400, like any other malformed JSON;
    - a NUL character (``\\u0000``) in any string or key: 422 naming its JSON path, because
      PostgreSQL cannot store one in text and both engines must answer alike.

    A route marked ``CLEANED_TEXT`` instead gets invalid UTF-8 replaced (U+FFFD) and keeps its NULs
    for its schema to clean (``checkins.schemas.HelpCreate``): a message from a person in crisis is
    stored as well as it can be, never refused for its text.
    """

    async def json(self) -> Any:
        if self._json is Empty:
            if (cached := self._connection_state.json) is not Empty:
                self._json = cached
            else:
                self._json = self._connection_state.json = self._decode(await self.body())
        return self._json

    def _decode(self, body: bytes) -> Any:
        media_type = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if body and media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(
                _("send the body as application/json, not %(type)s", type=media_type)
                if media_type
                else _("send the body as application/json, with its Content-Type")
            )
        lenient = bool(self.route_handler.opt.get(CLEANED_TEXT))
        try:
            if lenient:
                value = _body_decoder.decode(body.decode("utf-8", errors="replace") or "null")
            else:
                value = _body_decoder.decode(body or b"null")
        except UnicodeDecodeError as exc:
            raise SerializationException("JSON is malformed: a string is not valid UTF-8") from exc
        except RecursionError as exc:
            raise SerializationException("JSON is malformed: nested too deeply") from exc
        except msgspec.DecodeError as exc:
            raise SerializationException(str(exc)) from exc
        if not lenient and _NUL_ESCAPE in body:
            try:
                paths = list(_nul_paths(value, ""))
            except RecursionError as exc:  # the decoder's limit, less the frames the walk adds
                raise SerializationException("JSON is malformed: nested too deeply") from exc
            if paths:
                message = _("must not contain the NUL character (U+0000)")
                raise ValidationFailed([FieldError(path or "body", message) for path in paths])
        return value


def _nul_paths(value: Any, path: str) -> Iterator[str]:
    """The JSON paths (``plan.steps[2]``) of the strings and keys in ``value`` that hold a NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                yield inner.replace("\x00", "\\u0000")
            else:
                yield from _nul_paths(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}[{index}]")


def check_calendar_bounds(**params: date | None) -> None:
    """Refuse a date or instant query parameter outside the years the service can hold (422 naming
    each): a day's or a week's arithmetic on 9999-12-31, or a UTC conversion of 0001-01-01T00:00+05:00,
    would overflow the calendar. Pass them by their wire names: ``check_calendar_bounds(**{"from": start})``."""
    errors = [
        FieldError(
            name,
            _("must lie between the years %(first)d and %(last)d", first=EARLIEST_YEAR, last=LATEST_YEAR),
        )
        for name, value in params.items()
        if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR
    ]
    if errors:
        raise ValidationFailed(errors)


def reader_locale(request: Request[Any, Any, Any]) -> Locale:
    """The language a problem is written in: a signed-in graduate's own (``Principal.locale``);
    staff read English; before anyone is signed in (sign-in, enrollment, a refused token), what the
    client's ``Accept-Language`` prefers."""
    principal = request.scope.get("user")
    if isinstance(principal, Principal):
        return principal.locale or DEFAULT_LOCALE
    return negotiate(request.headers.get("accept-language"))


def problem_response(
    status: int, type_: str, title: str, detail: str, *, locale: Locale = DEFAULT_LOCALE, **extra: Any
) -> Response[Any]:
    """The problem+json response, its ``title`` and ``detail`` (and each ``errors[].message``) in
    ``locale`` where they are marked text (``aftercare.i18n``); a field's name is never translated."""
    body = {
        "type": type_,
        "title": translate(title, locale),
        "status": status,
        "detail": translate(detail, locale),
        **extra,
    }
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
        body.pop("retry_after", None)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_aftercare_error(request: Request[Any, Any, Any], exc: AftercareError) -> Response[Any]:
    locale = reader_locale(request)
    extra = dict(exc.extra)
    detail = exc.detail
    if isinstance(exc, TooManyRequests):
        extra["retry_after"] = exc.retry_after
    if isinstance(exc, ValidationFailed):
        errors = [FieldError(error.field, translate(error.message, locale)) for error in exc.errors]
        extra["errors"] = [msgspec.structs.asdict(error) for error in errors]
        if exc.summarised:
            detail = summary(errors)
    return problem_response(exc.status, exc.type, exc.title, detail, locale=locale, **extra)


def _field_from_msgspec(message: str, key: str | None) -> tuple[str, str]:
    """The field's JSON path and the message. The path comes from msgspec's message
    (``Expected `int`, got `str` - at `$.checkins[0].mood```) or from Litestar's ``key`` (it splits
    the path off; ``data`` is its name for the body). A missing or unknown field is named only in the
    text, so it is appended: ``Object missing required field `end``` at ``quiet_hours`` is
    ``quiet_hours.end``."""
    match = _MSGSPEC_PATH.search(message)
    if match:
        path, text = match.group("path").lstrip("."), message[: match.start()]
    else:
        path, text = ("" if key in (None, "data") else str(key)), message
    named = _MSGSPEC_FIELD.search(text)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    elif part := _CHECK_PART.match(text):
        path = f"{path}.{part.group('part')}" if path else part.group("part")
        text = part.group("rest")
    return path or "body", text


# msgspec's own messages, as marked text so a graduate reads them in their language (the values in
# backticks are type names and stay); any other message stays as msgspec wrote it.
_MSGSPEC_MESSAGES: tuple[tuple[re.Pattern[str], Callable[..., Text]], ...] = (
    (
        re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`$"),
        lambda **v: _("Expected `%(expected)s`, got `%(got)s`", **v),
    ),
    (
        re.compile(r"^Expected `(?P<type>[^`]+)` of length (?P<bound>[<>]=? ?\d+)$"),
        lambda **v: _("Expected `%(type)s` of length %(bound)s", **v),
    ),
    (
        re.compile(r"^Expected `(?P<type>[^`]+)` (?P<bound>[<>]=? ?[-0-9.e]+)$"),
        lambda **v: _("Expected `%(type)s` %(bound)s", **v),
    ),
    (
        re.compile(r"^Expected `(?P<type>[^`]+)` matching regex (?P<pattern>.+)$", re.S),
        lambda **v: _("Expected `%(type)s` matching regex %(pattern)s", **v),
    ),
    (
        re.compile(r"^Expected `datetime` with a timezone component$"),
        lambda: _("Expected `datetime` with a timezone component"),
    ),
    (re.compile(r"^Invalid enum value (?P<value>.+)$", re.S), lambda **v: _("Invalid value %(value)s", **v)),
    (re.compile(r"^Invalid RFC ?3339 encoded date$"), lambda: _("Invalid date: use YYYY-MM-DD")),
    (
        re.compile(r"^Invalid RFC ?3339 encoded datetime$"),
        lambda: _("Invalid instant: use RFC 3339 with an offset, e.g. 2026-11-24T18:00:00Z"),
    ),
    (re.compile(r"^Invalid UUID$"), lambda: _("Invalid UUID")),
    (
        re.compile(r"^Object missing required field `(?P<name>[^`]+)`$"),
        lambda **v: _("Object missing required field `%(name)s`", **v),
    ),
    (
        re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$"),
        lambda **v: _("Object contains unknown field `%(name)s`", **v),
    ),
)


def _marked(message: str) -> str:
    """msgspec's ``message`` as marked text if it is one of those it writes, else as it is."""
    for pattern, text in _MSGSPEC_MESSAGES:
        match = pattern.match(message)
        if match:
            return text(**match.groupdict())
    return message


def _wire_name(request: Request[Any, Any, Any], key: Any) -> Any:
    """A parameter's name on the wire: Litestar names a failed one by the handler's argument
    (``start``), the contract by the name the client sent (``from``, a Python keyword)."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    except (AttributeError, TypeError):
        return key
    definition = getattr(parameter, "kwarg_definition", None)
    return getattr(definition, "query", None) or getattr(definition, "name", None) or key


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = _wire_name(request, item.get("key"))
            field, message = _field_from_msgspec(str(item.get("message", "")), key)
            errors.append(FieldError(field, _marked(message)))
    if not errors:
        detail = str(exc.detail)
        if "malformed" in detail.lower() or "JSON" in detail:
            return problem_response(
                400,
                "/problems/malformed-body",
                _("Malformed request body"),
                detail,
                locale=reader_locale(request),
            )
        field, message = _field_from_msgspec(detail, None)
        errors.append(FieldError(field, _marked(message)))
    return handle_aftercare_error(request, ValidationFailed(errors))


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    locale = reader_locale(request)
    if isinstance(exc, NotFoundException):
        return problem_response(
            404, "/problems/not-found", _("Not found"), _("no such resource"), locale=locale
        )
    if isinstance(exc, MethodNotAllowedException):
        response = problem_response(
            405, "/problems/method-not-allowed", _("Method not allowed"), str(exc.detail), locale=locale
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    if status == 413:
        return problem_response(
            413,
            "/problems/body-too-large",
            _("Request body too large"),
            _("the request body exceeds 64 KiB"),
            locale=locale,
        )
    if status == 400:
        return problem_response(
            400, "/problems/malformed-body", _("Bad request"), str(exc.detail), locale=locale
        )
    if status >= 500:
        return handle_internal_error(request, exc)
    return problem_response(status, f"/problems/http-{status}", str(exc.detail), str(exc.detail))


def handle_internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if database_unavailable(exc) or _store_unavailable(exc):
        return unavailable_response(exc, locale=reader_locale(request))
    # Logged with its type only: a message may carry a value from a health record.
    log.error(
        "unhandled error",
        extra={"error_type": type(exc).__name__, "route": _route_of(request.scope)},
        exc_info=exc if log.isEnabledFor(logging.DEBUG) else None,
    )
    return problem_response(
        500,
        "/problems/internal",
        _("Internal error"),
        _("the service failed; the request id in X-Request-ID helps the operator find it"),
        locale=reader_locale(request),
    )


def unavailable_response(exc: BaseException, *, locale: Locale = DEFAULT_LOCALE) -> Response[Any]:
    """503 with ``Retry-After``: the database (or the shared rate-limit store) cannot answer now.
    A write either committed before the failure (a retry with its ``client_id`` gets the stored
    answer) or not at all; either way the client retries the same request."""
    global _unavailable_logged_at
    now = time.monotonic()
    if now - _unavailable_logged_at >= _UNAVAILABLE_LOG_SECONDS:
        _unavailable_logged_at = now
        log.warning("answering 503: a backing store is unavailable", extra={"error_type": type(exc).__name__})
    return problem_response(
        503,
        "/problems/unavailable",
        _("Service unavailable"),
        _(
            "the service cannot reach its database just now; retry after Retry-After seconds "
            "(a create retried with the same client_id is never stored twice)"
        ),
        locale=locale,
        retry_after=RETRY_AFTER_SECONDS,
    )


_unavailable_logged_at = float("-inf")


def _store_unavailable(exc: BaseException) -> bool:
    """Redis (shared rate limits) unreachable or timing out: a sign-in cannot be limited, so it is
    not attempted (failing open would let whoever can disturb Redis guess passwords unthrottled)."""
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


def _route_of(scope: Scope) -> str:
    """The route template (``/v1/graduates/{graduate_id}``): ids stay out of logs and metrics."""
    return scope.get("path_template") or "-"


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``, kept if the client sent a sane one) and writes one
    JSON access-log line with the route template, never the path or body, so no graduate data leaks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if re.fullmatch(r"[A-Za-z0-9._-]{8,64}", incoming) else uuid.uuid4().hex
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": _route_of(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


# Security headers on every response, errors and the router's own 404/405 and CORS answers
# included (``add_security_headers`` runs as Litestar's ``before_send``, outside the router):
# * no MIME sniffing, no framing anywhere (clickjacking), no Referer leaving with an id in a URL;
# * ``Cache-Control: no-store`` on everything: nearly every answer carries personal or clinical
#   data or tokens, and one rule cannot forget a new route (it also overrides the stream's no-cache);
# * a Content-Security-Policy: for the API's JSON nothing may load or frame it; the one HTML page,
#   the API reference at /schema, may run scripts only from its CDN (no inline script, no eval),
#   fetch only this origin and be framed by nobody. HSTS belongs to the TLS terminator in front.
_API_CSP = b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_DOCS_CSP = (
    b"default-src 'none'; script-src https://cdn.jsdelivr.net; "
    b"style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.scalar.com; "
    b"font-src https://cdn.jsdelivr.net https://fonts.scalar.com; img-src 'self' data: https://cdn.jsdelivr.net; "
    b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
_REPLACED = frozenset(name for name, _ in _SECURITY_HEADERS) | {b"content-security-policy"}


# A response that brings its own policy (the console's pages and static assets, which hold no
# personal data and are cached by ETag) keeps that policy and its caching; everything else gets ours.
_KEPT_WITH_OWN_POLICY = frozenset({b"content-security-policy", b"cache-control"})


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    given = list(message.get("headers", ()))
    own_policy = any(name.lower() == b"content-security-policy" for name, _ in given)
    replaced = _REPLACED - _KEPT_WITH_OWN_POLICY if own_policy else _REPLACED
    headers = [(name, value) for name, value in given if name.lower() not in replaced]
    docs = (
        message["status"] == 200
        and scope.get("path", "").startswith("/schema")
        and any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)
    )
    headers.extend((name, value) for name, value in _SECURITY_HEADERS if name in replaced)
    if not own_policy:
        headers.append((b"content-security-policy", _DOCS_CSP if docs else _API_CSP))
    message["headers"] = headers


def client_address(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The client's address for rate limits; ``X-Forwarded-For`` only from trusted proxies."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in settings.trusted_proxies:
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return peer
    return peer
