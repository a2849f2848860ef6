"""A graduate in aftercare: profile, schedule settings, and the running state the engine keeps.

The caseload (``GET /v1/graduates``) sorts by values kept on this row, each with an index that
matches its order (``service.SORTS``), a second one led by ``counselor_id`` for a counselor's own
caseload: ``risk_order`` (computed by the database from ``risk_level``), ``silent_since``,
``open_alerts`` and ``name_key``.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Computed, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from aftercare.db.base import Base, UUIDPrimaryKey
from aftercare.db.checks import one_of
from aftercare.db.types import DateTimeUTC, JSONDoc
from aftercare.graduates.schemas import GraduateStatus, RiskLevel
from aftercare.i18n import Locale
from aftercare.scheduling.localtime import local_today, zone

# The caseload's risk order, most urgent first; the database computes ``risk_order`` from it, so the
# order can never disagree with ``risk_level``, whoever writes that.
RISK_ORDER: dict[RiskLevel, int] = {"critical": 0, "high": 1, "moderate": 2, "low": 3}
# No value falls to the ELSE: the CHECK on risk_level refuses it first, and names itself.
_RISK_ORDER_SQL = (
    "CASE risk_level "
    + " ".join(f"WHEN '{level}' THEN {n}" for level, n in RISK_ORDER.items() if level != "low")
    + f" ELSE {RISK_ORDER['low']} END"
)
NAME_KEY_LENGTH = 200


def name_key(display_name: str) -> str:
    """How the caseload sorts and searches names: case- and accent-insensitive ("Élodie" and
    "elodie" alike), spaces collapsed; compared by code point (``COLLATE "C"`` on PostgreSQL, so
    the order and a prefix's range do not depend on the server's locale). Cut to a length every
    index entry can hold."""
    decomposed = unicodedata.normalize("NFKD", display_name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())[:NAME_KEY_LENGTH]


def silence_start(last_checkin_date: date | None, admitted_on: date) -> date:
    """The first local day of the graduate's current run without a check-in: the day after the
    last check-in, or the day of (re)admission if that is later (nobody is silent before being
    asked). The same start as the silence rule's (``rules.engine.assess_silence``)."""
    if last_checkin_date is None:
        return admitted_on
    return max(admitted_on, last_checkin_date + timedelta(days=1))


# Defaults for writers that leave these out (the tests' and benches' direct inserts); the services
# set them explicitly.
def _admitted_on_default(context: Any) -> date:
    row = context.get_current_parameters()
    return local_today(row["created_at"], zone(row["timezone"]))


def _silent_since_default(context: Any) -> date:
    row = context.get_current_parameters()
    return silence_start(
        row.get("last_checkin_date"), row.get("admitted_on") or _admitted_on_default(context)
    )


def _name_key_default(context: Any) -> str:
    return name_key(context.get_current_parameters()["display_name"])


class Graduate(UUIDPrimaryKey, Base):
    __tablename__ = "graduates"
    __table_args__ = (
        Index("ix_graduates_counselor_id_id", "counselor_id", "id"),
        # The caseload's sorts (migration 0015), for the whole program and for one counselor:
        # risk (most urgent first, then the longest silence), last check-in (longest silence
        # first), open alerts (most first), name.
        Index("ix_graduates_risk_order_silent_since_id", "risk_order", "silent_since", "id"),
        Index(
            "ix_graduates_counselor_id_risk_order_silent_since_id",
            "counselor_id",
            "risk_order",
            "silent_since",
            "id",
        ),
        Index("ix_graduates_silent_since_id", "silent_since", "id"),
        Index("ix_graduates_counselor_id_silent_since_id", "counselor_id", "silent_since", "id"),
        Index("ix_graduates_open_alerts_id", "open_alerts", "id"),
        Index("ix_graduates_counselor_id_open_alerts_id", "counselor_id", "open_alerts", "id"),
        Index("ix_graduates_name_key_id", "name_key", "id"),
        Index("ix_graduates_counselor_id_name_key_id", "counselor_id", "name_key", "id"),
        one_of("status", GraduateStatus),
        one_of("risk_level", RiskLevel),
        one_of("last_assessed_level", RiskLevel),
        one_of("locale", Locale),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    counselor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(
        String(NAME_KEY_LENGTH).with_variant(String(NAME_KEY_LENGTH, collation="C"), "postgresql"),
        default=_name_key_default,
    )
    """``name_key(display_name)``: the caseload's name order and prefix search."""
    timezone: Mapped[str] = mapped_column(String(64))
    checkin_time: Mapped[str] = mapped_column(String(5), default="19:00")
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    status: Mapped[GraduateStatus] = mapped_column(String(16), default="active")
    locale: Mapped[Locale] = mapped_column(String(16), default="en", server_default="en")
    """The language of everything the graduate is sent or shown (``aftercare.i18n``)."""
    discharge_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    admitted_on: Mapped[date] = mapped_column(Date, default=_admitted_on_default)
    """The local day of enrollment, or of the latest re-admission: the first day a check-in is
    asked for (the silence rule counts from it)."""
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC())
    # Running state for the warning-sign engine, so a check-in never scans the whole history.
    aggregates: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    last_checkin_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    silent_since: Mapped[date] = mapped_column(Date, default=_silent_since_default)
    """``silence_start(last_checkin_date, admitted_on)``: the caseload's silence order."""
    streak_days: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive days with a check-in up to the last one; 0 once a day closes without one."""
    # The caseload's risk: kept by the alert service in the same transaction as each alert change
    # (``alerts.service.refresh_caseload``) and by each check-in (``rules.engine.caseload_risk``).
    risk_level: Mapped[RiskLevel] = mapped_column(String(16), default="low")
    risk_order: Mapped[int] = mapped_column(SmallInteger, Computed(_RISK_ORDER_SQL, persisted=True))
    last_assessed_level: Mapped[RiskLevel] = mapped_column(String(16), default="low")
    """The risk level of the latest day's assessment: the caseload's risk when no alert is active."""
    open_alerts: Mapped[int] = mapped_column(Integer, default=0)
    """Open and acknowledged alerts."""
    erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(), nullable=True)
    """Set when a supervisor erased the graduate's personal data (``flows/erasure.py``): the row is a
    tombstone (its id keeps the audit log's rows meaning something) that no route reaches again."""


class TimezoneChange(UUIDPrimaryKey, Base):
    """A time zone the graduate reported (at enrollment, and each change since): which zone was in
    force when, so a past day's times read in the zone the graduate lived by then."""

    __tablename__ = "timezone_changes"
    # The graduate view's history (newest first) and the zone in force at an instant.
    __table_args__ = (
        Index("ix_timezone_changes_graduate_id_effective_from", "graduate_id", "effective_from"),
    )

    graduate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    timezone: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[datetime] = mapped_column(DateTimeUTC())
    """The instant from which the zone is in force: the report itself (the API takes no back-dated
    change), kept apart from ``reported_at`` so an import or a correction can say otherwise."""
    reported_at: Mapped[datetime] = mapped_column(DateTimeUTC())
