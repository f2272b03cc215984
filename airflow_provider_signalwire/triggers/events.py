"""
Event triggers for ``AssetWatcher``: one asset event per new SignalWire message or call.

::

    from airflow.sdk import DAG, Asset, AssetWatcher
    from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

    inbound_sms = Asset(
        "signalwire_inbound_sms",
        watchers=[AssetWatcher(name="inbound_sms", trigger=SignalWireNewMessageEventTrigger(to="+15550000001"))],
    )

Each event's payload (``triggering_asset_events[asset][i].extra["payload"]`` in the DAG) holds the item's
``sid``, ``from``, ``to``, ``status``, ``direction`` and ``date`` (ISO 8601), and for messages ``body``,
``num_media`` and ``media_urls`` (on Airflow 3.3 also ``cursor``, for the listener that stores the cursor with
the event).

Nothing missed, nothing twice: the trigger keeps a cursor (the newest date seen, and the SIDs it fired within its
look-back window) in the asset state store of Airflow 3.3+, written with each event in the transaction that stores
it (:mod:`~airflow_provider_signalwire.triggers.event_cursor`). After a restart it resumes from there. Within
``lookback`` (2 minutes; 1 hour with ``status``) of the newest item seen, an item listed late or one that comes
to match late (a message whose carrier report makes it ``undelivered``) still fires, once. Without a store
(Airflow 3.1, 3.2) it starts from the present and says so in the log: items that arrive while it is not running
are then not seen.

Watchers of one connection asking SignalWire the same (``to``, ``from_``, ``status``) share one list request per
interval on Airflow 3.3 (the shortest interval among them); each poll reads from its cursor, newest first, and
stops once past it, so a quiet poll is one request whatever the day already holds. A triggerer starts all its
watchers at once, so the first poll of each query comes at a random moment within its first interval.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_signalwire import DEFAULT_CONN_ID
from airflow_provider_signalwire.api.polling import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    check_poll_interval,
    check_positive_int,
)
from airflow_provider_signalwire.api.resources.messages import media_content_url
from airflow_provider_signalwire.api.watching import Cursor, NewItemsQuery, SeenItem
from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.triggers.cursor_store import CursorStore
from airflow_provider_signalwire.triggers.event_cursor import CURSOR_FIELD, cursor_mark
from airflow_provider_signalwire.triggers.shared_poll import Watch, poll_hook, signalwire_time
from airflow_provider_signalwire.triggers.watcher import SignalWireWatcherTrigger

if TYPE_CHECKING:
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

DEFAULT_EVENT_POLL_INTERVAL = 30.0


def _event(resource: str, seen: SeenItem) -> dict[str, Any]:
    """What every new-item event carries."""
    item = seen.item
    return {
        "resource": resource,
        "sid": seen.sid,
        "from": item.get("from"),
        "to": item.get("to"),
        "status": item.get("status"),
        "direction": item.get("direction"),
        "date": seen.date.isoformat(),
    }


def message_event(seen: SeenItem, media_urls: list[str]) -> dict[str, Any]:
    """The payload of a new-message event."""
    item = seen.item
    return {
        **_event("messages", seen),
        "body": item.get("body"),
        "num_media": _int(item.get("num_media")),
        "media_urls": media_urls,
    }


def call_event(seen: SeenItem) -> dict[str, Any]:
    """The payload of a new-call event."""
    item = seen.item
    return {
        **_event("calls", seen),
        "duration": _int(item.get("duration")),
        "parent_call_sid": item.get("parent_call_sid"),
    }


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class _SignalWireNewItemsEventTrigger(SignalWireWatcherTrigger):
    resource: str

    def __init__(
        self,
        *,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        body_contains: str | None = None,
        lookback: float | None = None,
        poll_interval: float = DEFAULT_EVENT_POLL_INTERVAL,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        super().__init__()
        self.signalwire_conn_id = signalwire_conn_id
        self.query = NewItemsQuery(self.resource, to, from_, status, direction, body_contains, lookback)
        self.poll_interval = check_poll_interval(poll_interval)
        self.max_consecutive_failures = check_positive_int("max_consecutive_failures", max_consecutive_failures)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "signalwire_conn_id": self.signalwire_conn_id,
                **self.query.to_kwargs(),
                "poll_interval": self.poll_interval,
                "max_consecutive_failures": self.max_consecutive_failures,
            },
        )

    @property
    def cursor_key(self) -> str:
        """
        The store key of this trigger's cursor: it depends on what is watched (connection and filters),
        not on how often or how far back, so that several watchers of one asset keep separate cursors.
        """
        watched = {k: v for k, v in self.query.to_kwargs().items() if k != "lookback"}
        key = json.dumps([self.signalwire_conn_id, watched], sort_keys=True)
        return f"signalwire.{self.resource}.cursor.{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    async def _watch(self) -> Watch:
        started = time.time()  # the present, when the trigger started, before any connection or store is read
        store = CursorStore(getattr(self, "asset_state_store", None), self.cursor_key)
        self._hook = poll_hook(self.signalwire_conn_id)
        return Watch(
            self.query,
            await self._start(store, started),
            self.poll_interval,
            self.max_consecutive_failures,
            store=store,
        )

    async def _start(self, store: CursorStore, started: float) -> Cursor:
        if store.available:
            cursor = await store.load()
            if cursor is not None:
                self.log.info(
                    "Watching new SignalWire %s after %s (from the asset state store)", self.resource, cursor.date
                )
                return cursor
            why = "no cursor in the asset state store yet"
        else:
            why = "this Airflow gives the trigger no asset state store (Airflow 3.3+ does)"
        # The present as SignalWire's clock tells it (the local one may be minutes off). Its dates have whole
        # seconds: start at the current second so that nothing in it is lost.
        now = await signalwire_time(
            self._hook, started, self.query, self.poll_interval, self.max_consecutive_failures, self.log
        )
        whose = "SignalWire's time"
        if now is None:
            now, whose = datetime.fromtimestamp(started, UTC), "the local clock's: SignalWire's answer had no Date"
        cursor = Cursor.starting(now.replace(microsecond=0))
        self.log.warning(
            "Watching new SignalWire %s from the present (%s, %s): %s.%s",
            self.resource,
            cursor.date.isoformat(),
            whose,
            why,
            "" if store.available else " Items that arrive while the trigger is not running will not be seen.",
        )
        await store.save(cursor)
        return cursor

    async def _events(self, watch: Watch, seen: list[SeenItem]) -> AsyncIterator[TriggerEvent]:
        for item in seen:
            if item.matches:
                payload = await self._payload(self._hook, item)
                if watch.store is not None and watch.store.available:
                    payload[CURSOR_FIELD] = cursor_mark(self.cursor_key, watch.cursor, self.query.lookback)
                yield TriggerEvent(payload)
            # Reached once the triggerer took the event: a trigger stopped at the yield fires it again after a restart.
            watch.handed(item)
            if not watch.acknowledged and item.matches:  # no word from Airflow when it is stored: store it now
                await watch.stored([watch.current])

    async def _payload(self, hook: SignalWireAsyncHook, seen: SeenItem) -> dict[str, Any]:
        raise NotImplementedError


class SignalWireNewMessageEventTrigger(_SignalWireNewItemsEventTrigger):
    """
    Fire one event per new SignalWire message matching the filters, for an ``AssetWatcher``.

    A message counts from its ``date_sent`` (when it was received, for inbound ones). Its payload has
    ``sid``, ``from``, ``to``, ``status``, ``direction``, ``date``, ``body``, ``num_media`` and ``media_urls``
    (read from the message's Media list when it has media).

    :param signalwire_conn_id: the SignalWire connection.
    :param to: only messages to this number.
    :param from_: only messages from this number.
    :param status: only messages with this status when polled.
    :param direction: ``"inbound"`` (default), ``"outbound"`` (any outbound kind), an exact direction, or ``None``.
    :param body_contains: only messages whose body contains this text (case-insensitive).
    :param poll_interval: seconds between two polls.
    :param max_consecutive_failures: failed polls in a row (no answer, 429, 5xx) after which the trigger
        fails with SignalWire's error; any other error fails it at once.
    """

    resource = "messages"

    async def _payload(self, hook: SignalWireAsyncHook, seen: SeenItem) -> dict[str, Any]:
        return message_event(seen, await self._media_urls(hook, seen))

    async def _media_urls(self, hook: SignalWireAsyncHook, seen: SeenItem) -> list[str]:
        if _int(seen.item.get("num_media")) <= 0:
            return []
        try:
            base_url = (await hook.get_settings()).base_url
            urls = [media_content_url(base_url, media) async for media in hook.list_message_media(seen.sid)]
            return [url for url in urls if url]
        except SignalWireApiError as error:
            if error.status != 404:
                raise
            # The message is gone, or the Space serves no Media list: send what the message itself says.
            self.log.warning("No media list for SignalWire message %s (%s); media_urls left empty", seen.sid, error)
            return []


class SignalWireNewCallEventTrigger(_SignalWireNewItemsEventTrigger):
    """
    Fire one event per new SignalWire call matching the filters, for an ``AssetWatcher``.

    A call counts from its ``start_time``; a call still queued is seen once it starts. Its payload has
    ``sid``, ``from``, ``to``, ``status``, ``direction``, ``date``, ``duration`` and ``parent_call_sid``.

    :param signalwire_conn_id: the SignalWire connection.
    :param to: only calls to this number or address.
    :param from_: only calls from this number or address.
    :param status: only calls with this status when polled (e.g. ``"completed"``).
    :param direction: ``"inbound"`` (default), ``"outbound"`` (any outbound kind), an exact direction, or ``None``.
    :param poll_interval: seconds between two polls.
    :param max_consecutive_failures: failed polls in a row (no answer, 429, 5xx) after which the trigger
        fails with SignalWire's error; any other error fails it at once.
    """

    resource = "calls"

    def __init__(
        self,
        *,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        lookback: float | None = None,
        poll_interval: float = DEFAULT_EVENT_POLL_INTERVAL,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        super().__init__(
            signalwire_conn_id=signalwire_conn_id,
            to=to,
            from_=from_,
            status=status,
            direction=direction,
            lookback=lookback,
            poll_interval=poll_interval,
            max_consecutive_failures=max_consecutive_failures,
        )

    async def _payload(self, hook: SignalWireAsyncHook, seen: SeenItem) -> dict[str, Any]:
        return call_event(seen)
