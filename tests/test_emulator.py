"""The SignalWire emulator, driven over real HTTP with ``requests``."""

from __future__ import annotations

import ast
import http.client
import json
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from airflow_provider_signalwire.testing import Fault, SignalWireEmulator
from airflow_provider_signalwire.testing.emulator import (
    CALL_BUSY_NUMBER,
    CALL_FAILED_NUMBER,
    CALL_LONG_NUMBER,
    CALL_NO_ANSWER_NUMBER,
    MESSAGE_FAILED_NUMBER,
    MESSAGE_UNDELIVERED_NUMBER,
    STAYS_QUEUED_NUMBER,
)
from airflow_provider_signalwire.testing.pytest_plugin import signalwire_emulator  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
OWNED = "+15550000001"
CUSTOMER = "+15557654321"
CXML_URL = "https://example.com/voice.xml"
STEP = 0.05  # the fixture's status_step_seconds
SLOW_STEP = 10.0
RFC2822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000"
)
# The required fields of the spec's Call and Message resources.
CALL_FIELDS = {
    "sid", "account_sid", "date_created", "date_updated", "parent_call_sid", "to", "formatted_to", "to_formatted",
    "from", "formatted_from", "from_formatted", "phone_number_sid", "status", "start_time", "end_time", "duration",
    "price", "price_unit", "direction", "answered_by", "api_version", "forwarded_from", "caller_name", "uri",
    "subresource_uris", "annotation", "group_sid", "audio_in_mos", "sip_result_code", "audio_rtt_avg",
    "audio_rtt_min", "audio_rtt_max", "audio_out_jitter_min", "audio_out_jitter_max", "audio_out_jitter_avg",
    "audio_out_lost",
}  # fmt: skip
MESSAGE_FIELDS = {
    "account_sid", "api_version", "body", "num_segments", "num_media", "date_created", "date_sent", "date_updated",
    "direction", "error_code", "error_message", "from", "price", "price_unit", "sid", "status", "to",
    "messaging_service_sid", "uri", "subresource_uris",
}  # fmt: skip
PHONE_NUMBER_FIELDS = {
    "id", "number", "name", "capabilities", "number_type", "e911_address_id", "e911_status", "created_at",
    "updated_at", "next_billed_at", "call_handler", "calling_handler_resource_id", "call_receive_mode",
    "call_request_url", "call_request_method", "call_fallback_url", "call_fallback_method",
    "call_status_callback_url", "call_status_callback_method", "call_laml_application_id",
    "call_dialogflow_agent_id", "call_relay_topic", "call_relay_topic_status_callback_url", "call_relay_script_url",
    "call_relay_context", "call_relay_context_status_callback_url", "call_relay_application",
    "call_relay_connector_id", "call_sip_endpoint_id", "call_verto_resource", "call_video_room_id",
    "message_handler", "messaging_handler_resource_id", "message_request_url", "message_request_method",
    "message_fallback_url", "message_fallback_method", "message_laml_application_id", "message_relay_topic",
    "message_relay_context", "country_code",
}  # fmt: skip


class Api:
    """A thin ``requests`` client for the emulator's Compatibility and Relay routes."""

    def __init__(self, emulator: SignalWireEmulator) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.session.auth = (emulator.project_id, emulator.api_token)
        self.account = f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.account + path, params=params, timeout=10)

    def post(self, path: str, data: Any = None) -> requests.Response:
        return self.session.post(self.account + path, data=data, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.account + path, timeout=10)

    def follow(self, uri: str) -> requests.Response:
        return self.session.get(self.emulator.base_url + uri, timeout=10)

    def relay(self, method: str, path: str = "", **kwargs: Any) -> requests.Response:
        url = f"{self.emulator.base_url}/api/relay/rest/phone_numbers{path}"
        return self.session.request(method, url, timeout=10, **kwargs)

    def send_message(self, to: str = CUSTOMER, **form: Any) -> dict[str, Any]:
        response = self.post("/Messages.json", {"To": to, "From": OWNED, "Body": "Hello", **form})
        assert response.status_code == 201, response.text
        return response.json()

    def place_call(self, to: str = CUSTOMER, **form: Any) -> dict[str, Any]:
        response = self.post("/Calls.json", {"To": to, "From": OWNED, "Url": CXML_URL, **form})
        assert response.status_code == 200, response.text
        return response.json()

    def message(self, sid: str) -> dict[str, Any]:
        return self.get(f"/Messages/{sid}.json").json()

    def call(self, sid: str) -> dict[str, Any]:
        return self.get(f"/Calls/{sid}.json").json()


@pytest.fixture
def emulator(signalwire_emulator: SignalWireEmulator) -> SignalWireEmulator:  # noqa: F811
    """The plugin's fixture: statuses move every 0.05 s."""
    return signalwire_emulator


@pytest.fixture
def api(emulator: SignalWireEmulator) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.session.close()


@pytest.fixture
def stepped_api() -> Iterator[Api]:
    """An emulator whose statuses move every 10 s of its clock: tests step them with ``advance_clock``."""
    with SignalWireEmulator(status_step_seconds=SLOW_STEP) as emulator:
        client = Api(emulator)
        yield client
        client.session.close()


def assert_plain_error(response: requests.Response, status: int, code: int) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, response.text
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code and isinstance(body["code"], int)
    assert body["status"] == status
    assert body["message"] and body["more_info"].startswith("https://")
    return body


