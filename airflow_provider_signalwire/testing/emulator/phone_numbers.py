"""
Relay REST phone numbers: ``GET /api/relay/rest/phone_numbers`` and ``GET|PUT .../phone_numbers/{id}``.

Operations ``list_phone_numbers``, ``retrieve_phone_number`` and ``update_phone_number`` of the SignalWire
REST spec: JSON in and out, ``{"links", "data"}`` lists newest first with ``page_number`` + ``page_token``
links. A bad ``page_size`` or ``page_token`` is the documented 400 ``{"error": "Bad Request"}``; an update
outside ``UpdatePhoneNumberRequest`` is the documented 422 ``{"errors": [{detail, status, title, code}]}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_signalwire.testing.emulator.clock import iso8601
from airflow_provider_signalwire.testing.emulator.context import DEFAULT_PHONE_NUMBERS, Context
from airflow_provider_signalwire.testing.emulator.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from airflow_provider_signalwire.testing.emulator.records import PageToken, SortedRecords, SortKey, previous_anchor
from airflow_provider_signalwire.testing.emulator.replies import Reply, relay_error, relay_validation
from airflow_provider_signalwire.testing.emulator.routing import RELAY_PREFIX, ApiRequest, Route
from airflow_provider_signalwire.testing.emulator.validation import E164, UUID, first, is_http_url

LIST_PATH = f"{RELAY_PREFIX}/phone_numbers"
CAPABILITIES = ("voice", "sms", "mms", "fax")
NUMBER_TYPES = ("longcode", "toll-free")
_METHODS = ("GET", "POST")

# What UpdatePhoneNumberRequest accepts, by the check its value needs.
_CHOICES: dict[str, Sequence[str]] = {
    "call_handler": (
        "relay_context", "relay_topic", "relay_script", "relay_application", "relay_connector",
        "relay_sip_endpoint", "relay_verto_endpoint", "laml_webhooks", "laml_application", "dialogflow",
        "video_room",
    ),
    "message_handler": ("relay_context", "relay_topic", "relay_application", "laml_webhooks", "laml_application"),
    "call_receive_mode": ("voice", "fax"),
    "call_request_method": _METHODS,
    "call_fallback_method": _METHODS,
    "call_status_callback_method": _METHODS,
    "message_request_method": _METHODS,
    "message_fallback_method": _METHODS,
}  # fmt: skip
_URLS = frozenset(
    {
        "call_request_url", "call_fallback_url", "call_status_callback_url", "call_relay_topic_status_callback_url",
        "call_relay_script_url", "call_relay_context_status_callback_url", "message_request_url",
        "message_fallback_url",
    }
)  # fmt: skip
# The PhoneNumber resource types these as UUIDs, so an update must too or the answer would not be one.
_UUIDS = frozenset({"call_sip_endpoint_id", "call_video_room_id"})
_TEXT = frozenset(
    {
        "name", "call_laml_application_id", "call_dialogflow_agent_id", "call_relay_topic", "call_relay_context",
        "call_relay_application", "call_relay_connector_id", "call_verto_resource", "message_laml_application_id",
        "message_relay_topic", "message_relay_context",
    }
)  # fmt: skip
# In the update request but not in the PhoneNumber resource: accepted and not shown.
_WRITE_ONLY = frozenset({"message_relay_application"})
_UPDATABLE = frozenset(_CHOICES) | _URLS | _UUIDS | _TEXT | _WRITE_ONLY
# null clears a field, except where the resource requires a value (or, for name, the request a string).
_NOT_NULLABLE = frozenset({"name", "call_receive_mode"})


@dataclass(slots=True, eq=False)
class PhoneNumberRecord:
    key: SortKey
    data: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.data["id"])


def _new_number_fields(
    project_id: str, number: str, name: str | None, capabilities: Iterable[str], number_type: str, created: float
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"signalwire-emulator:{project_id}:{number}")),
        "number": number,
        "name": name,
        "capabilities": list(capabilities),
        "number_type": number_type,
        "e911_address_id": None,
        "e911_status": None,
        "created_at": iso8601(created),
        "updated_at": iso8601(created),
        "next_billed_at": iso8601(created + 30 * 86400),
        "call_handler": "laml_webhooks",
        "calling_handler_resource_id": None,
        "call_receive_mode": "voice",
        "call_request_url": None,
        "call_request_method": "POST",
        "call_fallback_url": None,
        "call_fallback_method": "POST",
        "call_status_callback_url": None,
        "call_status_callback_method": "POST",
        "call_laml_application_id": None,
        "call_dialogflow_agent_id": None,
        "call_relay_topic": None,
        "call_relay_topic_status_callback_url": None,
        "call_relay_script_url": None,
        "call_relay_context": None,
        "call_relay_context_status_callback_url": None,
        "call_relay_application": None,
        "call_relay_connector_id": None,
        "call_sip_endpoint_id": None,
        "call_verto_resource": None,
        "call_video_room_id": None,
        "message_handler": "laml_webhooks",
        "messaging_handler_resource_id": None,
        "message_request_url": None,
        "message_request_method": "POST",
        "message_fallback_url": None,
        "message_fallback_method": "POST",
        "message_laml_application_id": None,
        "message_relay_topic": None,
        "message_relay_context": None,
        "country_code": "US" if number.startswith("+1") else None,
    }


PHONE_NUMBER_FIELDS = frozenset(_new_number_fields("", "+1", None, (), "", 0))


class PhoneNumbers:
    """The project's phone numbers; two exist from the start."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._records: SortedRecords[PhoneNumberRecord] = SortedRecords()
        now = context.clock.now()
        for offset, number in enumerate(DEFAULT_PHONE_NUMBERS):
            created = now - (len(DEFAULT_PHONE_NUMBERS) - offset) * 86400
            self._add(number, f"Emulator line {offset + 1}", CAPABILITIES, "longcode", created)

    def routes(self) -> list[Route]:
        return [
            Route("relay", "GET", "phone_numbers", self._list),
            Route("relay", "GET", "phone_numbers/{id}", self._retrieve),
            Route("relay", "PUT", "phone_numbers/{id}", self._update),
        ]

    def views(self) -> list[dict[str, Any]]:
        """Every phone number as ``GET`` returns it, newest first."""
        return [_view(record) for record in self._records.newest_first()]

    def id_of(self, number: str) -> str | None:
        """The id of the project's phone number ``number``, or ``None`` when the project has no such number."""
        record = self.record_of(number)
        return None if record is None else record.sid

    def record_of(self, number: str) -> PhoneNumberRecord | None:
        """The project's phone number ``number``, or ``None``."""
        for record in self._records.newest_first():
            if record.data["number"] == number:
                return record
        return None

    def oldest_number(self) -> str | None:
        oldest = self._records.oldest()
        return None if oldest is None else str(oldest.data["number"])

    def add(
        self, number: str, name: str | None, capabilities: Sequence[str], number_type: str, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not E164.fullmatch(number):
            raise ValueError(f"Not an E.164 number: {number!r}")
        if number_type not in NUMBER_TYPES or not set(capabilities) <= set(CAPABILITIES):
            raise ValueError(f"number_type must be one of {NUMBER_TYPES}, capabilities among {CAPABILITIES}")
        unknown = set(fields) - PHONE_NUMBER_FIELDS
        if unknown:
            raise ValueError(f"Unknown PhoneNumber fields: {', '.join(sorted(unknown))}")
        if self.id_of(number) is not None:
            raise ValueError(f"{number} is already in the project")
        record = self._add(number, name, capabilities, number_type, self._context.clock.now())
        record.data.update(fields)
        return _view(record)

    def _add(
        self, number: str, name: str | None, capabilities: Iterable[str], number_type: str, created: float
    ) -> PhoneNumberRecord:
        fields = _new_number_fields(self._context.project_id, number, name, capabilities, number_type, created)
        record = PhoneNumberRecord(self._context.key(created), fields)
        self._records.add(record)
        return record

    # ------------------------------------------------------------------ routes

    def _list(self, request: ApiRequest) -> Reply:
        query = request.query
        size_text = first(query, "page_size") or str(DEFAULT_PAGE_SIZE)
        number_text = first(query, "page_number") or "0"
        token_text = first(query, "page_token")
        token = PageToken.decode(token_text) if token_text else None
        if not (size_text.isdigit() and 1 <= int(size_text) <= MAX_PAGE_SIZE) or not number_text.isdigit():
            raise relay_error(400)
        page_size, page_number = int(size_text), int(number_text)
        if (token_text and token is None) or (page_number > 0 and token is None):
            raise relay_error(400)
        name_filter, number_filter = first(query, "filter_name"), first(query, "filter_number")

        def match(record: PhoneNumberRecord) -> bool:
            return (not name_filter or name_filter in (record.data["name"] or "")) and (
                not number_filter or number_filter in record.data["number"]
            )

        filtering = bool(name_filter or number_filter)
        items, more = self._records.page(match if filtering else None, page_size, token)
        filters = [(k, v) for k in ("filter_name", "filter_number") if (v := first(query, k))]

        def link(number: int, page_token: str | None) -> str:
            pairs = [*filters, ("page_number", str(number)), ("page_size", str(page_size))]
            if page_token:
                pairs.append(("page_token", page_token))
            return f"{LIST_PATH}?{urlencode(pairs, quote_via=quote)}"

        links = {"self": link(page_number, token_text), "first": link(0, None)}
        if more and items:
            links["next"] = link(page_number + 1, PageToken("PA", items[-1].key).encode())
        if page_number > 0:
            anchor = previous_anchor(items, token)
            links["prev"] = link(page_number - 1, None if anchor is None else PageToken("PB", anchor).encode())
        return Reply(200, {"links": links, "data": [_view(r) for r in items]})

    def _retrieve(self, request: ApiRequest) -> Reply:
        return Reply(200, _view(self._find(request.params["id"])))

    def _update(self, request: ApiRequest) -> Reply:
        record = self._find(request.params["id"])
        try:
            changes = json.loads(request.raw_body or b"{}")
        except ValueError:
            changes = None
        if not isinstance(changes, dict):
            raise relay_validation(["The body must be a JSON object of UpdatePhoneNumberRequest fields"])
        problems = _update_problems(changes)
        if problems:
            raise relay_validation(problems)
        record.data.update({k: v for k, v in changes.items() if k not in _WRITE_ONLY})
        record.data["updated_at"] = iso8601(request.now)
        return Reply(200, _view(record))

    def _find(self, number_id: str) -> PhoneNumberRecord:
        record = self._records.get(number_id)
        if record is None:
            raise relay_error(404)
        return record


def _view(record: PhoneNumberRecord) -> dict[str, Any]:
    return dict(record.data, capabilities=list(record.data["capabilities"]))


def _update_problems(changes: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for name, value in changes.items():
        if name not in _UPDATABLE:
            problems.append(f"{name} is not a parameter that can be updated")
        elif value is None:
            if name in _NOT_NULLABLE:
                problems.append(f"{name} must be a string")
        elif not isinstance(value, str):
            problems.append(f"{name} must be a string")
        elif name in _CHOICES and value not in _CHOICES[name]:
            problems.append(f"{name} must be one of {', '.join(_CHOICES[name])}")
        elif name in _URLS and value and not is_http_url(value):
            problems.append(f"{name} must be an http(s) URL")
        elif name in _UUIDS and not UUID.fullmatch(value):
            problems.append(f"{name} must be a UUID")
        elif name == "name" and len(value) > 255:
            problems.append("name must be at most 255 characters")
    return problems
