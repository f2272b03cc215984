"""
Event-driven: every new inbound SMS to the support line starts a run of this DAG.

The asset ``signalwire_support_sms`` has an ``AssetWatcher`` whose trigger polls SignalWire (in the
triggerer) and emits one asset event per new message; the scheduler then starts a run, and the task
reads the messages from ``triggering_asset_events``. Each event's ``extra["payload"]`` holds the message:
``sid``, ``from``, ``to``, ``status``, ``direction``, ``date``, ``body``, ``num_media``, ``media_urls``.

Try it against the emulator as the README's "Run it locally" section says: the emulator with ``--env-file``,
``airflow standalone``, this DAG unpaused, then an SMS delivered to the number.
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
