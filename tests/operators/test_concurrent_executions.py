"""
Airflow can run one try of a task instance twice at once (a zombie, a resurrected worker, ``airflow dags test``
beside a scheduler): the two executions, sharing the task instance's state, send one message between them. Real
threads, the emulator over HTTP, and the create claim in the metadata database (SQLite).
"""

from __future__ import annotations

import uuid

from concurrency import at_once

from airflow_provider_signalwire.operators import SignalWireSendMessageOperator

from .helpers import FROM_NUMBER, TO_NUMBER, DictStateStore, api_requests, make_context


def test_two_executions_of_one_try_at_once_send_one_message_and_both_take_it(airflow_db, signalwire_conn):
    # Failed before: both read "no record yet" and both sent (2 texts). The answer to the first POST takes a
    # second, so the other execution is certainly deciding while the first one's create is in flight.
    signalwire_conn.add_fault("slow", method="POST", path=r"/Messages$", delay=1.0, times=1)
    store, ti_id = DictStateStore(), str(uuid.uuid4())  # one try: both executions see its id and its state store

    def execute(index: int):
        operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="Load done")
        return operator.execute(make_context(store=store, ti_id=ti_id))

    results = at_once(2, execute)

    assert len(api_requests(signalwire_conn, "POST", r"/Messages$")) == 1, results
    assert all(isinstance(result, dict) for result in results), results
    assert results[0]["sid"] == results[1]["sid"]
    sent = [m for m in signalwire_conn.messages if m["to"] == TO_NUMBER and m["direction"] == "outbound-api"]
    assert len(sent) == 1


def test_a_later_try_after_a_concurrent_pair_takes_their_message(airflow_db, signalwire_conn):
    store, ti_id = DictStateStore(), str(uuid.uuid4())

    def execute(index: int):
        operator = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="Load done")
        return operator.execute(make_context(store=store, ti_id=ti_id))

    first, second = at_once(2, execute)
    retry = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="Load done").execute(
        make_context(try_number=2, store=store)
    )

    assert first["sid"] == second["sid"] == retry["sid"]
    assert len(api_requests(signalwire_conn, "POST", r"/Messages$")) == 1
