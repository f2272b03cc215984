"""Messages (SMS and MMS) and their media: the Compatibility API's ``/Accounts/{ProjectId}/Messages``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from airflow_provider_signalwire.api.params import E164, Choice, Cleared, Flag, ListOf, Param, Price, Url, WholeNumber
from airflow_provider_signalwire.api.resource import DateFilter, Operation, Resource, compatibility_paging
from airflow_provider_signalwire.api.resources import COMPATIBILITY_ACCOUNT
from airflow_provider_signalwire.api.rules import OneOf, Required
from airflow_provider_signalwire.api.statuses import Statuses

MAX_BODY_LENGTH = 1600
MAX_MEDIA_URLS = 8
MESSAGE_STATUSES = (
    "queued",
    "initiated",
    "sending",
    "sent",
    "failed",
    "delivered",
    "undelivered",
    "receiving",
    "received",
)

CREATE_MESSAGE = Operation(
    "create_message",
    {
        "to": E164("To"),
        "from_": Param("From"),
        "body": Param("Body", max_length=MAX_BODY_LENGTH),
        "media_url": ListOf("MediaUrl", urls=True, max_items=MAX_MEDIA_URLS),
        "application_sid": Param("ApplicationSid"),
        "max_price": Price("MaxPrice"),
        "status_callback": Url("StatusCallback"),
        "validity_period": WholeNumber("ValidityPeriod", 1, 172800),
        "messaging_service_sid": Param("MessagingServiceSid"),
        "send_as_mms": Flag("SendAsMms"),
    },
    rules=(
        Required("to"),
        Required("from_", unless=("messaging_service_sid",), default="default_from"),
        OneOf("body", "media_url", exactly=False),
    ),
    is_create=True,
)
# The only update a message allows is an empty Body, which clears it (redaction).
REDACT_MESSAGE = Operation("redact_message", {"body": Cleared("Body")}, rules=(Required("body", empty=True),))


def media_count(media_url: Any) -> int:
    """How many media a create's ``media_url`` argument names."""
    if not media_url:
        return 0
    return 1 if isinstance(media_url, str) else len(list(media_url))


def is_mms(message: Mapping[str, Any]) -> bool:
    """Whether a message is an MMS (it then never gets a delivery report)."""
    try:
        return int(message.get("num_media") or 0) > 0
    except (TypeError, ValueError):
        return False


def sent_as_mms(arguments: Mapping[str, Any]) -> bool:
    """Whether a create with these arguments sends an MMS (with media, or ``send_as_mms``)."""
    return media_count(arguments.get("media_url")) > 0 or str(arguments.get("send_as_mms")).lower() == "true"


def text_digest(text: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()


def message_fingerprint(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """What recognises the message a create with ``arguments`` sent, without its text: a salted digest of it."""
    salt = secrets.token_hex(8)
    return {
        "body_sha256": text_digest(arguments.get("body") or "", salt),
        "salt": salt,
        "num_media": media_count(arguments.get("media_url")),
        "messaging_service_sid": arguments.get("messaging_service_sid"),
    }


def same_message(fingerprint: Mapping[str, Any], message: Mapping[str, Any]) -> bool:
    """Whether ``message`` is the one a create with this fingerprint sent: same text, media count and service."""
    service = fingerprint.get("messaging_service_sid")
    return (
        text_digest(message.get("body") or "", str(fingerprint.get("salt"))) == fingerprint.get("body_sha256")
        and int(message.get("num_media") or 0) == fingerprint.get("num_media")
        and (not service or message.get("messaging_service_sid") == service)
    )


MESSAGES = Resource(
    "messages",
    singular="message",
    path=f"{COMPATIBILITY_ACCOUNT}/Messages",
    paging=compatibility_paging("messages"),
    create=CREATE_MESSAGE,
    update=REDACT_MESSAGE,
    filters={"to": Param("To"), "from_": Param("From"), "status": Choice("Status", *MESSAGE_STATUSES)},
    date_filters={"date_sent": DateFilter("DateSent", "date_sent")},
    statuses=Statuses(
        "message",
        known=MESSAGE_STATUSES,
        final=frozenset({"delivered", "undelivered", "failed"}),
        failed=frozenset({"undelivered", "failed"}),
        # An MMS gets no delivery report: "sent" is as far as it goes.
        final_without_report=frozenset({"sent"}),
        gets_no_report=is_mms,
        created_without_report=sent_as_mms,
    ),
    # A message counts from when it was sent or received; a queued one is seen once it is sent.
    watch_date="date_sent",
    list_order=("date_created", "date_sent"),
    fingerprint=message_fingerprint,
    same_item=same_message,
)

# A message's media (an MMS's pictures): ``.../Messages/{Sid}/Media``; the path needs the message's SID.
MESSAGE_MEDIA = Resource(
    "media",
    singular="media item",
    path=f"{COMPATIBILITY_ACCOUNT}/Messages/{{parent_sid}}/Media",
    paging=compatibility_paging("media_list"),
)


def media_content_url(base_url: str, media: Mapping[str, Any]) -> str | None:
    """
    Where a media item's content is: its ``uri`` without ``.json``, on the connection's base URL.

    (The Compatibility API's convention; the content needs the same Basic auth as the API.)
    """
    uri = media.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        return None
    path = uri.split("?", 1)[0]
    return base_url + (path[: -len(".json")] if path.endswith(".json") else path)
