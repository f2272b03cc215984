"""SignalWireApiCallOperator: any authorised request under the Space, the parsed body to XCom."""

from __future__ import annotations

from airflow_provider_signalwire.operators import SignalWireApiCallOperator

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests

COMPAT_PREFIX = "/api/laml/2010-04-01"

PHONE_NUMBERS = "/api/relay/rest/phone_numbers"


def test_get_returns_the_parsed_body(signalwire_conn):
    body = SignalWireApiCallOperator(
        task_id="numbers", path=PHONE_NUMBERS, query={"filter_number": "0002"}, headers={"X-Trace": "abc"}
    ).execute({})

    assert [n["number"] for n in body["data"]] == ["+15550000002"]
    (request,) = api_requests(signalwire_conn)
    assert request["method"] == "GET" and request["query"]["filter_number"] == ["0002"]
    assert request["headers"]["x-trace"] == "abc"


def test_put_sends_a_json_body(signalwire_conn):
    number = signalwire_conn.phone_numbers[0]

    body = SignalWireApiCallOperator(
        task_id="rename", method="PUT", path=f"{PHONE_NUMBERS}/{number['id']}", json={"name": "Support line"}
    ).execute({})

    assert body["name"] == "Support line"
    (request,) = api_requests(signalwire_conn, "PUT")
    assert request["json"] == {"name": "Support line"}


def test_post_sends_a_form_body(signalwire_conn):
    path = f"{COMPAT_PREFIX}/Accounts/{signalwire_conn.project_id}/Messages.json"

    body = SignalWireApiCallOperator(
        task_id="raw_send", method="POST", path=path, data={"To": TO_NUMBER, "From": FROM_NUMBER, "Body": "raw"}
    ).execute({})

    assert body["body"] == "raw" and body["status"] == "queued"
    assert api_requests(signalwire_conn, "POST")[0]["form"]["Body"] == ["raw"]


def test_an_empty_answer_is_none(signalwire_conn):
    received = signalwire_conn.inject_inbound_message(TO_NUMBER, FROM_NUMBER, "Hi")
    path = f"{COMPAT_PREFIX}/Accounts/{signalwire_conn.project_id}/Messages/{received['sid']}.json"

    assert SignalWireApiCallOperator(task_id="delete", method="delete", path=path).execute({}) is None
    assert signalwire_conn.messages == []
