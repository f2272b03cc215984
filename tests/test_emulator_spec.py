"""
Every answer of the emulator against the official OpenAPI specs, operation by operation.

The emulator is this project's test oracle, so it must answer as SignalWire documents. Each case drives one
operation over real HTTP (success, the 400/401/404/422 the spec documents, list pages with and without
filters) and validates the answer's body against the schema the spec gives for that operation and status,
``$ref``s resolved, formats (``uuid``, ``date-time``) checked. The places where the emulator follows a
recorded real answer instead (reference §9) are the explicit allow-lists below; anything else that differs
fails.

The specs are ``tests/spec/*.json``: the operations the emulator serves, cut from the official specs with every
component they reference, unchanged, by ``scripts/trim_openapi.py``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from airflow_provider_signalwire.testing import SignalWireEmulator
from airflow_provider_signalwire.testing.emulator import CALL_LONG_NUMBER, STAYS_QUEUED_NUMBER

SPEC_DIR = Path(__file__).resolve().parent / "spec"
SPEC_FILES = {
    "compatibility": "signalwire-compatibility-openapi.json",
    "rest": "signalwire-rest-openapi.json",
}
OWNED = "+15550000001"
CUSTOMER = "+15557654321"
CXML_URL = "https://example.com/voice.xml"
PICTURES = ["https://example.com/a.png", "https://example.com/b.jpg", "https://example.com/c.gif"]


# --------------------------------------------------------------------------------------------------
# Where the emulator answers otherwise than the spec, on purpose
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedAnswer:
    """A field whose value follows a recorded real answer and breaks the spec's schema for it."""

    operations: frozenset[str]  # Compatibility API operationIds
    status: int
    field: str
    value: Any


RECORDED_ANSWERS = (
    # §9.3: a call made through the API answers direction "outbound-api", as SignalWire's webhooks and
    # its Node SDK's recorded responses show; the spec's CallDirection enum says inbound|outbound.
    RecordedAnswer(
        frozenset({"list_all_calls", "create_a_call", "retrieve_a_call", "update_a_call"}),
        200,
        "direction",
        "outbound-api",
    ),
    # §9.4: a From outside the project was answered (recorded, [CAS] test_messages) HTTP 422 with
    # "code": "21210" (a string where the spec says integer) and a body "status" of 400.
    RecordedAnswer(frozenset({"create_message"}), 422, "code", "21210"),
    RecordedAnswer(frozenset({"create_message"}), 422, "status", 400),
)

# Statuses a Compatibility operation answers that its spec entry does not list, and their body's schema.
UNDOCUMENTED_STATUSES = {
    # The media of an unknown message: list_media documents no 404; this is the 404 body that
    # retrieve_media and every other Messages operation documents.
    ("list_media", 404): "CompatibilityErrorResponse",
}


# Documented statuses no request can draw from the emulator: nothing in these requests can be wrong but an
# unknown sid, which is a 404.
NEVER_ANSWERED = {
    "retrieve_a_call": {400},
    "retrieve_message": {400},
    "retrieve_media": {400},
    "delete_a_call": {422},
    "delete_message": {422},
    "delete_message_media": {400, 422},
    "retrieve_phone_number": {422},
    # Another project's Sid is refused 401 before any route, as every Compatibility path under it is.
    "get_account": {400, 404},
}


def recorded(operation: Operation, status: int, name: str, value: Any) -> bool:
    return operation.spec == "compatibility" and any(
        operation.id in allowed.operations and (status, name, value) == (allowed.status, allowed.field, allowed.value)
        for allowed in RECORDED_ANSWERS
    )


# --------------------------------------------------------------------------------------------------
# The specs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    id: str
    spec: str
    uri: str
    method: str
    path: str  # as the spec writes it, under the server URL's path
    server_path: str
    responses: dict[str, Any]

    def answers_path(self, method: str, request_path: str) -> bool:
        """Whether a request of ``method`` to ``request_path`` is this operation (``.json`` or not)."""
        inside = request_path.removeprefix(self.server_path).removesuffix(".json")
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(self.path))
        return method == self.method and re.fullmatch(pattern, inside) is not None

    def schema_ref(self, status: int) -> str:
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", self.path, self.method.lower(), "responses", str(status), "content")
        )
        return f"{self.uri}#/{pointer}/application~1json/schema"


