"""The one query behind the sensors and triggers: what counts as new, in which order, with which filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_signalwire.api.polling import POLL_RETRY_POLICY, FailureCounter, error_from_payload, error_payload
from airflow_provider_signalwire.api.watching import Cursor, NewItemsQuery, SeenItem, matching_items
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireInputError
from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook
from airflow_provider_signalwire.hooks.signalwire import SignalWireHook
from airflow_provider_signalwire.triggers.new_items import afind_new_items

from .conftest import CUSTOMER, SUPPORT_NUMBER, run_async


def find_new_items(hook, query, cursor):
    """What a sensor's poke lists: every page after ``cursor``, with the sync hook."""
    return query.select(hook.list(query.spec, **query.poll_arguments(cursor)), cursor)


T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _seen(sid, when, matches=True):
    return SeenItem(when, {"sid": sid}, matches)


def test_cursor_hands_each_item_out_once_within_its_lookback_window():
    lookback = timedelta(minutes=2)
    cursor = Cursor.starting(T0).after([_seen("a", T0)], lookback)
    assert not cursor.is_new(T0, "a", lookback)
    assert cursor.is_new(T0, "b", lookback)
    assert not cursor.is_new(T0 - timedelta(seconds=1), "z", lookback)  # never before the start
    later = cursor.after(
        [_seen("b", T0 + timedelta(minutes=5)), _seen("nope", T0 + timedelta(minutes=5), False)], lookback
    )
    assert later.date == T0 + timedelta(minutes=5)
    assert set(later.fired) == {"b"}  # "a" left the window; an item that did not match is not kept
    # An item dated inside the window that was not handed out (it came to match late) is still new; older is not.
    assert later.is_new(T0 + timedelta(minutes=4), "late", lookback)
    assert not later.is_new(T0 + timedelta(minutes=2), "too-late", lookback)
    assert Cursor.from_json(later.to_json()) == later
    earlier_form = Cursor.from_json({"date": T0.isoformat(), "sids": ["a"]})
    assert earlier_form == Cursor(T0, T0, {"a": T0})
    for broken in (None, "x", {"date": "yesterday"}, {"date": "2026-03-01T12:00:00", "sids": []}, {"sids": []}):
        assert Cursor.from_json(broken) is None


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"resource": "faxes"}, "resource"),
        ({"resource": "calls", "body_contains": "x"}, "body_contains"),
        ({"resource": "messages", "status": "bogus"}, "status"),
        ({"resource": "calls", "to": ""}, "to"),
        ({"resource": "messages", "direction": 3}, "direction"),
    ],
)
def test_bad_watch_input_is_refused_before_any_request(arguments, named):
    with pytest.raises(SignalWireInputError, match=named):
        NewItemsQuery(**arguments)


def test_poke_and_trigger_paths_give_the_same_items(signalwire_conn):
    emulator = signalwire_conn
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="too old", date_sent=since - timedelta(seconds=1))
    first = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="first", date_sent=since)
    second = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="second", date_sent=since)
    emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="other line")
    third = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="third")
    query = NewItemsQuery("messages", to=SUPPORT_NUMBER)

    sync_seen = find_new_items(SignalWireHook(retry_policy=POLL_RETRY_POLICY), query, Cursor.starting(since))
    async_seen = run_async(
        afind_new_items(SignalWireAsyncHook(retry_policy=POLL_RETRY_POLICY), query, Cursor.starting(since))
    )

    assert sync_seen == async_seen
    # Oldest first; the two of the same second in the order SignalWire received them.
    assert [s.sid for s in sync_seen] == [first["sid"], second["sid"], third["sid"]]
    assert matching_items(sync_seen, limit=2) == [first, second]


