from __future__ import annotations

import json
import uuid

import pytest
from airflow_compat import write_dags_to_db

SIGNING_KEY = "PSK_WebhookTestKey0123456789"


def register_dag(dag) -> None:
    """Write a DAG defined in a test into the metadata database, as the DAG processor would, for dag.test()."""
    write_dags_to_db([dag])


def connection_json(signing_key: str | None = SIGNING_KEY, **extra: str) -> str:
    extras = dict(extra)
    if signing_key is not None:
        extras["signing_secret"] = signing_key
    return json.dumps(
        {
            "conn_type": "signalwire",
            "host": "example",
            "login": "5f2c7e9a-0b1d-4c3e-8f6a-1234567890ab",
            "password": "PT_webhook_test_token",
            "extra": extras,
        }
    )


def inbound_sms(sid: str | None = None, **fields: str) -> dict[str, str]:
    sid = sid or str(uuid.uuid4())
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "5f2c7e9a-0b1d-4c3e-8f6a-1234567890ab",
        "From": "+15551230000",
        "To": "+15550000001",
        "Body": "Hello from a phone",
        "NumMedia": "0",
        "SmsStatus": "received",
        **fields,
    }


@pytest.fixture
def webhook_conn_id(monkeypatch):
    """A fresh connection id (so each test has assets of its own), with the Signing Key set."""
    conn_id = f"sw_webhooks_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json())
    return conn_id