class Specs:
    def __init__(self) -> None:
        self.registry: Registry = Registry()
        # operationIds repeat across the two specs (create_message is also a chat operation of Relay REST).
        self.operations: dict[tuple[str, str], Operation] = {}
        for name, filename in SPEC_FILES.items():
            document = json.loads((SPEC_DIR / filename).read_text())
            uri = f"urn:signalwire:{name}"
            self.registry = self.registry.with_resource(uri, DRAFT202012.create_resource(document))
            server_path = urlsplit(document["servers"][0]["url"]).path
            for path, item in document["paths"].items():
                for method, operation in item.items():
                    if isinstance(operation, dict) and "operationId" in operation:
                        self.operations[name, operation["operationId"]] = Operation(
                            operation["operationId"], name, uri, method.upper(), path, server_path,
                            operation["responses"],
                        )  # fmt: skip
        self.format_checker = jsonschema.FormatChecker()
        self.format_checker.checks("date-time", raises=ValueError)(_is_rfc3339)

    def serving(self, method: str, full_path: str) -> Operation | None:
        """The operation of ``method`` on a path written as the specs write them (``{Sid}`` placeholders)."""
        for operation in self.operations.values():
            if operation.method == method and operation.server_path + operation.path == full_path:
                return operation
        return None

    def problems(self, operation: Operation, status: int, body: Any) -> list[str]:
        """What in ``body`` breaks the schema ``operation`` documents for ``status``, recorded answers aside."""
        if str(status) in operation.responses:
            ref = operation.schema_ref(status)
        else:
            schema = UNDOCUMENTED_STATUSES.get((operation.id, status)) if operation.spec == "compatibility" else None
            if schema is None:
                return [f"{operation.id} answered HTTP {status}, which its spec does not document"]
            ref = f"{operation.uri}#/components/schemas/{schema}"
        validator = jsonschema.Draft202012Validator(
            {"$ref": ref}, registry=self.registry, format_checker=self.format_checker
        )
        found = []
        for error in validator.iter_errors(body):
            name = error.absolute_path[-1] if error.absolute_path else None
            if not recorded(operation, status, str(name), error.instance):
                found.append(f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message[:300]}")
        # The plain Compatibility error body repeats the HTTP status.
        plain_error = operation.spec == "compatibility" and isinstance(body, dict) and "more_info" in body
        if plain_error and body.get("status") != status and not recorded(operation, status, "status", body["status"]):
            found.append(f"status: the body says {body.get('status')!r}, the HTTP status is {status}")
        return found


def _is_rfc3339(text: object) -> bool:
    if not isinstance(text, str) or "T" not in text.upper():
        return False
    datetime.fromisoformat(text.replace("z", "Z"))
    return True


@pytest.fixture(scope="module")
def specs() -> Specs:
    return Specs()


# --------------------------------------------------------------------------------------------------
# The emulator and what each case acts on
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[SignalWireEmulator]:
    with SignalWireEmulator(status_step_seconds=0.05) as running:
        yield running


@pytest.fixture
def client(emulator: SignalWireEmulator) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = (emulator.project_id, emulator.api_token)
        yield session


