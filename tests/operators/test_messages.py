"""The message operators against the emulator over real HTTP, each run by itself."""

from __future__ import annotations

import inspect
import json

import pytest

from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE
from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.operators import (
    SignalWireDeleteMessageOperator,
    SignalWireGetMessageOperator,
    SignalWireRedactMessageOperator,
    SignalWireSendMessageOperator,
)
from airflow_provider_signalwire.testing.emulator import STAYS_QUEUED_NUMBER

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests

GROUP = "0f8e7d6c-5b4a-4938-8271-605f4e3d2c1b"
APPLICATION = "b6a4b3c0-5f4e-4d1a-9c3b-2a1f0e9d8c7b"
PICTURES = ["https://example.com/a.png", "https://example.com/b.png"]


def the_message_form(emulator) -> dict[str, list[str]]:
    (create,) = api_requests(emulator, "POST", r"/Messages$")
    return create["form"]


def test_every_api_field_is_a_templated_keyword_argument():
    assert set(CREATE_MESSAGE.params) <= set(inspect.signature(SignalWireSendMessageOperator.__init__).parameters)
    assert set(CREATE_MESSAGE.params) <= set(SignalWireSendMessageOperator.template_fields)


def test_send_message_sends_only_the_given_arguments(signalwire_conn, context):
    message = SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, body="Hello").execute(
        context
    )

    assert the_message_form(signalwire_conn) == {"To": [TO_NUMBER], "From": [FROM_NUMBER], "Body": ["Hello"]}
    assert message["sid"] == signalwire_conn.messages[0]["sid"] and message["body"] == "Hello"
    assert json.loads(json.dumps(message)) == message, "XCom needs a JSON-serialisable dict"


def test_send_message_sends_every_field_under_its_api_name(signalwire_conn, context):
    SignalWireSendMessageOperator(
        task_id="send",
        to=TO_NUMBER,
        from_=FROM_NUMBER,
        body="Chart attached",
        media_url=PICTURES,
        application_sid=APPLICATION,
        max_price="0.5",
        status_callback="https://example.com/status",
        validity_period=600,
        messaging_service_sid=GROUP,
        send_as_mms=True,
    ).execute(context)

    form = the_message_form(signalwire_conn)
    assert set(form) == {spec.api_name for spec in CREATE_MESSAGE.params.values()}
    assert form["MediaUrl"] == PICTURES, "media go as repeated keys"
    assert form["ValidityPeriod"] == ["600"] and form["SendAsMms"] == ["true"] and form["MaxPrice"] == ["0.5"]


def test_one_media_url_may_be_a_string(signalwire_conn, context):
    message = SignalWireSendMessageOperator(
        task_id="send", to=TO_NUMBER, from_=FROM_NUMBER, media_url=PICTURES[0]
    ).execute(context)

    assert the_message_form(signalwire_conn) == {"To": [TO_NUMBER], "From": [FROM_NUMBER], "MediaUrl": PICTURES[:1]}
    assert message["num_media"] == 1


def test_a_number_group_replaces_from(signalwire_conn, context):
    SignalWireSendMessageOperator(task_id="send", to=TO_NUMBER, messaging_service_sid=GROUP, body="Hi").execute(context)

    assert the_message_form(signalwire_conn) == {"To": [TO_NUMBER], "MessagingServiceSid": [GROUP], "Body": ["Hi"]}


def test_send_message_takes_from_from_the_connection(signalwire_emulator, monkeypatch, context):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri() + "&default_from=%2B15550000002"
    )

    SignalWireSendMessageOperator(task_id="send", to="+15551230000", body="Hi").execute(context)

    assert the_message_form(signalwire_emulator)["From"] == ["+15550000002"]


def test_get_message_returns_the_message(signalwire_conn, hook):
    sent = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="Hi")

    message = SignalWireGetMessageOperator(task_id="get", sid=sent["sid"]).execute({})

    assert message["sid"] == sent["sid"] and message["body"] == "Hi"


def test_redact_message_clears_the_body(signalwire_conn, hook):
    received = signalwire_conn.inject_inbound_message(TO_NUMBER, FROM_NUMBER, "my PIN is 4321")

    message = SignalWireRedactMessageOperator(task_id="redact", sid=received["sid"]).execute({})

    (redact,) = api_requests(signalwire_conn, "POST", r"/Messages/")
    assert redact["form"] == {"Body": [""]}
    assert message["body"] == "" and signalwire_conn.get_message(received["sid"])["body"] == ""


def test_redact_of_a_queued_message_fails_with_signalwires_error(signalwire_conn, hook):
    queued = hook.create_message(to=STAYS_QUEUED_NUMBER, from_=FROM_NUMBER, body="Hi")

    with pytest.raises(SignalWireApiError) as raised:
        SignalWireRedactMessageOperator(task_id="redact", sid=queued["sid"]).execute({})

    assert raised.value.code == 10000


def test_delete_message_returns_the_sid_and_removes_it(signalwire_conn):
    received = signalwire_conn.inject_inbound_message(TO_NUMBER, FROM_NUMBER, "Hi")

    result = SignalWireDeleteMessageOperator(task_id="delete", sid=received["sid"]).execute({})

    assert result == received["sid"]
    assert signalwire_conn.messages == []


def test_get_of_an_unknown_message_fails_with_signalwires_error(signalwire_conn):
    with pytest.raises(SignalWireApiError) as raised:
        SignalWireGetMessageOperator(task_id="get", sid="0b1c2d3e-0000-4000-8000-000000000000").execute({})

    assert raised.value.status == 404 and raised.value.code == 20404
