"""Export a run's window of messages or calls to object storage: one object per run, written page by page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.base import DateLike, SignalWireBaseOperator, as_whole_number

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.api.resource import Resource


def as_timedelta(name: str, value: Any) -> timedelta:
    """A duration: a ``timedelta``, or a number of seconds (as templates render)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        try:
            seconds = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            seconds = -1.0
    if not seconds >= 0:
        raise SignalWireInputError(
            f"SignalWire: {name!r} must be a timedelta or a number of seconds, 0 or more; got {value!r}."
        )
    return timedelta(seconds=seconds)


def exportable() -> dict[str, Resource]:
    """The resources an export can write: those whose declaration names the date their items count from."""
    from airflow_provider_signalwire.api.resources import every_resource

    return {r.name: r for r in every_resource() if r.watch_date is not None}


def window_bounds(resource: Resource) -> tuple[str, str]:
    """The operator's arguments that give a window's bounds: ``date_sent_after`` / ``date_sent_before``..."""
    return f"{resource.watch_date}_after", f"{resource.watch_date}_before"


#: Every resource's window bounds: arguments of the operator (templated) for the resource they belong to.
WINDOW_BOUNDS: tuple[str, ...] = tuple(name for r in exportable().values() for name in window_bounds(r))


class SignalWireExportOperator(SignalWireBaseOperator):
    """
    Write a run's window of messages or calls to object storage, streamed page by page; returns
    ``{"path", "count", "window"}`` to XCom.

    The window is decided once per run, from the run itself, and a retry of the run writes the same one (the first
    try keeps it in the task instance's ledger):

    * ``date_sent_after`` / ``date_sent_before`` (calls: ``start_time_after`` / ``start_time_before``), when
      given: a one-off export or a backfill of a range. Each bound overrides its side of the run's window.
    * Else the run's data interval, when it has a length (``CronDataIntervalTimetable``...).
    * Else, under Airflow 3's default timetables (cron presets such as ``@hourly``, ``timedelta`` schedules), the
      last complete interval of the schedule up to the run's time: a scheduled run writes from the previous fire
      time to its own, so overlapping runs write adjacent windows; a manual run writes the last complete interval
      before it.
    * Else (``schedule=None``, assets, ``@once``): the ``first_window`` before the run's logical date.

    Messages count from ``date_sent`` (a queued one is exported once sent), calls from ``start_time``. The object
    is written under a temporary name next to ``path`` and moved into place once the whole window is written: a
    failed export leaves nothing at ``path`` (or the complete object of an earlier try). The connection's secrets
    (API token, Signing Key) are written as ``***``, as in XCom.

    :param resource: ``"messages"`` or ``"calls"``.
    :param path: where to write (templated): an ``ObjectStoragePath`` or a URL such as
        ``file:///data/messages/{{ ds }}.jsonl`` or ``s3://bucket/messages/{{ ds }}.jsonl``. Give each run its own
        (with ``{{ ts_nodash }}`` or ``{{ run_id }}``): the object is replaced when the run runs again.
    :param format: ``jsonl`` (default), ``csv`` or ``parquet`` (needs pyarrow; every column as text).
    :param fields: keep only these fields of each item (templated).
    :param to: items to this number; ``from_``: from this number; ``status``: in this status (templated).
    :param parent_call_sid: calls only: the children of this call (templated).
    :param lookback: also export again what was sent this long before the window (templated; a timedelta or
        seconds), so that a message whose status moved on after an earlier export is written with its new status.
        Not applied to a given ``_after`` bound.
    :param first_window: how far back a run of a DAG without a schedule reaches (default a day).
    :param page_size: items per page requested from SignalWire.
    :param date_sent_after: messages: the window's start, a date or an aware datetime (templated).
    :param date_sent_before: messages: the window's end (templated).
    :param start_time_after: calls: the window's start (templated).
    :param start_time_before: calls: the window's end (templated).
    """

    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        "path",
        "format",
        "fields",
        "to",
        "from_",
        "status",
        "parent_call_sid",
        "lookback",
        *WINDOW_BOUNDS,
    )

    def __init__(
        self,
        *,
        resource: str,
        path: Any,
        format: str = "jsonl",
        fields: str | Sequence[str] | None = None,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        parent_call_sid: str | None = None,
        lookback: timedelta | float | None = None,
        first_window: timedelta = timedelta(days=1),
        page_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        # The window's bounds are named by the resource's declaration (``date_sent_after``, ``start_time_before``).
        bounds: dict[str, DateLike] = {name: kwargs.pop(name) for name in WINDOW_BOUNDS if name in kwargs}
        super().__init__(**kwargs)
        self.resource_name = resource
        self.path = str(path)
        self.format = format
        self.fields = fields
        self.to = to
        self.from_ = from_
        self.status = status
        self.parent_call_sid = parent_call_sid
        self.lookback = lookback
        self.first_window = first_window
        self.page_size = page_size
        for name in WINDOW_BOUNDS:
            setattr(self, name, bounds.get(name))
        resource_spec = self.exported_resource()  # a wrong resource fails when the DAG is parsed
        foreign = sorted(set(bounds) - set(window_bounds(resource_spec)))
        if foreign:
            raise SignalWireInputError(
                f"SignalWire export of {resource_spec.name}: the window's bounds are "
                f"{' and '.join(window_bounds(resource_spec))}; got {', '.join(foreign)}."
            )

    def exported_resource(self) -> Resource:
        known = exportable()
        if self.resource_name not in known:
            raise SignalWireInputError(
                f"SignalWire export: 'resource' must be one of {', '.join(known)}; got {self.resource_name!r}."
            )
        return known[self.resource_name]

    def given_bounds(self, resource: Resource) -> tuple[Any, Any]:
        """The rendered ``_after`` and ``_before`` bounds given for ``resource``, as aware UTC datetimes or None."""
        from airflow_provider_signalwire.api.dates import to_utc_datetime

        after_name, before_name = window_bounds(resource)
        after, before = getattr(self, after_name), getattr(self, before_name)
        return (
            None if after is None else to_utc_datetime(after_name, after),
            None if before is None else to_utc_datetime(before_name, before),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_signalwire.operators.export_window import decide_window
        from airflow_provider_signalwire.operators.output import (
            check_fields,
            check_format,
            storage_path,
            walk,
            write_rows,
        )

        resource = self.exported_resource()
        fields = check_fields(self.fields)
        output_format = check_format("format", self.format)
        path = storage_path("path", self.path)
        lookback = as_timedelta("lookback", self.lookback or 0)
        first_window = as_timedelta("first_window", self.first_window)
        after, before = self.given_bounds(resource)
        filters = {name: getattr(self, name) for name in ("to", "from_", "status", "parent_call_sid")}
        filters = {name: value for name, value in filters.items() if value is not None}
        after_name, before_name = window_bounds(resource)
        # The hook checks every filter before anything is sent: a wrong one fails before a window is kept.
        self.hook.listing(resource, page_size=as_whole_number(self.page_size), **filters)

        window = decide_window(context, first_window, after, before)
        since = window.start if after is not None else window.start - lookback
        bounds: dict[str, Any] = {after_name: since, before_name: window.end}
        listing = self.hook.listing(resource, page_size=as_whole_number(self.page_size), **filters, **bounds)
        self.log.info(
            "Exporting SignalWire %s with %s from %s to %s (window %s to %s from the %s, lookback %s) to %s",
            resource.name,
            resource.watch_date,
            since.isoformat(),
            window.end.isoformat(),
            window.start.isoformat(),
            window.end.isoformat(),
            window.how,
            lookback,
            path,
        )
        pages = walk(self.hook, listing, self.log, resource.name)
        count = write_rows(path, output_format, pages, fields, secrets=self.secrets_in_play())
        self.log.info("Wrote %d SignalWire %s to %s", count, resource.name, path)
        return {
            "path": str(path),
            "count": count,
            "window": {"start": since.isoformat(), "end": window.end.isoformat()},
        }
