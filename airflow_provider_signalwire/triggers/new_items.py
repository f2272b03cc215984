"""
Find the calls or messages that appeared after a point in time, and the trigger the sensors defer to.

:class:`NewItemsQuery` is the one place that decides what counts as a new call or message: which list
filters go to SignalWire, which date orders the items, which ones match the filters that SignalWire
cannot apply itself (direction, body text), and in which order they come out. The sensors' poke (sync
hook, :func:`find_new_items`), :class:`SignalWireNewItemsTrigger` and the event triggers (async hook,
:func:`afind_new_items`) all go through it, so the three give the same answer for the same data.

A :class:`Cursor` says where "new" starts: a date, plus the SIDs already seen at exactly that date,
because SignalWire dates have whole-second resolution and several items often share one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_signalwire.api import (
    CALL_FINAL_STATUSES,
    CALLS,
    MESSAGES,
    RETRYABLE_STATUSES,
    Resource,
    RetryPolicy,
    SignalWireApi,
    parse_api_datetime,
    to_date_or_datetime,
)
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)

if TYPE_CHECKING:
    from airflow_provider_signalwire.hooks.signalwire import SignalWireAsyncHook, SignalWireHook

#: One attempt per poll: a failed poll is retried at the next one, and counted (``max_consecutive_failures``).
POLL_RETRY_POLICY = RetryPolicy(max_attempts=1)
DEFAULT_MAX_CONSECUTIVE_FAILURES = 5
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class _Watched:
    """What a resource is listed with and which of its dates says when an item appeared."""

    resource: Resource
    list_method: str  # the hooks' method
    date_filter: str  # the hooks' date filter, used with its ``_after`` suffix (exact, inclusive)

    @property
    def date_field(self) -> str:
        return self.resource.date_filters[self.date_filter][1]


# A message counts from the moment it was sent or received, a call from its start: these are the dates
# SignalWire lists them by. A call that is still queued has no start yet and is seen once it starts.
WATCHED = {
    "messages": _Watched(MESSAGES, "list_messages", "date_sent"),
    "calls": _Watched(CALLS, "list_calls", "start_time"),
}
# A call reaches a final status when it ends, after its start: watched for such a status, a call counts from
# its end, or one that ended after a later-started call was already seen would be passed over for good.
ENDED_CALLS = _Watched(CALLS, "list_calls", "end_time")


def _check_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SignalWireInputError(f"SignalWire watch: {name!r} must be a non-empty string or None; got {value!r}.")
    return value


def check_positive_int(name: str, value: Any) -> int:
    """A count such as ``limit`` or ``max_consecutive_failures``: a whole number of 1 or more."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SignalWireInputError(f"SignalWire watch: {name!r} must be a whole number of 1 or more; got {value!r}.")
    return value


def check_poll_interval(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86400:
        raise SignalWireInputError(
            f"SignalWire watch: 'poll_interval' must be a number of seconds above 0 and at most 86400; got {value!r}."
        )
    return float(value)


def to_utc_datetime(name: str, value: Any) -> datetime:
    """
    Read a moment: an aware ``datetime``, a ``date`` (its midnight UTC) or an ISO 8601 string.

    Templates render dates as strings, so strings are the common case. A naive datetime is refused.
    """
    moment = to_date_or_datetime(name, value)
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time(), UTC)
    return moment.astimezone(UTC)


# --------------------------------------------------------------------------------------------------
# The cursor
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """
    Where "new" starts: an item is new when it is dated after ``date``, or at ``date`` and not in ``sids``.

    :param date: an aware datetime (UTC).
    :param sids: the SIDs already seen at exactly ``date``.
    """

    date: datetime
    sids: frozenset[str] = field(default_factory=frozenset)

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


# --------------------------------------------------------------------------------------------------
# The query
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenItem:
    """An item listed after the cursor: its date, the API dict, and whether it matches every filter."""

    date: datetime
    item: dict[str, Any]
    matches: bool

    @property
    def sid(self) -> str:
        return str(self.item["sid"])


