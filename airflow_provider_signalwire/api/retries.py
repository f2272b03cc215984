"""
When to send a request again: reads, deletes and updates on no answer, 429 and 5xx; a create only when SignalWire
certainly did not act on it, so that no SMS or call goes out twice.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from airflow_provider_signalwire.api.request import ApiRequest

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers that mean the request was refused before anything was done. Other 4xx (408, 409, 499 from a proxy
# in front of the Space...) may come after the request was passed on, so they do not count.
REFUSAL_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 415, 422, 429})


def done_by_an_earlier_attempt(request: ApiRequest, error: BaseException, attempt: int) -> bool:
    """A DELETE retried after its answer was lost finds the record gone: the delete did happen."""
    return request.method == "DELETE" and attempt > 1 and isinstance(error, SignalWireApiError) and error.status == 404


def certainly_not_processed(error: BaseException) -> bool:
    """Whether a failed request certainly created nothing: refused by SignalWire, or never sent."""
    if isinstance(error, SignalWireApiError):
        return error.status in REFUSAL_STATUSES
    if isinstance(error, SignalWireConnectionError):
        return not error.request_may_have_been_processed
    return False


class RetryPolicy:
    """
    When and how long to retry a failed request.

    Reads, deletes and updates are retried on connection errors, 429 and 5xx. A create is retried only
    when SignalWire certainly did not act on it: the connection was refused (nothing was sent) or the
    answer was 429. ``Retry-After`` is honoured; when it asks for longer than the time left, the
    error is raised at once rather than retried early.

    :param max_attempts: attempts in all, the first included (1 turns retries off).
    :param initial_backoff: seconds before the first retry; doubled at each retry, with jitter.
    :param max_backoff: the longest wait between two attempts, unless ``Retry-After`` asks for more.
    :param total_timeout: seconds from the first attempt after which no retry is started.
    """

    __slots__ = ("initial_backoff", "max_attempts", "max_backoff", "total_timeout")

    def __init__(
        self,
        max_attempts: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        total_timeout: float = 120.0,
    ) -> None:
        if max_attempts < 1 or initial_backoff < 0 or max_backoff < 0 or total_timeout < 0:
            raise SignalWireInputError(
                "RetryPolicy: 'max_attempts' must be 1 or more and the times must not be negative."
            )
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.total_timeout = total_timeout

    def to_dict(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this policy (for a trigger's ``serialize``)."""
        return {
            name: getattr(self, name) for name in ("max_attempts", "initial_backoff", "max_backoff", "total_timeout")
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryPolicy) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().values()))

    def __repr__(self) -> str:
        return "RetryPolicy(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"

    def should_retry(self, request: ApiRequest, error: BaseException) -> bool:
        if not isinstance(error, (SignalWireApiError, SignalWireConnectionError)):
            return False
        if isinstance(error, SignalWireApiError) and error.status not in RETRYABLE_STATUSES:
            return False
        # A create is sent again only when the first one certainly created nothing (429, never sent).
        return not request.is_create or certainly_not_processed(error)

    def wait_seconds(self, attempt: int, error: BaseException | None) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        backoff = min(self.max_backoff, self.initial_backoff * 2 ** max(0, attempt - 1))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography

    def tenacity_arguments(self, request: ApiRequest, log: Any) -> dict[str, Any]:
        """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` that apply this policy."""
        from tenacity import retry_if_exception

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.wait_seconds(state.attempt_number, error)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            return (state.seconds_since_start or 0.0) + (state.upcoming_sleep or 0.0) > self.total_timeout

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "SignalWire %s failed (%s); attempt %d of %d, retrying in %.1f s",
                request.label,
                error,
                state.attempt_number,
                self.max_attempts,
                state.upcoming_sleep,
            )

        return {
            "stop": stop,
            "wait": wait,
            "retry": retry_if_exception(lambda error: self.should_retry(request, error)),
            "before_sleep": before_sleep,
            "reraise": True,
        }
