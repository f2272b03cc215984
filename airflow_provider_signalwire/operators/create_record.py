"""
What a create operator keeps across the tries of its task instance so that a retry never creates twice.

The record is one value of the task instance's :class:`~airflow_provider_signalwire.ledger.TaskLedger`, about
the last create request of the current clear generation::

    {"sent_at": <ISO time the request was sent>,
     "in_flight_until": <ISO time after which it could no longer reach SignalWire>,
     "fingerprint": <what recognises what it created: never a message's text>,
     "sid": <what it created, once known>}

It is written before the request is sent, so a worker that dies mid-request leaves it; it then says the request
was in flight until the hook's retry policy and the connection's timeout would have given up. When the request
fails, ``in_flight_until`` becomes the moment it failed; when its answer did not come in time (SignalWire may
still act on it), the record gets ``"late": true`` and ``"looks"``: the times to look for what it created, once it
can have landed (see :func:`late_looks`). A late create is never sent again: found, it is taken; not found after
its looks, its outcome is unknown. It is forgotten when nothing can have been created
(SignalWire refused), when a final failed status asks for a new one, and otherwise only once Airflow has stored
the task's success (its ``on_success_callback``): until then a retry may need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

CREATE_RECORD = "create"
#: SignalWire dates have whole seconds, and its clock and the worker's may differ a little.
CLOCK_MARGIN = timedelta(seconds=5)
#: At most this many of the newest calls or messages between the same numbers are read to find an earlier try's.
DEDUP_SCAN_LIMIT = 200
#: A create whose answer came too late is looked for this many times, each the connection's timeout plus
#: :data:`LATE_MARGIN` after the one before: SignalWire may still be acting on it when the client gives up.
LATE_LOOKS = 3
LATE_MARGIN = timedelta(seconds=5)


def answer_may_come_late(error: BaseException) -> bool:
    """
    Whether SignalWire may act on a failed create after now: this machine stopped waiting for the answer (a read
    timeout), or a gateway in front of SignalWire did (504). Looked for at once, it would not be found yet.
    """
    from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError

    if isinstance(error, SignalWireConnectionError):
        return error.request_may_have_been_processed and getattr(error, "timed_out", False)
    return isinstance(error, SignalWireApiError) and error.status == 504


def late_looks(timeout: float, now: datetime | None = None) -> list[str]:
    """When to look for what a create whose answer came too late made: ISO times, the first after ``timeout``."""
    step = timedelta(seconds=timeout) + LATE_MARGIN
    start = now or datetime.now(UTC)
    return [(start + step * n).isoformat() for n in range(1, LATE_LOOKS + 1)]


def seconds_until(moment: str) -> float:
    """Seconds from now to the ISO time ``moment`` (0 when it has passed)."""
    return max(0.0, (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds())


def new_record(longest_request: timedelta, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """The record of a create about to be sent now, which could reach SignalWire for ``longest_request``."""
    now = datetime.now(UTC)
    return {
        "sent_at": now.isoformat(),
        "in_flight_until": (now + longest_request).isoformat(),
        "fingerprint": dict(fingerprint),
    }


def given_up(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record of a request that failed just now: it is no longer in flight."""
    return {**record, "in_flight_until": datetime.now(UTC).isoformat()}


