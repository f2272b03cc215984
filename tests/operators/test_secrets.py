"""The SIP password and the API token reach SignalWire and nothing else: logs, errors, rendered fields, XCom."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
from airflow.sdk import DAG

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators import SignalWireCreateCallOperator

from .helpers import FROM_NUMBER, api_requests, rendered_fields, task_states, xcom_value

SIP_PASSWORD = "sip-secret-9f8e7d"
SIP_TO = "sip:alice@sip.example.com"


def sip_call(task_id: str = "call", **arguments) -> SignalWireCreateCallOperator:
    return SignalWireCreateCallOperator(
        task_id=task_id,
        to=SIP_TO,
        from_=FROM_NUMBER,
        url="https://example.com/cxml/hello.xml",
        sip_auth_username="alice",
        sip_auth_password=SIP_PASSWORD,
        **arguments,
    )


def test_sip_password_is_masked_from_construction():
    from airflow.sdk._shared.secrets_masker import redact

    password = f"never-seen-{uuid.uuid4().hex}"
    assert password in redact(f"the password is {password}")

    SignalWireCreateCallOperator(task_id="call", to=SIP_TO, sip_auth_password=password)

    assert password not in redact(f"the password is {password}")


def test_sip_password_reaches_signalwire_and_no_log_or_xcom(signalwire_conn, context, caplog, capfd):
    with caplog.at_level(logging.DEBUG):
        call = sip_call(wait_for_completion=True, poll_interval=0.02).execute(context)

    (create,) = api_requests(signalwire_conn, "POST", r"/Calls$")
    assert create["form"]["SipAuthPassword"] == [SIP_PASSWORD], "it must still be sent"
    printed = capfd.readouterr()
    assert "Created SignalWire call" in printed.out + printed.err + caplog.text, "the operator's logs were captured"
    for text in (
        caplog.text,
        printed.out,
        printed.err,
        json.dumps(call),
        json.dumps(context["task_state_store"].values),
    ):
        assert SIP_PASSWORD not in text
        assert signalwire_conn.api_token not in text


def test_a_bad_sip_password_is_not_echoed_in_the_error(signalwire_conn, context):
    with pytest.raises(SignalWireInputError) as raised:
        SignalWireCreateCallOperator(
            task_id="call", to=SIP_TO, from_=FROM_NUMBER, url="https://e.com/a.xml", sip_auth_password=987654321
        ).execute(context)

    assert "'sip_auth_password'" in str(raised.value) and "987654321" not in str(raised.value)
    assert signalwire_conn.requests == []


def test_sip_password_stays_out_of_a_dag_runs_records(run_dag, signalwire_emulator, caplog, capfd):
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow_compat import serialize_dag

    with DAG("sip_secret", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False) as dag:
        sip_call(caller_id="{{ params.caller }}", params={"caller": FROM_NUMBER})

    with caplog.at_level(logging.DEBUG):
        dag_run = run_dag(dag)

    assert dag_run.state == "success", task_states(dag_run)
    (create,) = api_requests(signalwire_emulator, "POST", r"/Calls$")
    assert create["form"]["SipAuthPassword"] == [SIP_PASSWORD] and create["form"]["CallerId"] == [FROM_NUMBER]
    rendered = rendered_fields(dag_run, "call")
    assert rendered["caller_id"] == FROM_NUMBER, "the rendered fields were stored"
    stored_dag = SerializedDagModel.get(dag.dag_id)
    printed = capfd.readouterr()
    records = {
        "rendered fields": json.dumps(rendered),
        "XCom": json.dumps(xcom_value(dag_run, "call")),
        "serialized DAG": json.dumps(serialize_dag(dag)),
        "stored DAG": json.dumps(stored_dag.data),
        "logs": caplog.text + printed.out + printed.err,
    }
    assert "Created SignalWire call" in records["logs"]
    for name, text in records.items():
        assert SIP_PASSWORD not in text, f"the SIP password leaked into the {name}"
        assert signalwire_emulator.api_token not in text, f"the API token leaked into the {name}"


def test_sip_credentials_can_come_from_a_connection_read_at_run_time(signalwire_conn, context, monkeypatch, capfd):
    password = f"sip-from-conn-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIP_TRUNK", json.dumps({"conn_type": "generic", "login": "bob", "password": password})
    )
    operator = SignalWireCreateCallOperator(
        task_id="call",
        to=SIP_TO,
        from_=FROM_NUMBER,
        url="https://example.com/cxml/hello.xml",
        sip_auth_conn_id="sip_trunk",
    )
    assert "sip_auth_conn_id" in operator.template_fields
    assert password not in repr(operator.__dict__), "the DAG holds only the connection id"
    call = operator.execute(context)

    (create,) = api_requests(signalwire_conn, "POST", r"/Calls$")
    assert create["form"]["SipAuthUsername"] == ["bob"]
    assert create["form"]["SipAuthPassword"] == [password]
    from airflow.sdk._shared.secrets_masker import redact

    assert password not in redact(f"log line with {password}")
    printed = capfd.readouterr()
    assert password not in json.dumps(call) + printed.out + printed.err


def test_sip_password_and_sip_connection_together_are_refused_before_sending(signalwire_conn, context, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIP_TRUNK", json.dumps({"conn_type": "generic", "login": "bob", "password": "x"}))
    with pytest.raises(SignalWireInputError, match="'sip_auth_password' or 'sip_auth_conn_id', not both"):
        sip_call(sip_auth_conn_id="sip_trunk").execute(context)
    assert signalwire_conn.requests == []
