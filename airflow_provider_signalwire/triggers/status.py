"""
Wait for a call or a message to reach a final status, and the trigger that does it in the triggerer.

:func:`final_statuses` and :func:`outcome` are the one place that decides when a call or message is done
and whether that counts as a failure; the operators' synchronous wait and :class:`SignalWireStatusTrigger`
both go through them. The trigger only reads: the call or message was created on the worker before the
task deferred, so a triggerer restart (which runs :meth:`SignalWireStatusTrigger.run` again from the
start) can never send anything twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_signalwire.api import (
    CALL_FAILED_STATUSES,
    CALL_FINAL_STATUSES,
    CALL_STATUSES,
    MESSAGE_FAILED_STATUSES,
    MESSAGE_FINAL_STATUSES,
    MESSAGE_STATUSES,
    MMS_FINAL_STATUSES,
    RetryPolicy,
    check_sid,
    is_mms,
)
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)
from airflow_provider_signalwire.hooks.signalwire import SignalWireAsyncHook

RESOURCE_TYPES = ("call", "message")


def check_resource_type(resource_type: Any) -> str:
    if resource_type not in RESOURCE_TYPES:
        raise SignalWireInputError(
            f"SignalWire status wait: 'resource_type' must be 'call' or 'message'; got {resource_type!r}."
        )
    return resource_type


def default_failed_statuses(resource_type: str) -> frozenset[str]:
    """The final statuses that fail a task by default: a call not answered, a message not delivered."""
    return CALL_FAILED_STATUSES if check_resource_type(resource_type) == "call" else MESSAGE_FAILED_STATUSES


def check_failed_statuses(resource_type: str, statuses: Any) -> frozenset[str]:
    """Read ``failed_statuses``: ``None`` for the defaults, else a string or a collection of known statuses."""
    if statuses is None:
        return default_failed_statuses(resource_type)
    known = CALL_STATUSES if check_resource_type(resource_type) == "call" else MESSAGE_STATUSES
    values = [statuses] if isinstance(statuses, str) else statuses
    if not isinstance(values, Collection) or not all(isinstance(v, str) for v in values):
        raise SignalWireInputError(
            f"SignalWire {resource_type}: 'failed_statuses' must be a list of {resource_type} statuses; "
            f"got {statuses!r}."
        )
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SignalWireInputError(
            f"SignalWire {resource_type}: 'failed_statuses' has unknown status(es) {', '.join(unknown)}; "
            f"allowed: {', '.join(known)}."
        )
    return frozenset(values)


def final_statuses(resource_type: str, resource: Mapping[str, Any], mms: bool = False) -> frozenset[str]:
    """
    The statuses after which ``resource`` changes no more.

    An MMS gets no delivery report, so ``sent`` is final for it; ``mms`` says the message was sent as MMS
    even without media (``send_as_mms``), which the resource itself does not show.
    """
    if check_resource_type(resource_type) == "call":
        return CALL_FINAL_STATUSES
    return MMS_FINAL_STATUSES if mms or is_mms(resource) else MESSAGE_FINAL_STATUSES


def failure_text(resource_type: str, resource: Mapping[str, Any]) -> str:
    """Say how a call or message failed, with SignalWire's error code and message when it gives them."""
    text = f"SignalWire {resource_type} {resource.get('sid')} ended with status {resource.get('status')!r}"
    code, message = resource.get("error_code"), resource.get("error_message")
    if code:
        text += f": error {code}"
    if message:
        text += f": {message}"
    sip = resource.get("sip_result_code")
    if resource_type == "call" and sip:
        text += f" (SIP {sip})"
    return text + "."


def outcome(resource_type: str, resource: Mapping[str, Any], failed: Collection[str], mms: bool = False) -> str | None:
    """``None`` while the resource can still change, else ``"success"`` or ``"failed"``."""
    status = resource.get("status")
    if status in failed:
        return "failed"
    if status in final_statuses(resource_type, resource, mms):
        return "success"
    return None


class SignalWireStatusTrigger(BaseTrigger):
    """
    Poll a call or a message by SID until it reaches a final status; never creates anything.

    It yields one event, a dict with ``status``, ``resource_type``, ``sid`` and ``message``:

    * ``"success"``: a final status not in ``failed_statuses``; ``resource`` is the call or message.
    * ``"failed"``: a status in ``failed_statuses``; ``resource`` as above, ``message`` names SignalWire's
      error code and message.
    * ``"error"``: SignalWire could not be read (after the hook's retries); ``code`` and ``http_status``
      are SignalWire's error code and the HTTP status when there was an answer.
    * ``"timeout"``: ``deadline`` passed first; ``resource`` is the last one read (or ``None``).

    :param sid: the SID of the call or message.
    :param resource_type: ``"call"`` or ``"message"``.
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
        resource_type: str,
        signalwire_conn_id: str = SignalWireAsyncHook.default_conn_name,
        poll_interval: float = 5.0,
        deadline: float | None = None,
        failed_statuses: Collection[str] | None = None,
        mms: bool = False,
        retry_policy: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.resource_type = check_resource_type(resource_type)
        self.sid = check_sid(f"wait for {resource_type}", sid)
        self.signalwire_conn_id = signalwire_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.failed_statuses = sorted(check_failed_statuses(resource_type, failed_statuses))
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
                "resource_type": self.resource_type,
                "signalwire_conn_id": self.signalwire_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "failed_statuses": list(self.failed_statuses),
                "mms": self.mms,
                "retry_policy": self.retry_policy,
            },
        )

    def _event(self, status: str, message: str, **extra: Any) -> TriggerEvent:
        return TriggerEvent(
            {"status": status, "resource_type": self.resource_type, "sid": self.sid, "message": message, **extra}
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        policy = RetryPolicy(**self.retry_policy) if self.retry_policy else None
        hook = SignalWireAsyncHook(self.signalwire_conn_id, retry_policy=policy)
        read = hook.get_call if self.resource_type == "call" else hook.get_message
        last: dict[str, Any] | None = None
        while True:
            try:
                last = await read(self.sid)
            except SignalWireApiError as error:
                yield self._event("error", str(error), code=error.code, http_status=error.status)
                return
            except (SignalWireConnectionError, SignalWireInputError) as error:
                yield self._event("error", str(error), code=None, http_status=None)
                return
            result = outcome(self.resource_type, last, self.failed_statuses, self.mms)
            if result == "failed":
                yield self._event("failed", failure_text(self.resource_type, last), resource=last)
                return
            if result == "success":
                text = f"SignalWire {self.resource_type} {self.sid} reached status {last.get('status')!r}."
                yield self._event("success", text, resource=last)
                return
            self.log.info("SignalWire %s %s is %r", self.resource_type, self.sid, last.get("status"))
            remaining = None if self.deadline is None else self.deadline - time.time()
            if remaining is not None and remaining <= 0:
                text = (
                    f"SignalWire {self.resource_type} {self.sid} was still {last.get('status')!r} "
                    "when the wait timed out."
                )
                yield self._event("timeout", text, resource=last)
                return
            await asyncio.sleep(self.poll_interval if remaining is None else min(self.poll_interval, remaining))
