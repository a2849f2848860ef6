"""Wire types of graduate profiles and caseloads."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from aftercare.i18n import Locale

DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TimeZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["America/Chicago"])]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["19:00"])]
UtcTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]
GraduateStatus = Literal["active", "discharged"]
RiskLevel = Literal["low", "moderate", "high", "critical"]
# The caseload's orders (``GET /v1/graduates?sort=``):
#   risk          critical first, then high, moderate, low; within a level the longest silence first
#   last_checkin  the longest silence first (never checked in: silent since enrollment)
#   open_alerts   the most open and acknowledged alerts first
#   name          by display name, ignoring case and accents
CaseloadSort = Literal["risk", "last_checkin", "open_alerts", "name"]
NamePrefix = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
GraduateLocale = Annotated[
    Locale,
    msgspec.Meta(
        description="The language of the prompts, reminders, crisis texts and error messages the "
        "graduate receives: en (English) or es (Spanish)"
    ),
]


class QuietHours(msgspec.Struct, forbid_unknown_fields=True):
    """Local hours with no non-urgent pushes; may span midnight. ``start == end`` means none."""

    start: ClockTime
    end: ClockTime


DEFAULT_QUIET_HOURS = QuietHours(start="22:00", end="08:00")


class GraduateCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    display_name: DisplayName
    timezone: TimeZoneName
    counselor_id: uuid.UUID | None = None
    checkin_time: ClockTime = "19:00"
    quiet_hours: QuietHours | msgspec.UnsetType | None = msgspec.UNSET
    discharge_date: date | None = None
    locale: GraduateLocale = "en"


class GraduatePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields omitted stay as they are; ``quiet_hours: null`` turns quiet hours off."""

    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    timezone: TimeZoneName | msgspec.UnsetType = msgspec.UNSET
    checkin_time: ClockTime | msgspec.UnsetType = msgspec.UNSET
    quiet_hours: QuietHours | msgspec.UnsetType | None = msgspec.UNSET
    status: GraduateStatus | msgspec.UnsetType = msgspec.UNSET
    discharge_date: date | msgspec.UnsetType | None = msgspec.UNSET
    counselor_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    locale: GraduateLocale | msgspec.UnsetType = msgspec.UNSET


class Graduate(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    display_name: str
    timezone: str
    checkin_time: str
    quiet_hours: QuietHours | None
    status: GraduateStatus
    discharge_date: date | None
    counselor_id: uuid.UUID | None
    locale: GraduateLocale
    enrolled: bool
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    last_checkin_date: date | None
    days_since_checkin: Annotated[
        int | None,
        msgspec.Meta(
            description="Local days from the last check-in to the graduate's local today (0: checked in "
            "today); null before the first check-in."
        ),
    ]
    streak_days: Annotated[
        int,
        msgspec.Meta(
            description="Consecutive local days with a check-in up to the last one; 0 once a day has "
            "gone by without one."
        ),
    ]
    risk_level: Annotated[
        RiskLevel,
        msgspec.Meta(
            description="The level of the graduate's worst active (open or acknowledged) alert, help now "
            "and silence included (warning: moderate, high: high, critical: critical); with none "
            "active, the level of the latest day's assessment."
        ),
    ]
    open_alerts: Annotated[int, msgspec.Meta(description="Open and acknowledged alerts.")]


class TimezoneChange(msgspec.Struct, kw_only=True):
    timezone: str
    effective_from: Annotated[
        UtcTimestamp,
        msgspec.Meta(
            description="from this instant the zone is in force: past times read in it; prompts and "
            "reminders not yet sent follow it at once"
        ),
    ]
    reported_at: UtcTimestamp


class GraduateDetail(Graduate, kw_only=True):
    """One graduate (``GET``/``PATCH /v1/graduates/{id}``): the profile with its zone's history."""

    timezone_history: Annotated[
        list[TimezoneChange],
        msgspec.Meta(
            description="The zones the graduate reported (at enrollment, then each change), newest "
            "first; the latest 20."
        ),
    ]


class GraduateCreated(Graduate, kw_only=True):
    enrollment_code: str
    enrollment_code_expires_at: UtcTimestamp


class EnrollmentCodeIssued(msgspec.Struct):
    enrollment_code: str
    expires_at: UtcTimestamp


class CaseloadQuery(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /v1/graduates``'s order and filters; an empty filter lets everyone through."""

    sort: CaseloadSort = "risk"
    risk_levels: tuple[RiskLevel, ...] = ()
    statuses: tuple[GraduateStatus, ...] = ()
    has_open_alerts: bool | None = None
    search: str | None = None
    """A display-name prefix, ignoring case and accents."""
    needs_reassignment: bool | None = None
    """True: only graduates whose counselor is deactivated; false: the others."""


class GraduatePage(msgspec.Struct):
    items: list[Graduate]
    next_cursor: str | None
