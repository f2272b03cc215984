"""Bad input fails before any request (even the retry's look-up), naming the parameter and what is allowed."""

from __future__ import annotations

from datetime import datetime

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.ledger import TaskLedger
from airflow_provider_signalwire.operators import (
    SignalWireApiCallOperator,
    SignalWireCreateCallOperator,
    SignalWireDeleteCallOperator,
    SignalWireDeleteMessageOperator,
    SignalWireGetCallOperator,
    SignalWireGetMessageOperator,
    SignalWireRedactMessageOperator,
    SignalWireSearchCallsOperator,
    SignalWireSearchMessagesOperator,
    SignalWireSendMessageOperator,
    SignalWireUpdateCallOperator,
)
from airflow_provider_signalwire.operators.create_record import CREATE_RECORD

from .helpers import FROM_NUMBER, TO_NUMBER, make_context

CALL = {"to": TO_NUMBER, "from_": FROM_NUMBER, "url": "https://example.com/a.xml"}
SMS = {"to": TO_NUMBER, "from_": FROM_NUMBER, "body": "Hi"}
SID = "0b1c2d3e-0000-4000-8000-000000000000"


def without(arguments: dict, name: str) -> dict:
    return {k: v for k, v in arguments.items() if k != name}


CASES = [
    # Placing a call
    (SignalWireCreateCallOperator, without(CALL, "to"), r"'to' is required"),
    (SignalWireCreateCallOperator, without(CALL, "from_"), r"'from_' is required"),
    (
        SignalWireCreateCallOperator,
        {**CALL, "application_sid": SID},
        r"exactly one of 'url' or 'application_sid'.*both",
    ),
    (SignalWireCreateCallOperator, without(CALL, "url"), r"exactly one of 'url' or 'application_sid'.*neither"),
    (SignalWireCreateCallOperator, {**CALL, "send_digits": "12a"}, r"'send_digits' must be 1 to 32 of"),
    (SignalWireCreateCallOperator, {**CALL, "send_digits": "1" * 33}, r"'send_digits' must be 1 to 32 of"),
    (SignalWireCreateCallOperator, {**CALL, "send_digits": ""}, r"'send_digits' must be 1 to 32 of"),
    (SignalWireCreateCallOperator, {**CALL, "timeout": 0}, r"'timeout' must be a whole number from 1 to 600"),
    (SignalWireCreateCallOperator, {**CALL, "timeout": "601"}, r"'timeout' must be a whole number from 1 to 600"),
    (
        SignalWireCreateCallOperator,
        {**CALL, "machine_detection_timeout": 121},
        r"'machine_detection_timeout'.*1 to 120",
    ),
    (SignalWireCreateCallOperator, {**CALL, "machine_detection_timeout": 0}, r"'machine_detection_timeout'.*1 to 120"),
    (
        SignalWireCreateCallOperator,
        {**CALL, "machine_detection_speech_threshold": 999},
        r"'machine_detection_speech_threshold'.*1000 to 6000",
    ),
    (SignalWireCreateCallOperator, {**CALL, "machine_words_threshold": 101}, r"'machine_words_threshold'.*1 to 100"),
    (SignalWireCreateCallOperator, {**CALL, "machine_detection": "yes"}, r"'machine_detection' must be one of Enable"),
    (SignalWireCreateCallOperator, {**CALL, "method": "PUT"}, r"'method' must be one of GET, POST"),
    (SignalWireCreateCallOperator, {**CALL, "recording_channels": "stereo"}, r"'recording_channels' must be one of"),
    (SignalWireCreateCallOperator, {**CALL, "recording_track": "left"}, r"'recording_track' must be one of"),
    (SignalWireCreateCallOperator, {**CALL, "trim": "cut"}, r"'trim' must be one of trim-silence, do-not-trim"),
    (SignalWireCreateCallOperator, {**CALL, "status_callback_event": ["bogus"]}, r"'status_callback_event'"),
    (SignalWireCreateCallOperator, {**CALL, "recording_status_callback_event": "never"}, r"'recording_status_"),
    (SignalWireCreateCallOperator, {**CALL, "record": "maybe"}, r"'record' must be true or false"),
    (
        SignalWireCreateCallOperator,
        {**CALL, "max_price_per_minute": "cheap"},
        r"'max_price_per_minute' must be a price",
    ),
    # Waiting and retries (both create operators share them)
    (SignalWireCreateCallOperator, {**CALL, "poll_interval": 0}, r"'poll_interval' must be a number of seconds"),
    (SignalWireSendMessageOperator, {**SMS, "poll_interval": "fast"}, r"'poll_interval' must be a number of seconds"),
    (SignalWireSendMessageOperator, {**SMS, "wait_timeout": -1}, r"'wait_timeout' must be a number of seconds"),
    (SignalWireSendMessageOperator, {**SMS, "failed_statuses": ["lost"]}, r"'failed_statuses' has unknown.*lost"),
    (SignalWireCreateCallOperator, {**CALL, "failed_statuses": ["delivered"]}, r"'failed_statuses' has unknown"),
    (SignalWireSendMessageOperator, {**SMS, "wait_for_completion": "maybe"}, r"'wait_for_completion' must be true"),
    (SignalWireSendMessageOperator, {**SMS, "deferrable": "perhaps"}, r"'deferrable' must be true or false"),
    (SignalWireSendMessageOperator, {**SMS, "deduplicate_retries": "x"}, r"'deduplicate_retries' must be true"),
    # Updating, looking up and deleting calls
    (SignalWireUpdateCallOperator, {"sid": "", "status": "completed"}, r"'sid' must be a non-empty SID"),
    (SignalWireUpdateCallOperator, {"sid": SID}, r"give at least one of"),
    (SignalWireUpdateCallOperator, {"sid": SID, "status": "busy"}, r"'status' must be one of canceled, completed"),
    (SignalWireUpdateCallOperator, {"sid": SID, "url": "https://e.com/x", "method": "PUT"}, r"'method' must be one"),
    (SignalWireGetCallOperator, {"sid": ""}, r"'sid' must be a non-empty SID"),
    (SignalWireGetCallOperator, {"sid": "../Messages"}, r"'sid' must be a SID"),
    (SignalWireDeleteCallOperator, {"sid": "  "}, r"'sid' must be a non-empty SID"),
    # Sending messages
    (SignalWireSendMessageOperator, without(SMS, "to"), r"'to' is required"),
    (SignalWireSendMessageOperator, without(SMS, "from_"), r"'from_' is required"),
    (SignalWireSendMessageOperator, without(SMS, "body"), r"give 'body', 'media_url' or both; got neither"),
    (SignalWireSendMessageOperator, {**SMS, "body": "x" * 1601}, r"'body' must be at most 1600 characters"),
    (
        SignalWireSendMessageOperator,
        {**SMS, "media_url": [f"https://example.com/{i}.png" for i in range(9)]},
        r"'media_url' must be at most 8 items",
    ),
    (SignalWireSendMessageOperator, {**SMS, "validity_period": 0}, r"'validity_period'.*1 to 172800"),
    (SignalWireSendMessageOperator, {**SMS, "validity_period": 172801}, r"'validity_period'.*1 to 172800"),
    (SignalWireSendMessageOperator, {**SMS, "max_price": "free"}, r"'max_price' must be a price"),
    (SignalWireSendMessageOperator, {**SMS, "send_as_mms": "sometimes"}, r"'send_as_mms' must be true or false"),
    # Messages by SID
    (SignalWireGetMessageOperator, {"sid": ""}, r"'sid' must be a non-empty SID"),
    (SignalWireRedactMessageOperator, {"sid": ""}, r"'sid' must be a non-empty SID"),
    (SignalWireDeleteMessageOperator, {"sid": None}, r"'sid' must be a non-empty SID"),
    # Searches
    (
        SignalWireSearchMessagesOperator,
        {"date_sent_after": datetime(2024, 1, 1)},
        r"'date_sent_after' \('2024-01-01T00:00:00'\) has no timezone",
    ),
    (SignalWireSearchMessagesOperator, {"date_sent": "yesterday"}, r"'date_sent' must be a date \(YYYY-MM-DD\)"),
    (SignalWireSearchMessagesOperator, {"status": "lost"}, r"'status' must be one of queued"),
    (SignalWireSearchMessagesOperator, {"limit": 0}, r"'limit' must be a whole number of 1 or more"),
    (SignalWireSearchMessagesOperator, {"page_size": 5000}, r"'page_size' must be a whole number from 1 to 1000"),
    (SignalWireSearchCallsOperator, {"start_time_before": "soon"}, r"'start_time_before' must be a date"),
    (
        SignalWireSearchCallsOperator,
        {"end_time_after": datetime(2024, 1, 1)},
        r"'end_time_after' \('2024-01-01T00:00:00'\) has no timezone",
    ),
    (SignalWireSearchCallsOperator, {"status": "done"}, r"'status' must be one of queued"),
    # Any request
    (SignalWireApiCallOperator, {"path": "https://evil.example.com/steal"}, r"'path' must be a path under the Space"),
    (SignalWireApiCallOperator, {"path": "/api/relay/../../admin"}, r"'path' must not leave the Space"),
    (SignalWireApiCallOperator, {"path": "/x", "headers": {"Authorization": "Basic x"}}, r"'Authorization'.*cannot"),
    (SignalWireApiCallOperator, {"path": "/x", "method": "FETCH"}, r"'method' must be one of GET, POST"),
    (SignalWireApiCallOperator, {"path": "/x", "method": "POST", "data": {"a": "1"}, "json": {}}, r"not both"),
]


