"""
Pacing a bulk send at a number's rate: a smooth token bucket that counts segments, not messages.

SignalWire queues what a number sends beyond its rate (each segment counts as a message) and drops what exceeds
a backlog of 10,000; sending at the rate keeps the queue empty, so messages leave when the task says they do.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Messages (segments) per second a sending number is allowed, by kind of number.
RATE_BY_NUMBER_TYPE = {"long_code": 1.0, "10dlc": 4.0, "toll_free": 3.0, "short_code": 10.0}


class TokenBucket:
    """
    ``rate`` tokens a second, at most ``burst`` of them saved up; a message takes one token per segment.

    Kept as the time at which the bucket would be full again (a generic cell rate algorithm): :meth:`delay` says how
    long to wait before a message of ``cost`` segments may leave, and :meth:`take` spends its tokens. A message that
    costs more than ``burst`` leaves once the bucket is full and leaves it in debt, so the average stays at ``rate``.

    :param rate: tokens (segments) per second, above 0.
    :param burst: tokens that may be saved up while idle; 1 keeps the pace even.
    :param clock: a monotonic clock in seconds.
    """

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be above 0; got {rate!r}")
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._full_at = clock()  # starts full

    def delay(self, cost: float) -> float:
        """Seconds to wait before a message of ``cost`` segments may leave (0 when it may leave now)."""
        now = self._clock()
        need = min(cost, self.burst)
        available_at = self._full_at - (self.burst - need) / self.rate
        return max(0.0, available_at - now)

    def take(self, cost: float) -> None:
        """Spend ``cost`` tokens now (call once :meth:`delay` is 0)."""
        now = self._clock()
        # A bucket full since before ``now`` holds ``burst``, however long it sat idle.
        self._full_at = max(self._full_at, now) + cost / self.rate


def wait_for(bucket: TokenBucket, cost: float, on_wait: Callable[[], None], sleep: Callable[[float], None]) -> None:
    """Wait until a message of ``cost`` segments may leave, calling ``on_wait`` at least once a second meanwhile."""
    while (pause := bucket.delay(cost)) > 0:
        sleep(min(pause, 1.0))
        on_wait()
    bucket.take(cost)
