"""Waiting for the outcome of a call or message: on the worker, and deferred to the trigger."""

from __future__ import annotations

import time

import pytest
from airflow.sdk import DAG
from airflow_compat import AirflowException, TaskDeferred

from airflow_provider_signalwire.api.retries import RetryPolicy
from airflow_provider_signalwire.operators import SignalWireCreateCallOperator, SignalWireSendMessageOperator
from airflow_provider_signalwire.operators.create_record import forget_create_record
from airflow_provider_signalwire.testing.emulator import (
    CALL_BUSY_NUMBER,
    CALL_FAILED_NUMBER,
    CALL_NO_ANSWER_NUMBER,
    MESSAGE_FAILED_NUMBER,
    MESSAGE_UNDELIVERED_NUMBER,
    STAYS_QUEUED_NUMBER,
)
from airflow_provider_signalwire.triggers.status import SignalWireStatusTrigger

from .helpers import (
    FROM_NUMBER,
    TO_NUMBER,
    api_requests,
    create_record_of,
    kept_record,
    run_trigger,
    task_states,
    xcom_value,
)

CXML = "https://example.com/cxml/hello.xml"
FAST = {"wait_for_completion": True, "poll_interval": 0.02}
FAST_RETRIES = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05, total_timeout=10)


def sms(to: str = TO_NUMBER, **arguments) -> SignalWireSendMessageOperator:
    return SignalWireSendMessageOperator(task_id="send", to=to, from_=FROM_NUMBER, body="Hi", **FAST, **arguments)


def call(to: str = TO_NUMBER, **arguments) -> SignalWireCreateCallOperator:
    return SignalWireCreateCallOperator(task_id="call", to=to, from_=FROM_NUMBER, url=CXML, **FAST, **arguments)


def run_deferred(operator, context):
    """execute() until it defers, the trigger's run() to its event, then execute_complete()."""
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert deferred.value.method_name == "execute_complete"
    event = run_trigger(trigger)
    return trigger, event, lambda: operator.execute_complete(context, event.payload)


# On the worker --------------------------------------------------------------------------------------------


def test_sms_wait_ends_when_delivered(signalwire_conn, context):
    operator = sms()
    message = operator.execute(context)

    assert message["status"] == "delivered"
    assert len(api_requests(signalwire_conn, "POST")) == 1
    assert len(api_requests(signalwire_conn, "GET")) >= 2, "it polled until the final status"
    assert kept_record(context)["sid"] == message["sid"], "kept until Airflow has stored the success"
    forget_create_record({**context, "task": operator})
    assert context["task_state_store"].values == {}


@pytest.mark.parametrize(
    "arguments", [{"media_url": "https://example.com/a.png"}, {"send_as_mms": True}], ids=["media", "send_as_mms"]
)
def test_mms_wait_ends_when_sent(signalwire_conn, context, arguments):
    message = sms(**arguments).execute(context)

    assert message["status"] == "sent", "an MMS gets no delivery report"


def test_call_wait_ends_when_completed(signalwire_conn, context):
    assert call().execute(context)["status"] == "completed"


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        (lambda: sms(MESSAGE_UNDELIVERED_NUMBER), r"status 'undelivered': error 30003: Unreachable destination"),
        (lambda: sms(MESSAGE_FAILED_NUMBER), r"status 'failed': error 30007: Message filtered"),
        (lambda: call(CALL_BUSY_NUMBER), r"status 'busy' \(SIP 486\)"),
        (lambda: call(CALL_NO_ANSWER_NUMBER), r"status 'no-answer' \(SIP 487\)"),
        (lambda: call(CALL_FAILED_NUMBER), r"status 'failed' \(SIP 404\)"),
    ],
    ids=["undelivered", "failed-message", "busy", "no-answer", "failed-call"],
)
def test_failed_status_fails_the_task_with_signalwires_error(signalwire_conn, context, operator, expected):
    with pytest.raises(AirflowException, match=expected):
        operator().execute(context)

    assert context["task_state_store"].values == {}, "a final status settles it: a retry may try again"


def test_failed_statuses_can_be_changed(signalwire_conn, context):
    message = sms(MESSAGE_UNDELIVERED_NUMBER, failed_statuses=[]).execute(context)

    assert message["status"] == "undelivered"


def test_wait_timeout_fails_and_keeps_the_sid_for_a_retry(signalwire_conn, context):
    started = time.monotonic()
    with pytest.raises(AirflowException, match=r"still 'queued' after 0.2 s"):
        sms(STAYS_QUEUED_NUMBER, wait_timeout=0.2).execute(context)

    assert time.monotonic() - started >= 0.2, "it waited its wait_timeout"
    polls = len(api_requests(signalwire_conn, "GET", r"/Messages/"))
    assert 1 <= polls <= 0.2 / FAST["poll_interval"] + 1, f"a poll every 0.02 s for 0.2 s, not {polls}"
    sid = signalwire_conn.messages[0]["sid"]
    assert kept_record(context)["sid"] == sid


def test_templated_wait_settings_are_read_as_numbers_and_flags(signalwire_conn, context):
    operator = SignalWireSendMessageOperator(
        task_id="send",
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="Hi",
        wait_for_completion="True",
        poll_interval="0.02",
        wait_timeout="5",
        deferrable="false",
    )

    assert operator.execute(context)["status"] == "delivered"


# In the triggerer -----------------------------------------------------------------------------------------