@dataclass(frozen=True)
class NewItemsQuery:
    """
    Which calls or messages to watch for.

    ``to``, ``from_`` and ``status`` are sent to SignalWire as list filters; ``direction`` and
    ``body_contains`` are checked here, as the API has no such filters.

    :param resource: ``"messages"`` or ``"calls"``.
    :param to: only items to this address (E.164 number, SIP URI...).
    :param from_: only items from this address.
    :param status: only items that have this status when they are listed. Calls watched for a final status
        (``completed``, ``busy``, ``failed``, ``no-answer``, ``canceled``) count from their end; other items
        count from their date (a message's ``date_sent``, a call's ``start_time``) and must already have the
        status when they are first listed after it.
    :param direction: only items in this direction: ``"inbound"`` (default), ``"outbound"`` (any of
        ``outbound-api``, ``outbound-call``, ``outbound-reply``, ``outbound-dial``), an exact value, or
        ``None`` for all.
    :param body_contains: messages only: only messages whose body contains this text (case-insensitive).
    """

    resource: str
    to: str | None = None
    from_: str | None = None
    status: str | None = None
    direction: str | None = "inbound"
    body_contains: str | None = None

    def __post_init__(self) -> None:
        if self.resource not in WATCHED:
            raise SignalWireInputError(
                f"SignalWire watch: 'resource' must be 'messages' or 'calls'; got {self.resource!r}."
            )
        for name in ("to", "from_", "status", "direction"):
            _check_text(name, getattr(self, name))
        if self.body_contains is not None:
            if self.resource != "messages":
                raise SignalWireInputError("SignalWire watch: 'body_contains' applies to messages only.")
            if not isinstance(self.body_contains, str) or not self.body_contains:
                raise SignalWireInputError(
                    f"SignalWire watch: 'body_contains' must be a non-empty string or None; got {self.body_contains!r}."
                )
        # Build the list request once (no I/O) so that a bad status or address fails here, before any wait.
        self.list_plan_for(datetime.now(UTC))

    @property
    def watched(self) -> _Watched:
        if self.resource == "calls" and self.status in CALL_FINAL_STATUSES:
            return ENDED_CALLS
        return WATCHED[self.resource]

    def list_filters(self, since: datetime) -> dict[str, Any]:
        """The hooks' list filters for the items dated ``since`` or later."""
        filters: dict[str, Any] = {f"{self.watched.date_filter}_after": since}
        for name in ("to", "from_", "status"):
            if getattr(self, name) is not None:
                filters[name] = getattr(self, name)
        return filters

    def list_plan_for(self, since: datetime) -> Any:
        list_method = getattr(SignalWireApi("validation"), self.watched.list_method)
        return list_method(**self.list_filters(since))

    def item_date(self, item: Mapping[str, Any]) -> datetime | None:
        return parse_api_datetime(item.get(self.watched.date_field))

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


def find_new_items(hook: SignalWireHook, query: NewItemsQuery, cursor: Cursor) -> list[SeenItem]:
    """List every page after ``cursor`` with the sync hook (sensors' poke)."""
    return query.select(getattr(hook, query.watched.list_method)(**query.list_filters(cursor.date)), cursor)


async def afind_new_items(hook: SignalWireAsyncHook, query: NewItemsQuery, cursor: Cursor) -> list[SeenItem]:
    """List every page after ``cursor`` with the async hook (triggers)."""
    pages = getattr(hook, query.watched.list_method)(**query.list_filters(cursor.date))
    return query.select([item async for item in pages], cursor)


def matching_items(seen: Iterable[SeenItem], limit: int | None = None) -> list[dict[str, Any]]:
    """The API dicts of the matching items, oldest first, at most ``limit``."""
    items = [s.item for s in seen if s.matches]
    return items[:limit] if limit is not None else items


def cursor_after(cursor: Cursor, seen: Iterable[SeenItem]) -> Cursor:
    for s in seen:
        cursor = cursor.advanced(s.date, s.sid)
    return cursor


# --------------------------------------------------------------------------------------------------
# Poll failures
# --------------------------------------------------------------------------------------------------


def is_transient(error: BaseException) -> bool:
    """A failure worth polling again for: no answer, 429 (throttled) or a 5xx."""
    if isinstance(error, SignalWireConnectionError):
        return True
    return isinstance(error, SignalWireApiError) and error.status in RETRYABLE_STATUSES


def wait_after_failure(error: BaseException, poll_interval: float) -> float:
    """Wait at least the poll interval, longer when SignalWire asked for it (``Retry-After``)."""
    retry_after = getattr(error, "retry_after", None)
    return max(poll_interval, float(retry_after)) if retry_after is not None else poll_interval


class FailureCounter:
    """
    Counts consecutive failed polls: a transient failure is logged and retried at the next poll, up to
    ``limit`` in a row; any other failure, or one too many, is raised.
    """

    def __init__(self, limit: int, log: Any, what: str) -> None:
        self.limit = limit
        self.log = log
        self.what = what
        self.count = 0

    def succeeded(self) -> None:
        self.count = 0

    def failed(self, error: BaseException) -> None:
        """Record a failed poll; re-raise ``error`` when it should end the wait."""
        if not is_transient(error):
            raise error
        self.count += 1
        if self.count >= self.limit:
            self.log.error("SignalWire %s failed %d times in a row; giving up: %s", self.what, self.count, error)
            raise error
        self.log.warning(
            "SignalWire %s failed (%d of %d in a row), polling again: %s", self.what, self.count, self.limit, error
        )


