"""
SignalWire's time, read from the ``Date`` header of its answers: watchers compare their cursors with it, never with
the local clock, which may be minutes off.

Both hooks record every answer's ``Date`` in the :class:`ServerClock` of the Space they talk to; a watcher turns a
moment of the local clock into SignalWire's (:meth:`ServerClock.to_server`) and warns once when the clocks differ.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from airflow_provider_signalwire.api.dates import parse_api_datetime

#: Clocks further apart than this make a watcher log a warning (once).
SKEW_WARNING = timedelta(seconds=30)
#: A reading this old (seconds) is still good enough to tell SignalWire's time without asking again.
FRESH_SECONDS = 60.0


class Reading(NamedTuple):
    """One answer's ``Date`` (SignalWire's clock, whole seconds) and when the local clock received it."""

    server: float
    local: float
    monotonic: float

    @property
    def offset(self) -> float:
        """Local less SignalWire, in seconds. ``Date`` is truncated and written before the answer travels: the
        offset is over-estimated by at most a second plus the latency, so SignalWire's time is never over-stated."""
        return self.local - self.server


class ServerClock:
    """SignalWire's clock as its answers tell it: the latest ``Date`` header received from one Space."""

    def __init__(self) -> None:
        self.reading: Reading | None = None

    def record(self, date_header: str | None, received: float | None = None) -> None:
        """Note an answer's ``Date`` header (``received``: the local time it came, now by default)."""
        server = parse_api_datetime(date_header)
        if server is not None:
            local = time.time() if received is None else received
            self.reading = Reading(server.timestamp(), local, time.monotonic())

    def is_fresh(self, seconds: float = FRESH_SECONDS) -> bool:
        reading = self.reading
        return reading is not None and time.monotonic() - reading.monotonic <= seconds

    def to_server(self, local: float) -> datetime | None:
        """SignalWire's time when the local clock read ``local`` (epoch seconds); ``None`` before any ``Date``."""
        reading = self.reading
        if reading is None:
            return None
        return datetime.fromtimestamp(local - reading.offset, UTC)

    def now(self) -> datetime | None:
        """SignalWire's time now, from the latest reading; ``None`` before any ``Date``."""
        return self.to_server(time.time())

    def skew_warning(self) -> str | None:
        """What to warn about when the local clock and SignalWire's differ by more than :data:`SKEW_WARNING`."""
        reading = self.reading
        if reading is None or abs(reading.offset) <= SKEW_WARNING.total_seconds():
            return None
        local = datetime.fromtimestamp(reading.local, UTC).replace(microsecond=0)
        server = datetime.fromtimestamp(reading.server, UTC)
        way = "ahead of" if reading.offset > 0 else "behind"
        return (
            f"The local clock read {local.isoformat()} when SignalWire's answer was dated {server.isoformat()} "
            f"(its Date header): the local clock is about {abs(reading.offset):.0f} s {way} SignalWire's. Watchers "
            "follow SignalWire's time, so nothing is missed; check this machine's time synchronisation (NTP)."
        )


def onto_signalwire_clock(moment: datetime, clock: ServerClock) -> datetime:
    """
    A moment read on this machine's clock (a run's start), on SignalWire's: earlier by how far this clock is ahead,
    when that is more than :data:`SKEW_WARNING`, at the start of its second (SignalWire's dates have whole seconds).
    Never later: a clock behind SignalWire's misses nothing.
    """
    reading = clock.reading
    if reading is None or reading.offset <= SKEW_WARNING.total_seconds():
        return moment
    return (moment - timedelta(seconds=reading.offset)).replace(microsecond=0)


_CLOCKS: dict[str, ServerClock] = {}
_CLOCKS_LOCK = threading.Lock()


def server_clock(base_url: str) -> ServerClock:
    """The clock of the Space at ``base_url``, shared by every hook of this process."""
    with _CLOCKS_LOCK:
        clock = _CLOCKS.get(base_url)
        if clock is None:
            clock = _CLOCKS[base_url] = ServerClock()
        return clock
