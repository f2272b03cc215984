"""
The window an export run writes, decided once from the run itself and kept for its retries.

* Bounds given to the operator (``date_sent_after`` / ``date_sent_before`` for messages, ``start_time_*`` for
  calls) come first, each for its side.
* Else the run's data interval, when it has a length.
* Else the last complete interval of the DAG's schedule up to the run's time (its logical date, else when it was
  due): from the fire time before it to it. A scheduled run of a cron or a ``timedelta`` schedule fires at its own
  time, so it writes the interval since the previous fire time; two runs next to each other get adjacent windows
  whichever finishes first. A manual run writes the last complete interval before it.
* Else (no schedule to measure: ``None``, assets, ``@once``) the ``first_window`` before the run's time.

The first try keeps the window in the task instance's :class:`~airflow_provider_signalwire.ledger.TaskLedger`;
its retries read it there, so they write exactly the same window. Nothing is shared between runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

#: The task ledger key of the window a run writes.
WINDOW_KEY = "export_window"


def utc(moment: datetime) -> datetime:
    """``moment`` as a plain UTC datetime: pendulum's lose their timezone in arithmetic with a stdlib one."""
    m = moment.astimezone(UTC)
    return datetime(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=UTC)


class Window(NamedTuple):
    """A run's window: ``start <= date < end``; ``how`` says where it came from (logged, and in XCom)."""

    start: datetime
    end: datetime
    how: str

    def as_record(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "how": self.how}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Window:
        start, end = datetime.fromisoformat(record["start"]), datetime.fromisoformat(record["end"])
        return cls(start, end, str(record.get("how", "kept")))


class Cadence(NamedTuple):
    """When a schedule fires: cron expressions in a timezone, or every ``delta``."""

    crons: tuple[str, ...] = ()
    timezone: Any = UTC
    delta: Any = None

    def latest_fire(self, moment: datetime) -> datetime:
        """The latest fire time at or before ``moment`` (for a ``delta``: ``moment`` itself)."""
        if self.delta is not None:
            return moment
        return max(self._prev(cron, moment + timedelta(microseconds=1)) for cron in self.crons)

    def fire_before(self, moment: datetime) -> datetime:
        """The latest fire time strictly before ``moment``."""
        if self.delta is not None:
            return utc(moment - self.delta)
        return max(self._prev(cron, moment) for cron in self.crons)

    def _prev(self, cron: str, moment: datetime) -> datetime:
        from croniter import croniter

        local = moment.astimezone(self.timezone)
        return utc(croniter(cron, local).get_prev(datetime))


def _timezone(value: Any) -> Any:
    import pendulum

    if isinstance(value, str):
        return pendulum.timezone(value)
    if isinstance(value, (int, float)):
        return pendulum.fixed_timezone(int(value))
    return value or UTC


def _delta(value: Any) -> Any:
    if isinstance(value, dict):
        from dateutil.relativedelta import relativedelta

        return relativedelta(**value)
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    return value


def cadence_of(timetable: Any) -> Cadence | None:
    """
    When ``timetable`` fires, read through public interfaces, or ``None`` for a schedule without a cadence.

    Airflow 3.2+ DAGs hold the SDK's timetable definitions (``airflow.sdk.CronTriggerTimetable`` and friends),
    whose fields are public attributes (``expression``, ``timezone``, ``delta``, ``timetables``); Airflow 3.1 DAGs
    hold core timetables, which describe themselves through the public ``Timetable.serialize()``.
    """
    if timetable is None:
        return None
    nested = getattr(timetable, "timetables", None)
    if isinstance(nested, (list, tuple)) and nested:  # MultipleCronTriggerTimetable (3.2+)
        parts = [cadence_of(part) for part in nested]
        if all(part is not None and part.crons for part in parts):
            return Cadence(tuple(c for part in parts if part for c in part.crons), parts[0].timezone)  # type: ignore[union-attr]
        return None
    if isinstance(getattr(timetable, "expression", None), str):
        return Cadence((timetable.expression,), _timezone(getattr(timetable, "timezone", None)))
    if getattr(timetable, "delta", None) is not None:
        return Cadence(delta=timetable.delta)
    serialize = getattr(timetable, "serialize", None)
    described = serialize() if callable(serialize) else None  # Airflow 3.1
    if not isinstance(described, dict):
        return None
    if isinstance(described.get("expression"), str):
        return Cadence((described["expression"],), _timezone(described.get("timezone")))
    if isinstance(described.get("expressions"), list) and described["expressions"]:
        return Cadence(tuple(described["expressions"]), _timezone(described.get("timezone")))
    if described.get("delta") is not None:
        return Cadence(delta=_delta(described["delta"]))
    return None


def run_time(context: Mapping[str, Any]) -> datetime:
    """The run's time: its logical date, else (a run made without one) when it was due."""
    moment = context.get("logical_date")
    if moment is None:
        moment = context["dag_run"].run_after
    return utc(moment)


def own_window(context: Mapping[str, Any], first_window: timedelta) -> Window:
    """The window of a run from the run itself (see the module's description), without given bounds."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and end > start:
        return Window(utc(start), utc(end), "data interval")
    moment = run_time(context)
    dag = context.get("dag")
    cadence = cadence_of(getattr(dag, "timetable", None))
    if cadence is not None:
        end = cadence.latest_fire(moment)
        return Window(cadence.fire_before(end), end, "schedule")
    return Window(moment - first_window, moment, "first_window")


def decide_window(
    context: Mapping[str, Any], first_window: timedelta, after: datetime | None, before: datetime | None
) -> Window:
    """
    The window this try writes: the one the first try of this task instance kept, else decided now (given
    bounds over the run's own window) and kept for the retries.
    """
    from airflow_provider_signalwire.exceptions import SignalWireInputError
    from airflow_provider_signalwire.ledger import TaskLedger

    ledger = TaskLedger(context)
    kept = ledger.get(WINDOW_KEY)
    if isinstance(kept, dict):
        return Window.from_record(kept)
    after, before = (None if bound is None else utc(bound) for bound in (after, before))
    if after is not None and before is not None:
        window = Window(after, before, "given")
    else:
        own = own_window(context, first_window)
        window = Window(after or own.start, before or own.end, "given" if after or before else own.how)
    if not window.start < window.end:
        raise SignalWireInputError(
            f"SignalWire export: the window must end after it starts; got {window.start.isoformat()} to "
            f"{window.end.isoformat()} ({window.how})."
        )
    ledger.set(WINDOW_KEY, window.as_record())
    return window
