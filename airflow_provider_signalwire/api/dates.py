"""Dates: the API's RFC 2822 timestamps, and the dates and moments users give filters and sensors."""

from __future__ import annotations

import email.utils
from datetime import UTC, date, datetime
from typing import Any

from airflow_provider_signalwire.exceptions import SignalWireInputError


def parse_api_datetime(value: Any) -> datetime | None:
    """Parse a resource's RFC 2822 date (ISO 8601 tolerated) as UTC; ``None`` when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
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


def to_date_or_datetime(name: str, value: Any) -> date | datetime:
    """
    Read a date filter: a ``date``, an aware ``datetime``, or an ISO 8601 string (as templates render).

    A naive datetime is refused: its timezone would be a guess.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise SignalWireInputError(
                f"SignalWire filter {name!r} must be a date (YYYY-MM-DD) or an ISO 8601 datetime with a "
                f"timezone; got {text!r}."
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise SignalWireInputError(
                f"SignalWire filter {name!r} got a naive datetime ({value.isoformat()}); give it a timezone, "
                "for example datetime(..., tzinfo=timezone.utc)."
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value
    raise SignalWireInputError(
        f"SignalWire filter {name!r} must be a date, an aware datetime or an ISO 8601 string; got {value!r}."
    )


def to_utc_datetime(name: str, value: Any) -> datetime:
    """
    Read a moment: an aware ``datetime``, a ``date`` (its midnight UTC) or an ISO 8601 string.

    Templates render dates as strings, so strings are the common case. A naive datetime is refused.
    """
    moment = to_date_or_datetime(name, value)
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time(), UTC)
    return moment.astimezone(UTC)
