"""
Who a bulk send texts: a list of numbers, a list of dicts (``to`` and the fields its text uses), or a file read
through Airflow's ``ObjectStoragePath`` (CSV with a header row, or JSON lines), read again on each pass so that a
large file is never held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_provider_signalwire.exceptions import SignalWireInputError

#: How a file's format is named, by the end of its name.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ALLOWED = "a list of numbers, a list of dicts each with 'to', or an ObjectStoragePath / URL of a .csv or .jsonl file"

Recipients = Callable[[], Iterator[dict[str, Any]]]


def is_file_reference(value: Any) -> bool:
    """Whether ``value`` names a file: an ``ObjectStoragePath`` or a URL such as ``file:///...`` or ``s3://...``."""
    if isinstance(value, str):
        return "://" in value
    return type(value).__name__ == "ObjectStoragePath"


def storage_path(value: Any) -> Any:
    from airflow.sdk import ObjectStoragePath

    return value if isinstance(value, ObjectStoragePath) else ObjectStoragePath(value)


def file_format(path: Any, given: str | None, parameter: str) -> str:
    if given is not None:
        if given not in ("csv", "jsonl"):
            raise SignalWireInputError(f"SignalWire: {parameter}_format must be 'csv' or 'jsonl'; got {given!r}.")
        return given
    name = str(path).lower()
    for ending, kind in FORMATS.items():
        if name.endswith(ending):
            return kind
    raise SignalWireInputError(
        f"SignalWire: cannot tell the format of {parameter} file {str(path)!r}: name it .csv or .jsonl, or give "
        f"{parameter}_format='csv' or 'jsonl'."
    )


def read_rows(path: Any, kind: str) -> Iterator[dict[str, Any]]:
    """The rows of a CSV (header row first) or JSON lines file, one at a time."""
    import csv

    with path.open("r", encoding="utf-8", newline="") as stream:
        if kind == "csv":
            yield from csv.DictReader(stream)
            return
        for number, line in enumerate(stream, start=1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise SignalWireInputError(
                        f"SignalWire: line {number} of {str(path)!r} must be a JSON object; got {type(row).__name__}."
                    )
                yield row


def as_recipient(item: Any, position: int) -> dict[str, Any]:
    if isinstance(item, str):
        return {"to": item.strip()}
    if isinstance(item, Mapping) and isinstance(item.get("to"), str | int) and str(item["to"]).strip():
        return {**item, "to": str(item["to"]).strip()}
    shown = f"a dict with keys {sorted(map(str, item))}" if isinstance(item, Mapping) else type(item).__name__
    raise SignalWireInputError(
        f"SignalWire: recipients[{position}] must be a number or a dict with a 'to' number; got {shown}."
    )


def recipient_source(recipients: Any, recipients_format: str | None = None) -> Recipients:
    """A function that yields every recipient as a dict with ``to``, in the same order on each call."""
    if is_file_reference(recipients):
        path = storage_path(recipients)
        kind = file_format(path, recipients_format, "recipients")
        return lambda: (as_recipient(row, i) for i, row in enumerate(read_rows(path, kind)))
    if isinstance(recipients, list | tuple):
        items = list(recipients)
        return lambda: (as_recipient(item, i) for i, item in enumerate(items))
    raise SignalWireInputError(f"SignalWire: recipients must be {ALLOWED}; got {type(recipients).__name__}.")


def suppressed_numbers(suppress: Any, suppress_format: str | None = None) -> frozenset[str]:
    """The numbers never to text: a list of numbers, or a file (CSV with a ``to`` column, or JSON lines)."""
    if suppress is None:
        return frozenset()
    if is_file_reference(suppress):
        path = storage_path(suppress)
        kind = file_format(path, suppress_format, "suppress")
        return frozenset(as_recipient(row, i)["to"] for i, row in enumerate(read_rows(path, kind)))
    if isinstance(suppress, list | tuple | set | frozenset) and all(isinstance(n, str) for n in suppress):
        return frozenset(number.strip() for number in suppress)
    raise SignalWireInputError(
        "SignalWire: suppress must be a list of numbers or an ObjectStoragePath / URL of a .csv or .jsonl file; "
        f"got {type(suppress).__name__}."
    )