def test_deferrable_wait_creates_on_the_worker_and_waits_in_the_trigger(signalwire_conn, context):
    operator = sms(deferrable=True)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    posts_before_trigger = len(api_requests(signalwire_conn, "POST"))
    event = run_trigger(deferred.value.trigger)
    message = operator.execute_complete(context, event.payload)

    assert posts_before_trigger == 1
    assert len(api_requests(signalwire_conn, "POST")) == 1, "the trigger only reads"
    assert event.payload["status"] == "success"
    assert message["status"] == "delivered" and message["sid"] == signalwire_conn.messages[0]["sid"]
    assert kept_record(context)["sid"] == message["sid"], "kept until Airflow has stored the success"


def test_deferral_backstop_is_longer_than_the_triggers_own_deadline(signalwire_conn, context):
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sms(deferrable=True, wait_timeout=30).execute(context)
    after = time.time()

    deadline = deferred.value.trigger.deadline
    assert before + 30 <= deadline <= after + 30, "30 s from when the task deferred"
    assert deferred.value.timeout.total_seconds() > 30


def test_trigger_survives_a_restart_without_creating(signalwire_conn, context):
    with pytest.raises(TaskDeferred) as deferred:
        call(deferrable=True).execute(context)
    classpath, kwargs = deferred.value.trigger.serialize()

    # A triggerer restart rebuilds the trigger from serialize() and runs it from the start.
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    first, second = run_trigger(rebuilt), run_trigger(rebuilt)

    assert first.payload["status"] == second.payload["status"] == "success"
    assert first.payload["item"]["status"] == "completed"
    assert len(api_requests(signalwire_conn, "POST")) == 1


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        (lambda: sms(MESSAGE_UNDELIVERED_NUMBER, deferrable=True), r"error 30003: Unreachable destination handset"),
        (lambda: call(CALL_BUSY_NUMBER, deferrable=True), r"status 'busy'"),
    ],
    ids=["undelivered", "busy"],
)
def test_deferred_failed_status_fails_with_signalwires_error(signalwire_conn, context, operator, expected):
    _, event, complete = run_deferred(operator(), context)

    assert event.payload["status"] == "failed"
    with pytest.raises(AirflowException, match=expected):
        complete()
    assert context["task_state_store"].values == {}


def test_deferred_wait_times_out_and_keeps_the_sid(signalwire_conn, context):
    _, event, complete = run_deferred(sms(STAYS_QUEUED_NUMBER, deferrable=True, wait_timeout=0.2), context)

    assert event.payload["status"] == "timeout" and event.payload["item"]["status"] == "queued"
    with pytest.raises(AirflowException, match="still 'queued' when the wait timed out"):
        complete()
    assert kept_record(context)["sid"] == event.payload["sid"]


def test_trigger_retries_a_transient_read_failure(signalwire_conn, hook):
    message = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="Hi")
    signalwire_conn.add_fault("status", method="GET", path=r"/Messages/", status=503, times=2)
    trigger = SignalWireStatusTrigger(
        sid=message["sid"],
        resource="messages",
        poll_interval=0.02,
        retry_policy=SignalWireStatusTrigger.retry_policy_fields(FAST_RETRIES),
    )

    event = run_trigger(trigger)

    assert event.payload["status"] == "success" and event.payload["item"]["status"] == "delivered"
    assert [r["status"] for r in api_requests(signalwire_conn, "GET")][:3] == [503, 503, 200]


def test_trigger_reports_signalwires_error_when_reads_keep_failing(signalwire_conn):
    trigger = SignalWireStatusTrigger(
        sid="0b1c2d3e-0000-4000-8000-000000000000",
        resource="calls",
        poll_interval=0.02,
        retry_policy=SignalWireStatusTrigger.retry_policy_fields(FAST_RETRIES),
    )

    event = run_trigger(trigger)

    assert event.payload["status"] == "error"
    assert event.payload["code"] == 20404 and event.payload["http_status"] == 404
    assert "20404" in event.payload["message"]


def test_trigger_reports_a_connection_failure(signalwire_conn):
    signalwire_conn.add_fault("drop_before", method="GET", times=10)
    trigger = SignalWireStatusTrigger(
        sid="0b1c2d3e-0000-4000-8000-000000000000",
        resource="messages",
        retry_policy=SignalWireStatusTrigger.retry_policy_fields(FAST_RETRIES),
    )

    event = run_trigger(trigger)

    assert event.payload["status"] == "error" and "No answer from SignalWire" in event.payload["message"]
    assert len(api_requests(signalwire_conn, "GET")) == FAST_RETRIES.max_attempts


def test_trigger_serialises_its_arguments():
    trigger = SignalWireStatusTrigger(
        sid="abc",
        resource="messages",
        signalwire_conn_id="sw",
        poll_interval=2,
        deadline=123.0,
        failed_statuses=["failed"],
        mms=True,
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "airflow_provider_signalwire.triggers.status.SignalWireStatusTrigger"
    assert kwargs == {
        "sid": "abc",
        "resource": "messages",
        "signalwire_conn_id": "sw",
        "poll_interval": 2.0,
        "deadline": 123.0,
        "failed_statuses": ["failed"],
        "mms": True,
        "retry_policy": None,
    }
    assert SignalWireStatusTrigger(**kwargs).serialize() == (classpath, kwargs)


# In a real DAG run ------------------------------------------------------------------------------------------


def test_deferrable_wait_in_a_dag_run(run_dag, signalwire_emulator):
    from datetime import UTC, datetime

    with DAG("wait_deferred", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False) as dag:
        SignalWireSendMessageOperator(
            task_id="send",
            to=TO_NUMBER,
            from_=FROM_NUMBER,
            body="Hi",
            wait_for_completion=True,
            deferrable=True,
            poll_interval=0.05,
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success", task_states(dag_run)
    assert xcom_value(dag_run, "send")["status"] == "delivered"
    assert len(api_requests(signalwire_emulator, "POST")) == 1
    assert create_record_of(dag_run, "send") is None, "forgotten once Airflow stored the success"
