"""
Never twice: a retry of a task whose create may have gone through takes what the earlier try created.

The DAG runs are real (dag.test() on SQLite, which runs retries); the first try dies right after the
emulator accepted the request (fault ``drop_after``: the call or message exists, the answer is lost).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_signalwire.api.resources.messages import MESSAGES
from airflow_provider_signalwire.ledger import TaskLedger
from airflow_provider_signalwire.operators import SignalWireCreateCallOperator, SignalWireSendMessageOperator
from airflow_provider_signalwire.operators.create_record import CREATE_RECORD, forget_create_record
from airflow_provider_signalwire.testing.emulator import MESSAGE_UNDELIVERED_NUMBER

from .helpers import (
    FROM_NUMBER,
    TO_NUMBER,
    api_requests,
    create_record_of,
    kept_record,
    make_context,
    one_task_dag,
    try_numbers,
    xcom_value,
)

CXML = "https://example.com/cxml/hello.xml"


def test_message_whose_answer_was_lost_is_not_sent_again_on_retry(run_dag, signalwire_emulator):
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "dedup_message_lost_answer",
        SignalWireSendMessageOperator,
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="Your code is 1234",
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}, "the first try must have failed and the second succeeded"
    posts = api_requests(signalwire_emulator, "POST", r"/Messages")
    assert [p["fault"] for p in posts] == ["drop_after"], "only the first try may send the create"
    assert len(signalwire_emulator.messages) == 1
    sent = signalwire_emulator.messages[0]
    assert xcom_value(dag_run, "create")["sid"] == sent["sid"]
    assert create_record_of(dag_run, "create") is None, "the record is deleted once settled"


def test_a_try_that_may_have_created_leaves_its_record_for_the_next(run_dag, signalwire_emulator):
    # Where the record is kept depends on the Airflow version (task state store, or a Variable before 3.3).
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "dedup_record_kept", SignalWireSendMessageOperator, retries=0, to=TO_NUMBER, from_=FROM_NUMBER, body="Lost"
    )

    started = datetime.now(UTC)
    dag_run = run_dag(dag)
    finished = datetime.now(UTC)

    assert dag_run.state == "failed"
    record = create_record_of(dag_run, "create")
    assert set(record) == {"sent_at", "in_flight_until", "fingerprint"}, "a retry must look for what it may have made"
    sent_at, given_up_at = (datetime.fromisoformat(record[key]) for key in ("sent_at", "in_flight_until"))
    # Not sent_at plus the hook's whole budget (150 s): the moment, during the run, that the try gave up.
    assert started <= sent_at <= given_up_at <= finished, "in flight until the try gave up on it"


def test_call_whose_answer_was_lost_is_not_placed_again_on_retry(run_dag, signalwire_emulator):
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Calls$")
    dag = one_task_dag(
        "dedup_call_lost_answer", SignalWireCreateCallOperator, to=TO_NUMBER, from_=FROM_NUMBER, url=CXML
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert api_requests(signalwire_emulator, "POST", r"/Calls") != []
    assert len(api_requests(signalwire_emulator, "POST", r"/Calls")) == 1
    assert len(signalwire_emulator.calls) == 1
    assert xcom_value(dag_run, "create")["sid"] == signalwire_emulator.calls[0]["sid"]


def test_without_deduplication_a_retry_sends_again(run_dag, signalwire_emulator):
    # The control case: the same lost answer, with the rule turned off, sends a second message.
    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag(
        "dedup_off",
        SignalWireSendMessageOperator,
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="Your code is 1234",
        deduplicate_retries=False,
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert len(signalwire_emulator.messages) == 2


def test_retry_after_a_timed_out_wait_waits_for_the_same_message(run_dag, signalwire_emulator):
    # The first try creates, then gives up waiting (tiny timeout); the second waits longer for the same SID.
    dag = one_task_dag(
        "dedup_wait_timeout",
        SignalWireSendMessageOperator,
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="Delivery report wanted",
        wait_for_completion=True,
        poll_interval=0.02,
        wait_timeout="{{ 0.01 if ti.try_number == 1 else 10 }}",
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert len(api_requests(signalwire_emulator, "POST", r"/Messages")) == 1
    assert len(signalwire_emulator.messages) == 1
    assert xcom_value(dag_run, "create")["status"] == "delivered"


def test_retry_after_a_failed_delivery_sends_a_new_message(run_dag, signalwire_emulator):
    # A final failed status settles the outcome: retrying a failed delivery is what the retry is for.
    dag = one_task_dag(
        "dedup_failed_delivery",
        SignalWireSendMessageOperator,
        to=MESSAGE_UNDELIVERED_NUMBER,
        from_=FROM_NUMBER,
        body="Are you there?",
        wait_for_completion=True,
        poll_interval=0.02,
    )

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    assert try_numbers(dag_run) == {"create": 2}
    assert len(signalwire_emulator.messages) == 2
    assert {m["status"] for m in signalwire_emulator.messages} == {"undelivered"}


# Each branch of the rule, with the operator run by itself ---------------------------------------------------


def in_flight(since: timedelta, until: timedelta, **fingerprint) -> dict:
    """A create record: its request sent ``since`` ago (negative: to come), in flight until ``until`` from now."""
    now = datetime.now(UTC)
    return {
        "sent_at": (now - since).isoformat(),
        "in_flight_until": (now + until).isoformat(),
        "fingerprint": MESSAGES.fingerprint({"body": "hi", **fingerprint}),
    }


def test_a_try_after_a_clear_ignores_the_record_of_an_earlier_run(signalwire_conn, hook):
    hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    first_run = make_context(try_number=1, retries=0)
    TaskLedger(first_run).set(CREATE_RECORD, in_flight(timedelta(seconds=1), timedelta(seconds=1)))
    signalwire_conn.clear_requests()
    cleared = make_context(try_number=2, store=first_run["task_state_store"], retries=0, max_tries=1)

    SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi").execute(cleared)

    assert [r["method"] for r in signalwire_conn.requests] == ["POST"], "a clear asks for a new message"


def test_retry_with_a_recorded_sid_reads_it_and_creates_nothing(signalwire_conn, hook):
    earlier = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    signalwire_conn.clear_requests()
    context = make_context(try_number=2)
    record = {**in_flight(timedelta(days=1), -timedelta(days=1)), "sid": earlier["sid"]}
    TaskLedger(context).set(CREATE_RECORD, record)
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    result = operator.execute(context)

    assert result["sid"] == earlier["sid"]
    assert [r["method"] for r in signalwire_conn.requests] == ["GET"]
    assert kept_record(context) == record, "kept until Airflow has stored the success"
    forget_create_record({**context, "task": operator})
    assert context["task_state_store"].values == {}


def test_retry_takes_nothing_created_outside_the_earlier_requests_flight(signalwire_conn, hook):
    # The same message sent before the earlier try's request was: someone else's. A new one is sent.
    earlier = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    context = make_context(try_number=2)
    TaskLedger(context).set(CREATE_RECORD, in_flight(-timedelta(minutes=5), timedelta(minutes=6)))
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    result = operator.execute(context)

    assert result["sid"] != earlier["sid"]
    assert len(api_requests(signalwire_conn, "POST", r"/Messages")) == 2


@pytest.mark.parametrize(
    ("body", "media_url", "found"),
    [("hi", None, True), ("hello", None, False), ("hi", "https://example.com/cat.png", False)],
)
def test_retry_takes_only_a_message_with_what_the_earlier_request_sent(signalwire_conn, hook, body, media_url, found):
    earlier = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    context = make_context(try_number=2)
    record = in_flight(timedelta(seconds=5), timedelta(seconds=1), body=body, media_url=media_url)
    TaskLedger(context).set(CREATE_RECORD, record)
    # Whatever the retry renders: it looks for what the earlier request sent.
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="rendered again")

    result = operator.execute(context)

    assert (result["sid"] == earlier["sid"]) is found
    assert len(api_requests(signalwire_conn, "POST", r"/Messages")) == (1 if found else 2)


def test_refused_create_forgets_the_record(signalwire_conn, context):
    signalwire_conn.add_fault("status", method="POST", path=r"/Messages$", status=400, code=21211)
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    with pytest.raises(Exception, match="21211"):
        operator.execute(context)

    assert context["task_state_store"].values == {}, "SignalWire refused it: nothing to look for on a retry"


@pytest.mark.parametrize(
    "fault", [{"kind": "drop_after"}, {"kind": "status", "status": 500}, {"kind": "status", "status": 409}]
)
def test_create_with_an_unknown_outcome_keeps_the_record(signalwire_conn, context, fault):
    signalwire_conn.add_fault(method="POST", path=r"/Messages$", **fault)
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    with pytest.raises(Exception, match="SignalWire"):
        operator.execute(context)

    record = kept_record(context)
    assert set(record) == {"sent_at", "in_flight_until", "fingerprint"}, "a retry must look for what it may have made"
    assert len(api_requests(signalwire_conn, "POST")) == 1, "an ambiguous create is never re-sent by the hook"


def test_a_create_on_its_way_is_in_flight_until_the_hook_would_give_up_on_it(signalwire_conn, context):
    # Were the worker to die now, nothing would record when the request failed: the record says already how
    # long it could be on its way (the retry policy's total_timeout plus the connection's timeout).
    from airflow_provider_signalwire.api.connection import DEFAULT_TIMEOUT

    signalwire_conn.add_fault("slow", method="POST", path=r"/Messages$", delay=1.0)
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    during = {}
    running = threading.Thread(target=lambda: during.update(sent=operator.execute(context)))
    running.start()
    time.sleep(0.5)
    record = kept_record(context)
    running.join(timeout=10)

    sent_at, until = (datetime.fromisoformat(record[key]) for key in ("sent_at", "in_flight_until"))
    assert until - sent_at == timedelta(seconds=operator.hook.retry_policy.total_timeout + DEFAULT_TIMEOUT)
    assert "sid" not in record
    assert kept_record(context)["sid"] == during["sent"]["sid"]