@pytest.fixture
def world(emulator: SignalWireEmulator, client: requests.Session) -> dict[str, str]:
    """A fresh project: settled calls and messages in every state the cases act on, named for the paths."""
    emulator.reset()
    account = f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}"

    def create(collection: str, **form: Any) -> str:
        response = client.post(f"{account}/{collection}.json", data=form, timeout=10)
        assert response.status_code in (200, 201), response.text
        return str(response.json()["sid"])

    message = create("Messages", To=CUSTOMER, From=OWNED, Body="pictures", MediaUrl=PICTURES)
    sms = create("Messages", To=CUSTOMER, From=OWNED, Body="hello")
    queued_message = create("Messages", To=STAYS_QUEUED_NUMBER, From=OWNED, Body="backlog")
    call = create("Calls", To=CUSTOMER, From=OWNED, Url=CXML_URL)
    live_call = create("Calls", To=CALL_LONG_NUMBER, From=OWNED, Url=CXML_URL)
    queued_call = create("Calls", To=STAYS_QUEUED_NUMBER, From=OWNED, Url=CXML_URL)
    emulator.inject_inbound_message(CUSTOMER, OWNED, "inbound", media_urls=PICTURES[:1])
    emulator.inject_inbound_call(CUSTOMER, OWNED)
    emulator.advance_clock(60)
    media = client.get(f"{account}/Messages/{message}/Media.json", timeout=10).json()["media_list"][0]["sid"]
    sms_view = emulator.get_message(sms)
    assert sms_view is not None
    sent = parsedate_to_datetime(sms_view["date_sent"])
    return {
        "message": message,
        "sms": sms,
        "queued_message": queued_message,
        "media": media,
        "call": call,
        "live_call": live_call,
        "queued_call": queued_call,
        "number": emulator.phone_numbers[0]["id"],
        "unknown": str(uuid.uuid4()),
        "day": sent.date().isoformat(),
        "second": sent.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    }


# --------------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    operation: str
    status: int
    path: str  # under the account (Compatibility; "" or ".json": the account) or /api/relay/rest; {names} from world
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    form: dict[str, Any] | None = None
    json: Any = None
    raw: str | None = None
    anonymous: bool = False
    owned_from_required: bool = False
    pages: bool = False  # also follow next_page_uri / links.next, then back
    spec: str = "compatibility"

    @property
    def id(self) -> str:
        return f"{self.operation}-{self.status}" + (f"-{self.label}" if self.label else "")


def relay_case(operation: str, status: int, path: str, label: str = "", **options: Any) -> Case:
    """A case of the Relay REST (phone numbers) spec."""
    return Case(operation, status, path, label, spec="rest", **options)


CALL = {"To": CUSTOMER, "From": OWNED, "Url": CXML_URL}
SMS = {"To": CUSTOMER, "From": OWNED, "Body": "Hi"}