def assert_errors_array(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, response.text
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    assert body["errors"][0]["code"] == code
    assert set(body["errors"][0]) == {"code", "message", "more_info"}
    return body


def assert_invalid_argument(response: requests.Response, fragment: str) -> dict[str, Any]:
    """A value outside its parameter's schema: the plain 422 body the spec documents, naming the parameter."""
    body = assert_plain_error(response, 422, 10000)
    assert fragment in body["message"], body
    return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------------
# Auth, routes, resource shapes
# --------------------------------------------------------------------------------------------------


def test_missing_or_wrong_credentials_get_20003(emulator: SignalWireEmulator, api: Api) -> None:
    url = api.account + "/Messages.json"
    missing = requests.get(url, timeout=10)
    assert_plain_error(missing, 401, 20003)
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    assert_plain_error(requests.get(url, auth=(emulator.project_id, "wrong"), timeout=10), 401, 20003)
    other_account = url.replace(emulator.project_id, str(uuid.uuid4()))
    assert_plain_error(api.session.get(other_account, timeout=10), 401, 20003)
    assert emulator.messages == []


def test_unknown_sid_path_and_method_get_spec_errors(api: Api) -> None:
    assert_plain_error(api.get(f"/Messages/{uuid.uuid4()}.json"), 404, 20404)
    assert_plain_error(api.get(f"/Calls/{uuid.uuid4()}"), 404, 20404)
    assert_plain_error(api.get("/Recordings.json"), 404, 20404)
    assert_plain_error(api.follow("/api/laml/nothing-here"), 404, 20404)
    assert_plain_error(api.session.put(api.account + "/Messages.json", timeout=10), 405, 20004)


def test_created_message_has_every_spec_field(emulator: SignalWireEmulator, api: Api) -> None:
    response = api.post("/Messages", {"To": CUSTOMER, "From": OWNED, "Body": "Hello"})
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    message = response.json()
    assert set(message) == MESSAGE_FIELDS
    assert uuid.UUID(message["sid"]) and message["account_sid"] == emulator.project_id
    assert message["status"] == "queued" and message["direction"] == "outbound-api"
    assert message["date_sent"] is None and message["error_code"] is None
    assert RFC2822.fullmatch(message["date_created"]) and RFC2822.fullmatch(message["date_updated"])
    prefix = f"/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages/{message['sid']}"
    assert message["uri"] == prefix + ".json"
    assert message["subresource_uris"] == {"media": prefix + "/Media.json"}
    assert (message["num_segments"], message["num_media"], message["api_version"]) == (1, 0, "2010-04-01")


def test_created_call_has_every_spec_field(emulator: SignalWireEmulator, api: Api) -> None:
    response = api.post("/Calls", {"To": CUSTOMER, "From": OWNED, "Url": CXML_URL})
    assert response.status_code == 200
    call = response.json()
    assert set(call) == CALL_FIELDS
    assert call["status"] == "queued" and call["direction"] == "outbound-api"
    assert call["start_time"] is None and call["end_time"] is None and call["duration"] == 0
    assert call["formatted_to"] == call["to_formatted"] == "(555) 765-4321"
    owned_id = next(n["id"] for n in emulator.phone_numbers if n["number"] == OWNED)
    assert call["phone_number_sid"] == owned_id
    assert call["uri"].startswith("/api/laml/2010-04-01/Accounts/") and call["uri"].endswith(".json")
    assert call["subresource_uris"]["recordings"].endswith(f"/Calls/{call['sid']}/Recordings.json")
    assert RFC2822.fullmatch(call["date_created"])


def test_routes_answer_with_and_without_json_suffix_and_api_laml(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.send_message()["sid"]
    assert api.get(f"/Messages/{sid}").json()["sid"] == sid
    assert api.get(f"/Messages/{sid}.json").json()["sid"] == sid
    twilio_style = f"{emulator.base_url}/2010-04-01/Accounts/{emulator.project_id}/Messages.json"
    assert api.session.get(twilio_style, timeout=10).json()["messages"][0]["sid"] == sid
    assert api.get("/Messages").json()["messages"][0]["sid"] == sid


def test_keep_alive_serves_several_requests_on_one_connection(emulator: SignalWireEmulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        for _ in range(3):
            connection.request("GET", "/__emulator__/health")
            response = connection.getresponse()
            assert response.status == 200 and response.version == 11
            body = response.read()
            assert len(body) == int(response.headers["Content-Length"])
            assert json.loads(body)["status"] == "ok"
    finally:
        connection.close()


# --------------------------------------------------------------------------------------------------
# Statuses over time and magic numbers
# --------------------------------------------------------------------------------------------------


def test_message_goes_queued_sent_delivered_as_time_passes(api: Api) -> None:
    message = api.send_message()
    assert message["status"] == "queued"
    time.sleep(STEP * 4)
    delivered = api.message(message["sid"])
    assert delivered["status"] == "delivered"
    assert RFC2822.fullmatch(delivered["date_sent"]) and delivered["price"] > 0


def test_message_sets_date_sent_when_it_becomes_sent(stepped_api: Api) -> None:
    api = stepped_api
    sid = api.send_message()["sid"]
    assert api.message(sid)["date_sent"] is None
    api.emulator.advance_clock(SLOW_STEP)
    sent = api.message(sid)
    assert (sent["status"], RFC2822.fullmatch(sent["date_sent"]) is not None) == ("sent", True)
    api.emulator.advance_clock(SLOW_STEP)
    assert api.message(sid)["status"] == "delivered"


@pytest.mark.parametrize(
    "form",
    [{"MediaUrl": ["https://example.com/a.png", "https://example.com/b.png"]}, {"SendAsMms": "true"}],
    ids=["media", "send-as-mms"],
)
def test_mms_stops_at_sent(emulator: SignalWireEmulator, api: Api, form: dict[str, Any]) -> None:
    message = api.send_message(**form)
    emulator.advance_clock(60)
    assert api.message(message["sid"])["status"] == "sent"
    assert api.message(message["sid"])["num_media"] == len(form.get("MediaUrl", []))


@pytest.mark.parametrize(
    ("to", "status", "error_code", "ever_sent"),
    [(MESSAGE_UNDELIVERED_NUMBER, "undelivered", "30003", True), (MESSAGE_FAILED_NUMBER, "failed", "30007", False)],
)
def test_magic_numbers_make_messages_fail(
    emulator: SignalWireEmulator, api: Api, to: str, status: str, error_code: str, ever_sent: bool
) -> None:
    sid = api.send_message(to=to)["sid"]
    emulator.advance_clock(60)
    message = api.message(sid)
    assert (message["status"], message["error_code"]) == (status, error_code)
    assert message["error_message"]
    assert (message["date_sent"] is not None) == ever_sent


def test_stays_queued_number_keeps_a_message_queued(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.send_message(to=STAYS_QUEUED_NUMBER)["sid"]
    emulator.advance_clock(3600)
    assert api.message(sid)["status"] == "queued"


def test_call_goes_queued_ringing_in_progress_completed(stepped_api: Api) -> None:
    api = stepped_api
    sid = api.place_call()["sid"]
    seen = []
    for _ in range(3):
        api.emulator.advance_clock(SLOW_STEP)
        seen.append(api.call(sid))
    assert [c["status"] for c in seen] == ["ringing", "in-progress", "completed"]
    ringing, answered, completed = seen
    assert ringing["start_time"] is None
    assert RFC2822.fullmatch(answered["start_time"]) and answered["end_time"] is None
    assert RFC2822.fullmatch(completed["end_time"]) and completed["duration"] == SLOW_STEP
    assert completed["price"] > 0 and completed["sip_result_code"] == "200"


@pytest.mark.parametrize(
    ("to", "final"),
    [(CALL_BUSY_NUMBER, "busy"), (CALL_NO_ANSWER_NUMBER, "no-answer"), (CALL_FAILED_NUMBER, "failed")],
)
def test_magic_numbers_make_calls_fail(emulator: SignalWireEmulator, api: Api, to: str, final: str) -> None:
    sid = api.place_call(to=to)["sid"]
    emulator.advance_clock(60)
    call = api.call(sid)
    assert call["status"] == final
    assert call["start_time"] is None and call["end_time"] is not None and call["duration"] == 0


def test_long_call_stays_in_progress_until_hung_up(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.place_call(to=CALL_LONG_NUMBER)["sid"]
    emulator.advance_clock(120)
    assert api.call(sid)["status"] == "in-progress"
    hung_up = api.post(f"/Calls/{sid}.json", {"Status": "completed"})
    assert hung_up.status_code == 200
    assert hung_up.json()["status"] == "completed" and hung_up.json()["duration"] >= 119


# --------------------------------------------------------------------------------------------------
# Validation and error codes
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": OWNED, "Body": "x"}, 21211),
        ({"To": "5551234", "From": OWNED, "Body": "x"}, 21211),
        ({"To": CUSTOMER, "Body": "x"}, 21212),
        ({"To": CUSTOMER, "From": "not-a-number", "Body": "x"}, 21212),
        ({"To": CUSTOMER, "From": OWNED}, 21602),
        ({"To": CUSTOMER, "From": OWNED, "Body": "x" * 1601}, 21617),
        ({"To": CUSTOMER, "From": OWNED, "MediaUrl": [f"https://example.com/{i}.png" for i in range(9)]}, 21623),
        ({"To": CUSTOMER, "From": OWNED, "MediaUrl": "ftp://example.com/a.png"}, 21620),
        ({"To": CUSTOMER, "From": OWNED, "Body": "x", "ValidityPeriod": "0"}, 21624),
        ({"To": CUSTOMER, "From": OWNED, "Body": "x", "ValidityPeriod": "172801"}, 21624),
    ],
    ids=[
        "no-to",
        "bad-to",
        "no-from",
        "bad-from",
        "no-body",
        "long-body",
        "nine-media",
        "bad-media",
        "validity-zero",
        "validity-high",
    ],
)
def test_message_create_errors_use_the_plain_body(
    emulator: SignalWireEmulator, api: Api, form: dict[str, Any], code: int
) -> None:
    assert_plain_error(api.post("/Messages.json", form), 400, code)
    assert emulator.messages == []


def test_body_of_exactly_1600_characters_is_accepted(api: Api) -> None:
    assert api.send_message(Body="x" * 1600)["num_segments"] == 11


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": CUSTOMER, "From": OWNED}, "21205"),
        ({"To": CUSTOMER, "From": OWNED, "Url": CXML_URL, "ApplicationSid": str(uuid.uuid4())}, "21205"),
        ({"From": OWNED, "Url": CXML_URL}, "21211"),
        ({"To": "nobody", "From": OWNED, "Url": CXML_URL}, "21211"),
        ({"To": CUSTOMER, "Url": CXML_URL}, "21212"),
    ],
    ids=["no-url", "url-and-application", "no-to", "bad-to", "no-from"],
)
def test_call_create_errors_use_the_errors_array_with_string_codes(
    emulator: SignalWireEmulator, api: Api, form: dict[str, Any], code: str
) -> None:
    assert_errors_array(api.post("/Calls.json", form), 400, code)
    assert emulator.calls == []


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"Method": "PUT"}, "Method"),
        ({"Timeout": "0"}, "Timeout"),
        ({"Timeout": "601"}, "Timeout"),
        ({"SendDigits": "12a"}, "SendDigits"),
        ({"StatusCallbackEvent": ["ringing", "exploded"]}, "StatusCallbackEvent"),
    ],
)
def test_out_of_schema_call_values_get_a_plain_422(api: Api, extra: dict[str, Any], fragment: str) -> None:
    assert_invalid_argument(
        api.post("/Calls.json", {"To": CUSTOMER, "From": OWNED, "Url": CXML_URL, **extra}), fragment
    )


