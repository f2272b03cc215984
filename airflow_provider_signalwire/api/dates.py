"""Dates: the API's RFC 2822 timestamps, and the dates and moments users give filters and sensors."""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from airflow_provider_signalwire.exceptions import SignalWireInputError


def parse_api_datetime(value: Any) -> datetime | None:
    """Parse a resource's RFC 2822 date (ISO 8601 tolerated) as UTC; ``None`` when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    return _parse_api_datetime(value)


@functools.lru_cache(maxsize=16384)
def _parse_api_datetime(value: str) -> datetime | None:
    # Cached: a watcher's polls read the same items' dates again and again (datetimes are immutable).
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_api_datetime(moment: datetime) -> str:
    """Format an aware datetime as the API's RFC 2822 dates (``Wed, 19 Sep 2018 20:00:00 +0000``)."""
    return email.utils.format_datetime(moment.astimezone(UTC)).replace("-0000", "+0000")


def read_dates(given: Mapping[str, Any]) -> dict[str, date | datetime]:
    """
    Read date filters (name -> value): each a ``date``, an aware ``datetime`` (returned in UTC) or an ISO 8601
    string, as templates render. A naive datetime is refused, its timezone would be a guess: every naive one is
    named in one error.
    """
    read = {name: _read_date(name, value) for name, value in given.items()}
    naive = [name for name, moment in read.items() if isinstance(moment, datetime) and moment.utcoffset() is None]
    if naive:
        raise _naive_error({name: given[name] for name in naive})
    return {name: m.astimezone(UTC) if isinstance(m, datetime) else m for name, m in read.items()}


def to_date_or_datetime(name: str, value: Any) -> date | datetime:
    """Read one date filter (see :func:`read_dates`)."""
    return read_dates({name: value})[name]


def as_moment(value: date | datetime) -> datetime:
    """An aware datetime as it is; a date as its midnight UTC."""
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time(), UTC)


def to_utc_datetime(name: str, value: Any) -> datetime:
    """
    Read a moment: an aware ``datetime``, a ``date`` (its midnight UTC) or an ISO 8601 string.

    Templates render dates as strings, so strings are the common case. A naive datetime is refused.
    """
    return as_moment(to_date_or_datetime(name, value)).astimezone(UTC)


def _read_date(name: str, value: Any) -> date | datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise SignalWireInputError(
                f"SignalWire filter {name!r} must be a date (YYYY-MM-DD) or an ISO 8601 datetime with a "
                f"timezone; got {text!r}."
            ) from None
    if isinstance(value, date):
        return value
    raise SignalWireInputError(
        f"SignalWire filter {name!r} must be a date, an aware datetime or an ISO 8601 string; got {value!r}."
    )


def _naive_error(naive: Mapping[str, Any]) -> SignalWireInputError:
    given = [
        f"{name!r} ({value.strip() if isinstance(value, str) else value.isoformat()!r})"
        for name, value in naive.items()
    ]
    hints = []
    texts = [value.strip() for value in naive.values() if isinstance(value, str)]
    if texts:
        hints.append(f"give a string its UTC offset or Z, for example {texts[0] + 'Z'!r} or {texts[0] + '+02:00'!r}")
    if any(isinstance(value, datetime) for value in naive.values()):
        hints.append("give a datetime a timezone, for example datetime(..., tzinfo=timezone.utc)")
    which = f"filter {given[0]} has" if len(given) == 1 else f"filters {', '.join(given)} have"
    return SignalWireInputError(f"SignalWire {which} no timezone, so the moment would be a guess: {'; '.join(hints)}.")
