"""The problems a service can raise, each with its stable RFC 9457 ``type`` and HTTP status.

Services raise these; ``app.py`` turns every one into ``application/problem+json`` in a single
handler, so no service imports Litestar and no route writes its own error body. Titles, and details
and field messages marked with ``aftercare.i18n._``, are written in the reader's language there
(``http.reader_locale``); a field's name never is.

    AftercareError
     ├── ValidationFailed        422  /problems/validation        (errors: [{field, message}])
     ├── BadRequest              400  /problems/bad-request
     │    └── InvalidCursor           /problems/invalid-cursor    (errors: [{field: cursor, message}])
     ├── Unauthorized            401  /problems/unauthorized
     ├── Forbidden               403  /problems/forbidden
     ├── NotFound                404  /problems/not-found
     ├── Conflict                409  /problems/conflict
     │    ├── CheckinExists           /problems/checkin-exists
 │    ├── DoseExists              /problems/dose-exists       (dose_id)
     │    ├── IdempotencyConflict     /problems/idempotency-conflict
     │    ├── AwayOverlaps            /problems/away-overlap      (conflicting_id)
     │    └── Discharged              /problems/discharged
     ├── StaleVersion            412  /problems/stale-version
     ├── UnsupportedMediaType    415  /problems/unsupported-media-type
     ├── PreconditionRequired    428  /problems/precondition-required
     └── TooManyRequests         429  /problems/too-many-requests (retry_after seconds)
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from aftercare.i18n import _


class FieldError(msgspec.Struct, frozen=True):
    """One invalid field: ``field`` is the JSON path without ``$.`` or a query parameter's name."""

    field: str
    message: str


def summary(errors: list[FieldError]) -> str:
    """A validation problem's ``detail``: each field's name (never translated) and message."""
    return "; ".join(f"{e.field}: {e.message}" for e in errors)


class AftercareError(Exception):
    status: ClassVar[int] = 400
    type: ClassVar[str] = "/problems/bad-request"
    title: ClassVar[str] = _("Bad request")

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class BadRequest(AftercareError):
    pass


class InvalidCursor(BadRequest):
    """A list's ``cursor`` that it did not issue: tampered, truncated, edited or another list's. A 400,
    not a 422: the client sent back something opaque it was given, and can only start again."""

    type = "/problems/invalid-cursor"
    title = _("Invalid cursor")

    def __init__(self) -> None:
        error = FieldError("cursor", "not a cursor this list issued; start again from the first page")
        super().__init__(f"{error.field}: {error.message}", errors=[msgspec.structs.asdict(error)])


class ValidationFailed(AftercareError):
    status = 422
    type = "/problems/validation"
    title = _("Validation failed")

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        self.errors = errors
        self.summarised = detail is None
        """The detail lists the errors (``summary``), so a translation of them translates it too."""
        super().__init__(detail or summary(errors), errors=[msgspec.structs.asdict(e) for e in errors])

    @classmethod
    def one(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class Unauthorized(AftercareError):
    status = 401
    type = "/problems/unauthorized"
    title = _("Not authenticated")


class Forbidden(AftercareError):
    status = 403
    type = "/problems/forbidden"
    title = _("Forbidden")


class WrongPassword(Forbidden):
    """The current password given to confirm an act on one's own account is not the account's."""

    type = "/problems/wrong-password"
    title = _("Wrong password")


class NotFound(AftercareError):
    status = 404
    type = "/problems/not-found"
    title = _("Not found")


class Conflict(AftercareError):
    status = 409
    type = "/problems/conflict"
    title = _("Conflict")


class CheckinExists(Conflict):
    type = "/problems/checkin-exists"
    title = _("A check-in exists for this day")


class DoseExists(Conflict):
    """A second record of one dose (another ``client_id``); ``dose_id`` names the first."""

    type = "/problems/dose-exists"
    title = _("This dose is recorded already")


class IdempotencyConflict(Conflict):
    type = "/problems/idempotency-conflict"
    title = _("client_id reused with a different body")


class AwayOverlaps(Conflict):
    """An away period that overlaps another of the same staff member (``conflicting_id``)."""

    type = "/problems/away-overlap"
    title = _("Overlaps another away period")

    def __init__(self, conflicting_id: object) -> None:
        super().__init__(
            "this period overlaps another away period of the same staff member; end or change that one first",
            conflicting_id=str(conflicting_id),
        )


class Discharged(Conflict):
    """A discharged graduate's check-in or amendment: refused before anything is written. Asking for
    help is never refused (``flows/help_now.py``); a re-admission (``PATCH status=active``) lifts this."""

    type = "/problems/discharged"
    title = _("The graduate is discharged from aftercare")


class StaleVersion(AftercareError):
    status = 412
    type = "/problems/stale-version"
    title = _("Stale version")


class UnsupportedMediaType(AftercareError):
    """A request body that does not say it is JSON (``text/plain``, a form): not guessed at."""

    status = 415
    type = "/problems/unsupported-media-type"
    title = _("Unsupported media type")


class PreconditionRequired(AftercareError):
    status = 428
    type = "/problems/precondition-required"
    title = _("Precondition required")


class TooManyRequests(AftercareError):
    status = 429
    type = "/problems/too-many-requests"
    title = _("Too many requests")

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
