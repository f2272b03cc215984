"""
Who a bulk send texts: a list of numbers, a list of dicts (``to`` and the fields its text uses), or a file read
through Airflow's ``ObjectStoragePath`` (CSV with a header row, or JSON lines), read again on each pass so that a
large file is never held in memory. Each row of a file is checked as it is read (see :mod:`.bulk_rows`): a
malformed one fails the run at the end of the first pass, before anything is sent, or is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.bulk_rows import BadRow, checked_rows

#: How a file's format is named, by the end of its name.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ALLOWED = "a list of numbers, a list of dicts each with 'to', or an ObjectStoragePath / URL of a .csv or .jsonl file"
ON_BAD_ROW = ("fail", "skip")
#: The malformed rows named in an error or a log line; the others are counted.
NAMED_AT_MOST = 20


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


def check_on_bad_row(value: Any) -> str:
    if value not in ON_BAD_ROW:
        raise SignalWireInputError(f"SignalWire: on_bad_row must be 'fail' or 'skip'; got {value!r}.")
    return str(value)


def as_recipient(item: Any, position: int) -> dict[str, Any]:
    if isinstance(item, str):
        return {"to": item.strip()}
    if isinstance(item, Mapping) and isinstance(item.get("to"), str | int) and str(item["to"]).strip():
        return {**item, "to": str(item["to"]).strip()}
    if isinstance(item, Mapping) and isinstance(item.get("to"), str):
        raise SignalWireInputError(f"SignalWire: recipients[{position}] has an empty 'to'; give it a number.")
    shown = f"a dict with keys {sorted(map(str, item))}" if isinstance(item, Mapping) else type(item).__name__
    raise SignalWireInputError(
        f"SignalWire: recipients[{position}] must be a number or a dict with a 'to' number; got {shown}."
    )


def described(bad_rows: list[BadRow], count: int) -> str:
    named = "; ".join(str(row) for row in bad_rows[:NAMED_AT_MOST])
    return named + (f"; and {count - NAMED_AT_MOST} more" if count > NAMED_AT_MOST else "")


class Recipients:
    """Yields every recipient as a dict with ``to``, in the same order on each call."""

    def __init__(self, items: list[Any] | None = None) -> None:
        self.items = items or []
        #: Malformed rows skipped by the last complete pass (the first few of them) and how many there were.
        self.bad_rows: list[BadRow] = []
        self.bad_row_count = 0

    def __call__(self) -> Iterator[dict[str, Any]]:
        return (as_recipient(item, i) for i, item in enumerate(self.items))


class RecipientFile(Recipients):
    """
    The rows of a CSV or JSON lines file, checked as they are read. With ``on_bad_row="fail"`` a pass that found a
    malformed row raises once it has read the whole file (naming every such row's line and column, never its
    contents); with ``"skip"`` those rows are left out, the same ones on each pass, and counted.
    """

    def __init__(self, path: Any, kind: str, parameter: str, on_bad_row: str) -> None:
        super().__init__()
        self.path, self.kind, self.parameter, self.on_bad_row = path, kind, parameter, on_bad_row

    def __call__(self) -> Iterator[dict[str, Any]]:
        bad_rows: list[BadRow] = []
        count = 0
        for row in checked_rows(self.path, self.kind, self.parameter):
            if isinstance(row, BadRow):
                count += 1
                if count <= NAMED_AT_MOST:
                    bad_rows.append(row)
                continue
            yield row
        self.bad_rows, self.bad_row_count = bad_rows, count
        if count and self.on_bad_row == "fail":
            rows = "1 malformed row" if count == 1 else f"{count} malformed rows"
            raise SignalWireInputError(
                f"SignalWire: {self.parameter} file {str(self.path)!r} has {rows}: {described(bad_rows, count)}. "
                "Nothing was sent. Fix the file"
                + (
                    ", or give on_bad_row='skip' to text the other rows (the skipped ones are counted)."
                    if self.parameter == "recipients"
                    else "."
                )
            )


def recipient_source(recipients: Any, recipients_format: str | None = None, on_bad_row: str = "fail") -> Recipients:
    """What yields every recipient as a dict with ``to``, in the same order on each call."""
    if is_file_reference(recipients):
        path = storage_path(recipients)
        return RecipientFile(path, file_format(path, recipients_format, "recipients"), "recipients", on_bad_row)
    if isinstance(recipients, list | tuple):
        return Recipients(list(recipients))
    raise SignalWireInputError(f"SignalWire: recipients must be {ALLOWED}; got {type(recipients).__name__}.")


def suppressed_numbers(suppress: Any, suppress_format: str | None = None) -> frozenset[str]:
    """
    The numbers never to text: a list of numbers, or a file (CSV with a ``to`` column, or JSON lines) whose
    malformed rows always fail the run: a number left out of it would be texted.
    """
    if suppress is None:
        return frozenset()
    if is_file_reference(suppress):
        path = storage_path(suppress)
        rows = RecipientFile(path, file_format(path, suppress_format, "suppress"), "suppress", "fail")
        return frozenset(row["to"] for row in rows())
    if isinstance(suppress, list | tuple | set | frozenset) and all(isinstance(n, str) for n in suppress):
        return frozenset(number.strip() for number in suppress)
    raise SignalWireInputError(
        "SignalWire: suppress must be a list of numbers or an ObjectStoragePath / URL of a .csv or .jsonl file; "
        f"got {type(suppress).__name__}."
    )
