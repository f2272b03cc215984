"""Airflow's common ``MessageQueueTrigger`` with the ``signalwire`` scheme (the ``common-messaging`` extra)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.triggers.events import SignalWireNewCallEventTrigger, SignalWireNewMessageEventTrigger

from .conftest import CUSTOMER, SUPPORT_NUMBER, TriggerDriver, rebuild, run_async
from .test_event_triggers import DictStore


def test_airflow_lists_the_signalwire_queue_provider(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "queues", "--output", "plain"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "airflow_provider_signalwire.queues.signalwire.SignalWireMessageQueueProvider" in listed


def test_message_queue_trigger_in_an_asset_watcher_fires_for_each_new_message(signalwire_conn):
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.sdk import Asset, AssetWatcher

    emulator = signalwire_conn
    trigger = MessageQueueTrigger(scheme="signalwire", to=SUPPORT_NUMBER, poll_interval=0.05)
    asset = Asset("inbound_sms_queue", watchers=[AssetWatcher(name="sms", trigger=trigger)])
    classpath, kwargs = asset.watchers[0].trigger.serialize()
    # What Airflow stores and the triggerer runs is the provider's own trigger.
    assert classpath == "airflow_provider_signalwire.triggers.events.SignalWireNewMessageEventTrigger"
    assert kwargs["to"] == SUPPORT_NUMBER

    async def scenario():
        running = rebuild(trigger.trigger)
        running.asset_state_store = DictStore()
        driver = TriggerDriver(running)
        await asyncio.sleep(0.3)
        message = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="via the queue trigger")
        emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="another number")
        await driver.wait_events(1)
        await asyncio.sleep(0.3)
        return message, await driver.stop()

    message, events = run_async(scenario())
    assert [(e["sid"], e["body"]) for e in events] == [(message["sid"], "via the queue trigger")]


def test_message_queue_trigger_watches_calls_and_the_queue_form():
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    calls = MessageQueueTrigger(scheme="signalwire", resource="calls", to=SUPPORT_NUMBER).trigger
    assert isinstance(calls, SignalWireNewCallEventTrigger)
    with pytest.warns(Warning):
        queued = MessageQueueTrigger(queue=f"signalwire://messages?to={SUPPORT_NUMBER}&poll_interval=5").trigger
    assert isinstance(queued, SignalWireNewMessageEventTrigger)
    assert (queued.query.to, queued.poll_interval) == (SUPPORT_NUMBER, 5.0)
    with pytest.raises(SignalWireInputError, match="'resource' must be 'messages' or 'calls'; got 'faxes'"):
        _ = MessageQueueTrigger(scheme="signalwire", resource="faxes").trigger
