"""The emulator's clock (real time plus what tests advanced) and the date formats the APIs answer with."""

from __future__ import annotations

import email.utils
import functools
import math
import time
from datetime import UTC, datetime

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SECONDS_PER_DAY = 86400


class Clock:
    """
    Wall-clock time moved forward by :meth:`advance`, so tests step statuses without sleeping.

    :param skew_seconds: how far the emulated Space's clock is ahead of this machine's (negative: behind), as a real
        Space's may be ahead of or behind the clock of the machine that calls it.
    """

    def __init__(self, skew_seconds: float = 0.0) -> None:
        self._offset = float(skew_seconds)

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("The clock only moves forward")
        self._offset += seconds


def rfc2822(ts: float | None) -> str | None:
    """``Wed, 19 Sep 2018 20:00:00 +0000``, as the Compatibility API dates its resources."""
    if ts is None:
        return None
    day, second = divmod(math.floor(ts), _SECONDS_PER_DAY)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_day_prefix(day)}{hour:02d}:{minute:02d}:{second:02d} +0000"


@functools.lru_cache(maxsize=1 << 12)
def _day_prefix(day: int) -> str:
    # Built by hand: strftime's day and month names follow the locale. Cached per day: a big listing
    # formats hundreds of thousands of dates that share a few days.
    t = time.gmtime(day * _SECONDS_PER_DAY)
    return f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "


def http_date(ts: float) -> str:
    """``Wed, 19 Sep 2018 20:00:00 GMT``: the ``Date`` header of an answer."""
    return email.utils.formatdate(ts, usegmt=True)


def iso8601(ts: float | None) -> str | None:
    """``2018-09-19T20:00:00Z``, as Relay REST dates its resources."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_timestamp(value: datetime | str | float | int) -> float:
    """Seconds since the epoch from a datetime (naive = UTC), an ISO 8601 / RFC 2822 string or a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a date-time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = _parse_datetime_text(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not a date-time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def to_utc_datetime(value: datetime | str | float | int) -> datetime:
    """:func:`to_timestamp` as an aware UTC datetime (the control API's JSON dates)."""
    return datetime.fromtimestamp(to_timestamp(value), UTC)


def _parse_datetime_text(text: str) -> datetime:
    text = text.strip()
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    return datetime.fromisoformat(text)
