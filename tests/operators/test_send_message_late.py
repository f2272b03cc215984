"""The single send when SignalWire answers after the connection's timeout: found once it landed, never sent twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from airflow_provider_signalwire.operators import SignalWireSendMessageOperator

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests, one_task_dag, texts_per_number, try_numbers, xcom_value

TIMEOUT = 2


def slow_connection(emulator, monkeypatch) -> None:
    """The default connection with a 2 s timeout: a slower answer comes after the client gave up."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", emulator.connection_uri() + f"&timeout={TIMEOUT}")


def test_a_message_answered_late_is_taken_not_sent_again(run_dag, signalwire_emulator, monkeypatch):
    slow_connection(signalwire_emulator, monkeypatch)
    # It lands 10 s after it was sent: 8 s after the client gave up, later than any immediate look would see.
    signalwire_emulator.add_fault("slow", method="POST", path=r"/Messages$", delay=5 * TIMEOUT)
    dag = one_task_dag(
        "late_answer_single_send", SignalWireSendMessageOperator, to=TO_NUMBER, from_=FROM_NUMBER, body="Code 1234"
    )

    dag_run = run_dag(dag)

    texts = texts_per_number(signalwire_emulator)
    print("texts:", dict(texts), "tries:", try_numbers(dag_run), "state:", dag_run.state)
    assert texts == Counter({TO_NUMBER: 1}), "texted exactly once"
    assert len(api_requests(signalwire_emulator, "POST", r"/Messages$")) == 1, "the create was sent once"
    assert dag_run.state == "success"
    assert xcom_value(dag_run, "create")["sid"] == signalwire_emulator.messages[0]["sid"]


def test_a_message_landing_after_every_look_is_taken_by_the_retry(run_dag, signalwire_emulator, monkeypatch, capfd):
    slow_connection(signalwire_emulator, monkeypatch)
    # The first try gives up at 2 s and looks at 9, 16 and 23 s; it lands at 26 s, before the retry looks.
    signalwire_emulator.add_fault("slow", method="POST", path=r"/Messages$", delay=26)
    dag = one_task_dag(
        "late_answer_single_retry", SignalWireSendMessageOperator, to=TO_NUMBER, from_=FROM_NUMBER, body="Code 1234"
    )
    dag.get_task("create").retry_delay = timedelta(seconds=5)

    dag_run = run_dag(dag)

    texts = texts_per_number(signalwire_emulator)
    printed = capfd.readouterr()
    print("texts:", dict(texts), "tries:", try_numbers(dag_run), "state:", dag_run.state)
    assert "whether it was created is unknown, so it is not sent again" in printed.out + printed.err
    assert texts == Counter({TO_NUMBER: 1}), "texted exactly once"
    assert len(api_requests(signalwire_emulator, "POST", r"/Messages$")) == 1, "the retry sent no create"
    assert (dag_run.state, try_numbers(dag_run)) == ("success", {"create": 2})
    assert xcom_value(dag_run, "create")["sid"] == signalwire_emulator.messages[0]["sid"]


def test_only_an_answer_that_did_not_come_in_time_may_come_late():
    import pickle

    from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
    from airflow_provider_signalwire.operators.create_record import answer_may_come_late

    timed_out = SignalWireConnectionError("late", request_may_have_been_processed=True, timed_out=True)
    dropped = SignalWireConnectionError("dropped", request_may_have_been_processed=True)
    assert answer_may_come_late(pickle.loads(pickle.dumps(timed_out))), "the flag survives pickling"
    assert answer_may_come_late(SignalWireApiError(status=504, method="POST", path="/x")), "a gateway gave up"
    assert not answer_may_come_late(dropped)
    assert not answer_may_come_late(SignalWireApiError(status=500, method="POST", path="/x"))
