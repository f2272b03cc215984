"""
:class:`SignalWireNewItemsTrigger`: the sensors' wait in the triggerer for new calls or messages.

What counts as new is :class:`~airflow_provider_signalwire.api.watching.NewItemsQuery`'s; a sensor's poke asks
the same query with the sync hook, so both give the same answer for the same data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_signalwire import DEFAULT_CONN_ID
from airflow_provider_signalwire.api.dates import to_utc_datetime
from airflow_provider_signalwire.api.polling import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    POLL_RETRY_POLICY,
    FailureCounter,
    check_poll_interval,
    check_positive_int,
    error_payload,
    wait_after_failure,
)
from airflow_provider_signalwire.api.watching import (
    DEFAULT_LIMIT,
    Cursor,
    NewItemsQuery,
    SeenItem,
    cursor_after,
    matching_items,
)
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError

if TYPE_CHECKING:
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook


async def afind_new_items(hook: SignalWireAsyncHook, query: NewItemsQuery, cursor: Cursor) -> list[SeenItem]:
    """List every page after ``cursor`` with the async hook."""
    return query.select([item async for item in hook.list(query.spec, **query.list_filters(cursor.date))], cursor)


def poll_hook(signalwire_conn_id: str) -> SignalWireAsyncHook:
    """The hook a watcher polls with: one attempt per poll, as a failed poll is retried at the next one."""
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

    return SignalWireAsyncHook(signalwire_conn_id, retry_policy=POLL_RETRY_POLICY)


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
        signalwire_conn_id: str = DEFAULT_CONN_ID,
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

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = poll_hook(self.signalwire_conn_id)
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
