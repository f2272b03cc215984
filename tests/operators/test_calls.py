"""The call operators against the emulator over real HTTP, each run by itself."""

from __future__ import annotations

import inspect
import json

import pytest

from airflow_provider_signalwire.api.resources.calls import CREATE_CALL, UPDATE_CALL
from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.operators import (
    SignalWireCreateCallOperator,
    SignalWireDeleteCallOperator,
    SignalWireGetCallOperator,
    SignalWireUpdateCallOperator,
)
from airflow_provider_signalwire.testing.emulator import CALL_LONG_NUMBER, STAYS_QUEUED_NUMBER

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests

CXML = "https://example.com/cxml/hello.xml"
APPLICATION = "b6a4b3c0-5f4e-4d1a-9c3b-2a1f0e9d8c7b"

EVERY_CALL_FIELD = {
    "to": TO_NUMBER,
    "from_": FROM_NUMBER,
    "url": CXML,
    "method": "GET",
    "fallback_url": "https://example.com/cxml/fallback.xml",
    "fallback_method": "POST",
    "status_callback": "https://example.com/status",
    "status_callback_event": ["initiated", "completed"],
    "status_callback_method": "POST",
    "caller_id": FROM_NUMBER,
    "send_digits": "1234#w*W",
    "timeout": 30,
    "machine_detection": "DetectMessageEnd",
    "machine_detection_timeout": 20,
    "machine_detection_speech_threshold": 2400,
    "machine_detection_speech_end_threshold": 1200,
    "machine_detection_silence_timeout": 5000,
    "machine_words_threshold": 6,
    "async_amd": True,
    "async_amd_status_callback": "https://example.com/amd",
    "async_amd_status_callback_method": "GET",
    "async_amd_partial_results": False,
    "record": True,
    "recording_channels": "dual",
    "recording_track": "both",
    "recording_status_callback": "https://example.com/recording",
    "recording_status_callback_event": ["completed", "absent"],
    "recording_status_callback_method": "GET",
    "trim": "do-not-trim",
    "sip_auth_username": "alice",
    "sip_auth_password": "sip-pass-123",
    "max_price_per_minute": "0.05",
}


def the_call_form(emulator) -> dict[str, list[str]]:
    (create,) = api_requests(emulator, "POST", r"/Calls$")
    return create["form"]


def test_every_api_field_is_a_keyword_argument_and_templated_but_the_password():
    accepted = set(inspect.signature(SignalWireCreateCallOperator.__init__).parameters)
    assert set(CREATE_CALL.params) <= accepted
    assert set(SignalWireCreateCallOperator.template_fields) >= set(CREATE_CALL.params) - CREATE_CALL.secret_params
    assert "sip_auth_password" not in SignalWireCreateCallOperator.template_fields
    assert set(UPDATE_CALL.params) | {"sid"} <= set(inspect.signature(SignalWireUpdateCallOperator.__init__).parameters)
    assert set(UPDATE_CALL.params) | {"sid"} <= set(SignalWireUpdateCallOperator.template_fields)


def test_create_call_sends_only_the_given_arguments(signalwire_conn, context):
    operator = SignalWireCreateCallOperator(task_id="call", to=TO_NUMBER, from_=FROM_NUMBER, url=CXML)

    call = operator.execute(context)

    assert the_call_form(signalwire_conn) == {"To": [TO_NUMBER], "From": [FROM_NUMBER], "Url": [CXML]}
    assert call["sid"] == signalwire_conn.calls[0]["sid"] and call["to"] == TO_NUMBER
    assert json.loads(json.dumps(call)) == call, "XCom needs a JSON-serialisable dict"


def test_create_call_sends_every_field_under_its_api_name(signalwire_conn, context):
    call = SignalWireCreateCallOperator(task_id="call", **EVERY_CALL_FIELD).execute(context)

    form = the_call_form(signalwire_conn)
    expected = {spec.api_name for name, spec in CREATE_CALL.params.items() if name != "application_sid"}
    assert set(form) == expected
    assert form["StatusCallbackEvent"] == ["initiated", "completed"], "a list goes as repeated keys"
    assert form["RecordingStatusCallbackEvent"] == ["completed absent"], "this one goes space-separated"
    assert form["AsyncAmd"] == ["true"] and form["AsyncAmdPartialResults"] == ["false"]
    assert form["Timeout"] == ["30"] and form["SendDigits"] == ["1234#w*W"]
    assert "sip-pass-123" not in json.dumps(call), "the API never answers with the SIP password"


def test_create_call_with_an_application_instead_of_a_url(signalwire_conn, context):
    SignalWireCreateCallOperator(task_id="call", to=TO_NUMBER, from_=FROM_NUMBER, application_sid=APPLICATION).execute(
        context
    )

    assert the_call_form(signalwire_conn) == {"To": [TO_NUMBER], "From": [FROM_NUMBER], "ApplicationSid": [APPLICATION]}