def error_payload(error: BaseException) -> dict[str, Any]:
    """An error as a JSON-serialisable dict, so that a trigger can hand it to the worker."""
    details: dict[str, Any] = {"message": str(error), "type": type(error).__name__}
    if isinstance(error, SignalWireApiError):
        details.update(
            status=error.status,
            method=error.method,
            path=error.path,
            code=error.code,
            api_message=error.message,
            more_info=error.more_info,
            retry_after=error.retry_after,
        )
    elif isinstance(error, SignalWireConnectionError):
        details["request_may_have_been_processed"] = error.request_may_have_been_processed
    return details


def error_from_payload(details: Mapping[str, Any]) -> Exception:
    """Rebuild the error a trigger reported with :func:`error_payload`."""
    kind = details.get("type")
    if kind == "SignalWireApiError":
        return SignalWireApiError(
            status=int(details.get("status") or 0),
            method=str(details.get("method") or "GET"),
            path=str(details.get("path") or ""),
            code=details.get("code"),
            message=details.get("api_message"),
            more_info=details.get("more_info"),
            retry_after=details.get("retry_after"),
        )
    if kind == "SignalWireConnectionError":
        return SignalWireConnectionError(
            str(details.get("message")),
            request_may_have_been_processed=bool(details.get("request_may_have_been_processed")),
        )
    if kind == "SignalWireInputError":
        return SignalWireInputError(str(details.get("message")))
    return SignalWireConnectionError(str(details.get("message")), request_may_have_been_processed=False)


# --------------------------------------------------------------------------------------------------
# The sensors' trigger
# --------------------------------------------------------------------------------------------------


class SignalWireNewItemsTrigger(BaseTrigger):
    """
    Wait until at least one call or message matching the filters is dated ``since`` or later.

    It fires once, with ``{"status": "success", "items": [...]}`` (API dicts, oldest first, at most
    ``limit``), or with ``{"status": "error", "error": {...}}`` when SignalWire refused a poll, or failed
    ``max_consecutive_failures`` polls in a row. It only reads, so a restart just polls again.

    :param resource: ``"messages"`` or ``"calls"``.
    :param since: ISO 8601 datetime with a timezone (or an aware ``datetime``): items dated at or after it count.
    :param signalwire_conn_id: the SignalWire connection.
    :param to: only items to this address.
    :param from_: only items from this address.
    :param status: only items with this status.
    :param direction: ``"inbound"`` (default), ``"outbound"``, an exact direction, or ``None`` for all.
    :param body_contains: messages only: only messages whose body contains this text (case-insensitive).
    :param limit: at most this many items in the event.
    :param poll_interval: seconds between two polls.
    :param max_consecutive_failures: failed polls in a row (no answer, 429, 5xx) after which it gives up.
    """

    def __init__(
        self,
        *,
        resource: str,
        since: str | datetime,
        signalwire_conn_id: str = "signalwire_default",
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        body_contains: str | None = None,
        limit: int = DEFAULT_LIMIT,
        poll_interval: float = 60.0,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        super().__init__()
        self.query = NewItemsQuery(resource, to, from_, status, direction, body_contains)
        self.since = to_utc_datetime("since", since)
        self.signalwire_conn_id = signalwire_conn_id
        self.limit = check_positive_int("limit", limit)
        self.poll_interval = check_poll_interval(poll_interval)
        self.max_consecutive_failures = check_positive_int("max_consecutive_failures", max_consecutive_failures)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "resource": self.query.resource,
                "since": self.since.isoformat(),
                "signalwire_conn_id": self.signalwire_conn_id,
                "to": self.query.to,
                "from_": self.query.from_,
                "status": self.query.status,
                "direction": self.query.direction,
                "body_contains": self.query.body_contains,
                "limit": self.limit,
                "poll_interval": self.poll_interval,
                "max_consecutive_failures": self.max_consecutive_failures,
            },
        )

    def _hook(self) -> SignalWireAsyncHook:
        from airflow_provider_signalwire.hooks.signalwire import SignalWireAsyncHook

        return SignalWireAsyncHook(self.signalwire_conn_id, retry_policy=POLL_RETRY_POLICY)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        failures = FailureCounter(self.max_consecutive_failures, self.log, f"poll of new {self.query.resource}")
        # Items that do not match (say, outbound ones) are not listed again at the next poll.
        cursor = Cursor(self.since)
        while True:
            try:
                seen = await afind_new_items(hook, self.query, cursor)
            except (SignalWireApiError, SignalWireConnectionError) as error:
                try:
                    failures.failed(error)
                except (SignalWireApiError, SignalWireConnectionError):
                    yield TriggerEvent({"status": "error", "error": error_payload(error)})
                    return
                await asyncio.sleep(wait_after_failure(error, self.poll_interval))
                continue
            failures.succeeded()
            items = matching_items(seen, self.limit)
            if items:
                self.log.info("Found %d new SignalWire %s since %s", len(items), self.query.resource, self.since)
                yield TriggerEvent({"status": "success", "items": items})
                return
            cursor = cursor_after(cursor, seen)
            await asyncio.sleep(self.poll_interval)
