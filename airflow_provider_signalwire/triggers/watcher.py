"""
:class:`SignalWireWatcherTrigger`: what the provider's watchers (event triggers, deferred sensors) share.

Each joins the poll of its query (:mod:`~airflow_provider_signalwire.triggers.shared_poll`): on Airflow 3.3 through
the triggerer's shared streams, before 3.3 in a poll of its own. Subclasses say where their cursor starts and what
events they make of new items.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
from airflow_provider_signalwire.triggers.shared_poll import (
    PollGroup,
    SignalWirePoll,
    Watch,
    group_for,
    group_key,
    poll_hook,
)

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.watching import NewItemsQuery, SeenItem


class SignalWireWatcherTrigger(BaseEventTrigger):
    """A trigger that polls SignalWire for new calls or messages, sharing its poll with watchers of the same query."""

    signalwire_conn_id: str
    query: NewItemsQuery
    #: Set by a subclass that fires once (a deferred sensor): its wait ends after that event.
    finished: bool = False

    async def _watch(self) -> Watch:
        """This watcher in its poll group: its query and where its cursor starts."""
        raise NotImplementedError

    def _events(self, watch: Watch, seen: list[SeenItem]) -> AsyncIterator[TriggerEvent]:
        """
        The events made of ``seen``, the items of one poll new to ``watch``; each item is marked ``watch.handed``
        once its event was taken, for the cursor kept in the store.
        """
        raise NotImplementedError

    def _failed(self, error: SignalWireApiError | SignalWireConnectionError) -> TriggerEvent | None:
        """The event a failed poll ends the wait with; ``None``: the trigger fails with the error."""
        return None

    async def _maps_responders(self) -> bool:
        """Whether the connection maps approval responders (then approval replies are no new messages)."""
        from airflow.sdk import BaseHook

        from airflow_provider_signalwire.hitl import maps_responders

        try:
            conn = await BaseHook.aget_connection(self.signalwire_conn_id)
            extra = await conn.aextra_dejson() if hasattr(conn, "aextra_dejson") else conn.extra_dejson
        except Exception:  # the poll itself says what is wrong with the connection
            return False
        return maps_responders(extra)

    # Airflow 3.3 shared streams (acknowledgement mode) -------------------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        return group_key(self.signalwire_conn_id, self.query)

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> SignalWirePoll:
        trigger = cls(**kwargs)
        return SignalWirePoll(trigger.shared_stream_key(), trigger.signalwire_conn_id)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        async for event in self._follow(group_for(self.shared_stream_key()), shared_stream, acknowledged=True):
            yield event

    # Before 3.3: a poll of its own ---------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        group = PollGroup(None)
        polls = group.polls(poll_hook(self.signalwire_conn_id), self.log)
        async for event in self._follow(group, polls, acknowledged=False):
            yield event

    async def _follow(
        self, group: PollGroup, polls: AsyncIterator[Any], *, acknowledged: bool
    ) -> AsyncIterator[TriggerEvent]:
        """
        Hand each poll to this watcher. ``acknowledged``: Airflow says when the events are stored (then the producer
        moves the stored cursor); otherwise the cursor is stored as soon as the triggerer took the events.
        """
        watch = await self._watch()
        watch.acknowledged = acknowledged
        watch.query.approval_replies_out = await self._maps_responders()
        group.join(watch)
        try:
            async for poll in polls:
                # Every event made of a poll is yielded before the next poll is read: Airflow binds them to it.
                async for event in self._events(watch, watch.take(poll)):
                    yield event
                if not acknowledged:
                    await watch.stored([poll.number])
                if self.finished:
                    return
        except (SignalWireApiError, SignalWireConnectionError) as error:
            failed = self._failed(error)
            if failed is None:
                raise
            yield failed
        finally:
            group.leave(watch)
