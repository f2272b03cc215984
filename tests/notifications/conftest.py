from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_compat import write_dags_to_db

FROM_NUMBER = "+15550000001"
ONCALL = "+15550000002"
BACKUP = "+15550000003"


def register_dag(dag) -> None:
    """Write a DAG defined in a test into the metadata database, as the DAG processor would, for dag.test()."""
    write_dags_to_db([dag])


def task_context(
    task_id: str = "load",
    try_number: int = 1,
    run_id: str = "scheduled__2026-01-01",
    dag_id: str = "nightly",
    state: str = "failed",
) -> dict[str, Any]:
    """What a task's on_failure_callback receives, with the parts the notifier reads."""
    from airflow.sdk import DAG

    dag = DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1))
    ti = SimpleNamespace(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=-1,
        try_number=try_number,
        state=state,
        log_url=f"https://airflow.example.com/dags/{dag_id}/runs/{run_id}/tasks/{task_id}?try_number={try_number}",
    )
    return {"dag": dag, "ti": ti, "task_instance": ti, "run_id": run_id}


def forget_notifier_markers() -> None:
    """Delete the notifiers' markers (Airflow Variables ``signalwire_claim_<connection>_<owner>_<marker>``) left by
    other tests."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.startswith("signalwire_claim_")))


@pytest.fixture
def emulator(airflow_db, signalwire_conn):
    """The emulator as the default connection, in a session with a metadata database and no notifier markers."""
    forget_notifier_markers()
    return signalwire_conn


@pytest.fixture
def run_dag(airflow_db, signalwire_conn):
    """Run a DAG with dag.test() on real Airflow (SQLite) against the emulator; returns the DagRun."""

    def run(dag):
        register_dag(dag)
        return dag.test()

    return run
