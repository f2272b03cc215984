"""
Once-only state in Airflow's metadata database: ``TaskLedger`` across tries and clears, ``SharedMarkers`` across
callbacks, processes and threads. Task runs are real (``dag.test()`` on SQLite); values are read back straight
from the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import DAG, get_current_context, task
from airflow_compat import AIRFLOW_V_3_3_PLUS, run_cleared_task, write_dags_to_db

from airflow_provider_signalwire.ledger import SharedMarkers, TaskLedger

START = datetime(2024, 1, 1, tzinfo=UTC)
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def run_dag(airflow_db):
    def run(dag):
        write_dags_to_db([dag])
        return dag.test()

    return run


def result_of(dag_run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=dag_run.run_id, key="return_value", dag_ids=dag_run.dag_id, task_ids=task_id, map_indexes=-1
        )
        row = session.scalars(query).first()
        return None if row is None else XComModel.deserialize_value(row)


def ledger_entry_read_by_another_process(dag_run, task_id: str, key: str):
    """What the metadata database holds for a task instance's ledger key, read by a fresh Python process."""
    script = (
        "import json, airflow_compat; "
        f"print(json.dumps(airflow_compat.task_ledger_entry({dag_run.dag_id!r}, {dag_run.run_id!r}, "
        f"{task_id!r}, {key!r})))"
    )
    environment = {**os.environ, "PYTHONPATH": str(TESTS)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def counting_dag(dag_id: str, retries: int):
    """A task that counts its tries in its ledger (as a sensor counts failed polls) and fails until the second."""
    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:

        @task(retries=retries, retry_delay=timedelta(0))
        def count() -> int:
            ledger = TaskLedger(get_current_context())
            seen = ledger.get("tries_seen", 0)
            ledger.set("tries_seen", seen + 1)
            if get_current_context()["ti"].try_number == 1:
                raise RuntimeError("the first try fails")
            return seen

        count()
    return dag


# TaskLedger -------------------------------------------------------------------------------------------------


def test_task_ledger_keeps_a_value_in_the_metadata_database_across_tries(run_dag):
    dag_run = run_dag(counting_dag("ledger_across_tries", retries=1))

    assert dag_run.state == "success"
    assert result_of(dag_run, "count") == 1, "the retry read what the first try kept"
    entry = ledger_entry_read_by_another_process(dag_run, "count", "tries_seen")
    assert entry == {"generation": 1, "value": 2}


def test_task_ledger_is_the_task_state_store_from_airflow_3_3_and_variables_before(run_dag):
    kept = {}
    with DAG("ledger_where", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def where() -> None:
            ledger = TaskLedger(get_current_context())
            ledger.set("probe", {"n": 1})
            kept.update(in_task_state_store=ledger.in_task_state_store, variable=ledger.variable_key("probe"))

        where()

    assert run_dag(dag).state == "success"
    assert kept["in_task_state_store"] is AIRFLOW_V_3_3_PLUS
    from airflow.models.variable import Variable

    in_variable = Variable.get(kept["variable"], default_var=None, deserialize_json=True)
    assert in_variable == (None if AIRFLOW_V_3_3_PLUS else {"generation": 1, "value": {"n": 1}})


def test_task_ledger_starts_afresh_when_the_task_is_cleared(run_dag):
    dag = counting_dag("ledger_cleared", retries=0)
    first = run_dag(dag)
    assert first.state == "failed"
    assert ledger_entry_read_by_another_process(first, "count", "tries_seen")["value"] == 1

    assert run_cleared_task(dag, first, "count") == "success"
    assert result_of(first, "count") == 0, "the cleared task saw nothing of what the earlier run kept"
    entry = ledger_entry_read_by_another_process(first, "count", "tries_seen")
    assert entry == {"generation": 2, "value": 1}


def test_task_ledger_delete_forgets_a_value(run_dag):
    with DAG("ledger_delete", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def forget() -> list:
            ledger = TaskLedger(get_current_context())
            ledger.set("record", "x")
            before = ledger.get("record")
            ledger.delete("record")
            ledger.delete("record")  # deleting what is gone is no error
            return [before, ledger.get("record", "gone")]

        forget()

    dag_run = run_dag(dag)

    assert result_of(dag_run, "forget") == ["x", "gone"]
    assert ledger_entry_read_by_another_process(dag_run, "forget", "record") is None


def test_task_ledger_counts_across_the_pokes_of_a_rescheduled_sensor(run_dag):
    # A sensor in reschedule mode is rebuilt for every poke: what it counts must live in the ledger.
    from airflow.sdk import BaseSensorOperator

    class CountingSensor(BaseSensorOperator):
        def poke(self, context) -> bool:
            ledger = TaskLedger(context)
            pokes = ledger.get("pokes", 0) + 1
            ledger.set("pokes", pokes)
            return pokes == 3

    with DAG("ledger_rescheduled_sensor", schedule=None, start_date=START, catchup=False) as dag:
        CountingSensor(task_id="wait", mode="reschedule", poke_interval=0.1, timeout=60)

    dag_run = run_dag(dag)

    assert dag_run.state == "success"
    assert ledger_entry_read_by_another_process(dag_run, "wait", "pokes") == {"generation": 1, "value": 3}


# SharedMarkers ----------------------------------------------------------------------------------------------


def owner() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


def markers_variable(key: str):
    from airflow.models.variable import Variable

    return Variable.get(key, default_var=None, deserialize_json=True)


def test_a_second_claim_of_a_live_marker_is_refused_in_a_task_and_across_processes(run_dag):
    name = owner()
    with DAG("markers_in_a_task", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def claim_twice() -> list:
            markers = SharedMarkers(name, ttl=600)
            return [markers.claim("alert", {"event": "task x failed"}), markers.claim("alert")]

        claim_twice()

    first, second = result_of(run_dag(dag), "claim_twice")

    assert first and second is None
    stored = markers_variable(f"signalwire_markers_{name}")
    assert stored["alert"]["token"] == first and stored["alert"]["event"] == "task x failed"
    assert SharedMarkers(name, ttl=600).claim("alert") is None, "this process sees the task's marker"


def test_a_marker_expires(airflow_db):
    markers = SharedMarkers(owner(), ttl=0.5, settle=0.01)

    assert markers.claim("alert")
    assert markers.claim("alert") is None
    time.sleep(0.6)
    assert markers.claim("alert"), "an expired marker counts no more"


def test_a_released_marker_may_be_claimed_again_and_only_its_claimer_releases_it(airflow_db):
    markers = SharedMarkers(owner(), ttl=600, settle=0.01)
    token = markers.claim("alert")
    assert token

    markers.release("alert", "not-the-claimers-token")
    assert markers.claim("alert") is None
    markers.release("alert", token)

    assert markers.claim("alert")


def test_expired_and_released_markers_leave_no_variable_behind(airflow_db):
    name = owner()
    markers = SharedMarkers(name, ttl=0.3, settle=0.01)
    token = markers.claim("a")
    assert markers.claim("b")
    markers.release("a", token)
    assert set(markers_variable(markers.key)) == {"b"}

    time.sleep(0.4)
    other = markers.claim("c")
    markers.release("c", other)

    assert markers_variable(markers.key) is None


def test_of_two_concurrent_claimers_exactly_one_wins(airflow_db):
    name = owner()
    rounds = 5
    wins: list[list[str]] = [[] for _ in range(rounds)]

    def claimer(who: str, start: threading.Barrier) -> None:
        markers = SharedMarkers(name, ttl=600)
        for round_number in range(rounds):
            start.wait()
            if markers.claim(f"alert-{round_number}"):
                wins[round_number].append(who)

    start = threading.Barrier(2)
    threads = [threading.Thread(target=claimer, args=(who, start)) for who in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [len(winners) for winners in wins] == [1] * rounds, wins
    assert set(markers_variable(f"signalwire_markers_{name}")) == {f"alert-{n}" for n in range(rounds)}
