"""
On a connection that maps approval responders, an inbound approval reply ("APPROVE 40821337") is answered by the
webhook receiver and is no new message to a watcher: the event triggers and the sensors leave it out.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import pytest

from airflow_provider_signalwire.sensors import SignalWireNewMessageSensor
from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

from .conftest import CUSTOMER, SUPPORT_NUMBER, TriggerDriver, run_async

RESPONDER = "+15550007777"


@pytest.fixture
def hitl_conn(signalwire_emulator, monkeypatch):
    responders = quote(json.dumps({"alice": RESPONDER}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGNALWIRE_DEFAULT", f"{signalwire_emulator.connection_uri()}&hitl_responders={responders}"
    )
    return signalwire_emulator


def test_an_event_trigger_leaves_approval_replies_out(hitl_conn):
    # Failed before: "APPROVE 40821337" and "approve 78901234" were events that started inbound-message DAGs.
    trigger = SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, poll_interval=0.05)

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.3)
        hitl_conn.inject_inbound_message(RESPONDER, SUPPORT_NUMBER, body="APPROVE 40821337")
        hitl_conn.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="approve 78901234")  # unmapped
        hello = hitl_conn.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="My order number is 48213377")
        await driver.wait_events(1)
        await asyncio.sleep(0.4)
        return hello, await driver.stop()

    hello, events = run_async(scenario())
    assert [event["sid"] for event in events] == [hello["sid"]]


def test_a_sensor_leaves_approval_replies_out(hitl_conn):
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    hitl_conn.inject_inbound_message(RESPONDER, SUPPORT_NUMBER, body="reject 40821337")
    hello = hitl_conn.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="hello")
    sensor = SignalWireNewMessageSensor(task_id="wait", to=SUPPORT_NUMBER, poke_interval=0.05, timeout=10)

    assert [item["sid"] for item in sensor.execute({"data_interval_start": since})] == [hello["sid"]]
