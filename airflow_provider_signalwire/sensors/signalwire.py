"""Sensors that wait for new SignalWire messages or calls."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_signalwire import DEFAULT_CONN_ID
from airflow_provider_signalwire.api.polling import DEFAULT_MAX_CONSECUTIVE_FAILURES, check_positive_int
from airflow_provider_signalwire.api.watching import DEFAULT_LIMIT
from airflow_provider_signalwire.compat import conf
from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.base import ResultsWithoutSecrets

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.api.watching import Cursor, NewItemsQuery
    from airflow_provider_signalwire.hooks.signalwire import SignalWireHook
    from airflow_provider_signalwire.sensors.poke_state import PokeState


def default_since(context: Context) -> Any:
    """
    Where a run's wait starts when ``since`` is not given: the run's ``data_interval_start``.

    Scheduled runs have one, and consecutive runs' intervals then see each item once. Manual and
    asset-triggered runs may have none: then the logical date, else when the run was due
    (``run_after``), else when it started: an item counts when it comes after the run was triggered.
    """
    for key in ("data_interval_start", "logical_date"):
        value = context.get(key)
        if value is not None:
            return value
    dag_run = context.get("dag_run")
    for attribute in ("run_after", "start_date"):
        value = getattr(dag_run, attribute, None)
        if value is not None:
            return value
    raise SignalWireInputError(
        "SignalWire sensor: 'since' is not given and the run has no data interval, logical date or start "
        "date to start from; give 'since'."
    )


class _SignalWireNewItemsSensor(ResultsWithoutSecrets, BaseSensorOperator):
    resource: ClassVar[str]

    template_fields: Sequence[str] = ("since", "to", "from_", "status", "direction", "signalwire_conn_id")
    ui_color = "#f72a72"

    def __init__(
        self,
        *,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        since: str | datetime | None = None,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        direction: str | None = "inbound",
        lookback: float | None = None,
        limit: int = DEFAULT_LIMIT,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.signalwire_conn_id = signalwire_conn_id
        self.since = since
        self.to = to
        self.from_ = from_
        self.status = status
        self.direction = direction
        self.lookback = lookback
        self.limit = check_positive_int("limit", limit)
        self.max_consecutive_failures = check_positive_int("max_consecutive_failures", max_consecutive_failures)
        self.deferrable = deferrable
        self._state: PokeState | None = None
        self._clock_checked = False

    @cached_property
    def hook(self) -> SignalWireHook:
        from airflow_provider_signalwire.api.polling import POLL_RETRY_POLICY
        from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

        return SignalWireHook(self.signalwire_conn_id, retry_policy=POLL_RETRY_POLICY)

    def _body_contains(self) -> str | None:
        return None

    def _query(self) -> NewItemsQuery:
        from airflow_provider_signalwire.api.watching import NewItemsQuery

        return NewItemsQuery(
            self.resource, self.to, self.from_, self.status, self.direction, self._body_contains(), self.lookback
        )

    def _since(self, context: Context) -> datetime:
        from airflow_provider_signalwire.api.dates import to_utc_datetime

        value = self.since if self.since not in (None, "") else default_since(context)
        return to_utc_datetime("since", value)

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow.sdk import BaseHook

        from airflow_provider_signalwire.api.polling import FailureCounter
        from airflow_provider_signalwire.api.watching import matching_items
        from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
        from airflow_provider_signalwire.hitl import maps_responders

        query, since = self._query(), self._since(context)
        try:
            extra = BaseHook.get_connection(self.signalwire_conn_id).extra_dejson
        except Exception:  # the hook's first request says clearly what is wrong with the connection
            extra = {}
        query.approval_replies_out = self.resource == "messages" and maps_responders(extra)
        state = self._poke_state(context, since)
        failures = FailureCounter(self.max_consecutive_failures, self.log, f"poll of new {self.resource}")
        failures.count = state.failures
        started = time.time()
        try:
            listed = self.hook.list(query.spec, **query.poll_arguments(state.cursor))
            seen = query.select(listed, state.cursor)
        except (SignalWireApiError, SignalWireConnectionError) as error:
            failures.failed(error)  # raises when it should end the wait
            state.save(failures=failures.count)
            return PokeReturnValue(is_done=False)
        polled_at = self._signalwire_time(started)
        items = matching_items(seen, self.limit)
        if items:
            self.log.info("Found %d new SignalWire %s since %s", len(items), self.resource, since.isoformat())
            state.forget()
            return PokeReturnValue(is_done=True, xcom_value=items)
        # The next poke reads only what is new after what this one saw, up to SignalWire's time when it started
        # (from its answer's Date header: the local clock may be minutes off); without a Date, the items' dates.
        cursor = state.cursor.after(seen, query.lookback)
        cursor = cursor if polled_at is None else cursor.polled(polled_at, query.lookback)
        if self.since in (None, "") and cursor.floor == since:
            cursor = self._run_start_on_signalwire_clock(since, cursor)
        state.save(cursor=cursor, failures=0)
        self.log.info("No new SignalWire %s since %s yet", self.resource, since.isoformat())
        return PokeReturnValue(is_done=False)

    def _signalwire_time(self, local: float) -> datetime | None:
        """SignalWire's time when the local clock read ``local``; warns once when the two clocks differ."""
        clock = self.hook.server_clock
        if not self._clock_checked and clock.reading is not None:
            self._clock_checked = True
            warning = clock.skew_warning()
            if warning:
                self.log.warning("%s", warning)
        return clock.to_server(local)

    def _run_start_on_signalwire_clock(self, since: datetime, cursor: Cursor) -> Cursor:
        """
        The run's start (read on Airflow's clock) moved onto SignalWire's once its first answer told the difference:
        a manual run started with this machine's clock ahead must not wait from SignalWire's future. The next poke
        reads from there.
        """
        from airflow_provider_signalwire.api.server_time import onto_signalwire_clock
        from airflow_provider_signalwire.api.watching import Cursor

        start = onto_signalwire_clock(since, self.hook.server_clock)
        if start >= since:
            return cursor
        self.log.info(
            "The run started at %s on this machine's clock, %s on SignalWire's: waiting from there", since, start
        )
        return Cursor(start, start, cursor.fired)

    def _poke_state(self, context: Context, since: datetime) -> PokeState:
        from airflow_provider_signalwire.sensors.poke_state import PokeState

        if self._state is None or self._state.since != since:
            self._state = PokeState.load(context if self.reschedule else None, since)
        return self._state

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_signalwire.triggers.new_items import SignalWireNewItemsTrigger

        query, since = self._query(), self._since(context)
        self.defer(
            trigger=SignalWireNewItemsTrigger(
                resource=self.resource,
                since=since.isoformat(),
                signalwire_conn_id=self.signalwire_conn_id,
                **query.to_kwargs(),
                limit=self.limit,
                since_on_local_clock=self.since in (None, ""),
                poll_interval=self.poke_interval,
                max_consecutive_failures=self.max_consecutive_failures,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) if self.timeout else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Resume on the worker with the trigger's event: its items go to XCom, or its error is raised."""
        from airflow_provider_signalwire.api.polling import error_from_payload

        if event.get("status") == "success":
            items = event.get("items") or []
            self.log.info("Found %d new SignalWire %s", len(items), self.resource)
            return items
        raise error_from_payload(event.get("error") or {"message": f"Unexpected trigger event: {event!r}"})


class SignalWireNewMessageSensor(_SignalWireNewItemsSensor):
    """
    Wait until at least one SignalWire message matching the filters was sent or received since ``since``.

    It pushes the matching messages (API dicts, oldest first, at most ``limit``) to XCom. Poke mode and
    ``deferrable=True`` (the wait happens in the triggerer) run the same query and give the same result.

    :param signalwire_conn_id: the SignalWire connection.
    :param since: messages dated at or after this moment count (templated; an aware datetime, a date or
        an ISO 8601 string). Default: the run's ``data_interval_start``; for a run without one (manual,
        asset-triggered), its logical date, else when it was due (``run_after``), else its start; moved back by how
        far this machine's clock is ahead of SignalWire's (more than 30 s).
    :param to: only messages to this number (templated).
    :param from_: only messages from this number (templated).
    :param status: only messages with this status (templated), e.g. ``"received"``.
    :param direction: ``"inbound"`` (default), ``"outbound"`` (any outbound kind), an exact direction, or
        ``None`` for all (templated).
    :param body_contains: only messages whose body contains this text, case-insensitive (templated).
    :param lookback: seconds behind the newest message seen that later pokes keep looking for messages listed or
        matching late (default 2 minutes, 1 hour with ``status``).
    :param limit: push at most this many messages.
    :param max_consecutive_failures: failed polls in a row (no answer, 429, 5xx) after which the sensor
        fails with SignalWire's error; other errors fail it at once.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    resource = "messages"
    template_fields: Sequence[str] = (*_SignalWireNewItemsSensor.template_fields, "body_contains")

    def __init__(self, *, body_contains: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.body_contains = body_contains

    def _body_contains(self) -> str | None:
        return self.body_contains or None


class SignalWireNewCallSensor(_SignalWireNewItemsSensor):
    """
    Wait until at least one SignalWire call matching the filters started since ``since``.

    It pushes the matching calls (API dicts, oldest first, at most ``limit``) to XCom. A call counts
    from its ``start_time``. Poke mode and ``deferrable=True`` give the same result.

    :param signalwire_conn_id: the SignalWire connection.
    :param since: calls started at or after this moment count (templated; an aware datetime, a date or
        an ISO 8601 string). Default: the run's ``data_interval_start``; for a run without one (manual,
        asset-triggered), its logical date, else when it was due (``run_after``), else its start; moved back by how
        far this machine's clock is ahead of SignalWire's (more than 30 s).
    :param to: only calls to this number or address (templated).
    :param from_: only calls from this number or address (templated).
    :param status: only calls with this status (templated), e.g. ``"completed"``.
    :param direction: ``"inbound"`` (default), ``"outbound"`` (any outbound kind), an exact direction, or
        ``None`` for all (templated).
    :param lookback: seconds behind the newest call seen that later pokes keep looking for calls listed or
        matching late (default 2 minutes, 1 hour with ``status``).
    :param limit: push at most this many calls.
    :param max_consecutive_failures: failed polls in a row (no answer, 429, 5xx) after which the sensor
        fails with SignalWire's error; other errors fail it at once.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    resource = "calls"