CASES = [
    # ---- the account (path "" is the account itself)
    Case("get_account", 200, ""),
    Case("get_account", 200, ".json", "json"),
    # ---- calls
    Case("list_all_calls", 200, "Calls.json", "all"),
    Case("list_all_calls", 200, "Calls", "pages", params={"PageSize": 2}, pages=True),
    Case("list_all_calls", 200, "Calls.json", "to-status", params={"To": CUSTOMER, "Status": "completed"}),
    Case("list_all_calls", 200, "Calls.json", "from-pages", params={"From": OWNED, "PageSize": 1}, pages=True),
    Case("list_all_calls", 200, "Calls.json", "start-day", params={"StartTime": "{day}"}),
    Case("list_all_calls", 200, "Calls.json", "end-before", params={"EndTime<": "2999-01-01"}),
    Case("list_all_calls", 200, "Calls.json", "start-after-rfc2822", params={"StartTime>": "{second}"}),
    Case("list_all_calls", 200, "Calls.json", "parent", params={"ParentCallSid": "{unknown}"}),
    Case("list_all_calls", 400, "Calls.json", "page-size", params={"PageSize": 0}),
    Case("list_all_calls", 400, "Calls.json", "page-no-token", params={"Page": 2}),
    Case("list_all_calls", 400, "Calls.json", "bad-token", params={"PageToken": "PAnope!"}),
    Case("list_all_calls", 422, "Calls.json", "status", params={"Status": "bogus"}),
    Case("list_all_calls", 422, "Calls.json", "date", params={"StartTime": "yesterday"}),
    Case("list_all_calls", 422, "Calls.json", "page", params={"Page": "x"}),
    Case("list_all_calls", 422, "Calls.json", "parent", params={"ParentCallSid": "nope"}),
    Case("create_a_call", 200, "Calls.json", "minimal", form=CALL),
    Case(
        "create_a_call",
        200,
        "Calls",
        "options",
        form={
            **CALL,
            "Method": "GET",
            "StatusCallback": "https://example.com/s",
            "StatusCallbackEvent": ["ringing", "answered"],
            "Timeout": "600",
            "SendDigits": "1w2#",
            "MachineDetection": "Enable",
            "Record": "true",
            "Trim": "do-not-trim",
            "RecordingStatusCallbackEvent": "completed absent",
            "MaxPricePerMinute": "0.05",
        },
    ),
    Case(
        "create_a_call",
        200,
        "Calls.json",
        "application",
        form={
            "To": "sip:alice@example.com",
            "From": OWNED,
            "ApplicationSid": str(uuid.uuid4()),
        },
    ),
    Case("create_a_call", 400, "Calls.json", "no-url", form={"To": CUSTOMER, "From": OWNED}),
    Case("create_a_call", 400, "Calls.json", "bad-to", form={**CALL, "To": "nobody"}),
    Case("create_a_call", 400, "Calls.json", "no-from", form={"To": CUSTOMER, "Url": CXML_URL}),
    Case(
        "create_a_call", 400, "Calls.json", "not-owned", form={**CALL, "From": "+1555999999"}, owned_from_required=True
    ),
    Case("create_a_call", 422, "Calls.json", "timeout", form={**CALL, "Timeout": "0"}),
    Case("create_a_call", 422, "Calls.json", "machine-detection", form={**CALL, "MachineDetection": "Maybe"}),
    Case("create_a_call", 422, "Calls.json", "send-digits", form={**CALL, "SendDigits": "12a"}),
    Case("create_a_call", 422, "Calls.json", "callback-event", form={**CALL, "StatusCallbackEvent": "exploded"}),
    Case("create_a_call", 422, "Calls.json", "method", form={**CALL, "Method": "PUT"}),
    Case("retrieve_a_call", 200, "Calls/{call}.json", "completed"),
    Case("retrieve_a_call", 200, "Calls/{live_call}", "in-progress"),
    Case("retrieve_a_call", 404, "Calls/{unknown}.json"),
    Case("update_a_call", 200, "Calls/{live_call}.json", "hang-up", form={"Status": "completed"}),
    Case("update_a_call", 200, "Calls/{queued_call}.json", "cancel", form={"Status": "canceled"}),
    Case("update_a_call", 200, "Calls/{live_call}", "redirect", form={"Url": CXML_URL, "Method": "GET"}),
    Case("update_a_call", 400, "Calls/{call}.json", "finished", form={"Status": "completed"}),
    Case("update_a_call", 400, "Calls/{live_call}.json", "cancel-live", form={"Status": "canceled"}),
    Case("update_a_call", 400, "Calls/{queued_call}.json", "redirect-queued", form={"Url": CXML_URL}),
    Case("update_a_call", 404, "Calls/{unknown}.json", form={"Status": "completed"}),
    Case("update_a_call", 422, "Calls/{live_call}.json", "status", form={"Status": "bogus"}),
    Case("update_a_call", 422, "Calls/{live_call}.json", "url", form={"Url": "ftp://example.com/x"}),
    Case("delete_a_call", 204, "Calls/{call}.json"),
    Case("delete_a_call", 400, "Calls/{live_call}.json", "unfinished"),
    Case("delete_a_call", 404, "Calls/{unknown}"),
    # ---- messages
    Case("list_messages", 200, "Messages.json", "all"),
    Case("list_messages", 200, "Messages", "pages", params={"PageSize": 2}, pages=True),
    Case("list_messages", 200, "Messages.json", "to-from", params={"To": CUSTOMER, "From": OWNED}),
    Case("list_messages", 200, "Messages.json", "to-pages", params={"To": CUSTOMER, "PageSize": 1}, pages=True),
    Case("list_messages", 200, "Messages.json", "status", params={"Status": "sent"}),
    Case("list_messages", 200, "Messages.json", "sent-day", params={"DateSent": "{day}"}),
    Case("list_messages", 200, "Messages.json", "sent-window", params={"DateSent>": "{day}", "DateSent<": "{day}"}),
    Case("list_messages", 400, "Messages.json", "page-size", params={"PageSize": 1001}),
    Case("list_messages", 400, "Messages.json", "page-no-token", params={"Page": 1}),
    Case("list_messages", 422, "Messages.json", "status", params={"Status": "sending"}),
    Case("list_messages", 422, "Messages.json", "date", params={"DateSent": "2024-02-30"}),
    Case("create_message", 201, "Messages.json", "sms", form=SMS),
    Case("create_message", 201, "Messages", "mms", form={**SMS, "MediaUrl": PICTURES, "SendAsMms": "true"}),
    Case(
        "create_message",
        201,
        "Messages.json",
        "service",
        form={
            "To": CUSTOMER,
            "MessagingServiceSid": str(uuid.uuid4()),
            "Body": "Hi",
            "ValidityPeriod": "60",
            "MaxPrice": "0.5",
            "StatusCallback": "https://example.com/s",
        },
    ),
    Case("create_message", 400, "Messages.json", "bad-to", form={**SMS, "To": "555"}),
    Case("create_message", 400, "Messages.json", "no-from", form={"To": CUSTOMER, "Body": "Hi"}),
    Case("create_message", 400, "Messages.json", "no-body", form={"To": CUSTOMER, "From": OWNED}),
    Case("create_message", 400, "Messages.json", "long-body", form={**SMS, "Body": "x" * 1601}),
    Case("create_message", 400, "Messages.json", "nine-media", form={**SMS, "MediaUrl": PICTURES * 3}),
    Case("create_message", 400, "Messages.json", "bad-media", form={**SMS, "MediaUrl": "ftp://example.com/a"}),
    Case("create_message", 400, "Messages.json", "validity", form={**SMS, "ValidityPeriod": "0"}),
    Case("create_message", 422, "Messages.json", "send-as-mms", form={**SMS, "SendAsMms": "maybe"}),
    Case("create_message", 422, "Messages.json", "max-price", form={**SMS, "MaxPrice": "cheap"}),
    Case("create_message", 422, "Messages.json", "callback", form={**SMS, "StatusCallback": "nowhere"}),
    Case(
        "create_message",
        422,
        "Messages.json",
        "not-owned",
        form={**SMS, "From": "+1555999999"},
        owned_from_required=True,
    ),
    Case("retrieve_message", 200, "Messages/{message}.json"),
    Case("retrieve_message", 200, "Messages/{queued_message}", "queued"),
    Case("retrieve_message", 404, "Messages/{unknown}.json"),
    Case("update_message", 200, "Messages/{sms}.json", "redact", form={"Body": ""}),
    Case("update_message", 400, "Messages/{queued_message}.json", "queued", form={"Body": ""}),
    Case("update_message", 404, "Messages/{unknown}.json", form={"Body": ""}),
    Case("update_message", 422, "Messages/{sms}.json", "body", form={"Body": "new text"}),
    Case("update_message", 422, "Messages/{sms}", "no-body", form={}),
    Case("delete_message", 204, "Messages/{sms}.json"),
    Case("delete_message", 400, "Messages/{queued_message}.json", "queued"),
    Case("delete_message", 404, "Messages/{unknown}"),
    # ---- a message's media
    Case("list_media", 200, "Messages/{message}/Media.json", "all"),
    Case("list_media", 200, "Messages/{message}/Media", "pages", params={"PageSize": 1}, pages=True),
    Case("list_media", 200, "Messages/{message}/Media.json", "created", params={"DateCreated": "{day}"}),
    Case("list_media", 200, "Messages/{sms}/Media.json", "none"),
    Case("list_media", 400, "Messages/{message}/Media.json", "page-size", params={"PageSize": "many"}),
    Case("list_media", 422, "Messages/{message}/Media.json", "date", params={"DateCreated<": "soon"}),
    Case("list_media", 404, "Messages/{unknown}/Media.json", "unknown-message"),
    # Only the .json form: without it, the media uri serves the content (test_media_content_is_not_json).
    Case("retrieve_media", 200, "Messages/{message}/Media/{media}.json"),
    Case("retrieve_media", 404, "Messages/{message}/Media/{unknown}.json"),
    Case("delete_message_media", 204, "Messages/{message}/Media/{media}.json"),
    Case("delete_message_media", 404, "Messages/{message}/Media/{unknown}"),
    # ---- Relay REST phone numbers
    relay_case("list_phone_numbers", 200, "phone_numbers", "all"),
    relay_case("list_phone_numbers", 200, "phone_numbers", "pages", params={"page_size": 1}, pages=True),
    relay_case("list_phone_numbers", 200, "phone_numbers", "name", params={"filter_name": "line 2"}),
    relay_case("list_phone_numbers", 200, "phone_numbers", "number", params={"filter_number": "0001", "page_size": 5}),
    relay_case("list_phone_numbers", 400, "phone_numbers", "page-size", params={"page_size": 0}),
    relay_case("list_phone_numbers", 400, "phone_numbers", "page-no-token", params={"page_number": 1}),
    relay_case("list_phone_numbers", 400, "phone_numbers", "bad-token", params={"page_token": "PAnope!"}),
    relay_case("retrieve_phone_number", 200, "phone_numbers/{number}"),
    relay_case("retrieve_phone_number", 404, "phone_numbers/{unknown}"),
    relay_case(
        "update_phone_number",
        200,
        "phone_numbers/{number}",
        "handlers",
        json={
            "name": "Alerts",
            "call_handler": "laml_webhooks",
            "call_request_url": "https://example.com/voice",
            "call_request_method": "GET",
            "message_handler": "laml_application",
            "message_relay_application": "x",
            "call_video_room_id": str(uuid.uuid4()),
            "call_fallback_url": None,
        },
    ),
    relay_case("update_phone_number", 404, "phone_numbers/{unknown}", json={"name": "x"}),
    relay_case("update_phone_number", 422, "phone_numbers/{number}", "unknown-field", json={"colour": "red"}),
    relay_case("update_phone_number", 422, "phone_numbers/{number}", "enum", json={"call_request_method": "PUT"}),
    relay_case("update_phone_number", 422, "phone_numbers/{number}", "uuid", json={"call_sip_endpoint_id": "ep-1"}),
    relay_case("update_phone_number", 422, "phone_numbers/{number}", "not-json", raw="name=Alerts"),
]
SERVED_PATHS = {(case.spec, case.operation): case.path for case in CASES}
# Every operation documents 401: an anonymous request to each, on its first case's path.
CASES += [
    Case(operation, 401, path, "anonymous", anonymous=True, spec=spec)
    for (spec, operation), path in SERVED_PATHS.items()
]


