"""
Event-driven: every new inbound SMS to the support line starts a run of this DAG.

The asset ``signalwire_support_sms`` has an ``AssetWatcher`` whose trigger polls SignalWire (in the
triggerer) and emits one asset event per new message; the scheduler then starts a run, and the task
reads the messages from ``triggering_asset_events``. Each event's ``extra["payload"]`` holds the message:
``sid``, ``from``, ``to``, ``status``, ``direction``, ``date``, ``body``, ``num_media``, ``media_urls``.

Try it against the emulator: ``python -m airflow_provider_signalwire.testing.emulator --port 8765``, set
the ``signalwire_default`` connection to the ``conn_uri`` it prints, run ``airflow standalone``, unpause
this DAG, then inject an SMS::

    curl -X POST http://127.0.0.1:8765/__emulator__/inbound/messages \\
         -H 'Content-Type: application/json' \\
         -d '{"from_": "+15551234567", "to": "+15550000001", "body": "Hello, I need help"}'
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

SUPPORT_NUMBER = "+15550000001"

support_sms = Asset(
    "signalwire_support_sms",
    watchers=[
        AssetWatcher(
            name="signalwire_support_sms_watcher",
            trigger=SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, direction="inbound", poll_interval=10),
        )
    ],
)


with DAG(
    dag_id="example_signalwire_event_driven",
    schedule=[support_sms],
    catchup=False,
    tags=["example", "signalwire"],
    doc_md=__doc__,
):

    @task
    def handle_support_sms(triggering_asset_events=None) -> list[dict[str, Any]]:
        """Read the new messages that started this run (one asset event per message)."""
        messages = [event.extra["payload"] for event in triggering_asset_events[support_sms]]
        for message in messages:
            print(f"SMS {message['sid']} from {message['from']} at {message['date']}: {message['body']!r}")
        return messages

    handle_support_sms()