def test_call_create_accepts_the_spec_edges(api: Api) -> None:
    call = api.place_call(Timeout="600", SendDigits="1w2W#*", StatusCallbackEvent=["initiated", "completed"])
    assert call["status"] == "queued"


@pytest.mark.parametrize(("form", "fragment"), [({"Status": "bogus"}, "Status"), ({"Method": "PUT"}, "Method")])
def test_out_of_schema_call_update_gets_a_plain_422(api: Api, form: dict[str, str], fragment: str) -> None:
    sid = api.place_call(to=CALL_LONG_NUMBER)["sid"]
    assert_invalid_argument(api.post(f"/Calls/{sid}", form), fragment)


def test_from_outside_the_project_is_21210_when_ownership_is_required() -> None:
    with SignalWireEmulator(require_owned_from=True) as emulator:
        api = Api(emulator)
        message = api.post("/Messages.json", {"To": CUSTOMER, "From": "+15559999999", "Body": "x"})
        # As recorded from the real API: HTTP 422, a string code, body status 400.
        assert message.status_code == 422
        assert message.json()["code"] == "21210" and message.json()["status"] == 400
        call = api.post("/Calls.json", {"To": CUSTOMER, "From": "+15559999999", "Url": CXML_URL})
        assert_errors_array(call, 400, "21210")
        assert api.send_message()["from"] == OWNED


def test_delete_and_redact_refuse_a_queued_message(api: Api) -> None:
    sid = api.send_message(to=STAYS_QUEUED_NUMBER)["sid"]
    assert_plain_error(api.delete(f"/Messages/{sid}.json"), 400, 20009)
    assert_plain_error(api.post(f"/Messages/{sid}.json", {"Body": ""}), 400, 10000)
    assert api.message(sid)["body"] == "Hello"