def url_of(emulator: SignalWireEmulator, operation: Operation, case: Case, world: dict[str, str]) -> str:
    path = case.path.format(**world)
    if operation.spec == "rest":
        return f"{emulator.base_url}/api/relay/rest/{path}"
    account = f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}"
    return account + (path if path in ("", ".json") else f"/{path}")


def send(
    client: requests.Session, emulator: SignalWireEmulator, operation: Operation, case: Case, world: dict[str, str]
) -> requests.Response:
    options: dict[str, Any] = {
        "params": {name: str(value).format(**world) for name, value in case.params.items()},
        "timeout": 10,
    }
    if case.json is not None:
        options["json"] = case.json
    elif case.raw is not None:
        options["data"] = case.raw
        options["headers"] = {"Content-Type": "application/json"}
    elif case.form is not None:
        options["data"] = case.form
    send_request = requests.request if case.anonymous else client.request
    emulator.require_owned_from = case.owned_from_required
    try:
        return send_request(operation.method, url_of(emulator, operation, case, world), **options)
    finally:
        emulator.require_owned_from = False


def next_and_back(
    client: requests.Session, emulator: SignalWireEmulator, first: requests.Response
) -> list[requests.Response]:
    """The page after ``first`` (there must be one), then the page its previous link leads back to."""

    def link(page: dict[str, Any], name: str) -> str | None:
        if "links" in page:  # Relay REST
            return page["links"].get(name)
        return page["next_page_uri" if name == "next" else "previous_page_uri"]

    after = link(first.json(), "next")
    assert after, "the case lists more than one page"
    following = client.get(emulator.base_url + after, timeout=10)
    before = link(following.json(), "prev")
    assert before, "a page after the first links back"
    return [following, client.get(emulator.base_url + before, timeout=10)]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_answer_matches_the_spec(
    case: Case, specs: Specs, emulator: SignalWireEmulator, client: requests.Session, world: dict[str, str]
) -> None:
    operation = specs.operations[case.spec, case.operation]
    response = send(client, emulator, operation, case, world)
    assert response.status_code == case.status, response.text
    assert operation.answers_path(response.request.method or "", urlsplit(response.url).path)
    answers = [response, *(next_and_back(client, emulator, response) if case.pages else [])]
    for answer in answers:
        assert answer.status_code == case.status, answer.text
        if case.status == 204:
            assert answer.content == b"" and "content" not in operation.responses["204"]
            continue
        assert answer.headers["Content-Type"].startswith("application/json")
        assert specs.problems(operation, answer.status_code, answer.json()) == []


