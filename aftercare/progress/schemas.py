"""Wire types of ``GET /v1/graduates/{id}/progress``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import msgspec

from aftercare.scheduling.schemas import Reminder

Count = Annotated[int, msgspec.Meta(ge=0)]


class WeekSupport(msgspec.Struct, kw_only=True):
    """One local week (Monday to Sunday) of planned therapy and support-group sessions."""

    week_start: Annotated[date, msgspec.Meta(description="the week's Monday")]
    planned: Annotated[
        Count,
        msgspec.Meta(
            description="local days of the week (from enrollment on) with a therapy or support-group "
            "session in the current plan"
        ),
    ]
    attended: Annotated[
        Count, msgspec.Meta(description="of those days, the ones whose check-in said attended_support: true")
    ]


class CopingUse(msgspec.Struct, kw_only=True):
    id: str
    name: Annotated[
        str | None, msgspec.Meta(description="its name in the current plan; null if removed since")
    ]
    days: Annotated[Count, msgspec.Meta(description="check-ins that named it")]


class Progress(msgspec.Struct, kw_only=True):
    graduate_id: uuid.UUID
    today: Annotated[date, msgspec.Meta(description="the graduate's local today")]
    aftercare_since: Annotated[
        date,
        msgspec.Meta(
            description="the local day aftercare began: enrollment, the day the program discharged "
            "them to aftercare (or a re-admission)"
        ),
    ]
    days_since_discharge: Annotated[
        Count, msgspec.Meta(description="local days from the program discharge (aftercare_since) to today")
    ]
    checkin_streak_days: Annotated[
        Count,
        msgspec.Meta(
            description="consecutive local days with a check-in, ending today or, if today has none yet, yesterday"
        ),
    ]
    longest_streak_days: Annotated[
        Count, msgspec.Meta(description="the longest run of check-in days within the last window_days")
    ]
    support_weeks: Annotated[
        list[WeekSupport], msgspec.Meta(description="this week first, then each of the four before")
    ]
    coping_most_used: Annotated[
        list[CopingUse],
        msgspec.Meta(
            description="the coping skills check-ins named most within the last window_days (up to 5)"
        ),
    ]
    next_reminders: Annotated[
        list[Reminder], msgspec.Meta(description="the next three prompts and reminders")
    ]
    window_days: Annotated[
        int, msgspec.Meta(description="how many local days of check-ins these figures read")
    ]
