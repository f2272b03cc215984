"""
Watchers that ask SignalWire the same question share one poll.

A poll lists one query (connection, resource, server-side filters, the date followed) from the oldest window start
among the watchers that ask it, newest first, stopping once past that start, and hands each item not handed out
before to every watcher; each applies its own client-side filters (direction, body text) and cursor.

On Airflow 3.3 the poll is a shared stream of the triggerer in acknowledgement mode: the triggerer runs one poll per
query, shortest interval first among its watchers, and calls :meth:`SignalWirePoll.advance` once the events every
watcher made of a poll are stored in the metadata database. Only then is an event trigger's cursor written to the
asset state store: a triggerer killed before that fires those events again after its restart, none is lost. Before
3.3 each watcher runs the same poll alone, in its own ``run()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from airflow_provider_signalwire.api.polling import FailureCounter, wait_after_failure
from airflow_provider_signalwire.api.watching import SHARED_POLL_PAGE_SIZES
from airflow_provider_signalwire.compat import SharedStreamProducer
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_provider_signalwire.api.server_time import ServerClock
    from airflow_provider_signalwire.api.watching import Cursor, NewItemsQuery, SeenItem
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook
    from airflow_provider_signalwire.triggers.cursor_store import CursorStore

#: An event trigger that handed nothing out still writes its cursor this often (seconds), so that a restart
#: starts near the present rather than re-reading its whole look-back window.
IDLE_SAVE_SECONDS = 300.0


def poll_hook(signalwire_conn_id: str) -> SignalWireAsyncHook:
    """The hook a watcher polls with: one attempt per poll, as a failed poll is retried at the next one."""
    from airflow_provider_signalwire.api.polling import POLL_RETRY_POLICY
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

    return SignalWireAsyncHook(signalwire_conn_id, retry_policy=POLL_RETRY_POLICY)


_TIME_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


async def signalwire_time(
    hook: SignalWireAsyncHook,
    local: float,
    query: NewItemsQuery,
    poll_interval: float,
    max_consecutive_failures: int,
    log: Any,
) -> datetime | None:
    """
    SignalWire's time when the local clock read ``local`` (epoch seconds): from the ``Date`` header of a recent
    answer of the Space, else of one small list request (retried as a poll is). ``None`` when its answers carry no
    ``Date``. Watchers starting at once ask once.
    """
    clock = await hook.get_server_clock()
    locks = _TIME_LOCKS.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(id(clock), asyncio.Lock()):
        failures = FailureCounter(max_consecutive_failures, log, "read of SignalWire's time")
        while not clock.is_fresh():
            try:
                [item async for item in hook.list(query.spec, page_size=1, limit=1)]
            except (SignalWireApiError, SignalWireConnectionError) as error:
                failures.failed(error)  # raises when the watcher should fail
                await asyncio.sleep(wait_after_failure(error, poll_interval))
                continue
            break
    return clock.to_server(local)


def group_key(signalwire_conn_id: str, query: NewItemsQuery) -> tuple[str, ...]:
    """Watchers with equal keys ask SignalWire the same and share a poll."""
    return ("signalwire", signalwire_conn_id, *query.server_query())


class Watch:
    """
    One watcher inside a poll group: its query, its cursor, how often it wants a poll, and where its cursor is kept.

    ``cursor`` moves as the watcher handles items; ``durable`` only once the events it made of them are stored.
    """

    def __init__(
        self,
        query: NewItemsQuery,
        cursor: Cursor,
        poll_interval: float,
        max_consecutive_failures: int,
        store: CursorStore | None = None,
    ) -> None:
        self.query = query
        self.cursor = self.durable = cursor
        self.poll_interval = poll_interval
        self.max_consecutive_failures = max_consecutive_failures
        self.store = store
        self.handled: dict[int, list[SeenItem]] = {}
        self.current = 0
        #: Whether Airflow says when this watcher's events are stored (3.3's shared streams): then the cursor is
        #: stored after that; otherwise as soon as the triggerer took each event.
        self.acknowledged = False
        self.saved_at = time.monotonic()
        #: Whether the cursor's floor was read on this machine's clock (a run's start), to move onto SignalWire's.
        self.floor_on_local_clock = False

    def take(self, poll: Poll) -> list[SeenItem]:
        """The items of ``poll`` new to this watcher, oldest first; they count as seen from now on."""
        seen = self.query.select(poll.items, self.cursor)
        self.cursor = self.cursor.after(seen, self.query.lookback)
        self.current = poll.number
        return seen

    def onto_signalwire_clock(self, clock: ServerClock) -> None:
        """Once SignalWire's time is known, a floor read on a clock ahead of it moves back onto SignalWire's."""
        if not self.floor_on_local_clock or clock.reading is None:
            return
        from airflow_provider_signalwire.api.server_time import onto_signalwire_clock
        from airflow_provider_signalwire.api.watching import Cursor

        self.floor_on_local_clock = False
        start = onto_signalwire_clock(self.cursor.floor, clock)
        if start < self.cursor.floor:
            self.cursor = Cursor(start, start, self.cursor.fired)

    def handed(self, item: SeenItem) -> None:
        """``item`` was dealt with: its event (if it matched) was taken by the triggerer."""
        if self.store is not None and self.store.available:
            self.handled.setdefault(self.current, []).append(item)

    async def stored(self, numbers: Sequence[int]) -> None:
        """The events made of polls ``numbers`` are stored: move the durable cursor, and write it when it matters."""
        seen = [item for number in numbers for item in self.handled.pop(number, [])]
        if self.store is None or not seen:
            return
        before = self.durable
        self.durable = before.after(seen, self.query.lookback)
        idle_too_long = time.monotonic() - self.saved_at >= IDLE_SAVE_SECONDS
        if self.durable.fired != before.fired or (self.durable.date != before.date and idle_too_long):
            # Add to what is stored: Airflow 3.3 may already have stored newer events' items with them.
            stored = await self.store.load()
            if stored is not None:
                self.durable = self.durable.merged(stored, self.query.lookback)
            await self.store.save(self.durable)
            self.saved_at = time.monotonic()


class Poll(NamedTuple):
    """What one poll found that was not handed out before: the raw event of the shared stream."""

    number: int
    items: list[dict[str, Any]]


class PollGroup:
    """The watchers of one query in this triggerer, and the items already handed out to them."""

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.watches: list[Watch] = []
        self.handed_out: dict[str, Any] = {}
        self.changed = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def join(self, watch: Watch) -> None:
        self.watches.append(watch)
        # A newcomer has its own window: hand its items out again (the others' cursors skip what they saw).
        self.handed_out.clear()
        self.changed.set()

    def leave(self, watch: Watch) -> None:
        if watch in self.watches:
            self.watches.remove(watch)
        self.changed.set()

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or until a watcher joins or leaves."""
        self.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout=seconds)

    async def polls(self, hook: SignalWireAsyncHook, log: Any) -> AsyncIterator[Poll]:
        """Poll for ever: each poll that finds items not handed out before is yielded; errors end it."""
        number = 0
        page_size = SHARED_POLL_PAGE_SIZES[1]  # the first poll may find a backlog
        failures: FailureCounter | None = None
        clock_checked = False  # the clocks are compared once per poll loop, at its first answer
        while not self.watches:
            await self.wait(3600)
        # A triggerer starts its watchers at once: spread their first polls over an interval, not in one burst.
        await self.wait(random.uniform(0, min(w.poll_interval for w in self.watches)))  # noqa: S311
        while True:
            while not self.watches:
                await self.wait(3600)
            first = self.watches[0]
            if failures is None:
                failures = FailureCounter(first.max_consecutive_failures, log, f"poll of new {first.query.resource}")
            interval = min(w.poll_interval for w in self.watches)
            start = min(w.cursor.window_start(w.query.lookback) for w in self.watches)
            started = time.time()
            try:
                arguments = first.query.poll_arguments_from(start, page_size)
                listed = [item async for item in hook.list(first.query.spec, **arguments)]
            except (SignalWireApiError, SignalWireConnectionError) as error:
                failures.failed(error)  # raises when the watchers should fail
                await asyncio.sleep(wait_after_failure(error, interval))
                continue
            failures.succeeded()
            # SignalWire's time when the poll started, from its answer's Date header: the local clock may be off.
            clock = await hook.get_server_clock()
            polled_at = clock.to_server(started)
            if not clock_checked and clock.reading is not None:
                clock_checked = True
                warning = clock.skew_warning()
                if warning:
                    log.warning("%s", warning)
            smallest, largest = SHARED_POLL_PAGE_SIZES
            # The next poll's page holds what this one found twice over: one small page while quiet.
            page_size = min(largest, max(smallest, 2 * len(listed)))
            fresh = [item for item in listed if item.get("sid") not in self.handed_out]
            for item in fresh:
                self.handed_out[str(item.get("sid"))] = first.query.item_date(item)
            self.handed_out = {sid: when for sid, when in self.handed_out.items() if when is None or when >= start}
            if fresh:
                number += 1
                yield Poll(number, fresh)
            for watch in self.watches:  # what is older than this poll was listed: the next one reads less far back
                if polled_at is not None:  # without a Date header, the cursor follows the items' dates alone
                    watch.cursor = watch.cursor.polled(polled_at, watch.query.lookback)
                watch.onto_signalwire_clock(clock)
            await self.wait(interval)


