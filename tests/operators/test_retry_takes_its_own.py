"""
A retry takes only what its own earlier try may have created, for as long as that try's outcome is open.

Real DAG runs (dag.test() on SQLite, which runs retries) against the emulator over HTTP.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow_compat import run_cleared_task

from airflow_provider_signalwire.hooks import SignalWireHook
from airflow_provider_signalwire.operators import SignalWireCreateCallOperator, SignalWireSendMessageOperator

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests, create_record_of, one_task_dag, try_numbers, xcom_value

CXML = "https://example.com/cxml/page-on-call.xml"


def test_a_retry_does_not_take_a_call_placed_after_its_create_gave_up(run_dag, signalwire_emulator):
    # The first create gets a plain 500: SignalWire placed nothing. Half a minute later another DAG pages the
    # same number about something else; the retry must not mistake that call for its own.
    signalwire_emulator.add_fault("status", method="POST", path=r"/Calls$", status=500)

    def another_dag_pages_the_same_number(context):
        signalwire_emulator.advance_clock(30)
        SignalWireHook().create_call(to=TO_NUMBER, from_=FROM_NUMBER, url="https://example.com/cxml/other.xml")

    dag = one_task_dag(
        "retry_not_a_later_call",
        SignalWireCreateCallOperator,
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        url=CXML,
        on_retry_callback=another_dag_pages_the_same_number,
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert len(api_requests(signalwire_emulator, "POST", r"/Calls$")) == 3, "first try, other DAG, retry"
    retrys, other_dags = signalwire_emulator.calls  # newest first
    assert xcom_value(dag_run, "create")["sid"] == retrys["sid"] != other_dags["sid"], "the retry placed its own"


def test_a_retry_knows_its_message_by_what_the_first_try_sent(run_dag, signalwire_emulator):
    # The text names the try, so the retry renders another; SignalWire took the first and the answer was lost.
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "retry_text_changes",
        SignalWireSendMessageOperator,
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="ETL failed (attempt {{ ti.try_number }})",
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert [m["body"] for m in signalwire_emulator.messages] == ["ETL failed (attempt 1)"], "the phone gets one text"
    assert xcom_value(dag_run, "create")["sid"] == signalwire_emulator.messages[0]["sid"]


def test_the_record_keeps_no_message_text(run_dag, signalwire_emulator):
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "retry_record_no_text", SignalWireSendMessageOperator, retries=0, to=TO_NUMBER, from_=FROM_NUMBER,
        body="Your one-time code is 271828",
    )  # fmt: skip

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    record = create_record_of(dag_run, "create")
    assert record is not None and record.get("sid") is None, "a retry must look for what this try may have created"
    assert "271828" not in json.dumps(record), "message text is personal data: the record keeps a digest"


@pytest.mark.signalwire_emulator(messages_by_date_sent=True)
def test_a_retry_finds_its_message_behind_an_older_one_that_sat_queued(run_dag, signalwire_emulator):
    # Listed by date_sent, a message created ten minutes ago but still queued comes before this try's.
    (older,) = signalwire_emulator.seed_messages(
        1, from_=FROM_NUMBER, to=TO_NUMBER, body="Your code is 1234", direction="outbound-api", status="queued",
        start=datetime.now(UTC) - timedelta(minutes=10),
    )  # fmt: skip
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "retry_unordered_list", SignalWireSendMessageOperator, to=TO_NUMBER, from_=FROM_NUMBER, body="Your code is 1234"
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert len(api_requests(signalwire_emulator, "POST", r"/Messages$")) == 1, "the retry must not send again"
    taken = xcom_value(dag_run, "create")["sid"]
    assert taken != older
    assert {m["sid"] for m in signalwire_emulator.messages} == {older, taken}


def test_a_try_that_ends_before_its_success_is_stored_leaves_the_record_for_its_retry(run_dag, signalwire_emulator):
    # The create went through and execute() returned; then the try ended before Airflow stored its success (a
    # worker that died, here an error right after execute). The retry must take the same message.
    def end_the_first_try_after_execute(context, result):
        if context["ti"].try_number == 1:
            raise RuntimeError("the worker died before Airflow recorded the success")

    dag = one_task_dag(
        "retry_after_execute_returned",
        SignalWireSendMessageOperator,
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="Nightly load finished",
        post_execute=end_the_first_try_after_execute,
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert len(signalwire_emulator.messages) == 1
    assert xcom_value(dag_run, "create")["sid"] == signalwire_emulator.messages[0]["sid"]
    assert create_record_of(dag_run, "create") is None, "forgotten once Airflow stored the success"


def test_clearing_a_task_sends_anew_though_an_earlier_try_left_a_record(run_dag, signalwire_emulator):
    # The first run's create may have gone through (its answer was lost) and the task failed for good, keeping its
    # record. Clearing the task asks for a new message on purpose.
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "retry_cleared", SignalWireSendMessageOperator, retries=0, to=TO_NUMBER, from_=FROM_NUMBER, body="Resend me"
    )
    dag_run = run_dag(dag)
    assert dag_run.state == "failed"
    assert create_record_of(dag_run, "create") is not None

    state = run_cleared_task(dag, dag_run, "create")

    assert state == "success"
    assert len(api_requests(signalwire_emulator, "POST", r"/Messages$")) == 2
    assert len(signalwire_emulator.messages) == 2


def test_each_mapped_send_forgets_its_record_after_the_users_success_callbacks(run_dag, signalwire_emulator):
    from airflow.sdk import DAG

    from .helpers import START

    succeeded = []
    with DAG("retry_mapped_forget", schedule=None, start_date=START, catchup=False) as dag:
        SignalWireSendMessageOperator.partial(
            task_id="send",
            from_=FROM_NUMBER,
            body="Mapped",
            on_success_callback=lambda context: succeeded.append(context["ti"].map_index),
        ).expand(to=[TO_NUMBER, "+15550000009"])

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert sorted(succeeded) == [0, 1], "the user's callback still runs"
    assert [create_record_of(dag_run, "send", map_index) for map_index in (0, 1)] == [None, None]
    assert len(signalwire_emulator.messages) == 2
