"""
What the SignalWire operators share: the connection and its hook, reading templated values, searches,
and for the operators that create a call or a message, waiting for the outcome and never creating twice.

Never twice: before it sends a create, the operator records in Airflow's task state store that it is about
to (:class:`CreateMarker`), and the SID once SignalWire answers. A retry of the same task instance reads
that record first: with a SID it takes that call or message; without one (the worker died, or the answer
was lost, after SignalWire may have accepted the request) it looks for a call or message with the same
To, From (and Body) created since the first create was sent, and takes it instead of creating another.
The record is deleted once the outcome is settled: created and not waited for, a final status reached,
or SignalWire refused the request.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from airflow.sdk import BaseOperator

from airflow_provider_signalwire.api import Resource, certainly_not_processed, parse_api_datetime
from airflow_provider_signalwire.compat import AirflowException, conf
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)
from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

if TYPE_CHECKING:
    from airflow.sdk import Context

CREATE_MARKER_KEY = "signalwire_create"
#: How far before the first create a retry looks: SignalWire dates have whole seconds, and its clock and
#: the worker's may differ a little.
CLOCK_SKEW = timedelta(seconds=60)
#: At most this many of the newest calls or messages between the same numbers are read to find an earlier try's.
DEDUP_SCAN_LIMIT = 200
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_WAIT_TIMEOUT = 3600.0
DEFAULT_SEARCH_LIMIT = 1000


# --------------------------------------------------------------------------------------------------
# Templated values
# --------------------------------------------------------------------------------------------------


def as_bool(name: str, value: Any) -> bool:
    """A flag given as a bool or, after templating, as ``"true"`` / ``"false"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SignalWireInputError(f"SignalWire: {name!r} must be true or false; got {value!r}.")


def as_seconds(name: str, value: Any) -> float:
    """A positive number of seconds, given as a number or, after templating, a string."""
    seconds = math.nan
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError):
            seconds = float(value)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise SignalWireInputError(f"SignalWire: {name!r} must be a number of seconds above 0; got {value!r}.")
    return seconds


def as_whole_number(value: Any) -> Any:
    """Turn a templated ``"100"`` back into ``100``; anything else is left for the API layer to check."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def filter_names(resource: Resource) -> tuple[str, ...]:
    """The hooks' list filters of a resource: the plain ones, then each date with ``_before`` / ``_after``."""
    dates = (f"{base}{suffix}" for base in resource.date_filters for suffix in ("", "_before", "_after"))
    return (*resource.other_filters, *dates)


# --------------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------------


