"""The bulk send against the emulator over HTTP: templated texts, skips, limits, pacing, and never twice."""

from __future__ import annotations

import json

from airflow_provider_signalwire.operators import SignalWireBulkSendOperator

from .helpers import FROM_NUMBER

PEOPLE = [{"to": f"+1555010{i:04d}", "name": f"Person {i}"} for i in range(5)]


def bulk(**arguments):
    arguments.setdefault("messages_per_second", 1000)
    return SignalWireBulkSendOperator(task_id="bulk", from_=FROM_NUMBER, **arguments)


def sent_bodies(emulator) -> dict[str, str]:
    return {m["to"]: m["body"] for m in emulator.messages}


def test_each_recipient_gets_its_own_text(signalwire_conn, context):
    operator = bulk(recipients=PEOPLE, body="Hi {{ name }}, your slot is {{ recipient.to[-4:] }}")

    summary = operator.execute(context)

    assert sent_bodies(signalwire_conn) == {p["to"]: f"Hi {p['name']}, your slot is {p['to'][-4:]}" for p in PEOPLE}
    assert summary["sent"] == 5 and summary["skipped"] == summary["failed"] == 0
    assert summary["segments"] == 5
    assert summary["first_sid"] == signalwire_conn.messages[-1]["sid"]
    assert summary["last_sid"] == signalwire_conn.messages[0]["sid"]
    assert "Hi" not in json.dumps(summary), "no text in XCom"
