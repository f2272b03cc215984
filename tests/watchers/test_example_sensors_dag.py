"""The example sensors DAG, run for real with dag.test(): a deferred sensor and a rescheduling one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from .conftest import CUSTOMER, EXAMPLE_DAGS, SUPPORT_NUMBER


def test_example_sensors_dag_run_pushes_what_arrived_in_its_interval(airflow_db, signalwire_conn):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow_compat import DagBag
    from sqlalchemy import select

    emulator = signalwire_conn
    bag = DagBag(dag_folder=str(EXAMPLE_DAGS / "example_signalwire_sensors.py"))
    assert not bag.import_errors
    dag = bag.dags["example_signalwire_sensors"]
    # "@hourly" makes a CronTriggerTimetable (Airflow 3's default): a run's data interval starts at
    # its logical date, and so does what its sensors wait for.
    logical_date = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    emulator.inject_inbound_message(
        CUSTOMER, SUPPORT_NUMBER, body="old report", date_sent=logical_date - timedelta(seconds=1)
    )
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="hello")
    report = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="The report, please")
    call = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="in-progress")

    dag_run = dag.test(logical_date=logical_date)

    assert dag_run.state == DagRunState.SUCCESS
    with create_session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.value).where(
                XComModel.dag_id == dag.dag_id, XComModel.run_id == dag_run.run_id, XComModel.key == "return_value"
            )
        ).all()
    pushed = {task_id: json.loads(value) if isinstance(value, str) else value for task_id, value in rows}
    assert [m["sid"] for m in pushed["wait_for_report_sms"]] == [report["sid"]]
    assert [c["sid"] for c in pushed["wait_for_call"]] == [call["sid"]]
    assert pushed["summarise"] == {"messages": 1, "calls": 1}
    # The deferred sensor polled from its trigger (async hook), the other one from the worker.
    assert emulator.count_requests("GET", r"/Messages$") >= 1 and emulator.count_requests("GET", r"/Calls$") >= 1