class SignalWireBaseOperator(BaseOperator):
    """
    Base of the SignalWire operators: the connection and its hook.

    :param signalwire_conn_id: the Airflow connection to SignalWire (templated).
    """

    template_fields: Sequence[str] = ("signalwire_conn_id",)

    def __init__(self, *, signalwire_conn_id: str = SignalWireHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.signalwire_conn_id = signalwire_conn_id

    @cached_property
    def hook(self) -> SignalWireHook:
        return SignalWireHook(self.signalwire_conn_id)

    def present_arguments(self, names: Iterable[str]) -> dict[str, Any]:
        """The rendered values of ``names`` that were given (``None`` means: not sent)."""
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class SignalWireSidOperator(SignalWireBaseOperator):
    """
    Base of the operators that act on one call or message named by its SID.

    :param sid: the SID (templated).
    """

    template_fields: Sequence[str] = (*SignalWireBaseOperator.template_fields, "sid")

    def __init__(self, *, sid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sid = sid


class SignalWireSearchOperator(SignalWireBaseOperator):
    """
    Base of the search operators: list with the hook's filters, return a list of the API's resource dicts.

    :param limit: at most this many results (templated); ``None`` for all of them.
    :param page_size: items per page requested from SignalWire (templated); default: as large as useful.
    """

    resource: ClassVar[Resource]
    list_method: ClassVar[str]

    def __init__(self, *, limit: int | None = DEFAULT_SEARCH_LIMIT, page_size: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.limit = limit
        self.page_size = page_size

    def execute(self, context: Context) -> list[dict[str, Any]]:
        filters = self.present_arguments(filter_names(self.resource))
        # The hook checks every filter when it builds the first request, before anything is sent.
        found = getattr(self.hook, self.list_method)(
            limit=as_whole_number(self.limit), page_size=as_whole_number(self.page_size), **filters
        )
        results = list(found)
        self.log.info("Found %d SignalWire %s", len(results), self.resource.list_key)
        return results


class CreateMarker:
    """
    What the tries of one task instance know about its create, kept across retries.

    ``{"started_at": <ISO time the first create was sent>, "sid": <what it created, once known>}``, in the
    task state store of the task instance (Airflow 3.3 and later), else in an Airflow Variable named after
    the task instance (dag_id, task_id, run_id, map_index).
    """

    def __init__(self, context: Context) -> None:
        self._store = context.get("task_state_store")
        ti = context["ti"]
        identity = f"{ti.dag_id}\n{ti.task_id}\n{ti.run_id}\n{ti.map_index}"
        self.variable_key = f"{CREATE_MARKER_KEY}_{hashlib.sha256(identity.encode()).hexdigest()[:32]}"
        self._description = (
            f"SignalWire create in progress for {ti.dag_id}.{ti.task_id}, run {ti.run_id}, "
            f"map index {ti.map_index}; deleted when the task settles."
        )

    def get(self) -> dict[str, Any] | None:
        if self._store is not None:
            value = self._store.get(CREATE_MARKER_KEY)
        else:
            from airflow.sdk import Variable

            value = Variable.get(self.variable_key, default=None, deserialize_json=True)
        return value if isinstance(value, dict) and value.get("started_at") else None

    def set(self, value: dict[str, Any]) -> None:
        if self._store is not None:
            self._store.set(CREATE_MARKER_KEY, value)
        else:
            from airflow.sdk import Variable

            Variable.set(self.variable_key, value, description=self._description, serialize_json=True)

    def delete(self) -> None:
        if self._store is not None:
            self._store.delete(CREATE_MARKER_KEY)
        else:
            from airflow.sdk import Variable

            Variable.delete(self.variable_key)


class _Wait(NamedTuple):
    enabled: bool
    poll_interval: float
    timeout: float | None
    failed: frozenset[str]
    deferrable: bool


class SignalWireCreateOperator(SignalWireBaseOperator):
    """
    Base of the operators that create a call or a message: wait for its outcome, never create it twice.

    :param wait_for_completion: end the task only when the call or message reaches a final status
        (templated).
    :param poll_interval: seconds between two reads while waiting (templated).
    :param wait_timeout: fail the task when no final status came within this many seconds (templated);
        ``None`` waits as long as it takes.
    :param failed_statuses: final statuses that fail the task, with SignalWire's error code and message
        (templated); default: a call busy, failed, not answered or canceled, a message undelivered or failed.
    :param deferrable: wait in the triggerer instead of holding a worker slot (templated); the call or
        message is always created on the worker. Default: ``[operators] default_deferrable``.
    :param deduplicate_retries: on a retry, take what an earlier try of this task instance created
        instead of creating another (templated).
    """

    resource_type: ClassVar[str]
    wait_template_fields: ClassVar[tuple[str, ...]] = (
        "wait_for_completion",
        "poll_interval",
        "wait_timeout",
        "failed_statuses",
        "deferrable",
        "deduplicate_retries",
    )

    def __init__(
        self,
        *,
        wait_for_completion: bool = False,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        failed_statuses: Collection[str] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        deduplicate_retries: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        # A list renders and serialises where a set would not.
        self.failed_statuses = sorted(failed_statuses) if isinstance(failed_statuses, Set) else failed_statuses
        self.deferrable = deferrable
        self.deduplicate_retries = deduplicate_retries

    # What each resource does ----------------------------------------------------------------------

    def api_arguments(self) -> dict[str, Any]:
        """The rendered API arguments that were given."""
        raise NotImplementedError

    def check_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Check the arguments with the API layer's rules; raises SignalWireInputError."""
        raise NotImplementedError

    def create(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, sid: str) -> dict[str, Any]:
        raise NotImplementedError

    def find_created_since(self, arguments: Mapping[str, Any], since: datetime) -> dict[str, Any] | None:
        """The call or message an earlier try created with these arguments, created at or after ``since``."""
        raise NotImplementedError

    def is_mms(self, arguments: Mapping[str, Any]) -> bool:
        return False

    # The flow ------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        arguments = self.api_arguments()
        self.check_arguments(arguments)
        wait = self._wait_options()
        marker = CreateMarker(context) if as_bool("deduplicate_retries", self.deduplicate_retries) else None
        previous = marker.get() if marker is not None and context["ti"].try_number > 1 else None
        resource = self._take_earlier(previous, arguments, marker) if previous else None
        if resource is None:
            resource = self._create_once(arguments, marker, previous)
        if not wait.enabled:
            self._forget(marker)
            return resource
        return self._wait(resource, arguments, wait, marker)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: return the call or message, or fail as the wait did."""
        status = event.get("status")
        marker = CreateMarker(context) if as_bool("deduplicate_retries", self.deduplicate_retries) else None
        if status in ("success", "failed"):
            return self._settle(event["resource"], status, marker)
        # An error or a timeout leaves the outcome open: a retry takes the same call or message up again.
        raise AirflowException(event.get("message") or f"SignalWire wait ended with {event!r}")

    def _wait_options(self) -> _Wait:
        from airflow_provider_signalwire.triggers.status import check_failed_statuses

        return _Wait(
            enabled=as_bool("wait_for_completion", self.wait_for_completion),
            poll_interval=as_seconds("poll_interval", self.poll_interval),
            timeout=None if self.wait_timeout is None else as_seconds("wait_timeout", self.wait_timeout),
            failed=check_failed_statuses(self.resource_type, self.failed_statuses),
            deferrable=as_bool("deferrable", self.deferrable),
        )

    def _take_earlier(
        self, previous: dict[str, Any], arguments: Mapping[str, Any], marker: CreateMarker | None
    ) -> dict[str, Any] | None:
        kind = self.resource_type
        sid = previous.get("sid")
        if sid:
            try:
                resource = self.read(sid)
            except SignalWireApiError as error:
                if error.status != 404:
                    raise
                raise AirflowException(
                    f"An earlier try of this task created SignalWire {kind} {sid}, which SignalWire no longer "
                    "has; not creating another. Set deduplicate_retries=False to create a new one."
                ) from None
            self.log.info(
                "An earlier try of this task created SignalWire %s %s; taking it, not creating another.", kind, sid
            )
            return resource
        started = datetime.fromisoformat(previous["started_at"])
        found = self.find_created_since(arguments, started - CLOCK_SKEW)
        if found is None:
            self.log.info(
                "An earlier try of this task sent a create at %s whose answer was lost; SignalWire has no matching "
                "%s, so creating it now.",
                previous["started_at"],
                kind,
            )
            return None
        self.log.info(
            "An earlier try of this task created SignalWire %s %s (its answer was lost); taking it, not creating "
            "another.",
            kind,
            found.get("sid"),
        )
        if marker is not None:
            marker.set({"started_at": previous["started_at"], "sid": found.get("sid")})
        return found

    def _create_once(
        self, arguments: Mapping[str, Any], marker: CreateMarker | None, previous: dict[str, Any] | None
    ) -> dict[str, Any]:
        started_at = (previous or {}).get("started_at") or datetime.now(UTC).isoformat()
        if marker is not None:
            marker.set({"started_at": started_at})
        try:
            resource = self.create(arguments)
        except (SignalWireApiError, SignalWireConnectionError) as error:
            if marker is not None and not certainly_not_processed(error):
                self.log.error(
                    "SignalWire may have created the %s; a retry of this task looks for it before creating one.",
                    self.resource_type,
                )
            elif marker is not None and previous is None:
                marker.delete()  # nothing was created: a retry need not look
            raise
        self.log.info(
            "Created SignalWire %s %s (status %r)", self.resource_type, resource.get("sid"), resource.get("status")
        )
        if marker is not None:
            marker.set({"started_at": started_at, "sid": resource.get("sid")})
        return resource

    def _wait(
        self, resource: dict[str, Any], arguments: Mapping[str, Any], wait: _Wait, marker: CreateMarker | None
    ) -> dict[str, Any]:
        from airflow_provider_signalwire.triggers.status import SignalWireStatusTrigger, outcome

        kind, sid, mms = self.resource_type, resource["sid"], self.is_mms(arguments)
        result = outcome(kind, resource, wait.failed, mms)
        if result is None and wait.deferrable:
            deadline = None if wait.timeout is None else time.time() + wait.timeout
            trigger = SignalWireStatusTrigger(
                sid=sid,
                resource_type=kind,
                signalwire_conn_id=self.signalwire_conn_id,
                poll_interval=wait.poll_interval,
                deadline=deadline,
                failed_statuses=wait.failed,
                mms=mms,
                retry_policy=SignalWireStatusTrigger.retry_policy_fields(self.hook.retry_policy),
            )
            # The trigger gives up at the deadline itself; Airflow's timeout is only a backstop.
            backstop = None if wait.timeout is None else timedelta(seconds=wait.timeout + wait.poll_interval + 60)
            self.defer(trigger=trigger, method_name="execute_complete", timeout=backstop)
        deadline = None if wait.timeout is None else time.monotonic() + wait.timeout
        while result is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise AirflowException(
                    f"SignalWire {kind} {sid} was still {resource.get('status')!r} after {wait.timeout:g} s "
                    "(wait_timeout); with deduplicate_retries, a retry of this task waits for the same one."
                )
            self.log.info("SignalWire %s %s is %r", kind, sid, resource.get("status"))
            time.sleep(wait.poll_interval if remaining is None else min(wait.poll_interval, remaining))
            resource = self.read(sid)
            result = outcome(kind, resource, wait.failed, mms)
        return self._settle(resource, result, marker)

    def _settle(self, resource: dict[str, Any], result: str, marker: CreateMarker | None) -> dict[str, Any]:
        from airflow_provider_signalwire.triggers.status import failure_text

        # A final status settles the outcome: a retry after a failed one places a new call or message.
        self._forget(marker)
        if result == "failed":
            raise AirflowException(failure_text(self.resource_type, resource))
        self.log.info("SignalWire %s %s ended %r", self.resource_type, resource.get("sid"), resource.get("status"))
        return resource

    @staticmethod
    def _forget(marker: CreateMarker | None) -> None:
        if marker is not None:
            marker.delete()


def earliest_match_since(
    items: Iterable[dict[str, Any]], since: datetime, same: Callable[[Mapping[str, Any]], bool]
) -> dict[str, Any] | None:
    """
    In a newest-first list, the earliest outbound item created at or after ``since`` that is ``same``.

    Reading stops at the first item created before ``since``.
    """
    match = None
    for item in items:
        created = parse_api_datetime(item.get("date_created"))
        if created is not None and created < since:
            break
        if item.get("direction") != "inbound" and same(item):
            match = item
    return match
