"""
The rows of a bulk send's file, checked one at a time as they are read: a CSV file (a header row naming the
columns, one of them ``to``) or a JSON lines file (an object with ``to`` on each line). A malformed row comes out
as a :class:`BadRow` naming its lines and what is wrong (the column, never the contents: they are personal data).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_signalwire.api.params import E164_PATTERN
from airflow_provider_signalwire.exceptions import SignalWireInputError

_E164 = re.compile(E164_PATTERN)


@dataclass(frozen=True)
class BadRow:
    first_line: int
    last_line: int
    problem: str

    def __str__(self) -> str:
        if self.first_line == self.last_line:
            return f"line {self.first_line}: {self.problem}"
        return f"lines {self.first_line}-{self.last_line}: {self.problem}"


def checked_rows(path: Any, kind: str, parameter: str) -> Iterator[dict[str, Any] | BadRow]:
    """Each row of the file as a dict whose ``to`` is a non-empty string, or a :class:`BadRow`."""
    line = [0]  # the last line read, for an error that comes from decoding
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark, which is not part of "to".
        with path.open("r", encoding="utf-8-sig", newline="") as stream:
            rows = _csv_rows(stream, path, parameter, line) if kind == "csv" else _json_rows(stream, line)
            yield from rows
    except UnicodeDecodeError:
        raise SignalWireInputError(
            f"SignalWire: {parameter} file {str(path)!r} is not UTF-8 text (after line {line[0]}). Nothing was sent."
        ) from None


def _csv_rows(stream: Any, path: Any, parameter: str, line: list[int]) -> Iterator[dict[str, Any] | BadRow]:
    import csv

    # strict: a quote left open to the end of the file, or text after a closing quote, is an error, not data.
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise SignalWireInputError(
            f"SignalWire: {parameter} file {str(path)!r}: line 1 is not CSV ({error})."
        ) from None
    names = [name.strip() for name in header]
    if "to" not in names:
        raise SignalWireInputError(
            f"SignalWire: {parameter} file {str(path)!r}: its header (line 1) has no 'to' column; the first line "
            "must name the columns, one of them 'to'. Nothing was sent."
        )
    for name in names:
        if names.count(name) > 1:
            raise SignalWireInputError(
                f"SignalWire: {parameter} file {str(path)!r}: column {name!r} appears twice in its header (line 1). "
                "Nothing was sent."
            )
    to_at = names.index("to")
    line[0] = reader.line_num
    while True:
        first = line[0] + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line[0] = reader.line_num
            end_of_data = "unexpected end of data" in str(error)
            yield BadRow(
                first,
                line[0],
                "a quote is never closed: the file ends inside it" if end_of_data else f"not CSV ({error})",
            )
            continue
        line[0] = reader.line_num
        if not fields:
            continue  # a blank line
        wrong = _csv_problem(fields, names, to_at, first)
        if wrong:
            yield BadRow(first, line[0], wrong)
        else:
            yield {**dict(zip(names, fields, strict=True)), "to": fields[to_at].strip()}


def _csv_problem(fields: list[str], names: list[str], to_at: int, first: int) -> str | None:
    if to_at < len(fields):
        to = fields[to_at].strip()
        if not to:
            return "column 'to' is empty"
        if "\n" in to or "\r" in to:
            return "column 'to' holds a line break, not a phone number (a quote left open?)"
        if "," in to:
            return "column 'to' holds a comma, not a phone number (a quote in the wrong place?)"
    if len(fields) < len(names):
        missing = ", ".join(repr(name) for name in names[len(fields) :])
        are = "is" if len(names) - len(fields) == 1 else "are"
        return (
            f"column{'' if are == 'is' else 's'} {missing} {are} missing (the row has {len(fields)} fields, the "
            f"header {len(names)})"
        )
    if len(fields) > len(names):
        extra = len(fields) - len(names)
        return f"{extra} field{'' if extra == 1 else 's'} more than the header's {len(names)} columns"
    # A quoted field may hold line breaks (a body on two lines); one holding a whole row swallowed that row.
    lines_before = 0
    for at, field in enumerate(fields):
        if at != to_at and ("\n" in field or "\r" in field):
            for offset, inner in enumerate(field.splitlines()[1:], start=1):
                parts = inner.split(",")
                if len(parts) == len(names) and _E164.fullmatch(parts[to_at].strip()):
                    return (
                        f"column {names[at]!r} holds what looks like the row on line {first + lines_before + offset} "
                        "(a quote left open?)"
                    )
        lines_before += field.count("\n") + field.count("\r") - field.count("\r\n")
    return None


def _json_rows(stream: Any, line: list[int]) -> Iterator[dict[str, Any] | BadRow]:
    import json

    for number, text in enumerate(stream, start=1):
        line[0] = number
        if not text.strip():
            continue
        try:
            row = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as error:
            yield BadRow(number, number, f"not valid JSON ({error.msg}, column {error.colno})")
            continue
        problem = _json_problem(row)
        if problem:
            yield BadRow(number, number, problem)
        else:
            yield {**row, "to": str(row["to"]).strip()}


def _json_problem(row: Any) -> str | None:
    if not isinstance(row, dict):
        return f"must be a JSON object; got {_json_kind(row)}"
    if "to" not in row:
        return "'to' is missing"
    to = row["to"]
    if isinstance(to, bool) or not isinstance(to, str | int):
        return f"'to' must be a string (a number); got {_json_kind(to)}"
    if not str(to).strip():
        return "'to' is empty"
    return None


def _json_kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
