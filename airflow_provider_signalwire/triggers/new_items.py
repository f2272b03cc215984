"""
:class:`SignalWireNewItemsTrigger`: the sensors' wait in the triggerer for new calls or messages.

What counts as new is :class:`~airflow_provider_signalwire.api.watching.NewItemsQuery`'s; a sensor's poke asks
the same query with the sync hook, so both give the same answer for the same data. On Airflow 3.3 the wait shares
its poll with every watcher of the same query in the triggerer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_signalwire import DEFAULT_CONN_ID
from airflow_provider_signalwire.api.dates import to_utc_datetime
from airflow_provider_signalwire.api.polling import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    check_poll_interval,
    check_positive_int,
    error_payload,
)
from airflow_provider_signalwire.api.watching import DEFAULT_LIMIT, Cursor, NewItemsQuery, SeenItem, matching_items
from airflow_provider_signalwire.triggers.shared_poll import Watch, poll_hook
from airflow_provider_signalwire.triggers.watcher import SignalWireWatcherTrigger

if TYPE_CHECKING:
    from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

__all__ = ["SignalWireNewItemsTrigger", "afind_new_items", "poll_hook"]


async def afind_new_items(hook: SignalWireAsyncHook, query: NewItemsQuery, cursor: Cursor) -> list[SeenItem]:
    """One poll after ``cursor`` with the async hook: the new items, oldest first."""
    return query.select([item async for item in hook.list(query.spec, **query.poll_arguments(cursor))], cursor)


class SignalWireNewItemsTrigger(SignalWireWatcherTrigger):
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
    :param lookback: seconds behind the newest item seen to keep looking for late items (``None``: the default).
    :param limit: at most this many items in the event.
    :param since_on_local_clock: ``since`` was read on this machine's clock (a run's start): moved onto SignalWire's
        once its first answer tells how far this clock is ahead.
    :param poll_interval: seconds between two polls.
    :param max_consecutive_failures: failed polls in a row (no answer, 429, 5xx) after which it gives up.
    """

    def __init__(
        self,
        *,
        resource: str,
        since: str | datetime,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        body_contains: str | None = None,
        lookback: float | None = None,
        limit: int = DEFAULT_LIMIT,
        since_on_local_clock: bool = False,
        poll_interval: float = 60.0,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        super().__init__()
        self.query = NewItemsQuery(resource, to, from_, status, direction, body_contains, lookback)
        self.since = to_utc_datetime("since", since)
        self.signalwire_conn_id = signalwire_conn_id
        self.limit = check_positive_int("limit", limit)
        self.since_on_local_clock = bool(since_on_local_clock)
        self.poll_interval = check_poll_interval(poll_interval)
        self.max_consecutive_failures = check_positive_int("max_consecutive_failures", max_consecutive_failures)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "resource": self.query.resource,
                "since": self.since.isoformat(),
                "signalwire_conn_id": self.signalwire_conn_id,
                **self.query.to_kwargs(),
                "limit": self.limit,
                "since_on_local_clock": self.since_on_local_clock,
                "poll_interval": self.poll_interval,
                "max_consecutive_failures": self.max_consecutive_failures,
            },
        )

    async def _watch(self) -> Watch:
        watch = Watch(self.query, Cursor.starting(self.since), self.poll_interval, self.max_consecutive_failures)
        watch.floor_on_local_clock = self.since_on_local_clock
        return watch

    async def _events(self, watch: Watch, seen: list[SeenItem]) -> AsyncIterator[TriggerEvent]:
        items = matching_items(seen, self.limit)
        if items:
            self.log.info("Found %d new SignalWire %s since %s", len(items), self.query.resource, self.since)
            self.finished = True
            yield TriggerEvent({"status": "success", "items": items})

    def _failed(self, error: SignalWireApiError | SignalWireConnectionError) -> TriggerEvent | None:
        return TriggerEvent({"status": "error", "error": error_payload(error)})
