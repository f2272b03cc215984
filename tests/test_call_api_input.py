"""call_api's own inputs (query, form, headers, JSON): both hooks send them alike, or refuse them before sending."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.hooks import SignalWireAsyncHook
from airflow_provider_signalwire.operators import SignalWireApiCallOperator

PHONE_NUMBERS = "/api/relay/rest/phone_numbers"
FORM = {
    "To": "+15557654321",
    "From": "+15550000001",
    "Body": "raw",
    "MediaUrl": ["https://e.com/a.png", "https://e.com/b.png"],
}


def messages_path(emulator) -> str:
    return f"/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages.json"


def test_a_header_that_is_not_text_is_refused_by_name_before_any_request(signalwire_conn, hook):
    with pytest.raises(SignalWireInputError) as raised:
        hook.call_api("GET", PHONE_NUMBERS, headers={"X-Trace-Id": 12345})
    with pytest.raises(SignalWireInputError, match="'X-Trace-Id'"):
        SignalWireApiCallOperator(task_id="numbers", path=PHONE_NUMBERS, headers={"X-Trace-Id": 12345}).execute({})

    assert "header 'X-Trace-Id' must be a string" in str(raised.value) and "got 12345 (int)" in str(raised.value)
    assert signalwire_conn.count_requests() == 0, "nothing is sent, and nothing is retried"


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"X-Trace-Id": "a\r\nX-Injected: 1"}, "'X-Trace-Id' must be one line of text"),
        ({"X Trace": "1"}, "'X Trace' is not a valid HTTP header name"),
        ([("X-Trace-Id", "1")], "'headers' must be a dict"),
    ],
)
def test_headers_that_cannot_be_sent_are_refused_before_any_request(signalwire_conn, hook, headers, match):
    with pytest.raises(SignalWireInputError, match=match):
        hook.call_api("GET", PHONE_NUMBERS, headers=headers)
    assert signalwire_conn.count_requests() == 0


def test_a_json_body_that_cannot_be_encoded_is_refused_before_any_request(signalwire_conn, hook):
    with pytest.raises(SignalWireInputError, match="'json' must be JSON-serialisable"):
        hook.call_api("PUT", f"{PHONE_NUMBERS}/x", json={"name": {1, 2}})
    assert signalwire_conn.count_requests() == 0


def test_the_async_hook_form_encodes_a_dict_as_the_sync_hook_does(signalwire_conn, hook):
    async def send_async():
        return await SignalWireAsyncHook().call_api("POST", messages_path(signalwire_conn), data=FORM)

    sent_sync = hook.call_api("POST", messages_path(signalwire_conn), data=FORM)
    sent_async = asyncio.run(send_async())

    assert sent_sync["body"] == sent_async["body"] == "raw"
    first, second = (r["form"] for r in signalwire_conn.find_requests("POST"))
    assert first == second
    assert first["MediaUrl"] == FORM["MediaUrl"] and first["To"] == [FORM["To"]]


def test_a_query_dict_with_a_list_repeats_the_name_and_leaves_none_out(signalwire_conn, hook):
    hook.call_api("GET", PHONE_NUMBERS, params={"filter_number": ["0001"], "filter_name": None, "page_size": 5})

    (request,) = signalwire_conn.requests
    assert request["query"] == {"filter_number": ["0001"], "page_size": ["5"]}


def test_a_form_that_is_not_pairs_is_refused_before_any_request(signalwire_conn, hook):
    with pytest.raises(SignalWireInputError, match="'data' must be a dict or a list of"):
        hook.call_api("POST", messages_path(signalwire_conn), data={"To", "From"})
    assert signalwire_conn.count_requests() == 0
