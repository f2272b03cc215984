"""
Webhooks in: every SMS to the support line runs ``example_signalwire_webhooks`` once, the moment it arrives.

SignalWire posts each inbound SMS to the provider's receiver in Airflow's API server,
``<API server>/signalwire/webhooks/signalwire_default/messages``. The receiver checks the signature with the
connection's Signing Key (extra ``signing_secret``) and records an event on the asset
``signalwire://signalwire_default/messages`` whose ``extra`` holds the webhook's fields (``MessageSid``, ``From``,
``To``, ``Body``, ``NumMedia``, ``MediaUrl0``...). A delivery SignalWire repeats is recorded once.

``example_signalwire_point_number_webhooks`` (run it once, by hand) points the number's "message comes in"
webhook at that receiver through SignalWire's API; the dashboard works too (Phone Numbers > the number >
Messaging: "LaML Webhooks", the URL above, POST).

Set the connection's ``webhook_base_url`` extra (or ``[api] base_url``) to the public URL SignalWire reaches
Airflow at (for example a tunnel, ``https://abc123.ngrok.app``): signatures are checked against it.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_signalwire.operators.phone_numbers import SignalWireSetPhoneNumberWebhooksOperator
from airflow_provider_signalwire.webhooks import webhook_asset

SUPPORT_NUMBER = "+15550000001"
CONN_ID = "signalwire_default"

inbound_sms = webhook_asset(CONN_ID, "messages")  # signalwire://signalwire_default/messages


with DAG(
    dag_id="example_signalwire_webhooks",
    schedule=[inbound_sms],
    catchup=False,
    tags=["example", "signalwire"],
    doc_md=__doc__,
):

    @task
    def handle_inbound_sms(triggering_asset_events=None) -> list[dict[str, Any]]:
        """Read the SMS that started this run: one asset event per webhook."""
        messages = [
            {"sid": event.extra.get("MessageSid"), "from": event.extra.get("From"), "body": event.extra.get("Body")}
            for event in triggering_asset_events[inbound_sms]
        ]
        for message in messages:
            print(f"SMS {message['sid']} from {message['from']}: {message['body']!r}")
        return messages

    handle_inbound_sms()


with DAG(
    dag_id="example_signalwire_point_number_webhooks",
    schedule=None,
    catchup=False,
    tags=["example", "signalwire"],
    params={
        "number": Param(SUPPORT_NUMBER, type="string", description="The Space's phone number (E.164) or its id."),
        "airflow_url": Param(
            "https://airflow.example.com",
            type="string",
            description="The public URL of the Airflow API server, as SignalWire reaches it.",
        ),
    },
    doc_md=__doc__,
):
    SignalWireSetPhoneNumberWebhooksOperator(
        task_id="point_number_at_airflow",
        signalwire_conn_id=CONN_ID,
        phone_number="{{ params.number }}",
        message_request_url="{{ params.airflow_url.rstrip('/') }}/signalwire/webhooks/" + CONN_ID + "/messages",
        call_request_url="{{ params.airflow_url.rstrip('/') }}/signalwire/webhooks/" + CONN_ID + "/calls",
    )
