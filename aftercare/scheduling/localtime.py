"""Local wall-clock time in a graduate's IANA zone, DST-safe, with ``zoneinfo`` only.

The contract's rule for wall-clock times that do not exist or exist twice: a time in a
spring-forward gap moves forward by the gap (02:30 on a 60-minute gap day is 03:30), a time in a
fall-back overlap takes the first instant (``fold=0``). Everything here is pure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ``ValueError`` if there is none (``"Mars/Olympus"``, ``""``)."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@cache
def iana_zone_names() -> frozenset[str]:
    """The IANA zone names a graduate may live in: the ``tzdata`` package's list (the project's own
    copy of the database), less ``Factory``, a placeholder zone whose abbreviation reads "-00".

    Whatever else the system's zone directory holds is not a zone name a client can mean:
    ``localtime`` (the server's own zone, whatever that is), ``posixrules``, and the ``posix/`` and
    ``right/`` (leap-second) copies."""
    names = resources.files("tzdata").joinpath("zones").read_text().split()
    return frozenset(names) - {"Factory"}


def is_valid_zone(name: str) -> bool:
    """Whether ``name`` is an IANA zone a client may set (``iana_zone_names``) that loads."""
    if name not in iana_zone_names():
        return False
    try:
        zone(name)
    except ValueError:
        return False
    return True


def resolve_local(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the naive wall-clock time ``wall`` in ``tz``, by the contract's DST rule."""
    first = wall.replace(tzinfo=tz, fold=0)
    as_utc = first.astimezone(UTC)
    # A wall time that does not exist does not survive the round trip; zoneinfo then gives the
    # instant computed with the offset before the gap, which is exactly "forward by the gap".
    return as_utc


def local_datetime(at: datetime, tz: ZoneInfo) -> datetime:
    """The aware local date-time of the instant ``at`` in ``tz``."""
    return at.astimezone(tz)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The graduate's local calendar day at instant ``now``."""
    return now.astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where local ``day`` starts and where the next day starts (23 or 25 hours on
    DST days). The end is when that day's check-in window closes."""
    start = resolve_local(datetime.combine(day, time(0, 0)), tz)
    end = resolve_local(datetime.combine(day + timedelta(days=1), time(0, 0)), tz)
    return start, end


def at_local_time(day: date, clock_time: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of ``clock_time`` on local ``day`` (e.g. the daily prompt at 19:00)."""
    return resolve_local(datetime.combine(day, clock_time), tz)


def utc_offset_text(at: datetime, tz: ZoneInfo) -> str:
    """``-05:00`` style offset of ``tz`` at instant ``at`` (for ``local_time`` + ``utc_offset`` pairs)."""
    offset = at.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


class ZoneHistory:
    """The zones a graduate lived by, each from an instant: which one was in force when.

    Before the first known change the first zone holds (the history begins at enrollment, and
    nothing of the graduate is older); with no history at all, ``current``."""

    def __init__(self, changes: Iterable[tuple[datetime, str]], *, current: str) -> None:
        self._changes = sorted(changes)
        self._current = current

    def name_at(self, at: datetime) -> str:
        if not self._changes:
            return self._current
        starts = [start for start, _ in self._changes]
        return self._changes[max(0, bisect_right(starts, at) - 1)][1]

    def at(self, at: datetime) -> ZoneInfo:
        """The zone in force at instant ``at``."""
        return zone(self.name_at(at))