def in_flight_window(record: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """When SignalWire may have created what the recorded request asked for, give or take the clocks' margin."""
    sent = datetime.fromisoformat(record["sent_at"]).replace(microsecond=0)
    until = datetime.fromisoformat(record["in_flight_until"])
    return sent - CLOCK_MARGIN, until + CLOCK_MARGIN


def earliest_created_within(
    items: Iterable[Mapping[str, Any]], start: datetime, end: datetime, same: Callable[[Mapping[str, Any]], bool]
) -> Mapping[str, Any] | None:
    """
    The earliest outbound item created between ``start`` and ``end`` that is ``same``.

    Reads every item: lists are newest first by a date the API does not name (messages by when they were sent,
    so one that sat queued comes before newer ones), never by creation date for sure.
    """
    from airflow_provider_signalwire.api.dates import parse_api_datetime

    found: list[tuple[datetime, Mapping[str, Any]]] = []
    for item in items:
        created = parse_api_datetime(item.get("date_created"))
        if created is not None and start <= created <= end and item.get("direction") != "inbound" and same(item):
            found.append((created, item))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def find_created_in_flight(hook: Any, resource: Any, sent: Mapping[str, Any], record: Mapping[str, Any]) -> Any:
    """
    The item of ``resource`` between the numbers of ``sent`` (a create's arguments as sent) that the create
    ``record`` describes could have made while it was in flight, if SignalWire has one.
    """
    filters = {name: sent[name] for name in ("to", "from_") if sent.get(name)}
    items = hook.list(resource, limit=DEDUP_SCAN_LIMIT, **filters)
    fingerprint = record.get("fingerprint") or {}
    start, end = in_flight_window(record)
    return earliest_created_within(items, start, end, lambda item: resource.same_item(fingerprint, item))


#: How long the claim of a generation's first create counts (its record then guards the retries).
CREATE_CLAIM_TTL = 3 * 24 * 3600.0


def create_claim_name(ti: Any, ledger: Any) -> str:
    """What names one try of a task instance for every execution of it: its id (a new one for each try)."""
    ti_id = getattr(ti, "id", None)
    return f"try:{ti_id}" if ti_id else f"try:{ledger.identity}:{ledger.generation}:{getattr(ti, 'try_number', 0)}"


def claim_first_create(ledger: Any, name: str, conn_id: str, log: Any) -> tuple[Any, str] | None:
    """
    Claim, atomically, that this execution sends the create of this try (``name``): Airflow can run one try twice
    at once (a zombie, a resurrected worker, ``airflow dags test`` beside a scheduler); a retry reads the record.
    ``(markers, token)`` when this execution won, ``None`` when another holds it; when the claim cannot be
    settled (the API server's claim route out of reach), a warning and ``(None, "")``: the record still guards
    the retries.
    """
    from airflow_provider_signalwire.ledger import SharedMarkers

    try:
        markers = SharedMarkers("create", CREATE_CLAIM_TTL, conn_id=conn_id, purpose="a create being sent")
        token = markers.claim(name)
    except Exception as error:
        log.warning(
            "SignalWire: cannot claim this task instance's create in Airflow's metadata database (%s); sending "
            "without the guard against a second execution of the same try.",
            error,
        )
        return None, ""
    return (markers, token) if token is not None else None


#: Seconds to wait for the record of a create that another execution of the same try claimed.
RECORD_APPEARS_WITHIN = 60.0


def wait_for_settled_record(ledger: Any, longest: timedelta, poll: float = 0.5) -> dict[str, Any] | None:
    """
    The record of the create another execution of this try is sending, once it settled (a SID, a late answer, or
    past its time in flight); ``None`` when it went away (nothing was created) or never came.
    """
    import time

    started = time.monotonic()
    give_up = started + longest.total_seconds() + CLOCK_MARGIN.total_seconds() + 5
    seen = False
    while time.monotonic() < give_up:
        record = ledger.get(CREATE_RECORD)
        if record is None:
            if seen or time.monotonic() - started > RECORD_APPEARS_WITHIN:
                return None
        else:
            seen = True
            until = datetime.fromisoformat(record["in_flight_until"])
            if record.get("sid") or record.get("late") or until < datetime.now(UTC):
                return dict(record)
        time.sleep(poll)
    return ledger.get(CREATE_RECORD)


def forget_create_record(context: Mapping[str, Any]) -> None:
    """
    ``on_success_callback`` of the create operators: forget the record once no retry can need it.

    Airflow runs success callbacks after the task's success is stored, never before.
    """
    from airflow_provider_signalwire.ledger import TaskLedger
    from airflow_provider_signalwire.operators.base import as_bool

    if as_bool("deduplicate_retries", context["task"].deduplicate_retries):
        TaskLedger(context).delete(CREATE_RECORD)