def test_filters_to_from_status_direction_and_body(signalwire_conn, hook):
    emulator = signalwire_conn
    since = datetime.now(UTC).replace(microsecond=0)
    wanted = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="Please send the REPORT")
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="hello")  # body does not match
    emulator.inject_inbound_message("+15557654321", SUPPORT_NUMBER, body="report")  # other sender
    emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="report")  # other line
    outbound = hook.create_message(to=CUSTOMER, from_=SUPPORT_NUMBER, body="report sent")

    def found(**filters):
        query = NewItemsQuery("messages", **filters)
        return [s.item["sid"] for s in find_new_items(hook, query, Cursor.starting(since)) if s.matches]

    assert found(to=SUPPORT_NUMBER, from_=CUSTOMER, body_contains="report") == [wanted["sid"]]
    assert found(to=SUPPORT_NUMBER, from_=CUSTOMER, status="received", body_contains="rEpOrT") == [wanted["sid"]]
    # The outbound message counts once it is sent (it has a date_sent then).
    sent = [outbound["sid"]]
    assert emulator_wait(lambda: found(direction="outbound") == sent)
    assert found(direction="outbound-api", body_contains="report") == sent
    assert len(found(direction=None)) == 5
    assert found(direction="inbound", status="delivered") == []


def emulator_wait(condition):
    from .conftest import wait_for

    return wait_for(condition, timeout=5)


def test_calls_count_from_their_start_time(signalwire_conn, hook):
    emulator = signalwire_conn
    since = datetime.now(UTC).replace(microsecond=0)
    emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="completed", start_time=since - timedelta(minutes=5))
    live = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="in-progress")
    done = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="completed", start_time=since)
    seen = find_new_items(hook, NewItemsQuery("calls", to=SUPPORT_NUMBER), Cursor.starting(since))
    assert {s.sid for s in seen} == {live["sid"], done["sid"]}
    seen = find_new_items(hook, NewItemsQuery("calls", to=SUPPORT_NUMBER, status="completed"), Cursor.starting(since))
    assert [s.sid for s in seen] == [done["sid"]]


def test_failure_counter_retries_transient_errors_only(caplog):
    import logging

    log = logging.getLogger("test.watch")
    counter = FailureCounter(3, log, "poll")
    throttled = SignalWireApiError(status=429, method="GET", path="/x", code=20429, retry_after=2.0)
    with caplog.at_level(logging.WARNING, logger="test.watch"):
        counter.failed(throttled)
        counter.failed(throttled)
    assert "2 of 3 in a row" in caplog.text
    with pytest.raises(SignalWireApiError):
        counter.failed(throttled)
    counter.succeeded()
    with pytest.raises(SignalWireApiError):
        FailureCounter(3, log, "poll").failed(SignalWireApiError(status=401, method="GET", path="/x", code=20003))


def test_error_payload_round_trips_signalwire_errors():
    error = SignalWireApiError(
        status=503, method="GET", path="/api/x", code=20503, message="Busy", more_info="https://e", retry_after=1.5
    )
    rebuilt = error_from_payload(error_payload(error))
    assert isinstance(rebuilt, SignalWireApiError)
    assert (rebuilt.status, rebuilt.code, rebuilt.message, rebuilt.retry_after) == (503, 20503, "Busy", 1.5)
    assert str(rebuilt) == str(error)


def test_a_call_watched_for_completed_is_seen_when_it_ends_even_after_a_later_call(signalwire_conn, hook):
    emulator = signalwire_conn
    # Call A starts first but ends last; call B starts later and ends first. Watched for "completed",
    # each must be seen once, A included, although B moved the cursor past A's start.
    query = NewItemsQuery("calls", to=SUPPORT_NUMBER, status="completed")
    since = datetime.now(UTC).replace(microsecond=0)
    a_start = since + timedelta(seconds=1)
    cursor = Cursor.starting(since)
    emulator.inject_inbound_call(
        CUSTOMER, SUPPORT_NUMBER, status="completed", start_time=a_start + timedelta(seconds=5), duration=2
    )
    first = find_new_items(hook, query, cursor)
    assert len(first) == 1
    cursor = cursor.after(first, query.lookback)
    late = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="completed", start_time=a_start, duration=60)
    second = find_new_items(hook, query, cursor)
    assert [s.sid for s in second] == [late["sid"]]
