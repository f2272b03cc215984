"""The bulk send in real DAG runs (dag.test() on SQLite) against the emulator: XCom recipients and .expand()."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from airflow_compat import task_ledger_entry

from airflow_provider_signalwire.operators import SignalWireBulkSendOperator
from airflow_provider_signalwire.operators.bulk_ledger import BULK_RECORD

from .helpers import FROM_NUMBER, START, task_states, xcom_value

PEOPLE = [{"to": f"+1555020{i:04d}", "name": f"Person {i}"} for i in range(6)]


def test_recipients_from_an_upstream_task_get_their_texts(run_dag, signalwire_emulator):
    from airflow.sdk import DAG, task

    with DAG("bulk_from_xcom", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def who() -> list[dict[str, str]]:
            return PEOPLE

        SignalWireBulkSendOperator(
            task_id="bulk",
            recipients=who(),
            body="Hi {{ name }}, run {{ dag.dag_id }}",
            from_=FROM_NUMBER,
            messages_per_second=100,
            retries=1,
            retry_delay=timedelta(0),
        )

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert sorted(m["body"] for m in signalwire_emulator.messages) == [
        f"Hi {p['name']}, run bulk_from_xcom" for p in PEOPLE
    ]
    summary = xcom_value(dag_run, "bulk")
    assert (summary["recipients"], summary["sent"], summary["segments"]) == (6, 6, 6)
    assert task_ledger_entry(dag_run.dag_id, dag_run.run_id, "bulk", BULK_RECORD) is None, "forgotten on success"


def test_expand_over_chunks_texts_each_chunk_once_at_a_share_of_the_rate(run_dag, signalwire_emulator):
    from airflow.sdk import DAG

    chunks = [PEOPLE[:3], PEOPLE[3:]]
    with DAG("bulk_expand", schedule=None, start_date=START, catchup=False) as dag:
        SignalWireBulkSendOperator.partial(
            task_id="bulk",
            body="Hi {{ name }}",
            from_=FROM_NUMBER,
            number_type="short_code",  # 10 a second, shared by the 2 instances that run at once
            max_active_tis_per_dagrun=2,
        ).expand(recipients=chunks)

    dag_run = run_dag(dag)

    assert task_states(dag_run) == {("bulk", 0): "success", ("bulk", 1): "success"}
    assert Counter(m["to"] for m in signalwire_emulator.messages) == Counter(p["to"] for p in PEOPLE)
    assert [xcom_value(dag_run, "bulk", i)["sent"] for i in (0, 1)] == [3, 3]
    posts = [r["time"] for r in signalwire_emulator.find_requests("POST", r"/Messages$")]
    first_chunk = posts[:3]
    assert first_chunk[-1] - first_chunk[0] >= 0.35, "each instance sends at 10 / 2 = 5 a second"
