"""Export a run's window of messages or calls to object storage: one object per run, written page by page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.base import SignalWireBaseOperator, as_whole_number

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.api.resource import Resource

#: How many runs' windows an export keeps, to give a re-run its own window again.
KEPT_WINDOWS = 100


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


class ExportWindows:
    """
    The windows an export task wrote, by run (its logical date, else its run id), in Airflow's metadata database:
    an Airflow Variable per task (``signalwire_export_<digest of dag_id, task_id, map_index>``), on every Airflow
    version. (The task state store of Airflow 3.3 is scoped to one run: it cannot hand a window on to the next.)
    """

    def __init__(self, context: Mapping[str, Any]) -> None:
        from airflow_provider_signalwire.compat import variable_store
        from airflow_provider_signalwire.ledger import VARIABLE_PREFIX, digest

        ti = context["ti"]
        self.key = f"{VARIABLE_PREFIX}_export_{digest(ti.dag_id, ti.task_id, ti.map_index)}"
        self.description = f"SignalWire export {ti.dag_id}.{ti.task_id}: the window each run wrote."
        self._variables = variable_store()
        text = self._variables.get(self.key)
        kept = json.loads(text) if text else {}
        self.windows: dict[str, list[str]] = kept.get("windows", {}) if isinstance(kept, dict) else {}

    def of_run(self, run: str) -> tuple[datetime, datetime] | None:
        window = self.windows.get(run)
        return None if window is None else (datetime.fromisoformat(window[0]), datetime.fromisoformat(window[1]))

    def last_end_before(self, moment: datetime) -> datetime | None:
        """The latest end of a kept window that is not after ``moment``."""
        ends = [end for end in (datetime.fromisoformat(w[1]) for w in self.windows.values()) if end <= moment]
        return max(ends, default=None)

    def keep(self, run: str, start: datetime, end: datetime) -> None:
        self.windows[run] = [start.isoformat(), end.isoformat()]
        newest = sorted(self.windows.items(), key=lambda kept: kept[1][1])[-KEPT_WINDOWS:]
        self.windows = dict(newest)
        self._variables.set(self.key, json.dumps({"windows": self.windows}, sort_keys=True), self.description)


def run_key(context: Mapping[str, Any]) -> str:
    """A run as its windows are kept: its logical date, which a run made again for the same date keeps too."""
    logical_date = context.get("logical_date")
    return logical_date.isoformat() if logical_date is not None else str(context["run_id"])


def run_window(context: Mapping[str, Any], kept: ExportWindows, first_window: timedelta) -> tuple[datetime, datetime]:
    """
    The window a run exports: its data interval when that has a length; otherwise the window this run wrote
    before (a re-run), else from the end of the latest window written up to the run's logical date (or, for a
    run without one, when it was due), else ``first_window`` before it.
    """
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None and end > start:
        return start, end
    again = kept.of_run(run_key(context))
    if again is not None:
        return again
    end = context.get("logical_date") or context["dag_run"].run_after
    start = kept.last_end_before(end)
    return (start if start is not None else end - first_window), end


class SignalWireExportOperator(SignalWireBaseOperator):
    """
    Write a run's window of messages or calls to object storage, streamed page by page; returns
    ``{"path", "count", "window"}`` to XCom.

    The window is the run's data interval when it has a length. Under Airflow 3's default timetables (``@daily``,
    manual runs) it has none: the window then runs from the end of the last successful run's window to the run's
    logical date (kept in an Airflow Variable), and running the same run again writes the same window. Messages
    count from ``date_sent`` (a queued one is exported once sent), calls from ``start_time``.

    :param resource: ``"messages"`` or ``"calls"``.
    :param path: where to write (templated): an ``ObjectStoragePath`` or a URL such as
        ``file:///data/messages/{{ ds }}.jsonl`` or ``s3://bucket/messages/{{ ds }}.jsonl``. Give each run its own
        (with ``{{ ds }}`` or ``{{ run_id }}``): the object is replaced when the run runs again.
    :param format: ``jsonl`` (default), ``csv`` or ``parquet`` (needs pyarrow; every column as text).
    :param fields: keep only these fields of each item (templated).
    :param to: items to this number; ``from_``: from this number; ``status``: in this status (templated).
    :param parent_call_sid: calls only: the children of this call (templated).
    :param lookback: also export again what was sent this long before the window (templated; a timedelta or
        seconds), so that a message whose status moved on after an earlier export is written with its new status.
    :param first_window: how far back the first run without a data interval reaches (default a day).
    :param page_size: items per page requested from SignalWire.
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
        self.exported_resource()  # a wrong resource fails when the DAG is parsed

    def exported_resource(self) -> Resource:
        from airflow_provider_signalwire.api.resources.calls import CALLS
        from airflow_provider_signalwire.api.resources.messages import MESSAGES

        exportable = {MESSAGES.name: MESSAGES, CALLS.name: CALLS}
        if self.resource_name not in exportable:
            raise SignalWireInputError(
                f"SignalWire export: 'resource' must be one of {', '.join(exportable)}; got {self.resource_name!r}."
            )
        return exportable[self.resource_name]

    def execute(self, context: Context) -> dict[str, Any]:
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
        filters = {name: getattr(self, name) for name in ("to", "from_", "status", "parent_call_sid")}
        filters = {name: value for name, value in filters.items() if value is not None}

        kept = ExportWindows(context)
        start, end = run_window(context, kept, first_window)
        since = start - lookback
        date = resource.watch_date
        window: dict[str, Any] = {f"{date}_after": since, f"{date}_before": end}
        # The hook checks every filter when it builds the listing, before anything is sent.
        listing = self.hook.listing(
            resource,
            page_size=as_whole_number(self.page_size),
            **filters,
            **window,
        )
        self.log.info(
            "Exporting SignalWire %s with %s from %s to %s (window %s to %s, lookback %s) to %s",
            resource.name,
            date,
            since.isoformat(),
            end.isoformat(),
            start.isoformat(),
            end.isoformat(),
            lookback,
            path,
        )
        pages = walk(self.hook, listing, self.log, resource.name)
        count = write_rows(path, output_format, pages, fields, secrets=self.secrets_in_play())
        kept.keep(run_key(context), start, end)
        self.log.info("Wrote %d SignalWire %s to %s", count, resource.name, path)
        return {"path": str(path), "count": count, "window": {"start": since.isoformat(), "end": end.isoformat()}}
