"""
Records whose status moves on with time, and the views cached between two changes.

A record carries its planned changes (``pending``: ``(time, {field: value})``, in time order). They are
applied when the record is next read, so no background thread runs; ``rendered`` caches the record's view
until something changes.
"""

from __future__ import annotations

from typing import Any, Protocol

Plan = list[tuple[float, dict[str, Any]]]


class Timed(Protocol):
    pending: Plan
    updated: float
    rendered: dict[str, Any] | None


def settle(record: Timed, now: float) -> None:
    """Apply the planned changes whose time has come."""
    if not record.pending or record.pending[0][0] > now:
        return
    while record.pending and record.pending[0][0] <= now:
        at, changes = record.pending.pop(0)
        for name, value in changes.items():
            setattr(record, name, value)
        record.updated = at
    record.rendered = None


def change(record: Timed, now: float, **changes: Any) -> None:
    """Change a record now (an update request), outside its plan."""
    for name, value in changes.items():
        setattr(record, name, value)
    record.updated = now
    record.rendered = None


def view_copy(view: dict[str, Any]) -> dict[str, Any]:
    """A copy of a cached view that callers may change freely."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in view.items()}