def test_redact_needs_an_empty_body_then_clears_it(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.send_message(Body="secret")["sid"]
    emulator.advance_clock(1)
    assert_plain_error(api.post(f"/Messages/{sid}.json", {"Body": "other"}), 422, 50509)
    redacted = api.post(f"/Messages/{sid}.json", {"Body": ""})
    assert redacted.status_code == 200
    assert redacted.json()["body"] == "" and api.message(sid)["body"] == ""
    assert api.message(sid)["status"] == "delivered"


def test_delete_message_answers_204_without_body(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.send_message()["sid"]
    emulator.advance_clock(1)
    deleted = api.delete(f"/Messages/{sid}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert "Content-Length" not in deleted.headers or deleted.headers["Content-Length"] == "0"
    assert_plain_error(api.get(f"/Messages/{sid}.json"), 404, 20404)
    assert api.get("/Messages.json").json()["messages"] == []


def test_delete_call_needs_a_finished_call(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.place_call(to=CALL_LONG_NUMBER)["sid"]
    emulator.advance_clock(1)
    assert_plain_error(api.delete(f"/Calls/{sid}.json"), 400, 20009)
    assert api.post(f"/Calls/{sid}.json", {"Status": "completed"}).json()["status"] == "completed"
    assert api.delete(f"/Calls/{sid}.json").status_code == 204
    assert_plain_error(api.get(f"/Calls/{sid}.json"), 404, 20404)


def test_cancel_a_queued_call_then_further_updates_are_10000(api: Api) -> None:
    sid = api.place_call(to=STAYS_QUEUED_NUMBER)["sid"]
    canceled = api.post(f"/Calls/{sid}.json", {"Status": "canceled"})
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled" and canceled.json()["end_time"] is not None
    assert_plain_error(api.post(f"/Calls/{sid}.json", {"Status": "completed"}), 400, 10000)
    assert_plain_error(api.post(f"/Calls/{sid}.json", {"Url": CXML_URL}), 400, 10000)


def test_an_in_progress_call_cannot_be_canceled_but_can_be_redirected(emulator: SignalWireEmulator, api: Api) -> None:
    sid = api.place_call(to=CALL_LONG_NUMBER)["sid"]
    emulator.advance_clock(1)
    assert_plain_error(api.post(f"/Calls/{sid}.json", {"Status": "canceled"}), 400, 10000)
    redirected = api.post(f"/Calls/{sid}.json", {"Url": "https://example.com/other.xml", "Method": "GET"})
    assert redirected.status_code == 200 and redirected.json()["status"] == "in-progress"


def test_redirecting_a_ringing_call_is_21220(stepped_api: Api) -> None:
    api = stepped_api
    sid = api.place_call()["sid"]
    api.emulator.advance_clock(SLOW_STEP)
    assert api.call(sid)["status"] == "ringing"
    assert_plain_error(api.post(f"/Calls/{sid}.json", {"Url": CXML_URL}), 400, 21220)


def test_completed_on_a_ringing_call_cancels_it(stepped_api: Api) -> None:
    api = stepped_api
    sid = api.place_call()["sid"]
    api.emulator.advance_clock(SLOW_STEP)
    assert api.call(sid)["status"] == "ringing"
    assert api.post(f"/Calls/{sid}.json", {"Status": "completed"}).json()["status"] == "canceled"
    api.emulator.advance_clock(SLOW_STEP * 10)
    assert api.call(sid)["status"] == "canceled"


# --------------------------------------------------------------------------------------------------
# Lists: order, pagination, filters
# --------------------------------------------------------------------------------------------------


def test_list_is_newest_first_and_later_created_first_on_equal_times(emulator: SignalWireEmulator, api: Api) -> None:
    old = emulator.inject_inbound_message(CUSTOMER, OWNED, "old", date_sent=datetime(2020, 1, 1))
    sids = [api.send_message(Body=str(i))["sid"] for i in range(3)]
    listed = [m["sid"] for m in api.get("/Messages.json").json()["messages"]]
    assert listed == [*reversed(sids), old["sid"]]


def test_pagination_follows_next_page_uri_with_page_tokens(emulator: SignalWireEmulator, api: Api) -> None:
    seeded = emulator.seed_messages(7, from_=CUSTOMER, to=OWNED)
    page = api.get("/Messages.json", PageSize=3).json()
    assert (page["page"], page["page_size"], page["previous_page_uri"]) == (0, 3, None)
    assert page["first_page_uri"].startswith(f"/api/laml/2010-04-01/Accounts/{emulator.project_id}/")
    collected, pages = [m["sid"] for m in page["messages"]], 1
    # A message created while paging must not shift the pages that follow.
    api.send_message()
    while page["next_page_uri"]:
        uri = page["next_page_uri"]
        assert uri.startswith("/api/laml/2010-04-01/Accounts/")
        query = parse_qs(urlsplit(uri).query)
        assert query["Page"] == [str(pages)] and query["PageSize"] == ["3"]
        assert query["PageToken"][0].startswith("PA")
        page = api.follow(uri).json()
        assert page["page"] == pages and page["previous_page_uri"]
        collected += [m["sid"] for m in page["messages"]]
        pages += 1
    assert pages == 3 and len(collected) == 7
    assert collected == list(reversed(seeded))


def test_previous_page_uri_returns_the_page_before(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.seed_messages(5, from_=CUSTOMER, to=OWNED)
    first = api.get("/Messages.json", PageSize=2).json()
    second = api.follow(first["next_page_uri"]).json()
    back = api.follow(second["previous_page_uri"]).json()
    assert [m["sid"] for m in back["messages"]] == [m["sid"] for m in first["messages"]]
    assert back["page"] == 0 and back["next_page_uri"]


def test_page_after_the_first_needs_a_valid_page_token(api: Api) -> None:
    assert_plain_error(api.get("/Messages.json", Page=1, PageSize=2), 400, 54453)
    assert_plain_error(api.get("/Calls.json", Page=1, PageToken="PAnot-a-token!"), 400, 54453)
    assert_plain_error(api.get("/Messages.json", PageToken="XX123"), 400, 54453)


@pytest.mark.parametrize("page_size", ["0", "1001", "-1", "ten"])
def test_page_size_outside_1_to_1000_is_54454(api: Api, page_size: str) -> None:
    assert_plain_error(api.get("/Messages.json", PageSize=page_size), 400, 54454)
    assert_plain_error(api.get("/Calls.json", PageSize=page_size), 400, 54454)


def test_default_and_largest_page_sizes(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.seed_messages(1001, from_=CUSTOMER, to=OWNED)
    default = api.get("/Messages.json").json()
    assert (default["page_size"], len(default["messages"])) == (50, 50)
    largest = api.get("/Messages.json", PageSize=1000).json()
    assert len(largest["messages"]) == 1000
    assert len(api.follow(largest["next_page_uri"]).json()["messages"]) == 1


def test_filters_apply_and_travel_in_next_page_uri(emulator: SignalWireEmulator, api: Api) -> None:
    for i in range(3):
        api.send_message(Body=f"a{i}")
        api.send_message(to="+15551110000", Body=f"b{i}")
    page = api.get("/Messages.json", To=CUSTOMER, PageSize=2).json()
    seen = [m["to"] for m in page["messages"]]
    assert "To=%2B15557654321" in page["next_page_uri"]
    seen += [m["to"] for m in api.follow(page["next_page_uri"]).json()["messages"]]
    assert seen == [CUSTOMER] * 3
    assert len(api.get("/Messages.json", From=OWNED).json()["messages"]) == 6
    emulator.advance_clock(1)
    assert len(api.get("/Messages.json", Status="delivered").json()["messages"]) == 6
    assert api.get("/Messages.json", Status="queued").json()["messages"] == []


def test_call_list_filters_by_status_and_number(emulator: SignalWireEmulator, api: Api) -> None:
    busy = api.place_call(to=CALL_BUSY_NUMBER)["sid"]
    fine = api.place_call()["sid"]
    emulator.advance_clock(60)
    assert [c["sid"] for c in api.get("/Calls.json", Status="busy").json()["calls"]] == [busy]
    assert [c["sid"] for c in api.get("/Calls.json", To=CUSTOMER).json()["calls"]] == [fine]
    assert api.get("/Calls.json", ParentCallSid=str(uuid.uuid4())).json()["calls"] == []
    assert_invalid_argument(api.get("/Calls.json", Status="bogus"), "Status")


def test_message_date_filters_by_day_and_by_second(emulator: SignalWireEmulator, api: Api) -> None:
    for day in (1, 2, 3):
        emulator.inject_inbound_message(CUSTOMER, OWNED, f"d{day}", date_sent=datetime(2024, 1, day, 10))
    api.send_message(to=STAYS_QUEUED_NUMBER)  # date_sent stays null: never matches a date filter

    def bodies(**params: str) -> list[str]:
        return sorted(m["body"] for m in api.get("/Messages.json", **params).json()["messages"])

    assert bodies(DateSent="2024-01-02") == ["d2"]
    assert bodies(**{"DateSent>": "2024-01-02"}) == ["d2", "d3"]
    assert bodies(**{"DateSent<": "2024-01-02"}) == ["d1", "d2"]
    assert bodies(**{"DateSent>": "2024-01-02", "DateSent<": "2024-01-02"}) == ["d2"]
    assert bodies(**{"DateSent>": "Tue, 02 Jan 2024 10:00:00 +0000"}) == ["d2", "d3"]
    assert bodies(**{"DateSent>": "2024-01-02T10:00:01Z"}) == ["d3"]
    assert bodies(**{"DateSent<": "2024-01-02T10:00:00+00:00"}) == ["d1", "d2"]
    assert bodies(**{"DateSent<": "3000-01-01"}) == ["d1", "d2", "d3"]
    assert_invalid_argument(api.get("/Messages.json", **{"DateSent>": "last tuesday"}), "DateSent>")


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/Messages.json", {"Status": "sending"}, "Status"),  # a status-callback value, not a MessageStatus
        ("/Calls.json", {"ParentCallSid": "not-a-sid"}, "ParentCallSid"),
        ("/Calls.json", {"Page": "x"}, "Page"),
        ("/Calls.json", {"EndTime<": "soon"}, "EndTime<"),
    ],
)
def test_list_filters_outside_their_schema_get_a_plain_422(
    api: Api, path: str, params: dict[str, str], fragment: str
) -> None:
    assert_invalid_argument(api.get(path, **params), fragment)


def test_call_date_filters_on_start_and_end_time(emulator: SignalWireEmulator, api: Api) -> None:
    early = emulator.inject_inbound_call(CUSTOMER, OWNED, start_time=datetime(2024, 3, 1, 23, 59, 50))
    late = emulator.inject_inbound_call(CUSTOMER, OWNED, start_time=datetime(2024, 3, 2, 12, 0, 0))
    assert early["end_time"] == "Sat, 02 Mar 2024 00:00:20 +0000" and early["duration"] == 30
    busy = api.place_call(to=CALL_BUSY_NUMBER)["sid"]  # never answered: start_time stays null, end_time is now
    emulator.advance_clock(60)

    def sids(**params: str) -> list[str]:
        return [c["sid"] for c in api.get("/Calls.json", **params).json()["calls"]]

    assert sids(StartTime="2024-03-01") == [early["sid"]]
    assert sids(EndTime="2024-03-02") == [late["sid"], early["sid"]]
    assert sids(**{"StartTime>": "2024-03-02"}) == [late["sid"]]
    assert sids(**{"StartTime<": "Sat, 02 Mar 2024 12:00:00 +0000"}) == [late["sid"], early["sid"]]
    assert sids(**{"EndTime>": "2024-03-02T12:00:30Z"}) == [busy, late["sid"]]
    assert sids(**{"EndTime>": "2024-03-02T12:00:31Z", "EndTime<": "2025-01-01"}) == []
    assert busy not in sids(**{"StartTime<": "3000-01-01"})


def test_paging_through_100_000_seeded_messages_yields_each_once_in_100_pages(
    emulator: SignalWireEmulator, api: Api
) -> None:
    # How fast is benchmarks/bench_emulator_paging.py's question; this one counts pages and items.
    seeded = emulator.seed_messages(100_000, from_=CUSTOMER, to=OWNED)
    page, listed = api.get("/Messages.json", PageSize=1000).json(), list[str]()
    while True:
        listed += [m["sid"] for m in page["messages"]]
        if not page["next_page_uri"]:
            break
        page = api.follow(page["next_page_uri"]).json()
    assert len(listed) == len(set(listed)) == 100_000
    assert listed == seeded[::-1]
    assert emulator.count_requests("GET", r"/Messages$") == 100, "full pages of 1,000, and no empty last page"


def test_messages_seeded_in_the_past_sort_among_newer_ones(emulator: SignalWireEmulator, api: Api) -> None:
    newer = emulator.seed_messages(3, from_=CUSTOMER, to=OWNED, start=datetime(2024, 1, 2), spacing_seconds=60)
    older = emulator.seed_messages(3, from_=CUSTOMER, to=OWNED, start=datetime(2024, 1, 1), spacing_seconds=60)
    middle = emulator.inject_inbound_message(CUSTOMER, OWNED, "middle", date_sent=datetime(2024, 1, 1, 12))
    listed = [m["sid"] for m in api.get("/Messages.json", PageSize=2).json()["messages"]]
    assert listed == [newer[2], newer[1]]
    everything = [m["sid"] for m in api.get("/Messages.json").json()["messages"]]
    assert everything == [*newer[::-1], middle["sid"], *older[::-1]]


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


def test_429_fault_sends_retry_after_and_counts_down(emulator: SignalWireEmulator, api: Api) -> None:
    fault = emulator.add_fault("429", method="POST", path=r"/Messages$", times=2, retry_after=3)
    for remaining in (1, 0):
        limited = api.post("/Messages.json", {"To": CUSTOMER, "From": OWNED, "Body": "x"})
        assert_plain_error(limited, 429, 20429)
        assert limited.headers["Retry-After"] == "3"
        assert fault.remaining == remaining
        assert api.get("/Messages.json").status_code == 200  # GET does not match the fault
    assert emulator.faults == [] and emulator.messages == []
    assert api.post("/Messages.json", {"To": CUSTOMER, "From": OWNED, "Body": "x"}).status_code == 201
    faulted = [r for r in emulator.requests if r["fault"]]
    assert [(r["fault"], r["status"], r["fault_id"]) for r in faulted] == [("429", 429, fault.id)] * 2


@pytest.mark.parametrize(
    ("shape", "check"),
    [
        ("plain", lambda r: r.json() == {"code": 20503, "message": r.json()["message"],
                                         "more_info": r.json()["more_info"], "status": 503}),
        ("errors_array", lambda r: r.json()["errors"][0]["code"] == "20503"),
        ("string_array", lambda r: isinstance(r.json()["errors"][0], str)),
        ("relay", lambda r: r.json() == {"error": "Service Unavailable"}),
        ("html", lambda r: r.headers["Content-Type"].startswith("text/html") and b"503" in r.content),
        ("empty", lambda r: r.content == b""),
    ],
)  # fmt: skip
def test_status_fault_answers_the_chosen_body_shape(
    emulator: SignalWireEmulator, api: Api, shape: str, check: Any
) -> None:
    emulator.add_fault("status", status=503, path="/Calls", body_shape=shape)  # type: ignore[arg-type]
    response = api.get("/Calls.json")
    assert response.status_code == 503 and check(response)
    assert api.get("/Calls.json").status_code == 200


def test_a_request_without_valid_credentials_gets_its_401_and_leaves_the_fault_armed(
    emulator: SignalWireEmulator, api: Api
) -> None:
    fault = emulator.add_fault("status", status=503)  # any method, any path
    assert_plain_error(requests.get(api.account + "/Messages.json", timeout=10), 401, 20003)
    wrong_token = requests.post(api.account + "/Calls.json", auth=(emulator.project_id, "nope"), timeout=10)
    assert_plain_error(wrong_token, 401, 20003)
    other_account = api.session.get(api.account.replace(emulator.project_id, str(uuid.uuid4())), timeout=10)
    assert_plain_error(other_account, 401, 20003)
    relay = requests.get(f"{emulator.base_url}/api/relay/rest/phone_numbers", timeout=10)
    assert (relay.status_code, relay.json()) == (401, {"error": "Unauthorized"})
    assert (fault.remaining, emulator.faults) == (1, [fault])
    assert [(r["status"], r["fault"]) for r in emulator.requests] == [(401, None)] * 4
    assert api.get("/Messages.json").status_code == 503  # the first authenticated request gets it
    assert emulator.faults == [] and emulator.messages == []


def test_status_fault_on_relay_uses_the_relay_body(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.add_fault("status", status=500, path="phone_numbers")
    failed = api.relay("GET")
    assert (failed.status_code, failed.json()) == (500, {"error": "Internal Server Error"})


def test_slow_fault_delays_then_answers(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.add_fault("slow", method="GET", path="/Messages$", delay=0.3)
    started = time.monotonic()
    assert api.get("/Messages.json").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.ReadTimeout):
        emulator.add_fault("slow", path="/Messages$", delay=0.5)
        api.session.get(api.account + "/Messages.json", timeout=0.1)


def test_drop_before_closes_without_creating_anything(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.add_fault("drop_before", method="POST", path="/Messages$")
    with pytest.raises(requests.ConnectionError):
        api.post("/Messages.json", {"To": CUSTOMER, "From": OWNED, "Body": "x"})
    assert emulator.messages == []
    (entry,) = emulator.requests
    assert (entry["fault"], entry["status"], entry["form"]["Body"]) == ("drop_before", None, ["x"])


def test_drop_after_creates_but_the_client_sees_a_connection_error(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.add_fault("drop_after", method="POST", path="/Calls$")
    with pytest.raises(requests.ConnectionError):
        api.post("/Calls.json", {"To": CUSTOMER, "From": OWNED, "Url": CXML_URL})
    assert len(emulator.calls) == 1
    (entry,) = emulator.requests
    assert (entry["fault"], entry["status"]) == ("drop_after", 200)
    assert api.place_call()["status"] == "queued"  # the next request is served normally
    assert len(emulator.calls) == 2


def test_fault_validation_rejects_unknown_kinds(emulator: SignalWireEmulator) -> None:
    with pytest.raises(ValueError, match="fault kind"):
        emulator.add_fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        Fault(kind="429", times=0)


# --------------------------------------------------------------------------------------------------
# Request log, inbound traffic, reset
# --------------------------------------------------------------------------------------------------


def test_request_log_keeps_lists_and_never_the_authorization(emulator: SignalWireEmulator, api: Api) -> None:
    media = ["https://example.com/1.png", "https://example.com/2.png"]
    api.send_message(MediaUrl=media, StatusCallback="https://example.com/status")
    api.get("/Messages.json", To=CUSTOMER, PageSize=5)
    api.relay("PUT", f"/{emulator.phone_numbers[0]['id']}", json={"name": "Support"})
    create, listing, update = emulator.requests
    assert create["form"]["MediaUrl"] == media and create["status"] == 201 and create["method"] == "POST"
    assert listing["query"] == {"To": [CUSTOMER], "PageSize": ["5"]}
    assert update["json"] == {"name": "Support"} and update["status"] == 200
    assert "authorization" not in json.dumps(emulator.requests).lower()
    assert emulator.count_requests() == 3
    assert emulator.count_requests("post", r"/Messages$") == 1
    assert emulator.count_requests(path_regex="phone_numbers") == 1


def test_injected_inbound_traffic_is_listed(emulator: SignalWireEmulator, api: Api) -> None:
    message = emulator.inject_inbound_message(CUSTOMER, OWNED, "hi", media_urls=["https://e.com/a.png"])
    assert (message["direction"], message["status"], message["num_media"]) == ("inbound", "received", 1)
    call = emulator.inject_inbound_call(CUSTOMER, OWNED, status="no-answer")
    assert (call["direction"], call["status"]) == ("inbound", "no-answer")
    assert api.message(message["sid"])["body"] == "hi"
    assert api.get("/Calls.json", Status="no-answer").json()["calls"][0]["sid"] == call["sid"]
    assert emulator.get_call(call["sid"]) == api.call(call["sid"])
    with pytest.raises(ValueError, match="status"):
        emulator.inject_inbound_call(CUSTOMER, OWNED, status="exploded")


def test_reset_forgets_state_faults_and_log(emulator: SignalWireEmulator, api: Api) -> None:
    api.send_message()
    emulator.add_phone_number("+15550000003")
    emulator.add_fault("429", path="/Calls")
    emulator.reset()
    assert emulator.messages == [] and emulator.faults == []
    assert emulator.requests == []
    assert [n["number"] for n in emulator.phone_numbers] == ["+15550000002", "+15550000001"]


def test_connection_uri_and_json_point_at_the_emulator(emulator: SignalWireEmulator) -> None:
    uri = urlsplit(emulator.connection_uri())
    assert (uri.scheme, uri.hostname) == ("signalwire", "example.signalwire.com")
    assert (unquote(uri.username or ""), unquote(uri.password or "")) == (
        emulator.project_id,
        emulator.api_token,
    )
    assert parse_qs(uri.query)["base_url"] == [emulator.base_url]
    assert json.loads(emulator.connection_json()) == {
        "conn_type": "signalwire",
        "host": "example.signalwire.com",
        "login": emulator.project_id,
        "password": emulator.api_token,
        "extra": {"base_url": emulator.base_url},
    }


def test_airflow_reads_the_connection_uri_and_json(emulator: SignalWireEmulator) -> None:
    from airflow.sdk import Connection

    for connection in (
        Connection.from_uri(emulator.connection_uri(), conn_id="signalwire_default"),
        Connection.from_json(emulator.connection_json(), conn_id="signalwire_default"),
    ):
        assert (connection.conn_type, connection.host) == ("signalwire", "example.signalwire.com")
        assert (connection.login, connection.password) == (emulator.project_id, emulator.api_token)
        assert connection.extra_dejson == {"base_url": emulator.base_url}


# --------------------------------------------------------------------------------------------------
# Relay REST phone numbers
# --------------------------------------------------------------------------------------------------


def test_phone_numbers_start_with_two_numbers_newest_first(api: Api) -> None:
    listing = api.relay("GET").json()
    assert [n["number"] for n in listing["data"]] == ["+15550000002", "+15550000001"]
    assert all(set(n) == PHONE_NUMBER_FIELDS for n in listing["data"])
    assert listing["links"] == {
        "self": "/api/relay/rest/phone_numbers?page_number=0&page_size=50",
        "first": "/api/relay/rest/phone_numbers?page_number=0&page_size=50",
    }


def test_phone_numbers_filter_by_substring(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.add_phone_number("+15550000003", name="Support desk")
    assert [n["number"] for n in api.relay("GET", params={"filter_number": "0002"}).json()["data"]] == ["+15550000002"]
    assert [n["name"] for n in api.relay("GET", params={"filter_name": "desk"}).json()["data"]] == ["Support desk"]
    assert api.relay("GET", params={"filter_name": "nobody"}).json()["data"] == []


def test_phone_numbers_paginate_through_links(emulator: SignalWireEmulator, api: Api) -> None:
    emulator.add_phone_number("+15550000003")
    page = api.relay("GET", params={"page_size": 1}).json()
    numbers = [n["number"] for n in page["data"]]
    while "next" in page["links"]:
        query = parse_qs(urlsplit(page["links"]["next"]).query)
        assert query["page_token"][0].startswith("PA") and query["page_size"] == ["1"]
        page = api.follow(page["links"]["next"]).json()
        assert "prev" in page["links"]
        numbers += [n["number"] for n in page["data"]]
    assert numbers == ["+15550000003", "+15550000002", "+15550000001"]


@pytest.mark.parametrize(
    "params",
    [{"page_number": 1}, {"page_size": 0}, {"page_size": 1001}, {"page_number": "x"}, {"page_token": "PAnope!"}],
    ids=["page-without-token", "size-zero", "size-too-big", "page-not-a-number", "bad-token"],
)
def test_phone_number_paging_errors_are_the_documented_400(api: Api, params: dict[str, Any]) -> None:
    response = api.relay("GET", params=params)
    assert (response.status_code, response.json()) == (400, {"error": "Bad Request"})


def test_phone_number_get_put_and_errors(emulator: SignalWireEmulator, api: Api) -> None:
    number_id = emulator.phone_numbers[0]["id"]
    assert api.relay("GET", f"/{number_id}").json()["id"] == number_id
    changes = {
        "name": "Alerts",
        "call_handler": "laml_webhooks",
        "call_request_url": "https://example.com/voice",
        "call_request_method": "GET",
        "call_status_callback_url": "https://example.com/status",
        "message_handler": "laml_application",
        "message_request_url": "https://example.com/sms",
        "message_request_method": "POST",
    }
    updated = api.relay("PUT", f"/{number_id}", json=changes)
    assert updated.status_code == 200
    assert {k: updated.json()[k] for k in changes} == changes
    assert api.relay("GET", f"/{number_id}").json()["name"] == "Alerts"
    invalid = api.relay("PUT", f"/{number_id}", json={"call_request_method": "PUT", "colour": "red"})
    assert invalid.status_code == 422
    errors = invalid.json()["errors"]
    assert all(set(e) == {"detail", "status", "title", "code"} and e["status"] == "422" for e in errors)
    assert sorted(e["detail"].split()[0] for e in errors) == ["call_request_method", "colour"]
    assert api.relay("GET", f"/{number_id}").json()["call_request_method"] == "GET"
    missing = api.relay("GET", f"/{uuid.uuid4()}")
    assert (missing.status_code, missing.json()) == (404, {"error": "Not Found"})
    anonymous = requests.get(f"{emulator.base_url}/api/relay/rest/phone_numbers", timeout=10)
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "Unauthorized"})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"call_video_room_id": "room-1"}, "call_video_room_id must be a UUID"),
        ({"call_receive_mode": None}, "call_receive_mode must be a string"),
        ({"call_receive_mode": "sms"}, "call_receive_mode must be one of"),
        (["name", "Alerts"], "JSON object"),
        ("not json", "JSON object"),
    ],
    ids=["room-not-uuid", "receive-mode-null", "receive-mode-enum", "not-an-object", "not-json"],
)
def test_phone_number_update_outside_the_request_schema_is_a_422(
    emulator: SignalWireEmulator, api: Api, body: Any, fragment: str
) -> None:
    number_id = emulator.phone_numbers[0]["id"]
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    response = api.relay("PUT", f"/{number_id}", **kwargs)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert fragment in error["detail"] and (error["status"], error["title"]) == ("422", "Invalid Attribute")
    assert api.relay("GET", f"/{number_id}").json() == emulator.phone_numbers[0]


def test_phone_number_update_with_null_clears_a_url(emulator: SignalWireEmulator, api: Api) -> None:
    number_id = emulator.phone_numbers[0]["id"]
    api.relay("PUT", f"/{number_id}", json={"call_request_url": "https://example.com/voice"})
    cleared = api.relay("PUT", f"/{number_id}", json={"call_request_url": None})
    assert (cleared.status_code, cleared.json()["call_request_url"]) == (200, None)


def test_add_phone_number_refuses_values_the_resource_cannot_show(emulator: SignalWireEmulator) -> None:
    with pytest.raises(ValueError, match="number_type"):
        emulator.add_phone_number("+15550000003", number_type="local")
    with pytest.raises(ValueError, match="E.164"):
        emulator.add_phone_number("5550000003")
    with pytest.raises(ValueError, match="already"):
        emulator.add_phone_number("+15550000001")


# --------------------------------------------------------------------------------------------------
# Control API and command line
# --------------------------------------------------------------------------------------------------


def test_control_api_drives_the_emulator_from_another_process(emulator: SignalWireEmulator, api: Api) -> None:
    control = f"{emulator.base_url}/__emulator__"
    health = requests.get(f"{control}/health", timeout=10).json()
    assert health == {"status": "ok", "base_url": emulator.base_url,
                      "project_id": emulator.project_id}  # fmt: skip
    inbound = requests.post(
        f"{control}/inbound/messages",
        json={"from": CUSTOMER, "to": OWNED, "body": "STOP", "date_sent": "2024-05-01T08:00:00Z"},
        timeout=10,
    )
    assert inbound.status_code == 201 and inbound.json()["date_sent"] == "Wed, 01 May 2024 08:00:00 +0000"
    call = requests.post(f"{control}/inbound/calls", json={"from": CUSTOMER, "to": OWNED, "duration": 5}, timeout=10)
    assert call.json()["duration"] == 5 and call.json()["direction"] == "inbound"
    assert api.get("/Messages.json", **{"DateSent": "2024-05-01"}).json()["messages"][0]["body"] == "STOP"

    fault = {"kind": "429", "method": "GET", "path": "/Calls$", "times": 1, "retry_after": 2}
    assert requests.post(f"{control}/faults", json=fault, timeout=10).status_code == 201
    assert api.get("/Calls.json").headers["Retry-After"] == "2"
    assert requests.post(f"{control}/faults", json={"kind": "nope"}, timeout=10).status_code == 400

    logged = requests.get(f"{control}/requests", params={"method": "GET"}, timeout=10).json()["requests"]
    calls_path = urlsplit(api.account).path + "/Calls.json"
    assert (logged[-1]["path"], logged[-1]["fault"], logged[-1]["status"]) == (calls_path, "429", 429)
    state = requests.get(f"{control}/state", timeout=10).json()
    assert len(state["messages"]) == 1 and len(state["calls"]) == 1 and len(state["phone_numbers"]) == 2
    assert requests.post(f"{control}/reset", timeout=10).status_code == 200
    assert emulator.messages == [] and emulator.requests == []
    assert "__emulator__" not in json.dumps(logged)


def test_importing_the_emulator_stays_light() -> None:
    code = (
        "import sys, airflow_provider_signalwire.testing.emulator as e; e.SignalWireEmulator;"
        "heavy = {'airflow', 'requests', 'httpx', 'pytest'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_emulator_imports_nothing_of_the_provider() -> None:
    # The test oracle knows the API from the spec, never from the provider's rules.
    package = REPO_ROOT / "airflow_provider_signalwire" / "testing" / "emulator"
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    provider = {name for name in imported if name.split(".")[0] in ("airflow_provider_signalwire", "airflow")}
    assert provider and all(name.startswith("airflow_provider_signalwire.testing.emulator") for name in provider)


def test_cli_serves_until_sigterm_and_exits_0() -> None:
    port = free_port()
    command = [sys.executable, "-m", "airflow_provider_signalwire.testing.emulator", "--port", str(port)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the emulator printed nothing"
        line = process.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        assert fields["base_url"] == f"http://127.0.0.1:{port}"
        assert fields["conn_uri"].startswith("signalwire://")
        assert requests.get(f"{fields['base_url']}/__emulator__/health", timeout=10).json()["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_refuses_a_non_loopback_host() -> None:
    command = [sys.executable, "-m", "airflow_provider_signalwire.testing.emulator", "--host", "0.0.0.0"]  # noqa: S104
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--allow-remote" in result.stderr


def test_stop_returns_only_when_no_handler_thread_is_left() -> None:
    before = set(threading.enumerate())
    server = SignalWireEmulator().start()
    server.add_fault("slow", path="/Messages$", delay=60)
    idle = requests.Session()  # a keep-alive connection whose handler waits for a next request
    assert idle.get(f"{server.base_url}/__emulator__/health", timeout=10).status_code == 200
    outcome: dict[str, Any] = {}

    def slow_request() -> None:
        url = f"{server.base_url}/api/laml/2010-04-01/Accounts/{server.project_id}/Messages.json"
        try:
            outcome["status"] = requests.get(url, auth=(server.project_id, server.api_token), timeout=60).status_code
        except requests.RequestException as err:
            outcome["error"] = err

    client = threading.Thread(target=slow_request)
    client.start()
    deadline = time.monotonic() + 10
    while server.count_requests() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.faults == [], "the slow request is being served"
    started = time.monotonic()
    server.stop()
    # Waiting for the slow request would take its 60 s: half of that is slack for a loaded machine, not a target.
    assert time.monotonic() - started < 30
    assert set(threading.enumerate()) - before - {client} == set()
    client.join(10)
    assert "error" in outcome, "the slow request was dropped, not answered after stop()"
    assert server.requests[0]["status"] is None and server.messages == []
    idle.close()


def test_stop_frees_the_port() -> None:
    emulator = SignalWireEmulator().start()
    port = emulator.port
    session = requests.Session()
    assert session.get(f"{emulator.base_url}/__emulator__/health", timeout=10).status_code == 200
    emulator.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/__emulator__/health", timeout=2)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
