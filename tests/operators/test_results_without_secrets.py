"""What an operator or a sensor returns (its XCom) never holds the connection's secrets, wherever the API put them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from airflow.sdk import DAG
from loopback import API_TOKEN, PROJECT_ID, serve

from airflow_provider_signalwire.operators import (
    SignalWireApiCallOperator,
    SignalWireCreateCallOperator,
    SignalWireGetMessageOperator,
    SignalWireSearchMessagesOperator,
    SignalWireSendMessageOperator,
)
from airflow_provider_signalwire.sensors import SignalWireNewMessageSensor

from .helpers import FROM_NUMBER, TO_NUMBER, task_states, xcom_value

SIGNING_KEY = "PSK_loopback_signing_key_31f"
SIP_PASSWORD = "sip-secret-6a2b9c"
ACCOUNT_PATH = f"/api/laml/2010-04-01/Accounts/{PROJECT_ID}"


def account(method: str, path: str, query: dict, body: bytes) -> tuple[int, object]:
    """The account resource, as the Twilio-compatible format carries it: the token, and more where it hides."""
    return 200, {
        "sid": PROJECT_ID,
        "friendly_name": "Support",
        "auth_token": API_TOKEN,
        "subresource_uris": {"calls": f"{ACCOUNT_PATH}/Calls.json?Token={API_TOKEN}"},
        "keys": [{"name": "webhooks", "value": SIGNING_KEY}, [API_TOKEN]],
        API_TOKEN: "a token as a key",
    }


def test_the_account_resource_reaches_xcom_without_the_token_or_the_signing_key(run_dag, monkeypatch):
    with serve(account) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_ACCOUNT", server.connection_json(signing_secret=SIGNING_KEY))
        with DAG("account_to_xcom", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
            SignalWireApiCallOperator(task_id="account", path=ACCOUNT_PATH, signalwire_conn_id="signalwire_account")

        dag_run = run_dag(dag)

    assert task_states(dag_run) == {("account", -1): "success"}
    pushed = xcom_value(dag_run, "account")
    assert API_TOKEN not in json.dumps(pushed) and SIGNING_KEY not in json.dumps(pushed)
    assert pushed == {
        "sid": PROJECT_ID,
        "friendly_name": "Support",
        "auth_token": "***",
        "subresource_uris": {"calls": f"{ACCOUNT_PATH}/Calls.json?Token=***"},
        "keys": [{"name": "webhooks", "value": "***"}, ["***"]],
        "***": "a token as a key",
    }


@pytest.fixture
def conn_with_signing_key(signalwire_emulator, monkeypatch):
    conn = json.loads(signalwire_emulator.connection_json())
    conn["extra"]["signing_secret"] = SIGNING_KEY
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", json.dumps(conn))
    return signalwire_emulator


def test_every_operator_and_sensor_result_leaves_without_the_connections_secrets(conn_with_signing_key, context):
    emulator = conn_with_signing_key
    leaked = f"token {emulator.api_token}, key {SIGNING_KEY}"
    since = datetime.now(UTC) - timedelta(minutes=1)
    received = emulator.inject_inbound_message("+15557654321", FROM_NUMBER, body=leaked)
    path = f"/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages/{received['sid']}.json"

    results = {
        "send": SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body=leaked),
        "get": SignalWireGetMessageOperator(task_id="get", sid=received["sid"]),
        "search": SignalWireSearchMessagesOperator(task_id="search", to=FROM_NUMBER),
        "api_call": SignalWireApiCallOperator(task_id="api_call", path=path),
        "sensor": SignalWireNewMessageSensor(task_id="sensor", to=FROM_NUMBER, since=since, poke_interval=0.05),
    }
    results = {name: operator.execute(context) for name, operator in results.items()}
    deferred = SignalWireNewMessageSensor(task_id="deferred", to=FROM_NUMBER, deferrable=True)
    results["sensor resumed"] = deferred.execute_complete(context, {"status": "success", "items": [received]})

    for name, result in results.items():
        text = json.dumps(result)
        assert emulator.api_token not in text and SIGNING_KEY not in text, f"a secret left {name}"
        assert "token ***, key ***" in text, f"{name} still returns the rest"


def echo_call(method: str, path: str, query: dict, body: bytes) -> tuple[int, object]:
    """A server that puts what it was sent in its answer, as any API may."""
    return 201, {"sid": "CA0001", "status": "queued", "sent": parse_qs(body.decode())}


@pytest.mark.parametrize("given", ["sip_auth_password", "sip_auth_conn_id"])
def test_a_calls_sip_password_never_leaves_in_its_result(monkeypatch, context, given):
    arguments = {"sip_auth_username": "alice", "sip_auth_password": SIP_PASSWORD}
    if given == "sip_auth_conn_id":
        sip = {"conn_type": "generic", "login": "alice", "password": SIP_PASSWORD}
        monkeypatch.setenv("AIRFLOW_CONN_SIP_TRUNK", json.dumps(sip))
        arguments = {"sip_auth_conn_id": "sip_trunk"}
    with serve(echo_call) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", server.connection_json())
        call = SignalWireCreateCallOperator(
            task_id="call", to="sip:alice@sip.example.com", from_=FROM_NUMBER, url="https://e.com/a.xml", **arguments
        ).execute(context)

    assert parse_qs(server.requests[0]["body"].decode())["SipAuthPassword"] == [SIP_PASSWORD], "it was sent"
    assert call["sent"]["SipAuthPassword"] == ["***"]
    assert SIP_PASSWORD not in json.dumps(call) and API_TOKEN not in json.dumps(call)