def test_every_operation_served_is_in_the_spec_and_driven_here(specs: Specs) -> None:
    served = set()
    for method, path in SignalWireEmulator().operations:
        operation = specs.serving(method, path)
        assert operation is not None, f"{method} {path} is not an operation of the specs"
        served.add(operation.id)
    assert served == {case.operation for case in CASES}
    for operation_id in served:
        driven = {case.status for case in CASES if case.operation == operation_id}
        spec = next(case.spec for case in CASES if case.operation == operation_id)
        documented = {int(status) for status in specs.operations[spec, operation_id].responses}
        undocumented = {status for operation, status in UNDOCUMENTED_STATUSES if operation == operation_id}
        assert driven <= documented | undocumented, operation_id
        # 5xx only ever come from injected faults.
        expected = {s for s in documented if s < 500} - NEVER_ANSWERED.get(operation_id, set())
        assert expected <= driven, f"{operation_id}: no case answers {sorted(expected - driven)}"


def test_a_drifted_answer_fails_the_check(specs: Specs, emulator: SignalWireEmulator, world: dict[str, str]) -> None:
    message = emulator.get_message(world["sms"])
    assert message is not None
    assert specs.problems(specs.operations["compatibility", "retrieve_message"], 200, message) == []
    assert specs.problems(specs.operations["compatibility", "retrieve_message"], 200, {**message, "colour": "red"})
    assert specs.problems(specs.operations["compatibility", "retrieve_message"], 200, {**message, "num_media": "2"})
    assert specs.problems(specs.operations["compatibility", "create_message"], 422, {"errors": ["Body is required"]})
    item = {"type": "validation_error", "code": "invalid_parameter", "message": "bad", "attribute": "a", "url": "u"}
    assert specs.problems(specs.operations["rest", "update_phone_number"], 422, {"errors": [item]})
    assert specs.problems(specs.operations["rest", "list_phone_numbers"], 422, {"errors": []})
    assert specs.problems(
        specs.operations["compatibility", "create_a_call"], 200, {**emulator.calls[0], "direction": "sideways"}
    )


def test_media_content_is_not_json(
    emulator: SignalWireEmulator, client: requests.Session, world: dict[str, str]
) -> None:
    # The one answer outside the JSON schemas: a media uri without .json serves the media itself, as the
    # Compatibility API's convention has it (the spec's paths carry no .json, so it lists only the JSON form).
    account = f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}"
    item = client.get(f"{account}/Messages/{world['message']}/Media/{world['media']}.json", timeout=10).json()
    content = client.get(f"{account}/Messages/{world['message']}/Media/{world['media']}", timeout=10)
    assert (content.status_code, content.headers["Content-Type"]) == (200, item["content_type"])
    assert content.content and not content.content.startswith(b"{")
