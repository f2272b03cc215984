"""
:class:`SignalWireStatusTrigger`: wait in the triggerer for a call or a message to reach a final status.

When an item is done and whether that counts as a failure is the resource spec's (``resource.statuses``); the
operators' synchronous wait reads the same. The trigger only reads: the call or message was created on the worker
before the task deferred, so a triggerer restart (which runs :meth:`SignalWireStatusTrigger.run` again from the
start) can never send anything twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_signalwire import DEFAULT_CONN_ID
from airflow_provider_signalwire.api.request import check_sid
from airflow_provider_signalwire.api.resources import resource as resource_named
from airflow_provider_signalwire.api.retries import RetryPolicy
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)

#: What triggers deferred before resources were named in the plural said.
_LEGACY_RESOURCE_TYPES = {"call": "calls", "message": "messages"}
WAITABLE = ("calls", "messages")


def _check_resource(resource: Any, resource_type: Any) -> str:
    name = resource if resource is not None else _LEGACY_RESOURCE_TYPES.get(resource_type, resource_type)
    if name not in WAITABLE:
        raise SignalWireInputError(f"SignalWire status wait: 'resource' must be 'calls' or 'messages'; got {name!r}.")
    return name


class SignalWireStatusTrigger(BaseTrigger):
    """
    Poll a call or a message by SID until it reaches a final status; never creates anything.

    It yields one event, a dict with ``status``, ``resource``, ``sid`` and ``message``:

    * ``"success"``: a final status not in ``failed_statuses``; ``item`` is the call or message.
    * ``"failed"``: a status in ``failed_statuses``; ``item`` as above, ``message`` names SignalWire's
      error code and message.
    * ``"error"``: SignalWire could not be read (after the hook's retries); ``code`` and ``http_status``
      are SignalWire's error code and the HTTP status when there was an answer.
    * ``"timeout"``: ``deadline`` passed first; ``item`` is the last one read (or ``None``).

    :param sid: the SID of the call or message.
    :param resource: ``"calls"`` or ``"messages"`` (``resource_type="call"`` / ``"message"`` is read too).
    :param signalwire_conn_id: the Airflow connection to use.
    :param poll_interval: seconds between two reads.
    :param deadline: when to give up, in seconds since the epoch (absolute, so that a triggerer restart
        does not extend the wait); ``None`` waits as long as it takes.
    :param failed_statuses: the final statuses that count as a failure; ``None`` for the defaults
        (a call busy, failed, not answered or canceled; a message undelivered or failed).
    :param mms: the message was sent as MMS, so ``sent`` is its final status.
    :param retry_policy: the hook's retry policy for each read, as the fields of
        :class:`~airflow_provider_signalwire.api.RetryPolicy`; ``None`` for the default one.
    """

    def __init__(
        self,
        *,
        sid: str,
        resource: str | None = None,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 5.0,
        deadline: float | None = None,
        failed_statuses: Collection[str] | None = None,
        mms: bool = False,
        retry_policy: Mapping[str, Any] | None = None,
        resource_type: str | None = None,
    ) -> None:
        super().__init__()
        self.resource = _check_resource(resource, resource_type)
        self.spec = resource_named(self.resource)
        assert self.spec.statuses is not None
        self.statuses = self.spec.statuses
        self.sid = check_sid(f"wait for {self.spec.singular}", sid)
        self.signalwire_conn_id = signalwire_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.failed_statuses = sorted(self.statuses.check_failed(failed_statuses))
        self.mms = mms
        self.retry_policy = dict(retry_policy) if retry_policy else None

    @staticmethod
    def retry_policy_fields(policy: RetryPolicy | None) -> dict[str, Any] | None:
        """The serialisable form of a :class:`RetryPolicy` for the ``retry_policy`` argument."""
        return policy.to_dict() if policy is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "sid": self.sid,
                "resource": self.resource,
                "signalwire_conn_id": self.signalwire_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "failed_statuses": list(self.failed_statuses),
                "mms": self.mms,
                "retry_policy": self.retry_policy,
            },
        )

    def _event(self, status: str, message: str, **extra: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "resource": self.resource, "sid": self.sid, "message": message, **extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

        policy = RetryPolicy(**self.retry_policy) if self.retry_policy else None
        hook = SignalWireAsyncHook(self.signalwire_conn_id, retry_policy=policy)
        kind = self.spec.singular
        last: dict[str, Any] | None = None
        while True:
            try:
                last = await hook.get(self.spec, self.sid)
            except SignalWireApiError as error:
                yield self._event("error", str(error), code=error.code, http_status=error.status)
                return
            except (SignalWireConnectionError, SignalWireInputError) as error:
                yield self._event("error", str(error), code=None, http_status=None)
                return
            result = self.statuses.outcome(last, self.failed_statuses, self.mms)
            if result == "failed":
                yield self._event("failed", self.statuses.failure_text(last), item=last)
                return
            if result == "success":
                text = f"SignalWire {kind} {self.sid} reached status {last.get('status')!r}."
                yield self._event("success", text, item=last)
                return
            self.log.info("SignalWire %s %s is %r", kind, self.sid, last.get("status"))
            remaining = None if self.deadline is None else self.deadline - time.time()
            if remaining is not None and remaining <= 0:
                text = f"SignalWire {kind} {self.sid} was still {last.get('status')!r} when the wait timed out."
                yield self._event("timeout", text, item=last)
                return
            await asyncio.sleep(self.poll_interval if remaining is None else min(self.poll_interval, remaining))
