"""
Polling: how watchers (sensors and triggers) check their settings, count failed polls, and hand errors from the
triggerer to the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_signalwire.api.retries import RETRYABLE_STATUSES, RetryPolicy
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)

#: One attempt per poll: a failed poll is retried at the next one, and counted (``max_consecutive_failures``).
POLL_RETRY_POLICY = RetryPolicy(max_attempts=1)
DEFAULT_MAX_CONSECUTIVE_FAILURES = 5


def check_positive_int(name: str, value: Any) -> int:
    """A count such as ``limit`` or ``max_consecutive_failures``: a whole number of 1 or more."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SignalWireInputError(f"SignalWire watch: {name!r} must be a whole number of 1 or more; got {value!r}.")
    return value


def check_poll_interval(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86400:
        raise SignalWireInputError(
            f"SignalWire watch: 'poll_interval' must be a number of seconds above 0 and at most 86400; got {value!r}."
        )
    return float(value)


def is_transient(error: BaseException) -> bool:
    """A failure worth polling again for: no answer, 429 (throttled) or a 5xx."""
    if isinstance(error, SignalWireConnectionError):
        return True
    return isinstance(error, SignalWireApiError) and error.status in RETRYABLE_STATUSES


def wait_after_failure(error: BaseException, poll_interval: float) -> float:
    """Wait at least the poll interval, longer when SignalWire asked for it (``Retry-After``)."""
    retry_after = getattr(error, "retry_after", None)
    return max(poll_interval, float(retry_after)) if retry_after is not None else poll_interval


class FailureCounter:
    """
    Counts consecutive failed polls: a transient failure is logged and retried at the next poll, up to
    ``limit`` in a row; any other failure, or one too many, is raised.
    """

    def __init__(self, limit: int, log: Any, what: str) -> None:
        self.limit = limit
        self.log = log
        self.what = what
        self.count = 0

    def succeeded(self) -> None:
        self.count = 0

    def failed(self, error: BaseException) -> None:
        """Record a failed poll; re-raise ``error`` when it should end the wait."""
        if not is_transient(error):
            raise error
        self.count += 1
        if self.count >= self.limit:
            self.log.error("SignalWire %s failed %d times in a row; giving up: %s", self.what, self.count, error)
            raise error
        self.log.warning(
            "SignalWire %s failed (%d of %d in a row), polling again: %s", self.what, self.count, self.limit, error
        )


def error_payload(error: BaseException) -> dict[str, Any]:
    """An error as a JSON-serialisable dict, so that a trigger can hand it to the worker."""
    details: dict[str, Any] = {"message": str(error), "type": type(error).__name__}
    if isinstance(error, SignalWireApiError):
        details.update(
            status=error.status,
            method=error.method,
            path=error.path,
            code=error.code,
            api_message=error.message,
            more_info=error.more_info,
            retry_after=error.retry_after,
        )
    elif isinstance(error, SignalWireConnectionError):
        details["request_may_have_been_processed"] = error.request_may_have_been_processed
    return details


def error_from_payload(details: Mapping[str, Any]) -> Exception:
    """Rebuild the error a trigger reported with :func:`error_payload`."""
    kind = details.get("type")
    if kind == "SignalWireApiError":
        return SignalWireApiError(
            status=int(details.get("status") or 0),
            method=str(details.get("method") or "GET"),
            path=str(details.get("path") or ""),
            code=details.get("code"),
            message=details.get("api_message"),
            more_info=details.get("more_info"),
            retry_after=details.get("retry_after"),
        )
    if kind == "SignalWireConnectionError":
        return SignalWireConnectionError(
            str(details.get("message")),
            request_may_have_been_processed=bool(details.get("request_may_have_been_processed")),
        )
    if kind == "SignalWireInputError":
        return SignalWireInputError(str(details.get("message")))
    return SignalWireConnectionError(str(details.get("message")), request_may_have_been_processed=False)
