"""
What counts as a new call or message, for sensors and triggers alike.

:class:`NewItemsQuery` decides which list filters go to SignalWire, which date orders the items (the resource
spec's ``watch_date``), which items match the filters SignalWire cannot apply itself (direction, body text), and
in which order they come out. A :class:`Cursor` says where "new" starts: a date, plus the SIDs already seen at
exactly that date, because SignalWire dates have whole-second resolution and several items often share one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_signalwire.api.dates import parse_api_datetime
from airflow_provider_signalwire.exceptions import SignalWireInputError

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.resource import Resource

#: The most items a sensor hands to XCom by default.
DEFAULT_LIMIT = 100
WATCHABLE = ("messages", "calls")


class Cursor(NamedTuple):
    """
    Where "new" starts: an item is new when it is dated after ``date``, or at ``date`` and not in ``sids``.

    :param date: an aware datetime (UTC).
    :param sids: the SIDs already seen at exactly ``date``.
    """

    date: datetime
    sids: frozenset[str] = frozenset()

    def is_new(self, when: datetime, sid: str) -> bool:
        return when > self.date or (when == self.date and sid not in self.sids)

    def advanced(self, when: datetime, sid: str) -> Cursor:
        """The cursor once the item dated ``when`` with ``sid`` has been seen (items come oldest first)."""
        if when > self.date:
            return Cursor(when, frozenset({sid}))
        if when == self.date and sid not in self.sids:
            return Cursor(self.date, self.sids | {sid})
        return self

    def to_json(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "sids": sorted(self.sids)}

    @classmethod
    def from_json(cls, value: Any) -> Cursor | None:
        """Read a stored cursor; ``None`` when there is none or it cannot be read."""
        if not isinstance(value, Mapping):
            return None
        try:
            when = datetime.fromisoformat(str(value["date"]))
            sids = value.get("sids") or []
        except (KeyError, ValueError):
            return None
        if when.tzinfo is None or not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
            return None
        return cls(when.astimezone(UTC), frozenset(sids))


class SeenItem(NamedTuple):
    """An item listed after the cursor: its date, the API dict, and whether it matches every filter."""

    date: datetime
    item: dict[str, Any]
    matches: bool

    @property
    def sid(self) -> str:
        return str(self.item["sid"])


def _check_text(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise SignalWireInputError(f"SignalWire watch: {name!r} must be a non-empty string or None; got {value!r}.")
    return value


class NewItemsQuery:
    """
    Which calls or messages to watch for.

    ``to``, ``from_`` and ``status`` are sent to SignalWire as list filters; ``direction`` and
    ``body_contains`` are checked here, as the API has no such filters.

    :param resource: ``"messages"`` or ``"calls"``.
    :param to: only items to this address (E.164 number, SIP URI...).
    :param from_: only items from this address.
    :param status: only items that have this status when they are listed. Items watched for a final status
        count from the resource's final date (a call's end) where it has one; other items count from their
        watched date (a message's ``date_sent``, a call's ``start_time``) and must already have the status when
        they are first listed after it.
    :param direction: only items in this direction: ``"inbound"`` (default), ``"outbound"`` (any of
        ``outbound-api``, ``outbound-call``, ``outbound-reply``, ``outbound-dial``), an exact value, or
        ``None`` for all.
    :param body_contains: messages only: only messages whose body contains this text (case-insensitive).
    """

    __slots__ = ("body_contains", "direction", "from_", "resource", "spec", "status", "to")

    def __init__(
        self,
        resource: str,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        body_contains: str | None = None,
    ) -> None:
        from airflow_provider_signalwire.api.resources import resource as resource_named

        if resource not in WATCHABLE:
            raise SignalWireInputError(f"SignalWire watch: 'resource' must be 'messages' or 'calls'; got {resource!r}.")
        self.resource = resource
        self.spec: Resource = resource_named(resource)
        self.to = _check_text("to", to)
        self.from_ = _check_text("from_", from_)
        self.status = _check_text("status", status)
        self.direction = _check_text("direction", direction)
        if body_contains is not None:
            if resource != "messages":
                raise SignalWireInputError("SignalWire watch: 'body_contains' applies to messages only.")
            if not isinstance(body_contains, str) or not body_contains:
                raise SignalWireInputError(
                    f"SignalWire watch: 'body_contains' must be a non-empty string or None; got {body_contains!r}."
                )
        self.body_contains = body_contains
        # Build the list request once (no I/O) so that a bad status or address fails here, before any wait.
        self.spec.list_plan({"project_id": "validation"}, filters=self.list_filters(datetime.now(UTC)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewItemsQuery) and self.to_kwargs() == other.to_kwargs()

    def __hash__(self) -> int:
        return hash((self.resource, *self.to_kwargs().values()))

    def __repr__(self) -> str:
        return f"NewItemsQuery({self.resource!r}, {self.to_kwargs()!r})"

    @property
    def date_filter(self) -> str:
        """The date filter this query follows: the resource's final date when watching for a final status."""
        statuses = self.spec.statuses
        if self.spec.watch_date_final and statuses is not None and self.status in statuses.final:
            return self.spec.watch_date_final
        assert self.spec.watch_date is not None
        return self.spec.watch_date

    def list_filters(self, since: datetime) -> dict[str, Any]:
        """The hooks' list filters for the items dated ``since`` or later."""
        filters: dict[str, Any] = {f"{self.date_filter}_after": since}
        for name in ("to", "from_", "status"):
            if getattr(self, name) is not None:
                filters[name] = getattr(self, name)
        return filters

    def item_date(self, item: Mapping[str, Any]) -> datetime | None:
        return parse_api_datetime(item.get(self.spec.date_filters[self.date_filter].item_field))

    def matches(self, item: Mapping[str, Any]) -> bool:
        if self.direction is not None:
            direction = str(item.get("direction") or "")
            wanted = self.direction.lower()
            if wanted == "outbound":
                if not direction.startswith("outbound"):
                    return False
            elif direction != wanted:
                return False
        if self.body_contains is not None:
            body = item.get("body")
            if not isinstance(body, str) or self.body_contains.casefold() not in body.casefold():
                return False
        return True

    def select(self, items: Iterable[Mapping[str, Any]], cursor: Cursor) -> list[SeenItem]:
        """
        The items after ``cursor``, oldest first, each once, with whether they match.

        SignalWire lists newest first; items of the same second keep the reverse of the listed order
        (oldest first as SignalWire sees them). Items without a SID or a readable date are left out.
        Pages may overlap when items arrive while they are read, so an item seen twice counts once.
        """
        seen: dict[str, SeenItem] = {}
        for item in items:
            sid = item.get("sid")
            when = self.item_date(item)
            if not isinstance(sid, str) or when is None or not cursor.is_new(when, sid) or sid in seen:
                continue
            seen[sid] = SeenItem(when, dict(item), self.matches(item))
        return sorted(reversed(seen.values()), key=lambda s: s.date)

    def to_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "to": self.to,
            "from_": self.from_,
            "status": self.status,
            "direction": self.direction,
        }
        if self.resource == "messages":
            kwargs["body_contains"] = self.body_contains
        return kwargs


def matching_items(seen: Iterable[SeenItem], limit: int | None = None) -> list[dict[str, Any]]:
    """The API dicts of the matching items, oldest first, at most ``limit``."""
    items = [s.item for s in seen if s.matches]
    return items[:limit] if limit is not None else items


def cursor_after(cursor: Cursor, seen: Iterable[SeenItem]) -> Cursor:
    for s in seen:
        cursor = cursor.advanced(s.date, s.sid)
    return cursor
