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
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import DAG, get_current_context, task
from airflow_compat import AIRFLOW_V_3_3_PLUS, run_cleared_task, write_dags_to_db
from concurrency import at_once

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

CONN_ID = "signalwire_default"


def owner() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


def markers_of(name: str, ttl: float = 600) -> SharedMarkers:
    return SharedMarkers(name, ttl=ttl, conn_id=CONN_ID)


def stored_records(markers: SharedMarkers) -> dict[str, dict]:
    """Every Variable of the owner's markers, read straight from the database."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Variable).where(Variable.key.startswith(markers.prefix))).all()
        return {row.key: json.loads(row.val) for row in rows}


def concurrently(count: int, work) -> list:
    """``work(i)`` in ``count`` threads released at once; their results in order, none an error."""
    results = at_once(count, work)
    errors = [result for result in results if isinstance(result, Exception)]
    assert not errors, errors
    return results


def test_a_second_claim_of_a_live_marker_is_refused_in_a_task_and_across_processes(run_dag):
    name = owner()
    with DAG("markers_in_a_task", schedule=None, start_date=START, catchup=False) as dag:

        @task
        def claim_twice() -> list:
            markers = markers_of(name)
            return [markers.claim("alert", {"event": "task x failed"}), markers.claim("alert")]

        claim_twice()

    first, second = result_of(run_dag(dag), "claim_twice")

    assert first and second is None
    markers = markers_of(name)
    (record,) = stored_records(markers).values()
    assert record["token"] == first and record["facts"] == {"event": "task x failed"}
    assert markers.claim("alert") is None, "this process sees the task's marker"
    assert markers.get("alert") == {"event": "task x failed"}


def test_a_marker_expires(airflow_db):
    markers = markers_of(owner(), ttl=0.5)

    assert markers.claim("alert")
    assert markers.claim("alert") is None
    time.sleep(0.6)
    assert markers.claim("alert"), "an expired marker counts no more"


def test_a_released_marker_may_be_claimed_again_and_only_its_claimer_releases_it(airflow_db):
    markers = markers_of(owner())
    token = markers.claim("alert")
    assert token

    markers.release("alert", "not-the-claimers-token")
    assert markers.claim("alert") is None
    markers.release("alert", token)

    assert markers.claim("alert")


def test_one_variable_per_marker_and_released_or_swept_markers_leave_none_behind(airflow_db):
    markers = markers_of(owner(), ttl=0.3)
    token = markers.claim("a")
    assert markers.claim("b")
    assert len(stored_records(markers)) == 2, "one Variable per marker"
    markers.release("a", token)
    assert [record["facts"] for record in stored_records(markers).values()] == [{}]

    time.sleep(0.4)
    assert markers.sweep() == 1
    assert stored_records(markers) == {}


def test_of_many_concurrent_claimers_of_one_marker_exactly_one_wins(airflow_db):
    # Failed before: each claim wrote the owner's one Variable and read it back 0.3 s later.
    name = owner()
    for round_number in range(3):
        marker = f"alert-{round_number}"
        tokens = concurrently(12, lambda index, marker=marker: markers_of(name).claim(marker, {"by": index}))
        assert sum(1 for token in tokens if token) == 1, tokens


def test_concurrent_claims_of_different_markers_of_one_owner_all_hold(airflow_db):
    # Failed before: claims of different markers rewrote one JSON Variable and dropped each other's markers
    # (MarkerUnavailable: "kept being overwritten").
    name = owner()
    tokens = concurrently(16, lambda index: markers_of(name).claim(f"request-{index}", {"index": index}))

    assert all(tokens), tokens
    markers = markers_of(name)
    assert [markers.get(f"request-{index}") for index in range(16)] == [{"index": index} for index in range(16)]


def test_a_budget_of_slots_holds_against_a_burst(airflow_db):
    name = owner()
    taken = concurrently(20, lambda index: markers_of(name).claim_slot("wrong:alice", 5))

    assert sum(1 for slot in taken if slot) == 5
    assert markers_of(name).live_slots("wrong:alice", 5) == 5
    marker, token = next(slot for slot in taken if slot)
    markers_of(name).release(marker, token)
    assert markers_of(name).claim_slot("wrong:alice", 5) is not None, "a slot given back is free again"


def test_update_adds_facts_only_for_the_marker_holder(airflow_db):
    markers = markers_of(owner())
    token = markers.claim("reply:SM1", {"first": True})

    assert markers.update("reply:SM1", "someone-else", {"answer": "no"}) is False
    assert markers.update("reply:SM1", token, {"answer": "Approved"}) is True
    assert markers.get("reply:SM1") == {"first": True, "answer": "Approved"}


CLAIMER = """
import json, sys
from airflow_provider_signalwire.ledger import SharedMarkers
markers = SharedMarkers(sys.argv[1], ttl=600, conn_id="signalwire_default")
print(json.dumps(markers.claim(sys.argv[2])))
"""


def test_of_concurrent_claimers_in_separate_processes_exactly_one_wins(airflow_db, tmp_path):
    name = owner()
    script = tmp_path / "claim.py"
    script.write_text(CLAIMER)
    processes = [
        subprocess.Popen([sys.executable, str(script), name, "alert"], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    tokens = [json.loads(process.communicate(timeout=120)[0].strip().splitlines()[-1]) for process in processes]

    assert sum(1 for token in tokens if token) == 1, tokens


def test_a_record_that_is_no_marker_counts_as_expired_and_a_failed_sweep_keeps_the_claim(airflow_db, monkeypatch):
    from airflow_provider_signalwire import compat

    markers = markers_of(owner())
    assert compat.swap_variable(markers.key("odd"), None, '{"expires": "n/a"}')
    assert compat.swap_variable(markers.key("junk"), None, "not json")

    assert markers.claim("odd") and markers.claim("junk"), "what is not a live record is free"

    def failing_sweep(prefix: str) -> int:
        raise RuntimeError("the database went away for a moment")

    monkeypatch.setattr(markers._store, "sweep", failing_sweep)
    monkeypatch.setattr(SharedMarkers, "SWEEP_EVERY", 1)
    assert markers.claim("taken despite the sweep")
    assert markers.claim("taken despite the sweep") is None
