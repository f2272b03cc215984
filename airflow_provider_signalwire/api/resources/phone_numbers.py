"""Phone numbers of the Space: the Relay REST API's ``/api/relay/rest/phone_numbers``."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_signalwire.api.params import E164_PATTERN, Method, Param, Url
from airflow_provider_signalwire.api.resource import Operation, Resource, relay_paging
from airflow_provider_signalwire.api.rules import Implies, OneOf
from airflow_provider_signalwire.exceptions import SignalWireInputError

# The handler that makes SignalWire request a URL (cXML webhooks) when a call or a message comes in.
WEBHOOK_HANDLER = "laml_webhooks"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: What a number's webhooks can be set to.
WEBHOOK_PARAMS: dict[str, Param] = {
    "message_request_url": Url("message_request_url"),
    "message_request_method": Method("message_request_method"),
    "message_fallback_url": Url("message_fallback_url"),
    "call_request_url": Url("call_request_url"),
    "call_request_method": Method("call_request_method"),
    "call_fallback_url": Url("call_fallback_url"),
    "call_status_callback_url": Url("call_status_callback_url"),
    "call_status_callback_method": Method("call_status_callback_method"),
}

UPDATE_PHONE_NUMBER = Operation(
    "update_phone_number",
    {**WEBHOOK_PARAMS, "message_handler": Param("message_handler"), "call_handler": Param("call_handler")},
    rules=(
        OneOf(
            "message_request_url",
            "call_request_url",
            exactly=False,
            why="the URL SignalWire requests when a message or a call comes in",
        ),
        # Giving a request URL points that handler at webhooks.
        Implies("message_request_url", "message_handler", WEBHOOK_HANDLER),
        Implies("call_request_url", "call_handler", WEBHOOK_HANDLER),
    ),
    method="PUT",
    json=True,
)

PHONE_NUMBERS = Resource(
    "phone_numbers",
    singular="phone number",
    path="/api/relay/rest/phone_numbers",
    paging=relay_paging("data"),
    update=UPDATE_PHONE_NUMBER,
    # The API filters by substring: a listing for one number may hold others that contain it.
    filters={"number": Param("filter_number"), "name": Param("filter_name")},
)


def phone_number_reference(value: Any) -> tuple[str, str]:
    """``("number", "+1...")`` for an E.164 number, ``("id", "<uuid>")`` for a phone number id."""
    if isinstance(value, str) and re.fullmatch(E164_PATTERN, value):
        return "number", value
    if isinstance(value, str) and _UUID.fullmatch(value):
        return "id", value.lower()
    raise SignalWireInputError(
        f"SignalWire phone number: 'phone_number' must be an E.164 number such as +15551234567 or a phone "
        f"number id (a UUID); got {value!r}."
    )