@pytest.mark.parametrize(
    ("operator_class", "arguments", "message"),
    CASES,
    ids=[f"{c[0].__name__.removeprefix('SignalWire')}-{c[2][:40]}" for c in CASES],
)
def test_bad_input_fails_before_any_request(signalwire_conn, operator_class, arguments, message):
    # A retry with a record of an earlier create: even the look-up for it must wait for valid input.
    context = make_context(try_number=2)
    record = {"sent_at": "2024-01-01T00:00:00+00:00", "in_flight_until": "2024-01-01T00:02:30+00:00", "fingerprint": {}}
    TaskLedger(context).set(CREATE_RECORD, record)
    operator = operator_class(task_id="bad", **arguments)

    with pytest.raises(SignalWireInputError, match=message):
        operator.execute(context)

    assert signalwire_conn.requests == [], "nothing may be sent for bad input"


def test_bad_input_fails_the_task_without_retries():
    from airflow_compat import AirflowFailException

    assert issubclass(SignalWireInputError, AirflowFailException), "retrying the same bad input cannot succeed"


def test_a_task_whose_connection_is_missing_fails_at_once_saying_what_to_define(run_dag, monkeypatch, caplog, capfd):
    from datetime import UTC, timedelta

    from airflow.sdk import DAG

    from .helpers import task_states, try_numbers

    monkeypatch.delenv("AIRFLOW_CONN_SIGNALWIRE_PROD", raising=False)
    with DAG("connection_missing", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False) as dag:
        SignalWireGetMessageOperator(
            task_id="look_up", sid=SID, signalwire_conn_id="signalwire_prod", retries=3, retry_delay=timedelta(0)
        )

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {("look_up", -1): "failed"}
    assert try_numbers(dag_run) == {"look_up": 1}, "no retry: it cannot define the connection"
    printed = capfd.readouterr()
    assert "AIRFLOW_CONN_SIGNALWIRE_PROD=" in caplog.text + printed.out + printed.err
