"""
The operators that create a call or a message: wait for the outcome, and never create twice.

Never twice: before it sends a create, the operator records in Airflow's task state store that it is about
to (:class:`CreateMarker`), and the SID once SignalWire answers. A retry of the same task instance reads
that record first: with a SID it takes that call or message; without one (the worker died, or the answer
was lost, after SignalWire may have accepted the request) it looks for a call or message with the same
To, From (and Body) created since the first create was sent, and takes it instead of creating another.
The record is deleted once the outcome is settled: created and not waited for, a final status reached,
or SignalWire refused the request.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Set
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from airflow_provider_signalwire.compat import AirflowException, conf
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
from airflow_provider_signalwire.operators.base import SignalWireBaseOperator, as_bool, as_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.api.resource import Operation, Resource
    from airflow_provider_signalwire.api.statuses import Statuses

CREATE_MARKER_KEY = "signalwire_create"
#: How far before the first create a retry looks: SignalWire dates have whole seconds, and its clock and
#: the worker's may differ a little.
CLOCK_SKEW = timedelta(seconds=60)
#: At most this many of the newest calls or messages between the same numbers are read to find an earlier try's.
DEDUP_SCAN_LIMIT = 200
DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_WAIT_TIMEOUT = 3600.0


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

    resource: ClassVar[Resource]
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

    # What the subclass gives ------------------------------------------------------------------------

    def api_arguments(self) -> dict[str, Any]:
        """The rendered API arguments that were given."""
        return self.present_arguments(self.operation.params)

    # What the resource spec says ------------------------------------------------------------------

    @property
    def operation(self) -> Operation:
        assert self.resource.create is not None
        return self.resource.create

    @property
    def statuses(self) -> Statuses:
        assert self.resource.statuses is not None
        return self.resource.statuses

    def check_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Check the arguments against the resource spec (raises SignalWireInputError), before anything is sent."""
        self.operation.encode(arguments, self.hook.settings.defaults)

    def find_created_since(self, arguments: Mapping[str, Any], since: datetime) -> dict[str, Any] | None:
        """The item an earlier try created with these arguments, created at or after ``since``."""
        sent = self.operation.effective(arguments, self.hook.settings.defaults)
        filters = {name: sent[name] for name in ("to", "from_") if sent.get(name)}
        items = self.hook.list(self.resource, limit=DEDUP_SCAN_LIMIT, **filters)
        return earliest_match_since(items, since, lambda item: self.resource.same_item(sent, item))

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
            # Events of triggers deferred before 0.2.0 carry the item under "resource".
            item = event["resource"] if "resource_type" in event else event["item"]
            return self._settle(item, status, marker)
        # An error or a timeout leaves the outcome open: a retry takes the same call or message up again.
        raise AirflowException(event.get("message") or f"SignalWire wait ended with {event!r}")

    def _wait_options(self) -> _Wait:
        return _Wait(
            enabled=as_bool("wait_for_completion", self.wait_for_completion),
            poll_interval=as_seconds("poll_interval", self.poll_interval),
            timeout=None if self.wait_timeout is None else as_seconds("wait_timeout", self.wait_timeout),
            failed=self.statuses.check_failed(self.failed_statuses),
            deferrable=as_bool("deferrable", self.deferrable),
        )

    def _take_earlier(
        self, previous: dict[str, Any], arguments: Mapping[str, Any], marker: CreateMarker | None
    ) -> dict[str, Any] | None:
        kind = self.resource.singular
        sid = previous.get("sid")
        if sid:
            try:
                resource = self.hook.get(self.resource, sid)
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
            resource = self.hook.create(self.resource, **arguments)
        except (SignalWireApiError, SignalWireConnectionError) as error:
            from airflow_provider_signalwire.api.retries import certainly_not_processed

            if marker is not None and not certainly_not_processed(error):
                self.log.error(
                    "SignalWire may have created the %s; a retry of this task looks for it before creating one.",
                    self.resource.singular,
                )
            elif marker is not None and previous is None:
                marker.delete()  # nothing was created: a retry need not look
            raise
        self.log.info(
            "Created SignalWire %s %s (status %r)", self.resource.singular, resource.get("sid"), resource.get("status")
        )
        if marker is not None:
            marker.set({"started_at": started_at, "sid": resource.get("sid")})
        return resource

    def _wait(
        self, resource: dict[str, Any], arguments: Mapping[str, Any], wait: _Wait, marker: CreateMarker | None
    ) -> dict[str, Any]:
        from airflow_provider_signalwire.triggers.status import SignalWireStatusTrigger

        kind, sid = self.resource.singular, resource["sid"]
        mms = self.statuses.created_without_report(arguments)
        result = self.statuses.outcome(resource, wait.failed, mms)
        if result is None and wait.deferrable:
            deadline = None if wait.timeout is None else time.time() + wait.timeout
            trigger = SignalWireStatusTrigger(
                sid=sid,
                resource=self.resource.name,
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
            resource = self.hook.get(self.resource, sid)
            result = self.statuses.outcome(resource, wait.failed, mms)
        return self._settle(resource, result, marker)

    def _settle(self, resource: dict[str, Any], result: str, marker: CreateMarker | None) -> dict[str, Any]:
        # A final status settles the outcome: a retry after a failed one places a new call or message.
        self._forget(marker)
        if result == "failed":
            raise AirflowException(self.statuses.failure_text(resource))
        self.log.info("SignalWire %s %s ended %r", self.resource.singular, resource.get("sid"), resource.get("status"))
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
    from airflow_provider_signalwire.api.dates import parse_api_datetime

    match = None
    for item in items:
        created = parse_api_datetime(item.get("date_created"))
        if created is not None and created < since:
            break
        if item.get("direction") != "inbound" and same(item):
            match = item
    return match
