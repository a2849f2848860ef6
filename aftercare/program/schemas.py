"""Wire types of the program's reports (the rules' body is ``rules/config.py::ProgramRules``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from aftercare.rules.engine import Severity

UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class Durations(msgspec.Struct, kw_only=True):
    """How long something took, over the alerts where it happened (``count``); null without any."""

    count: int
    median_seconds: Annotated[
        float | None, msgspec.Meta(description="The middle value; the mean of the two middle ones")
    ]
    p90_seconds: Annotated[
        float | None,
        msgspec.Meta(description="Nearest rank: the shortest time that at least 90% took no longer than"),
    ]


class ResponseFigures(msgspec.Struct, kw_only=True):
    alerts: Annotated[int, msgspec.Meta(description="Alerts opened in [from, to)")]
    overdue: Annotated[
        int,
        msgspec.Meta(
            description="Answered after respond_by, or unanswered past it (as of as_of, or when the "
            "system closed it)"
        ),
    ]
    time_to_acknowledge: Annotated[
        Durations,
        msgspec.Meta(
            description="From the start of the alert's response clock (its opening, or its latest raise "
            "or re-open) to its acknowledgement (or its resolution by staff, if it was never acknowledged)"
        ),
    ]
    time_to_first_outreach: Annotated[
        Durations,
        msgspec.Meta(
            description="From the alert's opening to the first outreach recorded on it (alerts without "
            "outreach are not in it)"
        ),
    ]


class SeverityResponseFigures(ResponseFigures, kw_only=True):
    severity: Severity


class CounselorResponseFigures(ResponseFigures, kw_only=True):
    counselor_id: Annotated[
        uuid.UUID | None, msgspec.Meta(description="The alert's counselor now; null: no counselor")
    ]


class ResponseTimes(msgspec.Struct, kw_only=True):
    """``GET /v1/program/response-times``."""

    start: UtcTimestamp = msgspec.field(name="from")
    end: UtcTimestamp = msgspec.field(name="to")
    as_of: Annotated[
        UtcTimestamp, msgspec.Meta(description="When the report was made: unanswered alerts are judged then")
    ]
    total: ResponseFigures
    by_severity: Annotated[
        list[SeverityResponseFigures], msgspec.Meta(description="critical, high, warning: always all three")
    ]
    by_counselor: Annotated[
        list[CounselorResponseFigures],
        msgspec.Meta(description="Each counselor with an alert in the range, by id; no counselor last"),
    ]


class OnCallAnswer(msgspec.Struct, kw_only=True):
    """``GET /v1/program/on-call?at=``: who is on call at ``at``."""

    at: UtcTimestamp
    staff_id: Annotated[uuid.UUID | None, msgspec.Meta(description="null: nobody (see reason)")]
    source: Annotated[Literal["override", "rota"] | None, msgspec.Meta(description="What put them on call")]
    reason: Annotated[
        Literal["no_rota", "business_hours"] | None,
        msgspec.Meta(
            description="Why nobody is: no rota, or the rota leaves business hours to the counselors"
        ),
    ] = None
    start: Annotated[UtcTimestamp | None, msgspec.Meta(description="When this answer began to hold")] = (
        msgspec.field(default=None, name="from")
    )
    end: Annotated[UtcTimestamp | None, msgspec.Meta(description="When it stops holding")] = msgspec.field(
        default=None, name="until"
    )
