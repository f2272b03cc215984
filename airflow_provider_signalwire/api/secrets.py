"""Keeping the connection's secrets out of what the provider hands back: error texts and results (XCom)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
#: Shorter values are not looked for (they would hide common words), as Airflow's log masker does by default.
MIN_SECRET_LENGTH = 5


def scrub(value: Any, secrets: Iterable[str | None]) -> Any:
    """
    ``value`` with every secret (of :data:`MIN_SECRET_LENGTH` or more) replaced by ``***`` in every string, at
    any depth and under any key (keys too).

    Dicts, lists and tuples are copied where they hold a secret; everything else is returned as it is.
    """
    # The longest first, so that a secret that holds another is hidden whole.
    ordered = sorted({s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    return _scrub(value, ordered) if ordered else value


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, Mapping):
        return {_scrub(key, secrets): _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_scrub(item, secrets) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def without_user_info(text: str) -> str:
    """A URL (or what was meant as one) to quote in an error: whatever precedes an ``@`` may be a token."""
    if "@" not in text:
        return text
    before, after = text.split("@", 1)[0], text.rsplit("@", 1)[1]
    scheme = before.split("://", 1)[0] + "://" if "://" in before else ""
    return f"{scheme}{MASK}@{after}"
