"""
Never twice: a retry of a task whose create may have gone through takes what the earlier try created.

The DAG runs are real (dag.test() on SQLite, which runs retries); the first try dies right after the
emulator accepted the request (fault ``drop_after``: the call or message exists, the answer is lost).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import DAG

from airflow_provider_signalwire.operators import SignalWireCreateCallOperator, SignalWireSendMessageOperator
from airflow_provider_signalwire.operators.create import CREATE_MARKER_KEY, CreateMarker
from airflow_provider_signalwire.testing.emulator import MESSAGE_UNDELIVERED_NUMBER

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests, create_record_of, make_context, try_numbers, xcom_value

START = datetime(2024, 1, 1, tzinfo=UTC)
CXML = "https://example.com/cxml/hello.xml"


def one_task_dag(dag_id: str, operator_class, **arguments):
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        operator_class(task_id="create", retries=1, retry_delay=timedelta(0), **arguments)
    return dag


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
    with DAG("dedup_record_kept", schedule=None, start_date=START, catchup=False) as dag:
        SignalWireSendMessageOperator(task_id="create", retries=0, to=TO_NUMBER, from_=FROM_NUMBER, body="Lost")

    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    record = create_record_of(dag_run, "create")
    assert set(record) == {"started_at"}, "a retry must look for what this try may have created"
    started_at = datetime.fromisoformat(record["started_at"])
    assert abs(started_at - datetime.now(UTC)) < timedelta(minutes=5)


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


class _NoTaskStateStore(SignalWireSendMessageOperator):
    """Runs as on an Airflow without the task state store (before 3.3)."""

    def execute(self, context):
        return super().execute({k: v for k, v in context.items() if k != "task_state_store"})


def test_without_task_state_store_a_variable_keeps_the_record(run_dag, signalwire_emulator):
    from airflow.models.variable import Variable

    signalwire_emulator.add_fault("drop_after", method="POST", path=r"/Messages$")
    dag = one_task_dag("dedup_variable", _NoTaskStateStore, to=TO_NUMBER, from_=FROM_NUMBER, body="Kept in a Variable")

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert try_numbers(dag_run) == {"create": 2}
    assert len(signalwire_emulator.messages) == 1
    ti = dag_run.get_task_instances()[0]
    marker = CreateMarker({"ti": ti})
    assert Variable.get(marker.variable_key, default_var=None) is None, "the Variable is deleted once settled"


# Each branch of the rule, with the operator run by itself ---------------------------------------------------


def test_first_try_creates_without_looking(signalwire_conn):
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    context = make_context(try_number=1)
    context["task_state_store"].set(CREATE_MARKER_KEY, {"started_at": datetime.now(UTC).isoformat()})

    operator.execute(context)

    assert [r["method"] for r in signalwire_conn.requests] == ["POST"]


def test_retry_with_a_recorded_sid_reads_it_and_creates_nothing(signalwire_conn, hook):
    earlier = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    signalwire_conn.clear_requests()
    context = make_context(try_number=2)
    context["task_state_store"].set(
        CREATE_MARKER_KEY, {"started_at": "2024-01-01T00:00:00+00:00", "sid": earlier["sid"]}
    )
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    result = operator.execute(context)

    assert result["sid"] == earlier["sid"]
    assert [r["method"] for r in signalwire_conn.requests] == ["GET"]
    assert context["task_state_store"].values == {}


def test_retry_finds_nothing_older_than_the_first_create(signalwire_conn, hook):
    # The same message sent well before the first try's create is someone else's: a new one is sent.
    earlier = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    context = make_context(try_number=2)
    first_create = datetime.now(UTC) + timedelta(minutes=5)
    context["task_state_store"].set(CREATE_MARKER_KEY, {"started_at": first_create.isoformat()})
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    result = operator.execute(context)

    assert result["sid"] != earlier["sid"]
    assert len(api_requests(signalwire_conn, "POST", r"/Messages")) == 2


@pytest.mark.parametrize(
    ("body", "media_url", "found"),
    [("hi", None, True), ("hello", None, False), ("hi", "https://example.com/cat.png", False)],
)
def test_retry_takes_only_a_message_with_the_same_content(signalwire_conn, hook, body, media_url, found):
    earlier = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="hi")
    context = make_context(try_number=2)
    started = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    context["task_state_store"].set(CREATE_MARKER_KEY, {"started_at": started})
    operator = SignalWireSendMessageOperator(
        task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body=body, media_url=media_url
    )

    result = operator.execute(context)

    assert (result["sid"] == earlier["sid"]) is found
    assert len(api_requests(signalwire_conn, "POST", r"/Messages")) == (1 if found else 2)


def test_refused_create_forgets_the_record(signalwire_conn, context):
    signalwire_conn.add_fault("status", method="POST", path=r"/Messages$", status=400, code=21211)
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    with pytest.raises(Exception, match="21211"):
        operator.execute(context)

    assert context["task_state_store"].values == {}, "SignalWire refused it: nothing to look for on a retry"


@pytest.mark.parametrize("fault", [{"kind": "drop_after"}, {"kind": "status", "status": 500}])
def test_create_with_an_unknown_outcome_keeps_the_record(signalwire_conn, context, fault):
    signalwire_conn.add_fault(method="POST", path=r"/Messages$", **fault)
    operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="hi")

    with pytest.raises(Exception, match="SignalWire"):
        operator.execute(context)

    record = context["task_state_store"].values[CREATE_MARKER_KEY]
    assert set(record) == {"started_at"}, "a retry must look for what this try may have created"
    assert len(api_requests(signalwire_conn, "POST")) == 1, "an ambiguous create is never re-sent by the hook"