def test_create_call_takes_from_from_the_connection(signalwire_emulator, monkeypatch, context):
    uri = signalwire_emulator.connection_uri() + "&default_from=%2B15550000002"
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", uri)

    SignalWireCreateCallOperator(task_id="call", to="+15551230000", url=CXML).execute(context)

    assert the_call_form(signalwire_emulator)["From"] == ["+15550000002"]


def test_create_call_uses_the_given_connection(signalwire_emulator, monkeypatch, context):
    monkeypatch.setenv("AIRFLOW_CONN_VOICE", signalwire_emulator.connection_uri())

    operator = SignalWireCreateCallOperator(
        task_id="call", signalwire_conn_id="voice", to=TO_NUMBER, from_=FROM_NUMBER, url=CXML
    )
    operator.execute(context)

    assert operator.hook.signalwire_conn_id == "voice"
    assert len(signalwire_emulator.calls) == 1


def test_get_call_returns_the_call(signalwire_conn, hook):
    placed = hook.create_call(to=TO_NUMBER, from_=FROM_NUMBER, url=CXML)

    call = SignalWireGetCallOperator(task_id="get", sid=placed["sid"]).execute({})

    assert call["sid"] == placed["sid"] and call["to"] == TO_NUMBER
    (read,) = api_requests(signalwire_conn, "GET")
    assert placed["sid"] in read["path"]


def test_update_call_redirects_then_hangs_up_a_live_call(signalwire_conn, hook):
    live = hook.create_call(to=CALL_LONG_NUMBER, from_=FROM_NUMBER, url=CXML)
    signalwire_conn.advance_clock(1)  # answered

    redirected = SignalWireUpdateCallOperator(
        task_id="redirect", sid=live["sid"], url="https://example.com/next.xml", method="GET"
    ).execute({})
    hung_up = SignalWireUpdateCallOperator(task_id="hang_up", sid=live["sid"], status="completed").execute({})

    forms = [r["form"] for r in api_requests(signalwire_conn, "POST", rf"/Calls/{live['sid']}")]
    assert forms == [{"Url": ["https://example.com/next.xml"], "Method": ["GET"]}, {"Status": ["completed"]}]
    assert redirected["status"] == "in-progress"
    assert hung_up["status"] == "completed"


def test_update_call_cancels_a_queued_call(signalwire_conn, hook):
    queued = hook.create_call(to=STAYS_QUEUED_NUMBER, from_=FROM_NUMBER, url=CXML)

    call = SignalWireUpdateCallOperator(task_id="cancel", sid=queued["sid"], status="canceled").execute({})

    assert call["status"] == "canceled"


def test_update_call_changes_callbacks(signalwire_conn, hook):
    live = hook.create_call(to=CALL_LONG_NUMBER, from_=FROM_NUMBER, url=CXML)

    SignalWireUpdateCallOperator(
        task_id="callbacks",
        sid=live["sid"],
        status_callback="https://example.com/status2",
        status_callback_method="GET",
        fallback_url="https://example.com/fallback2.xml",
        fallback_method="GET",
    ).execute({})

    (update,) = api_requests(signalwire_conn, "POST", rf"/Calls/{live['sid']}")
    assert update["form"] == {
        "StatusCallback": ["https://example.com/status2"],
        "StatusCallbackMethod": ["GET"],
        "FallbackUrl": ["https://example.com/fallback2.xml"],
        "FallbackMethod": ["GET"],
    }


def test_update_of_a_finished_call_fails_with_signalwires_error(signalwire_conn, hook):
    done = hook.create_call(to=TO_NUMBER, from_=FROM_NUMBER, url=CXML)
    signalwire_conn.advance_clock(5)

    with pytest.raises(SignalWireApiError) as raised:
        SignalWireUpdateCallOperator(task_id="hang_up", sid=done["sid"], status="completed").execute({})

    assert raised.value.code == 10000 and raised.value.status == 400


def test_delete_call_returns_the_sid_and_removes_the_record(signalwire_conn, hook):
    done = hook.create_call(to=TO_NUMBER, from_=FROM_NUMBER, url=CXML)
    signalwire_conn.advance_clock(5)

    result = SignalWireDeleteCallOperator(task_id="delete", sid=done["sid"]).execute({})

    assert result == done["sid"]
    assert signalwire_conn.calls == []


def test_delete_of_a_live_call_fails_with_signalwires_error(signalwire_conn, hook):
    live = hook.create_call(to=CALL_LONG_NUMBER, from_=FROM_NUMBER, url=CXML)

    with pytest.raises(SignalWireApiError, match="20009"):
        SignalWireDeleteCallOperator(task_id="delete", sid=live["sid"]).execute({})
