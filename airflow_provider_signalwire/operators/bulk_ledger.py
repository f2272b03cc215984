"""
What a bulk send keeps across the tries of its task instance, so that a retry texts nobody twice.

One value of the task instance's :class:`~airflow_provider_signalwire.ledger.TaskLedger` (Airflow's task state
store from 3.3, a Variable before), of bounded size whatever the number of recipients::

    {"recipients": {"count", "digest"},  # which list this is about: a retry must be given the same one
     "next": <index of the first recipient not settled>,
     "in_flight": {"sent_at", "in_flight_until", "fingerprints": {<index>: <what recognises its message>}},
     "late": [{"index", "to", "from_", "sent_at", "fingerprint", "looks"}],  # answered too late: to look for
     "counts": {"sent", "skipped", "failed", "unknown"}, "segments", "codes": {<error code>: n},
     "first_sid", "last_sid",
     "pending": [<outcomes not yet written to object storage>], "parts": <parts written>}

Recipients are settled in order, one request at a time, a batch of about a second's worth after another. Before
the first of a batch is texted, the value is written with every outcome so far (``next`` is the batch's first
recipient) and the batch ``in_flight``: when its requests may reach SignalWire, and for each recipient a salted
digest of its text (never the text). A retry goes on from ``next``, and looks for each of the batch's recipients
at SignalWire (see :func:`~.create_record.find_created_in_flight`) before texting it again: at most a second's
worth of lookups, and one ledger write a second however fast the texts go.

A send whose answer did not come in time is never sent again: it waits in ``late`` (a few at most) to be looked
for once SignalWire can have acted on it, while the others go on (see :mod:`.bulk_late`); it settles as sent when
found, else as ``unknown``.

Per-recipient outcomes are kept only when a ``results_path`` is given: every :data:`PART_SIZE` of them spill to
a part file next to it (object storage), so the ledger stays small; the end joins the parts into the results file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

BULK_RECORD = "bulk_send"
PART_SIZE = 100
OUTCOMES = ("sent", "skipped", "failed", "unknown")


def recipients_identity(numbers: Iterable[str]) -> dict[str, Any]:
    """What tells one recipient list from another: how many, and a digest of their numbers in order."""
    digest, count = hashlib.sha256(), 0
    for number in numbers:
        digest.update(number.encode() + b"\n")
        count += 1
    return {"count": count, "digest": digest.hexdigest()[:32]}


def fresh_state(identity: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "recipients": dict(identity),
        "next": 0,
        "in_flight": None,
        "late": [],
        "counts": dict.fromkeys(OUTCOMES, 0),
        "segments": 0,
        "codes": {},
        "first_sid": None,
        "last_sid": None,
        "pending": [],
        "parts": 0,
    }


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A state kept by an earlier version of the provider, with what this one adds."""
    state.setdefault("late", [])
    for kind in OUTCOMES:
        state["counts"].setdefault(kind, 0)
    return state


def settle(state: dict[str, Any], outcome: dict[str, Any], keep_outcomes: bool) -> None:
    """
    Count one recipient's outcome (``index``, ``to``, ``outcome``, ``sid``, ``code``, ``segments``); one answered
    late settles after recipients that came after it.
    """
    kind = outcome["outcome"]
    state["counts"][kind] += 1
    if kind == "sent":
        state["segments"] += outcome.get("segments") or 0
        state["first_sid"] = state["first_sid"] or outcome.get("sid")
        state["last_sid"] = outcome.get("sid")
    if outcome.get("code") is not None:
        code = str(outcome["code"])
        state["codes"][code] = state["codes"].get(code, 0) + 1
    state["next"] = max(state["next"], outcome["index"] + 1)
    if keep_outcomes:
        state["pending"].append(outcome)


def part_path(results_path: Any, part: int) -> Any:
    return results_path.parent / f"{results_path.name}.part-{part:05d}"


def spill(state: dict[str, Any], results_path: Any) -> None:
    """
    Write the pending outcomes to the next part file once there are :data:`PART_SIZE` of them before every
    recipient still to be looked for, so that the parts keep recipient order.
    """
    if results_path is None:
        return
    before = min((late["index"] for late in state.get("late", [])), default=None)
    pending = sorted(state["pending"], key=lambda row: row["index"])
    ready = [row for row in pending if before is None or row["index"] < before]
    if len(ready) < PART_SIZE:
        return
    write_lines(part_path(results_path, state["parts"]), ready)
    state["parts"] += 1
    state["pending"] = pending[len(ready) :]


def write_lines(path: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps(row, sort_keys=True) + "\n")


def write_results(state: Mapping[str, Any], results_path: Any) -> None:
    """Join the parts and the pending outcomes into ``results_path`` (JSON lines, in recipient order)."""
    parts = [part_path(results_path, part) for part in range(state["parts"])]
    with results_path.open("w", encoding="utf-8") as out:
        for part in parts:
            with part.open("r", encoding="utf-8") as stream:
                for line in stream:
                    out.write(line)
        for row in sorted(state["pending"], key=lambda row: row["index"]):
            out.write(json.dumps(row, sort_keys=True) + "\n")
    for part in parts:
        part.unlink()


def summary(state: Mapping[str, Any], results_path: Any) -> dict[str, Any]:
    """What goes to XCom: counts, segments, error codes, the first and last SID; never a text or a number."""
    return {
        "recipients": state["recipients"]["count"],
        **state["counts"],
        "segments": state["segments"],
        "error_codes": dict(sorted(state["codes"].items())),
        "first_sid": state["first_sid"],
        "last_sid": state["last_sid"],
        "results_path": None if results_path is None else str(results_path),
    }


def forget_bulk_record(context: Mapping[str, Any]) -> None:
    """``on_success_callback`` of the bulk send: once Airflow stored its success, no retry needs the ledger."""
    from airflow_provider_signalwire.ledger import TaskLedger

    TaskLedger(context).delete(BULK_RECORD)