#: The poll groups of this triggerer, by key. Watchers join the group of their key; its producer polls for them.
GROUPS: dict[Hashable, PollGroup] = {}


def group_for(key: Hashable) -> PollGroup:
    """The group of ``key`` in the running event loop (a triggerer runs one; each test its own)."""
    loop = asyncio.get_running_loop()
    group = GROUPS.get(key)
    if group is None or group.loop is not loop:
        group = GROUPS[key] = PollGroup(key)
    return group


class SignalWirePoll(SharedStreamProducer):
    """
    The producer of a shared SignalWire poll (Airflow 3.3's shared streams, acknowledgement mode).

    :param key: the group's key.
    :param signalwire_conn_id: the connection polled.
    """

    def __init__(self, key: Hashable, signalwire_conn_id: str) -> None:
        self.key = key
        self.signalwire_conn_id = signalwire_conn_id
        self.log = logging.getLogger(__name__)

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        async for poll in group_for(self.key).polls(poll_hook(self.signalwire_conn_id), self.log):
            yield poll, poll.number

    async def advance(self, batch: Sequence[Any]) -> None:
        # A poll some watcher failed on is not counted as stored: that watcher starts over from its saved cursor.
        numbers = [item.broker_payload for item in batch if item.outcome.failed == 0]
        failed = [item.broker_payload for item in batch if item.outcome.failed != 0]
        group = GROUPS.get(self.key)
        if group is not None:
            for watch in list(group.watches):
                for number in failed:  # nothing more will be said of these polls: let them go
                    watch.handled.pop(number, None)
                if numbers:
                    await watch.stored(numbers)

    async def aclose(self) -> None:
        group = GROUPS.get(self.key)
        if group is not None and not group.watches:
            GROUPS.pop(self.key, None)
