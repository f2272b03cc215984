"""The example DAGs of the webhook receiver and the notifier, on real Airflow (SQLite) against the emulator."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from ._signing import sign_form
from .conftest import SIGNING_KEY, connection_json, inbound_sms, register_dag

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


def loaded_dags(name: str) -> dict:
    from airflow_compat import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS / f"{name}.py"), safe_mode=False)
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def emulator(signalwire_conn):
    return signalwire_conn


def test_webhook_example_queues_its_dag_once_per_inbound_sms(airflow_db, monkeypatch):
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select, update

    from airflow_provider_signalwire.webhooks import MOUNT_PREFIX
    from airflow_provider_signalwire.webhooks.app import app

    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", connection_json())
    dag = loaded_dags("example_signalwire_webhooks")["example_signalwire_webhooks"]
    register_dag(dag)
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag.dag_id).values(is_paused=False))
        session.execute(AssetDagRunQueue.__table__.delete())

    root = FastAPI()
    root.mount(MOUNT_PREFIX, app)
    params = inbound_sms(Body="Where is my order?")
    path = "/signalwire/webhooks/signalwire_default/messages"
    headers = {"X-SignalWire-Signature": sign_form(SIGNING_KEY, "http://testserver" + path, params)}
    with TestClient(root) as client:
        assert client.post(path, data=params, headers=headers).status_code == 200
        assert client.post(path, data=params, headers=headers).status_code == 200

    with create_session() as session:
        asset_id = session.scalar(
            select(AssetModel.id).where(AssetModel.uri == "signalwire://signalwire_default/messages")
        )
        queued = session.scalars(select(AssetDagRunQueue.target_dag_id).where(AssetDagRunQueue.asset_id == asset_id))
        assert list(queued) == ["example_signalwire_webhooks"]  # the scheduler starts one run from it
        bodies = session.scalars(select(AssetEvent.extra).where(AssetEvent.asset_id == asset_id))
        assert [extra["Body"] for extra in bodies if extra["MessageSid"] == params["MessageSid"]] == [
            "Where is my order?"
        ]
        assert session.scalar(select(func.count()).select_from(AssetDagRunQueue)) == 1


def test_point_number_example_sets_the_numbers_webhooks(airflow_db, emulator):
    dag = loaded_dags("example_signalwire_webhooks")["example_signalwire_point_number_webhooks"]
    register_dag(dag)

    dag_run = dag.test(run_conf={"airflow_url": "https://af.example.org/"})

    assert dag_run.state == "success"
    number = next(item for item in emulator.phone_numbers if item["number"] == "+15550000001")
    assert number["message_request_url"] == "https://af.example.org/signalwire/webhooks/signalwire_default/messages"
    assert number["call_request_url"] == "https://af.example.org/signalwire/webhooks/signalwire_default/calls"
    assert number["message_handler"] == number["call_handler"] == "laml_webhooks"


def test_notifier_example_alerts_for_the_last_try_and_the_run(airflow_db, emulator):
    dag = loaded_dags("example_signalwire_notifier")["example_signalwire_notifier"]
    register_dag(dag)

    dag_run = dag.test()

    assert dag_run.state == "failed"
    sent = sorted((message["to"], message["body"]) for message in emulator.messages)
    task_text = (
        f"example_signalwire_notifier: load_warehouse failed on try 2 (run {dag_run.run_id}). "
        f"Log: http://localhost:8080/dags/example_signalwire_notifier/runs/{quote(dag_run.run_id, safe='')}"
        "/tasks/load_warehouse?try_number=2"
    )
    run_text = f"Airflow: DAG example_signalwire_notifier failed at task load_warehouse (run {dag_run.run_id})."
    assert sent == sorted([("+15550000002", task_text), ("+15550000003", task_text), ("+15550000002", run_text)])
