"""
What counts as a new call or message, for sensors and triggers alike.

:class:`NewItemsQuery` decides which list filters go to SignalWire, which date orders the items (the resource
spec's ``watch_date``), which items match the filters SignalWire cannot apply itself (direction, body text), and
in which order they come out. A :class:`Cursor` says where "new" starts: a date, plus the SIDs already seen at
exactly that date, because SignalWire dates have whole-second resolution and several items often share one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_signalwire.api.dates import parse_api_datetime
from airflow_provider_signalwire.exceptions import SignalWireInputError

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.resource import Resource

#: The most items a sensor hands to XCom by default.
DEFAULT_LIMIT = 100
#: How far behind the newest item seen a watcher keeps looking, by default: for items listed a little late.
DEFAULT_LOOKBACK = timedelta(minutes=2)
#: The same when watching for a status, which an item may reach long after its date (a late carrier report).
STATUS_LOOKBACK = timedelta(hours=1)
#: A poll's page size: a quiet poll is one page; a burst pages on until it has passed the cursor.
POLL_PAGE_SIZE = 20
#: The page sizes of a shared poll, which follows what the last poll found: small while quiet, larger in a burst.
SHARED_POLL_PAGE_SIZES = (2, 200)
#: How far behind SignalWire's time at a poll (its answer's ``Date``) a cursor may move when nothing newer was listed:
#: an item may show in a list this long after its date (plus ``lookback``) without being missed.
CLOCK_MARGIN = timedelta(minutes=1)
WATCHABLE = ("messages", "calls")


class Cursor(NamedTuple):
    """
    Where "new" starts, and what was already handed out.

    An item is new when it is dated at or after :meth:`window_start` (never before ``floor``) and its SID is not in
    ``fired``. The window reaches ``lookback`` behind the newest date seen, so that an item listed late (its date
    written before it shows in a list) or one that comes to match a filter late (a carrier report that makes a
    message ``undelivered``) is still seen, once: the SIDs handed out inside the window are kept.

    :param floor: items dated before it never count (the watch's start).
    :param date: the newest item date seen so far.
    :param fired: the SIDs handed out that are still inside the window, with their dates.
    """

    floor: datetime
    date: datetime
    fired: Mapping[str, datetime]

    @classmethod
    def starting(cls, since: datetime) -> Cursor:
        # A plain datetime: Airflow's context dates (pendulum) do not compare with plain ones after arithmetic.
        start = _aware(since.isoformat())
        return cls(start, start, {})

    def window_start(self, lookback: timedelta) -> datetime:
        return max(self.floor, self.date - lookback)

    def is_new(self, when: datetime, sid: str, lookback: timedelta) -> bool:
        return when >= self.window_start(lookback) and sid not in self.fired

    def after(self, seen: Iterable[SeenItem], lookback: timedelta) -> Cursor:
        """The cursor once ``seen`` were handled: the matching ones handed out, every one counted as seen."""
        date, fired = self.date, dict(self.fired)
        for item in seen:
            date = max(date, item.date)
            if item.matches:
                fired[item.sid] = item.date
        start = max(self.floor, date - lookback)
        return Cursor(self.floor, date, {sid: when for sid, when in fired.items() if when >= start})

    def merged(self, other: Cursor, lookback: timedelta) -> Cursor:
        """What both cursors have seen: the newer date, the SIDs either handed out (inside the window)."""
        date = max(self.date, other.date)
        start = max(self.floor, date - lookback)
        fired = {sid: when for sid, when in {**other.fired, **self.fired}.items() if when >= start}
        return Cursor(self.floor, date, fired)

    def polled(self, at: datetime, lookback: timedelta) -> Cursor:
        """
        The cursor after a poll started ``at``, in SignalWire's time (from its answer's ``Date`` header, never the
        local clock, which may be minutes off): what is older than ``at`` less :data:`CLOCK_MARGIN` has been
        listed, so the next poll need not read further back than its look-back from there.
        """
        moment = at - CLOCK_MARGIN
        if moment <= self.date:
            return self
        start = max(self.floor, moment - lookback)
        return Cursor(self.floor, moment, {sid: when for sid, when in self.fired.items() if when >= start})

    def to_json(self) -> dict[str, Any]:
        return {
            "floor": self.floor.isoformat(),
            "date": self.date.isoformat(),
            "fired": {sid: when.isoformat() for sid, when in sorted(self.fired.items())},
        }

    @classmethod
    def from_json(cls, value: Any) -> Cursor | None:
        """Read a stored cursor (also the earlier form ``{"date", "sids"}``); ``None`` when it cannot be read."""
        if not isinstance(value, Mapping):
            return None
        try:
            date = _aware(value["date"])
            if "sids" in value:  # the form before the look-back window: SIDs seen at exactly ``date``
                sids = value["sids"]
                if not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
                    return None
                return cls(date, date, dict.fromkeys(sids, date))
            fired = value.get("fired") or {}
            if not isinstance(fired, Mapping):
                return None
            return cls(_aware(value["floor"]), date, {str(sid): _aware(when) for sid, when in fired.items()})
        except (KeyError, TypeError, ValueError):
            return None


def aware_datetime(value: Any) -> datetime:
    """An ISO 8601 moment with a timezone, in UTC (``ValueError`` otherwise)."""
    return _aware(value)


def _aware(value: Any) -> datetime:
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError("naive")
    return when.astimezone(UTC)


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
    :param lookback: seconds behind the newest item seen that a watcher keeps looking for items that came late or
        came to match late, each handed out once; ``None``: 2 minutes, 1 hour with ``status``.
    """

    __slots__ = (
        "approval_replies_out",
        "body_contains",
        "direction",
        "from_",
        "lookback",
        "resource",
        "spec",
        "status",
        "to",
    )

    def __init__(
        self,
        resource: str,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        body_contains: str | None = None,
        lookback: float | None = None,
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
        #: Set by a watcher whose connection maps approval responders: approval replies are no new messages to it.
        self.approval_replies_out = False
        if lookback is None:
            self.lookback = STATUS_LOOKBACK if status is not None else DEFAULT_LOOKBACK
        elif isinstance(lookback, bool) or not isinstance(lookback, (int, float)) or not 0 <= lookback <= 7 * 86400:
            raise SignalWireInputError(
                f"SignalWire watch: 'lookback' must be a number of seconds from 0 to 604800 (7 days) or None; "
                f"got {lookback!r}."
            )
        else:
            self.lookback = timedelta(seconds=lookback)
        # Build the list request once (no I/O) so that a bad status or address fails here, before any wait.
        self.spec.list_plan({"project_id": "validation"}, filters=self.list_filters(datetime.now(UTC)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewItemsQuery) and self.to_kwargs() == other.to_kwargs()

    def __hash__(self) -> int:
        return hash((self.resource, *self.to_kwargs().values()))

    def server_query(self) -> tuple[str, ...]:
        """What SignalWire is asked (resource, filters, date followed): watchers asking the same can share a poll."""
        return (self.resource, self.to or "", self.from_ or "", self.status or "", self.date_filter)

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

    def poll_arguments(self, cursor: Cursor) -> dict[str, Any]:
        """The hooks' ``list`` arguments for a poll after ``cursor`` (see :meth:`poll_arguments_from`)."""
        return self.poll_arguments_from(cursor.window_start(self.lookback))

    def poll_arguments_from(self, start: datetime, page_size: int = POLL_PAGE_SIZE) -> dict[str, Any]:
        """
        The hooks' ``list`` arguments for a poll of the items dated ``start`` or later: in small pages, newest first,
        stopping once past ``start`` where the list's order allows it (not for a call's end, which a long call
        reaches long after the calls listed around it).
        """
        arguments: dict[str, Any] = {"page_size": page_size, **self.list_filters(start)}
        if self.spec.date_filters[self.date_filter].item_field in self.spec.list_order:
            arguments["stop_below"] = start
        return arguments

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
        if self.approval_replies_out and self.resource == "messages":
            from airflow_provider_signalwire.hitl import is_approval_reply

            return not is_approval_reply(item)
        return True

    def select(self, items: Iterable[Mapping[str, Any]], cursor: Cursor) -> list[SeenItem]:
        """
        The items new to ``cursor``, oldest first, each once, with whether they match.

        SignalWire lists newest first; items of the same second keep the reverse of the listed order
        (oldest first as SignalWire sees them). Items without a SID or a readable date are left out.
        Pages may overlap when items arrive while they are read, so an item seen twice counts once.
        """
        seen: dict[str, SeenItem] = {}
        for item in items:
            sid = item.get("sid")
            when = self.item_date(item)
            if not isinstance(sid, str) or when is None or sid in seen or not cursor.is_new(when, sid, self.lookback):
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
        kwargs["lookback"] = self.lookback.total_seconds()
        return kwargs


def matching_items(seen: Iterable[SeenItem], limit: int | None = None) -> list[dict[str, Any]]:
    """The API dicts of the matching items, oldest first, at most ``limit``."""
    items = [s.item for s in seen if s.matches]
    return items[:limit] if limit is not None else items
