"""What a sensor keeps between its pokes: where "new" starts for the next one, and its failed polls in a row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.api.watching import Cursor

if TYPE_CHECKING:
    from airflow_provider_signalwire.ledger import TaskLedger

POKE_STATE = "sensor_poke"


class PokeState:
    """
    A sensor's cursor and failure count between pokes.

    In poke mode the operator lives through all its pokes and keeps them itself. In reschedule mode Airflow builds
    the operator anew for every poke: they are kept in the task instance's ledger (the task state store on Airflow
    3.3, a Variable before), so that ``max_consecutive_failures`` ends the wait and a poke reads only what is new.

    :param since: the sensor's start; a state kept for another ``since`` is not used.
    :param cursor: where "new" starts for the next poke.
    :param failures: failed polls in a row so far.
    :param ledger: where the state is kept between pokes, ``None`` for the operator itself.
    """

    def __init__(self, since: datetime, cursor: Cursor, failures: int, ledger: TaskLedger | None) -> None:
        self.since = since
        self.cursor = cursor
        self.failures = failures
        self.ledger = ledger

    @classmethod
    def load(cls, context: Mapping[str, Any] | None, since: datetime) -> PokeState:
        """The state of a sensor starting at ``since``; with ``context`` (reschedule mode) from the ledger."""
        ledger = None
        if context is not None:
            from airflow_provider_signalwire.ledger import TaskLedger

            ledger = TaskLedger(context)
            kept = ledger.get(POKE_STATE)
            if isinstance(kept, Mapping) and kept.get("since") == since.isoformat():
                cursor = Cursor.from_json(kept.get("cursor"))
                failures = kept.get("failures")
                if cursor is not None and isinstance(failures, int) and not isinstance(failures, bool):
                    return cls(since, cursor, failures, ledger)
        return cls(since, Cursor.starting(since), 0, ledger)

    def save(self, *, cursor: Cursor | None = None, failures: int) -> None:
        changed = (cursor is not None and cursor != self.cursor) or failures != self.failures
        if cursor is not None:
            self.cursor = cursor
        self.failures = failures
        if self.ledger is not None and changed:
            self.ledger.set(
                POKE_STATE, {"since": self.since.isoformat(), "cursor": self.cursor.to_json(), "failures": failures}
            )

    def forget(self) -> None:
        """The wait is over: nothing to keep for a next poke."""
        if self.ledger is not None:
            self.ledger.delete(POKE_STATE)
