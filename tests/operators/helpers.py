"""Helpers for the operator tests: contexts, the emulator's request log, triggers, DAG runs and what they stored."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from airflow_compat import task_ledger_entry, write_dags_to_db

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
START = datetime(2024, 1, 1, tzinfo=UTC)
FROM_NUMBER = "+15550000001"
TO_NUMBER = "+15550000002"


class DictStateStore:
    """Stands in for Airflow's task state store when an operator runs outside a DAG run."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def make_context(
    try_number: int = 1,
    store: DictStateStore | None = None,
    retries: int = 1,
    max_tries: int | None = None,
    ti_id: str | None = None,
) -> dict[str, Any]:
    """
    The parts of a task context the operators read, for a run outside a DAG: never cleared unless ``max_tries``
    says so (a clear sets it to the try number then plus ``retries``). Each context is a try of its own (its own
    task instance id) unless ``ti_id`` names one: two executions of one try share it.
    """
    import uuid

    task = SimpleNamespace(retries=retries)
    max_tries = retries if max_tries is None else max_tries
    ti = SimpleNamespace(
        dag_id="dag", task_id="task", run_id="run", map_index=-1, try_number=try_number, max_tries=max_tries, task=task
    )
    ti.id = ti_id or str(uuid.uuid4())
    return {"ti": ti, "task": task, "task_state_store": store if store is not None else DictStateStore()}


def kept_record(context: dict[str, Any]) -> Any:
    """The create record an operator run with ``context`` keeps for the retries of its task instance."""
    from airflow_provider_signalwire.ledger import TaskLedger
    from airflow_provider_signalwire.operators.create_record import CREATE_RECORD

    return TaskLedger(context).get(CREATE_RECORD)


def one_task_dag(dag_id: str, operator_class: type, retries: int = 1, **arguments: Any) -> Any:
    """A DAG of one task, ``create``, retried at once."""
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=START, catchup=False) as dag:
        operator_class(task_id="create", retries=retries, retry_delay=timedelta(0), **arguments)
    return dag


def api_requests(emulator, method: str | None = None, path_regex: str | None = None) -> list[dict[str, Any]]:
    """The API requests the emulator received (control routes are not logged)."""
    wanted = method.upper() if method else None
    return [
        r
        for r in emulator.requests
        if (wanted is None or r["method"] == wanted) and (path_regex is None or re.search(path_regex, r["path"]))
    ]


def run_trigger(trigger, timeout: float = 30.0):
    """Drive a trigger's run() to its first event, on a fresh event loop."""
    from airflow_provider_signalwire.hooks.asynchronous import close_shared_clients

    async def first_event():
        try:
            async for event in trigger.run():
                return event
            return None
        finally:
            await close_shared_clients()

    return asyncio.run(asyncio.wait_for(first_event(), timeout))


def register_dag(dag) -> None:
    """Write a DAG defined in a test into the metadata database, as the DAG processor would, for dag.test()."""
    write_dags_to_db([dag])


def load_example_dag(name: str):
    """Import an example DAG file by path and return its DAG."""
    path = EXAMPLE_DAGS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"signalwire_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.dag


def task_states(dag_run) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}


def xcom_value(dag_run, task_id: str, map_index: int = -1, key: str = "return_value") -> Any:
    """What a task of a finished DagRun pushed to XCom, as a downstream task would read it."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=dag_run.run_id, key=key, dag_ids=dag_run.dag_id, task_ids=task_id, map_indexes=map_index
        )
        row = session.scalars(query).first()
        return None if row is None else XComModel.deserialize_value(row)


def rendered_fields(dag_run, task_id: str, map_index: int = -1) -> dict[str, Any] | None:
    """The rendered template fields Airflow stored for a task (what the UI's Rendered tab shows)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        ti = next(t for t in tis if (t.task_id, t.map_index) == (task_id, map_index))
        return RenderedTaskInstanceFields.get_templated_fields(ti, session=session)


def create_record_of(dag_run, task_id: str, map_index: int = -1) -> Any:
    """
    The record of its create that a task instance of a DagRun kept for its retries (``None`` when absent): in
    the task state store on Airflow 3.3+, in an Airflow Variable before (see ``airflow_compat.task_ledger_entry``).
    """
    entry = task_ledger_entry(dag_run.dag_id, dag_run.run_id, task_id, "create", map_index)
    return None if entry is None else entry["value"]


def try_numbers(dag_run) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}


def texts_per_number(emulator) -> Any:
    """Texts per recipient once every late request has landed at the emulator (as it would at SignalWire)."""
    import time
    from collections import Counter

    deadline = time.monotonic() + 60
    while any(r["fault"] == "slow" and r["status"] is None for r in emulator.requests):
        assert time.monotonic() < deadline, "a slow request never landed"
        time.sleep(0.1)
    return Counter(m["to"] for m in emulator.messages)
