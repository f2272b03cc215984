"""Operators for the phone numbers of a Space: point a number's webhooks at a URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.api.resources.phone_numbers import (
    PHONE_NUMBERS,
    UPDATE_PHONE_NUMBER,
    WEBHOOK_PARAMS,
    phone_number_reference,
)
from airflow_provider_signalwire.compat import AirflowFailException
from airflow_provider_signalwire.operators.base import SignalWireBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The fields of the phone number returned to XCom: what it is and where its webhooks go.
RESULT_FIELDS = ("id", "number", "name", "call_handler", "message_handler", *WEBHOOK_PARAMS)


class SignalWireSetPhoneNumberWebhooksOperator(SignalWireBaseOperator):
    """
    Point a Space phone number's incoming-message and/or incoming-call webhook at a URL.

    Uses the Relay REST API (``PUT /api/relay/rest/phone_numbers/{id}``; the API token needs the *Numbers*
    scope). Giving ``message_request_url`` sets the number's message handler to cXML webhooks at that URL;
    ``call_request_url`` does the same for calls. Repeating the task changes nothing more. Returns the
    number's id, number, name, handlers and webhook settings.

    To feed the provider's webhook receiver, use
    :func:`~airflow_provider_signalwire.webhooks.webhook_url`, e.g.
    ``message_request_url=webhook_url("https://airflow.example.com", "signalwire_default", "messages")``.

    Every argument is templated; those left ``None`` are not changed.

    :param phone_number: the number, in E.164 form (``+15551234567``), or its phone number id (a UUID).
    :param message_request_url: the URL SignalWire requests when a message comes in.
    :param message_request_method: ``POST`` (default at SignalWire) or ``GET``.
    :param message_fallback_url: the URL requested when the first one fails.
    :param call_request_url: the URL SignalWire requests when a call comes in.
    :param call_request_method: ``POST`` or ``GET``.
    :param call_fallback_url: the URL requested when the first one fails.
    :param call_status_callback_url: the URL told of the status changes of incoming calls.
    :param call_status_callback_method: ``POST`` or ``GET``.
    :param signalwire_conn_id: the Airflow connection to SignalWire.
    """

    template_fields: Sequence[str] = (*SignalWireBaseOperator.template_fields, "phone_number", *WEBHOOK_PARAMS)

    def __init__(
        self,
        *,
        phone_number: str,
        message_request_url: str | None = None,
        message_request_method: str | None = None,
        message_fallback_url: str | None = None,
        call_request_url: str | None = None,
        call_request_method: str | None = None,
        call_fallback_url: str | None = None,
        call_status_callback_url: str | None = None,
        call_status_callback_method: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.phone_number = phone_number
        self.keep_arguments(locals(), WEBHOOK_PARAMS)

    def execute(self, context: Context) -> dict[str, Any]:
        changes = self.present_arguments(WEBHOOK_PARAMS)
        # Both checks come before any request.
        sent = UPDATE_PHONE_NUMBER.effective(changes, self.hook.settings.defaults)
        UPDATE_PHONE_NUMBER.encode(changes, self.hook.settings.defaults)
        kind, value = phone_number_reference(self.phone_number)
        number_id = value if kind == "id" else self._find_id(value)
        updated = self.hook.update_phone_number(number_id, **changes)
        result = {name: updated.get(name) for name in RESULT_FIELDS} if isinstance(updated, dict) else {}
        self.log.info(
            "SignalWire phone number %s (%s): %s",
            result.get("number") or self.phone_number,
            number_id,
            ", ".join(f"{name}={value}" for name, value in sent.items()),
        )
        return result

    def _find_id(self, number: str) -> str:
        # The API filters by substring: the exact number is looked for among what it lists.
        for item in self.hook.list(PHONE_NUMBERS, number=number):
            if item.get("number") == number and item.get("id"):
                return str(item["id"])
        raise AirflowFailException(
            f"SignalWire phone number {number} is not in the project of connection {self.signalwire_conn_id!r}."
        )
