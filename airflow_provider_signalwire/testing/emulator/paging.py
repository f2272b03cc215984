"""
Compatibility API lists: ``Page``/``PageSize``/``PageToken``, the list envelope, and the date filters.

The envelope is the spec's ``*ListResponse`` without the list: ``uri``, ``first_page_uri``,
``next_page_uri``, ``previous_page_uri`` (paths, ``null`` when there is none), ``page`` and ``page_size``.
Filters travel in every page URI, so following ``next_page_uri`` verbatim keeps them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_signalwire.testing.emulator.clock import to_timestamp
from airflow_provider_signalwire.testing.emulator.records import Keyed, PageToken, previous_anchor
from airflow_provider_signalwire.testing.emulator.replies import invalid_arguments, plain_error
from airflow_provider_signalwire.testing.emulator.validation import Form, first

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_DAY_LENGTH = 86400
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int
    token: PageToken | None

    @classmethod
    def from_query(cls, query: Form) -> Paging:
        size_text = first(query, "PageSize")
        if not size_text:
            page_size = DEFAULT_PAGE_SIZE
        elif size_text.isdigit() and 1 <= int(size_text) <= MAX_PAGE_SIZE:
            page_size = int(size_text)
        else:
            raise plain_error(400, 54454, f"The page size provided is invalid: {size_text!r} (1 to {MAX_PAGE_SIZE})")
        page_text = first(query, "Page") or "0"
        if not page_text.isdigit():
            raise invalid_arguments([f"Page must be a non-negative integer, got {page_text!r}"])
        token_text = first(query, "PageToken") or None
        token = PageToken.decode(token_text) if token_text else None
        if token_text and token is None:
            raise plain_error(400, 54453, f"The PageToken provided is invalid: {token_text!r}")
        if int(page_text) > 0 and token is None:
            raise plain_error(400, 54453, "A PageToken is required for pages after the first: follow next_page_uri")
        return cls(int(page_text), page_size, token)


def envelope(
    path: str, filters: Sequence[tuple[str, str]], paging: Paging, page: Sequence[Keyed], more: bool
) -> dict[str, Any]:
    """The list envelope for ``page`` of the list at ``path``; add the list under its key."""

    def uri(number: int, token: PageToken | None) -> str:
        pairs = [*filters, ("Page", str(number)), ("PageSize", str(paging.page_size))]
        if token is not None:
            pairs.append(("PageToken", token.encode()))
        return f"{path}?{urlencode(pairs, quote_via=quote)}"

    previous_uri = None
    if paging.page > 0:
        anchor = previous_anchor(page, paging.token)
        previous_uri = uri(paging.page - 1, None if anchor is None else PageToken("PB", anchor))
    return {
        "uri": uri(paging.page, paging.token),
        "first_page_uri": uri(0, None),
        "next_page_uri": uri(paging.page + 1, PageToken("PA", page[-1].key)) if more and page else None,
        "previous_page_uri": previous_uri,
        "page": paging.page,
        "page_size": paging.page_size,
    }


def given_filters(query: Form, names: Sequence[str]) -> list[tuple[str, str]]:
    """The filters a request gave, in a fixed order, to echo in the page URIs."""
    return [(name, value) for name in names if (value := first(query, name))]


def with_operators(*names: str) -> list[str]:
    """``DateSent``, ``DateSent<``, ``DateSent>``: a date filter's on / before / after forms."""
    return [f"{name}{operator}" for name in names for operator in ("", "<", ">")]


@dataclass
class DateWindow:
    """A half-open interval of epoch seconds a date must fall in: ``lo <= t < hi``."""

    lo: float = -math.inf
    hi: float = math.inf

    @classmethod
    def from_query(cls, query: Form, name: str) -> DateWindow | None:
        """The window ``name``, ``name<`` and ``name>`` describe together; ``None`` when none is given."""
        window = None
        for operator in ("", "<", ">"):
            raw = first(query, name + operator)
            if raw:
                window = window or cls()
                window._narrow(name + operator, operator, raw)
        return window

    def _narrow(self, parameter: str, operator: str, raw: str) -> None:
        # A whole UTC day (the documented form) or, as clients also send, one second.
        try:
            if _DAY.fullmatch(raw):
                lo = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC).timestamp()
                hi = lo + _DAY_LENGTH
            else:
                lo = math.floor(to_timestamp(raw))
                hi = lo + 1
        except (ValueError, OverflowError) as err:
            raise invalid_arguments(
                [f"{parameter} must be a date (YYYY-MM-DD) or an RFC 2822 / ISO 8601 date-time, got {raw!r}"]
            ) from err
        if operator == ">":
            hi = math.inf
        elif operator == "<":
            lo = -math.inf
        self.lo = max(self.lo, lo)
        self.hi = min(self.hi, hi)

    def contains(self, ts: float | None) -> bool:
        return ts is not None and self.lo <= ts < self.hi


def check_choice(query: Mapping[str, list[str]], name: str, allowed: Sequence[str]) -> str | None:
    """The filter's value, or a 422 when it is outside the parameter's enum."""
    value = first(query, name)
    if value and value not in allowed:
        raise invalid_arguments([f"{name} must be one of {', '.join(allowed)}, got {value!r}"])
    return value or None
