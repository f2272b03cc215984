"""
The operators that create a call or a message: wait for the outcome, and never create twice.

Never twice: before it sends a create, the operator records in its task instance's ledger (Airflow's task state
store, or a Variable before 3.3) that it is about to, and the SID once SignalWire answers (see
:mod:`~airflow_provider_signalwire.operators.create_record`). A retry reads that record first: with a SID it takes
that call or message; without one (the worker died, or the answer was lost, after SignalWire may have accepted the
request) it takes a call or message between the same numbers, that the recorded request could have created (same
text and media) while it was in flight, instead of creating another. A create SignalWire did not answer in time
may still be acted on after the client gave up: it is looked for once it can have landed, more than once, and
never sent again; not found, the task fails with its outcome unknown. Clearing the task starts afresh.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Set
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from airflow_provider_signalwire.compat import AirflowException, conf
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
from airflow_provider_signalwire.operators.base import SignalWireBaseOperator, as_bool, as_seconds
from airflow_provider_signalwire.operators.create_record import CREATE_RECORD, forget_create_record

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.api.resource import Operation, Resource
    from airflow_provider_signalwire.api.statuses import Statuses
    from airflow_provider_signalwire.ledger import TaskLedger

DEFAULT_POLL_INTERVAL = 5.0
DEFAULT_WAIT_TIMEOUT = 3600.0


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
        # After the user's callbacks, once Airflow has stored the success: then no retry needs the record.
        callbacks = self.on_success_callback
        self.on_success_callback = [
            *(callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []),
            forget_create_record,
        ]

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

    def find_created_in_flight(self, arguments: Mapping[str, Any], record: Mapping[str, Any]) -> Any:
        """The item between the same numbers that the recorded create could have made, if SignalWire has one."""
        from airflow_provider_signalwire.operators.create_record import find_created_in_flight

        sent = self.operation.effective(arguments, self.hook.settings.defaults)
        return find_created_in_flight(self.hook, self.resource, sent, record)

    # The flow ------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        arguments = self.api_arguments()
        self.check_arguments(arguments)
        wait = self._wait_options()
        ledger = self._ledger(context)
        record = ledger.get(CREATE_RECORD) if ledger is not None else None
        claim = None
        if ledger is not None and record is None:
            record, claim = self._claim_or_wait(ledger, context)
        resource = self._take_earlier(record, arguments, ledger) if record else None
        if resource is None:
            resource = self._create_once(arguments, ledger, claim)
        if not wait.enabled:
            return resource
        return self._wait(resource, arguments, wait, ledger)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: return the call or message, or fail as the wait did."""
        status = event.get("status")
        if status in ("success", "failed"):
            # Events of triggers deferred before 0.2.0 carry the item under "resource".
            item = event["resource"] if "resource_type" in event else event["item"]
            return self._settle(item, status, self._ledger(context))
        # An error or a timeout leaves the outcome open: a retry takes the same call or message up again.
        raise AirflowException(event.get("message") or f"SignalWire wait ended with {event!r}")

    def _ledger(self, context: Context) -> TaskLedger | None:
        from airflow_provider_signalwire.ledger import TaskLedger

        return TaskLedger(context) if as_bool("deduplicate_retries", self.deduplicate_retries) else None

    def _wait_options(self) -> _Wait:
        return _Wait(
            enabled=as_bool("wait_for_completion", self.wait_for_completion),
            poll_interval=as_seconds("poll_interval", self.poll_interval),
            timeout=None if self.wait_timeout is None else as_seconds("wait_timeout", self.wait_timeout),
            failed=self.statuses.check_failed(self.failed_statuses),
            deferrable=as_bool("deferrable", self.deferrable),
        )

    def _longest_request(self) -> timedelta:
        # The longest a create can be on its way: the hook retries until total_timeout, then one more read.
        return timedelta(seconds=self.hook.retry_policy.total_timeout + self.hook.settings.timeout)

    def _claim_or_wait(self, ledger: TaskLedger, context: Context) -> tuple[dict[str, Any] | None, Any]:
        """
        With no record yet: claim this try's create, or, when another execution of the same try holds it, wait for
        its record and take what it made. ``(record to take, (markers, claim name, token))``.
        """
        from airflow_provider_signalwire.operators.create_record import (
            claim_first_create,
            create_claim_name,
            wait_for_settled_record,
        )

        name = create_claim_name(context.get("ti"), ledger)
        for _ in range(2):
            claim = claim_first_create(ledger, name, self.signalwire_conn_id, self.log)
            if claim is not None:
                return None, (claim[0], name, claim[1])
            self.log.warning(
                "Another execution of this try is creating the SignalWire %s; waiting for it, not sending another.",
                self.resource.singular,
            )
            record = wait_for_settled_record(ledger, self._longest_request())
            if record is not None:
                return record, None
        raise AirflowException(
            f"Another execution of this task instance holds its SignalWire {self.resource.singular} create and "
            "left no record of it; not sending another. Clear the task to create it anew."
        )

    def _take_earlier(
        self, record: dict[str, Any], arguments: Mapping[str, Any], ledger: TaskLedger | None
    ) -> dict[str, Any] | None:
        kind = self.resource.singular
        sid = record.get("sid")
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
        if record.get("late"):
            return self._take_late(arguments, record, ledger)
        found = self.find_created_in_flight(arguments, record)
        if found is None:
            self.log.info(
                "An earlier try of this task sent a create at %s whose answer was lost; SignalWire has no matching "
                "%s created while it was in flight, so creating it now.",
                record["sent_at"],
                kind,
            )
            return None
        self.log.info(
            "An earlier try of this task created SignalWire %s %s (its answer was lost); taking it, not creating "
            "another.",
            kind,
            found.get("sid"),
        )
        if ledger is not None:
            ledger.set(CREATE_RECORD, {**record, "sid": found.get("sid")})
        return dict(found)

    def _create_once(
        self, arguments: Mapping[str, Any], ledger: TaskLedger | None, claim: Any = None
    ) -> dict[str, Any]:
        from airflow_provider_signalwire.api.retries import certainly_not_processed
        from airflow_provider_signalwire.operators.create_record import (
            answer_may_come_late,
            given_up,
            late_looks,
            new_record,
        )

        longest = self._longest_request()
        sent = self.operation.effective(arguments, self.hook.settings.defaults)
        record = new_record(longest, self.resource.fingerprint(sent))
        if ledger is not None:
            ledger.set(CREATE_RECORD, record)
        try:
            resource = self.hook.create(self.resource, **arguments)
        except (SignalWireApiError, SignalWireConnectionError) as error:
            if answer_may_come_late(error):
                # SignalWire may still create it: look for it once it can have landed, never send it again.
                record = {**record, "late": True, "looks": late_looks(self.hook.settings.timeout)}
                if ledger is not None:
                    ledger.set(CREATE_RECORD, record)
                self.log.warning(
                    "SignalWire did not answer the create of the %s in time (%s); it may still make it, so it is not "
                    "sent again: looking for it at %s.",
                    self.resource.singular,
                    error,
                    ", ".join(record["looks"]),
                )
                return self._take_late(arguments, record, ledger)
            if ledger is not None and certainly_not_processed(error):
                ledger.delete(CREATE_RECORD)  # nothing was created: a retry need not look
                markers, name, token = claim or (None, "", "")
                if markers is not None:
                    markers.release(name, token)
            elif ledger is not None:
                ledger.set(CREATE_RECORD, given_up(record))
                self.log.error(
                    "SignalWire may have created the %s; a retry of this task looks for it before creating one.",
                    self.resource.singular,
                )
            raise
        self.log.info(
            "Created SignalWire %s %s (status %r)", self.resource.singular, resource.get("sid"), resource.get("status")
        )
        if ledger is not None:
            ledger.set(CREATE_RECORD, {**record, "sid": resource.get("sid")})
        return resource

    def _take_late(
        self, arguments: Mapping[str, Any], record: dict[str, Any], ledger: TaskLedger | None
    ) -> dict[str, Any]:
        """
        What a create answered too late made, looked for at each of its ``looks`` still to come (and once now,
        on a retry after them); not found, its outcome is unknown and the task fails without sending it again.
        """
        from datetime import UTC, datetime

        from airflow_provider_signalwire.operators.create_record import seconds_until

        kind = self.resource.singular
        to_come = [moment for moment in record["looks"] if seconds_until(moment) > 0]
        for moment in to_come or [None]:  # a retry after every look has passed looks once, now
            if moment is not None:
                time.sleep(seconds_until(moment))
            found = self.find_created_in_flight(arguments, {**record, "in_flight_until": datetime.now(UTC).isoformat()})
            if found is not None:
                self.log.info(
                    "SignalWire created %s %s though it answered too late; taking it, not creating another.",
                    kind,
                    found.get("sid"),
                )
                if ledger is not None:
                    ledger.set(CREATE_RECORD, {**record, "sid": found.get("sid")})
                return dict(found)
        raise AirflowException(
            f"SignalWire did not answer the create of the {kind} sent at {record['sent_at']} in time, and has no "
            f"such {kind} at {record['looks'][-1]} either: whether it was created is unknown, so it is not sent "
            "again (a retry of this task looks for it once more). Clear the task to create it anew."
        )

    def _wait(
        self, resource: dict[str, Any], arguments: Mapping[str, Any], wait: _Wait, ledger: TaskLedger | None
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
        return self._settle(resource, result, ledger)

    def _settle(self, resource: dict[str, Any], result: str, ledger: TaskLedger | None) -> dict[str, Any]:
        if result == "failed":
            # A final failed status settles the outcome: a retry places a new call or message.
            if ledger is not None:
                ledger.delete(CREATE_RECORD)
            raise AirflowException(self.statuses.failure_text(resource))
        self.log.info("SignalWire %s %s ended %r", self.resource.singular, resource.get("sid"), resource.get("status"))
        return resource
