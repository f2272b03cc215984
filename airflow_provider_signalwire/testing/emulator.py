"""
A local, in-memory SignalWire server for tests, demos and benchmarks.

What it emulates
================
* The Compatibility ("LaML" / cXML) REST API for **Calls** and **Messages**, under
  ``/api/laml/2010-04-01/Accounts/{ProjectId}`` (also without ``/api/laml``, as the twilio-based SDK calls it,
  and with or without a ``.json`` suffix): list (filters, token pagination), create, retrieve, update (call
  cancel / hang-up / redirect, message redaction) and delete. Request bodies are form-encoded; responses carry
  every field of the spec's ``Call`` and ``Message`` resources, UUID sids and RFC 2822 dates.
* **Relay REST phone numbers**: ``GET /api/relay/rest/phone_numbers`` (``filter_name``, ``filter_number``,
  ``page_size``, ``page_number`` + ``page_token``), ``GET`` and ``PUT /api/relay/rest/phone_numbers/{id}``
  (JSON). Two numbers exist from the start: ``+15550000001`` and ``+15550000002``.
* HTTP Basic auth: user = project id, password = API token. Control routes (below) need none.

Statuses move on with elapsed time, computed when a resource is read (no background thread), one
``status_step_seconds`` apart:

* message: ``queued`` → ``sent`` (``date_sent`` and ``price`` set) → ``delivered``; an MMS (``MediaUrl`` given or
  ``SendAsMms=true``) stops at ``sent``, as MMS gets no delivery report.
* call: ``queued`` → ``ringing`` → ``in-progress`` (``start_time``) → ``completed`` (``end_time``, ``duration``).

``advance_clock(seconds)`` moves the emulator's clock on, so tests can step statuses without sleeping.
Outbound ``From`` numbers are not checked against the project unless ``require_owned_from=True``
(``--require-owned-from``). No webhooks or status callbacks are sent.

Magic destination numbers (the ``To`` of an outbound call or message)
=====================================================================
===================  ===========================================================================
``+15005550001``     message ends ``undelivered``, ``error_code`` ``"30003"`` (unreachable handset)
``+15005550002``     message ends ``failed``, ``error_code`` ``"30007"`` (filtered), never sent
``+15005550003``     call: ringing, then ``busy``
``+15005550004``     call: ringing, then ``no-answer``
``+15005550005``     call: ``failed`` at once
``+15005550006``     call is answered and stays ``in-progress`` until hung up (``Status=completed``)
``+15005550007``     call or message stays ``queued`` forever (a full backlog)
===================  ===========================================================================

Errors
======
Bodies follow the three Compatibility shapes: plain ``{"code": int, "message", "more_info", "status"}``; the
call-create 400 ``{"errors": [{"code": "21205", "message", "more_info"}]}`` (code a string); and the 422
``{"errors": ["..."]}`` used for values outside a parameter's schema (an enum value, a range, a pattern).
Relay REST errors are ``{"error": "Not Found"}`` (400/401/404/405) or a 422
``{"errors": [{"type", "code", "message", "attribute", "url"}]}``.

=======  ======  ==============  ============================================================================
code     HTTP    shape           when
=======  ======  ==============  ============================================================================
20003    401     plain           missing or wrong credentials, or a path AccountSid that is not the project
20004    405     plain           method not allowed on the route
20404    404     plain           unknown sid or path
20009    400     plain           delete a call that is not finished, or a message still queued
21205    400     errors array    call create without ``Url`` and ``ApplicationSid``, or with both
21211    400     plain / array   bad or missing ``To`` (array shape on call create)
21212    400     plain / array   bad or missing ``From`` (and no ``MessagingServiceSid`` on a message)
21210    422     plain           ``From`` not a project number, only with ``require_owned_from=True``; on
                                 messages reproduces a recorded exchange: ``"code": "21210"`` (a string) and
                                 body ``"status": 400`` on an HTTP 422
21602    400     plain           message with neither ``Body`` nor ``MediaUrl``
21617    400     plain           ``Body`` over 1600 characters
21620    400     plain           a ``MediaUrl`` that is not an http(s) URL
21623    400     plain           more than 8 ``MediaUrl``
21624    400     plain           ``ValidityPeriod`` not an integer in 1..172800
54454    400     plain           ``PageSize`` not an integer in 1..1000
54453    400     plain           ``Page`` > 0 without a valid ``PageToken`` (or an invalid token)
50509    422     plain           redact with a non-empty ``Body``
10000    400     plain           redact a message still queued; cancel an in-progress call; update a finished call
21220    400     plain           redirect (``Url``) a call that is not in progress
(none)   422     string array    e.g. ``Status=bogus`` or ``Method=PUT`` on a call update, ``Timeout`` outside
                                 1..600, a bad ``SendDigits``, a malformed date filter
=======  ======  ==============  ============================================================================

Fault injection
===============
``add_fault(kind=..., method=..., path=<regex>, times=N, ...)``: ``path`` is searched in the request path with
any ``.json`` stripped; the fault fires for the next ``times`` matching API requests, then is gone. Kinds:

* ``"status"``: answer ``status`` (default 500) with an error body; ``body_shape`` picks it: ``"plain"``,
  ``"errors_array"``, ``"string_array"``, ``"relay"``, ``"html"`` (a proxy's page) or ``"empty"``.
* ``"429"``: answer 429 with the 20429 body and ``Retry-After: <retry_after>`` (seconds; ``None`` omits it).
* ``"slow"``: sleep ``delay`` seconds, then answer normally.
* ``"drop_before"``: close the connection without an answer and without processing the request.
* ``"drop_after"``: process the request fully (a message is really created), then close without an answer.

Every API request, faulted or not, lands in the request log with the kind of fault that fired (or ``None``).
The Authorization header is never logged.

Control API (no auth, never faulted or logged)
==============================================
``GET /__emulator__/health``, ``GET /__emulator__/state`` (messages, calls, phone numbers, faults),
``GET /__emulator__/requests`` (``?method=&path_regex=``), ``POST /__emulator__/reset``,
``POST /__emulator__/inbound/messages`` and ``/inbound/calls`` (JSON like the Python methods),
``GET|POST|DELETE /__emulator__/faults``, ``POST /__emulator__/seed/messages``,
``POST /__emulator__/phone_numbers``, ``POST /__emulator__/clock`` (``{"advance_seconds": n}``).

Command line
============
``python -m airflow_provider_signalwire.testing.emulator --host 127.0.0.1 --port 8765`` prints one line,
``signalwire-emulator base_url=<url> conn_uri=<airflow connection uri>``, then serves until SIGINT or SIGTERM
and exits 0. A non-loopback ``--host`` is refused unless ``--allow-remote`` is given.

This module imports only the standard library: DAG authors' tests import it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import email.utils
import functools
import hmac
import ipaddress
import itertools
import json
import math
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, Self, TypeVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

__all__ = [
    "CALL_BUSY_NUMBER",
    "CALL_FAILED_NUMBER",
    "CALL_LONG_NUMBER",
    "CALL_NO_ANSWER_NUMBER",
    "DEFAULT_API_TOKEN",
    "DEFAULT_PHONE_NUMBERS",
    "DEFAULT_PROJECT_ID",
    "MESSAGE_FAILED_NUMBER",
    "MESSAGE_UNDELIVERED_NUMBER",
    "STAYS_QUEUED_NUMBER",
    "Fault",
    "SignalWireEmulator",
    "main",
]

DEFAULT_PROJECT_ID = "5f1c2a3b-7d4e-4f60-8a9b-0c1d2e3f4a5b"
DEFAULT_API_TOKEN = "PTtest-token"  # noqa: S105 - a fake token for a local fake server
DEFAULT_PHONE_NUMBERS = ("+15550000001", "+15550000002")

MESSAGE_UNDELIVERED_NUMBER = "+15005550001"
MESSAGE_FAILED_NUMBER = "+15005550002"
CALL_BUSY_NUMBER = "+15005550003"
CALL_NO_ANSWER_NUMBER = "+15005550004"
CALL_FAILED_NUMBER = "+15005550005"
CALL_LONG_NUMBER = "+15005550006"
STAYS_QUEUED_NUMBER = "+15005550007"

API_VERSION = "2010-04-01"
COMPAT_PREFIX = "/api/laml/2010-04-01"
RELAY_PHONE_NUMBERS_PATH = "/api/relay/rest/phone_numbers"
CONTROL_PREFIX = "/__emulator__/"
MORE_INFO = "https://signalwire.com/docs/compatibility-api/reference/errors"
RELAY_ERRORS_URL = "https://signalwire.com/docs/apis/error-codes"
JSON_TYPE = "application/json; charset=utf-8"

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_BODY_LENGTH = 1600
MAX_MEDIA = 8

CALL_STATUSES = ("queued", "ringing", "in-progress", "canceled", "completed", "busy", "failed", "no-answer")
CALL_FINAL_STATUSES = frozenset({"canceled", "completed", "busy", "failed", "no-answer"})
MESSAGE_STATUSES = frozenset(
    {"queued", "initiated", "sending", "sent", "failed", "delivered", "undelivered", "receiving", "received"}
)
MESSAGE_IN_PROGRESS = frozenset({"queued", "initiated"})
CALL_STATUS_CALLBACK_EVENTS = frozenset(
    {"initiated", "ringing", "answered", "completed", "ringing_forwarded", "ringing_queued"}
)

FaultKind = Literal["status", "429", "slow", "drop_before", "drop_after"]
BodyShape = Literal["plain", "errors_array", "string_array", "relay", "html", "empty"]
FAULT_KINDS = ("status", "429", "slow", "drop_before", "drop_after")
BODY_SHAPES = ("plain", "errors_array", "string_array", "relay", "html", "empty")

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_SIP_URI = re.compile(r"sips?:[^@\s]+@[^@\s]+")
_CLIENT_ID = re.compile(r"client:[A-Za-z0-9_.\-]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SEND_DIGITS = re.compile(r"[0-9#*wW]{1,32}")
_PRICE = re.compile(r"[0-9]+\.?[0-9]{0,4}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_COMPAT_ROUTE = re.compile(
    r"^(?:/api/laml)?/2010-04-01/Accounts/(?P<account>[^/]+)"
    r"/(?P<collection>Calls|Messages)(?:/(?P<sid>[^/.]+))?(?P<suffix>\.json)?/?$"
)
_COMPAT_ACCOUNT = re.compile(r"^(?:/api/laml)?/2010-04-01/Accounts/(?P<account>[^/.]+)")
_RELAY_ROUTE = re.compile(r"^/api/relay/rest/phone_numbers(?:/(?P<id>[^/]+))?/?$")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_RELAY_ERROR_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

SortKey = tuple[float, int]


# --------------------------------------------------------------------------------------------------
# Small helpers: time, formats, validation
# --------------------------------------------------------------------------------------------------


def _rfc2822(ts: float | None) -> str | None:
    """``Wed, 19 Sep 2018 20:00:00 +0000``."""
    return None if ts is None else _rfc2822_second(math.floor(ts))


@functools.lru_cache(maxsize=1 << 16)
def _rfc2822_second(second: int) -> str:
    # Built by hand: strftime's day and month names follow the locale.
    t = time.gmtime(second)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _iso8601(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(value: datetime | str | float | int) -> float:
    """Seconds since the epoch from a datetime (naive = UTC), an ISO 8601 / RFC 2822 string or a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a date-time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        value = _parse_datetime_text(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not a date-time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _parse_datetime_text(text: str) -> datetime:
    text = text.strip()
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    return datetime.fromisoformat(text)


def _format_number(number: str) -> str:
    """``(555) 000-0001`` for a North American number, the address unchanged otherwise."""
    if len(number) == 12 and number.startswith("+1") and number[1:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def _segments(body: str) -> int:
    if not body:
        return 0
    single, multi = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / multi)


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _strip_json(path: str) -> str:
    return path[: -len(".json")] if path.endswith(".json") else path


def _first(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _encode_token(prefix: str, key: SortKey) -> str:
    raw = f"{key[0]!r}:{key[1]}".encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, SortKey] | None:
    if len(token) < 3 or token[:2] not in ("PA", "PB"):
        return None
    body = token[2:]
    try:
        created_text, _, seq_text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().partition(":")
        key = (float(created_text), int(seq_text))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not math.isfinite(key[0]):
        return None
    return token[:2], key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------------
# Errors and replies
# --------------------------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    raw: bytes | None = None

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


class _ApiError(Exception):
    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _plain(status: int, code: int | str, message: str, body_status: int | None = None) -> _ApiError:
    body = {"code": code, "message": message, "more_info": MORE_INFO, "status": body_status or status}
    return _ApiError(_Reply(status, body))


def _errors_array(status: int, code: int | str, message: str) -> _ApiError:
    return _ApiError(_Reply(status, {"errors": [{"code": str(code), "message": message, "more_info": MORE_INFO}]}))


def _string_array(messages: Sequence[str]) -> _ApiError:
    return _ApiError(_Reply(422, {"errors": list(messages)}))


def _relay_error(status: int) -> _ApiError:
    return _ApiError(_Reply(status, {"error": _RELAY_ERROR_TEXT.get(status, "Error")}))


def _relay_validation(items: Sequence[tuple[str, str, str | None]]) -> _ApiError:
    errors = [
        {
            "type": "validation_error",
            "code": code,
            "message": message,
            "attribute": attribute,
            "url": f"{RELAY_ERRORS_URL}#{code}",
        }
        for code, message, attribute in items
    ]
    return _ApiError(_Reply(422, {"errors": errors}))


def _not_found(path: str) -> _ApiError:
    return _plain(404, 20404, f"The requested resource {path} was not found")


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """
    A failure the emulator serves instead of (or around) the normal answer, for the next ``times`` requests.

    :param kind: ``"status"``, ``"429"``, ``"slow"``, ``"drop_before"`` or ``"drop_after"``.
    :param method: the HTTP method to match; ``None`` matches any.
    :param path: a regex searched in the request path with any ``.json`` stripped; ``""`` matches any.
    :param times: how many matching requests it fires for; ``remaining`` counts down to 0, then it is gone.
    :param status: the HTTP status of a ``"status"`` fault (default 500).
    :param retry_after: the ``Retry-After`` seconds of a ``"429"``; ``None`` sends no header.
    :param delay: the sleep of a ``"slow"`` fault, in seconds.
    :param body_shape: ``"plain"``, ``"errors_array"``, ``"string_array"``, ``"relay"``, ``"html"`` or
        ``"empty"``; by default ``"relay"`` on Relay REST paths, ``"plain"`` elsewhere.
    :param code: the error code in the body (default 20000 + status); a string is sent as a string.
    :param message: the error message in the body.
    """

    kind: FaultKind
    method: str | None = None
    path: str = ""
    times: int = 1
    status: int | None = None
    retry_after: float | None = 1
    delay: float = 1.0
    body_shape: BodyShape | None = None
    code: int | str | None = None
    message: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault kind {self.kind!r}: use one of {', '.join(FAULT_KINDS)}")
        if self.body_shape is not None and self.body_shape not in BODY_SHAPES:
            raise ValueError(f"Unknown body_shape {self.body_shape!r}: use one of {', '.join(BODY_SHAPES)}")
        if isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1:
            raise ValueError("times must be a positive integer")
        # Values may arrive as JSON strings through the control API.
        self.status = None if self.status is None else int(self.status)
        self.retry_after = None if self.retry_after is None else float(self.retry_after)
        self.delay = float(self.delay)
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.delay < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("delay and retry_after must not be negative")
        self.method = self.method.upper() if self.method else None
        self._pattern = re.compile(self.path or "")
        self.remaining = self.times

    def matches(self, method: str, route_path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self._pattern.search(route_path))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------------
# Stored resources
# --------------------------------------------------------------------------------------------------


class _Keyed(Protocol):
    @property
    def key(self) -> SortKey: ...


class _Record(_Keyed, Protocol):
    pending: list[tuple[float, dict[str, Any]]]
    updated: float
    rendered: dict[str, Any] | None


_K = TypeVar("_K", bound=_Keyed)


def _sort_key(record: _Keyed) -> SortKey:
    return record.key


def _previous_anchor(items: Sequence[_Keyed], token: tuple[str, SortKey] | None) -> SortKey | None:
    """The key a ``PB`` token needs so that the previous page ends just before this one."""
    if items:
        return items[0].key
    if token is None:
        return None
    # An empty page reached by "PA" + k: the previous page still holds the item keyed k.
    return token[1] if token[0] == "PB" else (token[1][0], token[1][1] - 1)


def _view_copy(view: dict[str, Any]) -> dict[str, Any]:
    """A copy of a cached resource view that callers may change freely."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in view.items()}


@dataclass(slots=True, eq=False)
class _Message:
    sid: str
    key: SortKey
    updated: float
    from_: str
    to: str
    body: str | None
    media_urls: list[str]
    direction: str
    status: str
    sent: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    price: float | None = None
    messaging_service_sid: str | None = None
    pending: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rendered: dict[str, Any] | None = None


@dataclass(slots=True, eq=False)
class _Call:
    sid: str
    key: SortKey
    updated: float
    from_: str
    to: str
    direction: str
    status: str
    phone_number_sid: str | None
    parent_call_sid: str | None = None
    start: float | None = None
    end: float | None = None
    duration: int = 0
    price: float | None = None
    answered_by: str | None = None
    sip_result_code: str | None = None
    audio_stats: bool = False
    url: str | None = None
    method: str = "POST"
    pending: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    rendered: dict[str, Any] | None = None


@dataclass(slots=True, eq=False)
class _PhoneNumber:
    key: SortKey
    data: dict[str, Any]


_PHONE_NUMBER_CALL_HANDLERS = frozenset(
    {
        "relay_context",
        "relay_topic",
        "relay_script",
        "relay_application",
        "relay_connector",
        "relay_sip_endpoint",
        "relay_verto_endpoint",
        "laml_webhooks",
        "laml_application",
        "dialogflow",
        "video_room",
    }
)
_PHONE_NUMBER_MESSAGE_HANDLERS = frozenset(
    {"relay_context", "relay_topic", "relay_application", "laml_webhooks", "laml_application"}
)
_PHONE_NUMBER_ENUMS: dict[str, frozenset[str]] = {
    "call_handler": _PHONE_NUMBER_CALL_HANDLERS,
    "message_handler": _PHONE_NUMBER_MESSAGE_HANDLERS,
    "call_receive_mode": frozenset({"voice", "fax"}),
    "call_request_method": frozenset({"GET", "POST"}),
    "call_fallback_method": frozenset({"GET", "POST"}),
    "call_status_callback_method": frozenset({"GET", "POST"}),
    "message_request_method": frozenset({"GET", "POST"}),
    "message_fallback_method": frozenset({"GET", "POST"}),
}
_PHONE_NUMBER_URLS = frozenset(
    {
        "call_request_url",
        "call_fallback_url",
        "call_status_callback_url",
        "call_relay_topic_status_callback_url",
        "call_relay_script_url",
        "call_relay_context_status_callback_url",
        "message_request_url",
        "message_fallback_url",
    }
)
_PHONE_NUMBER_TEXT = frozenset(
    {
        "name",
        "call_laml_application_id",
        "call_dialogflow_agent_id",
        "call_relay_topic",
        "call_relay_context",
        "call_relay_application",
        "call_relay_connector_id",
        "call_sip_endpoint_id",
        "call_verto_resource",
        "call_video_room_id",
        "message_laml_application_id",
        "message_relay_topic",
        "message_relay_context",
    }
)
# In the update request but not in the PhoneNumber resource: accepted and not shown.
_PHONE_NUMBER_WRITE_ONLY = frozenset({"message_relay_application"})
_PHONE_NUMBER_UPDATABLE = (
    frozenset(_PHONE_NUMBER_ENUMS) | _PHONE_NUMBER_URLS | _PHONE_NUMBER_TEXT | _PHONE_NUMBER_WRITE_ONLY
)


def _new_phone_number(
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
        "created_at": _iso8601(created),
        "updated_at": _iso8601(created),
        "next_billed_at": _iso8601(created + 30 * 86400),
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


# --------------------------------------------------------------------------------------------------
# Lists: filters and token pagination over a list kept sorted by (date_created, insertion)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Window:
    """A half-open interval of epoch seconds a date must fall in: ``lo <= t < hi``."""

    lo: float = -math.inf
    hi: float = math.inf

    def narrow(self, name: str, operator: str, raw: str) -> None:
        if _DAY.fullmatch(raw):
            try:
                start = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC).timestamp()
            except ValueError as err:
                raise _string_array([f"{name}{operator} is not a valid date: {raw!r}"]) from err
            lo, hi = start, start + 86400
        else:
            try:
                second = math.floor(_timestamp(raw))
            except (ValueError, OverflowError) as err:
                raise _string_array(
                    [f"{name}{operator} must be a date (YYYY-MM-DD) or an RFC 2822 / ISO 8601 date-time: {raw!r}"]
                ) from err
            lo, hi = second, second + 1
        if operator == ">":
            hi = math.inf
        elif operator == "<":
            lo = -math.inf
        self.lo = max(self.lo, lo)
        self.hi = min(self.hi, hi)

    def contains(self, ts: float | None) -> bool:
        return ts is not None and self.lo <= ts < self.hi


def _date_windows(query: Mapping[str, list[str]], names: Sequence[str]) -> dict[str, _Window]:
    windows: dict[str, _Window] = {}
    for name in names:
        for operator in ("", "<", ">"):
            raw = _first(query, name + operator)
            if raw:
                windows.setdefault(name, _Window()).narrow(name, operator, raw)
    return windows


def _walk_page(
    items: list[_K], match: Callable[[_K], bool], page_size: int, token: tuple[str, SortKey] | None
) -> tuple[list[_K], bool]:
    """One page, newest first, and whether older matching items exist after it."""
    if token is None or token[0] == "PA":
        index = len(items) - 1 if token is None else bisect_left(items, token[1], key=_sort_key) - 1
        page: list[_K] = []
        while index >= 0:
            item = items[index]
            if match(item):
                if len(page) == page_size:
                    return page, True
                page.append(item)
            index -= 1
        return page, False
    # "PB": the page just newer than the key, as reached by previous_page_uri.
    index = bisect_right(items, token[1], key=_sort_key)
    page = []
    while index < len(items) and len(page) < page_size:
        if match(items[index]):
            page.append(items[index])
        index += 1
    page.reverse()
    floor = page[-1].key if page else token[1]
    index = bisect_left(items, floor, key=_sort_key) - 1
    while index >= 0:
        if match(items[index]):
            return page, True
        index -= 1
    return page, False


# --------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------


class SignalWireEmulator:
    """
    An in-memory SignalWire Compatibility API (Calls, Messages) and Relay REST phone numbers server.

    :param project_id: the project id (AccountSid, Basic auth user).
    :param api_token: the API token (Basic auth password).
    :param host: the address to bind; loopback by default.
    :param port: the port to bind; 0 picks a free one.
    :param status_step_seconds: the time between two status changes of a call or message.
    :param require_owned_from: refuse a ``From`` that is not one of the project's numbers (21210).
    """

    def __init__(
        self,
        project_id: str = DEFAULT_PROJECT_ID,
        api_token: str = DEFAULT_API_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        status_step_seconds: float = 0.2,
        *,
        require_owned_from: bool = False,
    ) -> None:
        if status_step_seconds < 0:
            raise ValueError("status_step_seconds must not be negative")
        self._project_id = project_id
        self._api_token = api_token
        self._host = host
        self._requested_port = port
        self.status_step_seconds = float(status_step_seconds)
        self.require_owned_from = require_owned_from
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._init_state()

    def _init_state(self) -> None:
        with self._lock:
            self._clock_offset = 0.0
            self._seq = itertools.count()
            self._messages: list[_Message] = []
            self._messages_by_sid: dict[str, _Message] = {}
            self._calls: list[_Call] = []
            self._calls_by_sid: dict[str, _Call] = {}
            self._numbers: list[_PhoneNumber] = []
            self._numbers_by_id: dict[str, _PhoneNumber] = {}
            self._faults: list[Fault] = []
            self._log: list[dict[str, Any]] = []
            now = self._now()
            for offset, number in enumerate(DEFAULT_PHONE_NUMBERS):
                created = now - (len(DEFAULT_PHONE_NUMBERS) - offset) * 86400
                capabilities = ("voice", "sms", "mms", "fax")
                self._add_number(number, f"Emulator line {offset + 1}", capabilities, "longcode", created)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind the port and serve in a background daemon thread."""
        if self._server is not None:
            return self
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        self._server = _Server((self._host, self._requested_port), self, family)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="signalwire-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The emulator is not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return self._host

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def project_id(self) -> str:
        return self._project_id

    @property
    def api_token(self) -> str:
        return self._api_token

    def connection_uri(self) -> str:
        """An Airflow connection URI (``AIRFLOW_CONN_...``) pointing at this emulator."""
        return (
            f"signalwire://{quote(self._project_id, safe='')}:{quote(self._api_token, safe='')}"
            f"@example.signalwire.com?base_url={quote(self.base_url, safe='')}"
        )

    def connection_json(self) -> str:
        """The JSON form of :meth:`connection_uri`."""
        return json.dumps(
            {
                "conn_type": "signalwire",
                "host": "example.signalwire.com",
                "login": self._project_id,
                "password": self._api_token,
                "extra": {"base_url": self.base_url},
            }
        )

    def reset(self) -> None:
        """Forget every call, message, fault, logged request and added phone number; rewind the clock."""
        self._init_state()

    # ------------------------------------------------------------------ clock

    def _now(self) -> float:
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, so statuses progress without sleeping."""
        if seconds < 0:
            raise ValueError("The clock only moves forward")
        with self._lock:
            self._clock_offset += seconds

    # ------------------------------------------------------------------ state for tests

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message as ``GET`` returns it, newest first."""
        with self._lock:
            now = self._now()
            return [_view_copy(self._message_view(m, now)) for m in reversed(self._messages)]

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call as ``GET`` returns it, newest first."""
        with self._lock:
            now = self._now()
            return [_view_copy(self._call_view(c, now)) for c in reversed(self._calls)]

    @property
    def phone_numbers(self) -> list[dict[str, Any]]:
        """Every phone number as ``GET`` returns it, newest first."""
        with self._lock:
            return [dict(n.data, capabilities=list(n.data["capabilities"])) for n in reversed(self._numbers)]

    def get_message(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            message = self._messages_by_sid.get(sid)
            return None if message is None else _view_copy(self._message_view(message, self._now()))

    def get_call(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            call = self._calls_by_sid.get(sid)
            return None if call is None else _view_copy(self._call_view(call, self._now()))

    @property
    def requests(self) -> list[dict[str, Any]]:
        """
        Every API request, oldest first: ``method``, ``path``, ``query`` and ``form`` (dicts of lists), ``json``,
        ``headers`` (without Authorization or cookies), ``status`` (``None`` when dropped), ``fault``,
        ``fault_id`` and ``time`` (epoch seconds).
        """
        with self._lock:
            return [json.loads(json.dumps(entry)) for entry in self._log]

    def count_requests(self, method: str | None = None, path_regex: str | None = None) -> int:
        """How many logged requests match; ``path_regex`` is searched in the path with ``.json`` stripped."""
        return len(self._select_requests(method, path_regex))

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def _select_requests(self, method: str | None, path_regex: str | None) -> list[dict[str, Any]]:
        pattern = re.compile(path_regex) if path_regex else None
        wanted = method.upper() if method else None
        with self._lock:
            return [
                entry
                for entry in self._log
                if (wanted is None or entry["method"] == wanted)
                and (pattern is None or pattern.search(_strip_json(entry["path"])))
            ]

    # ------------------------------------------------------------------ faults

    def add_fault(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        path: str = "",
        times: int = 1,
        status: int | None = None,
        retry_after: float | None = 1,
        delay: float = 1.0,
        body_shape: BodyShape | None = None,
        code: int | str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Arm a :class:`Fault` for the next ``times`` API requests whose method and path match."""
        fault = Fault(
            kind=kind,
            method=method,
            path=path,
            times=times,
            status=status,
            retry_after=retry_after,
            delay=delay,
            body_shape=body_shape,
            code=code,
            message=message,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    @property
    def faults(self) -> list[Fault]:
        """The faults that have not fired all their times yet."""
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, route_path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, route_path):
                    fault.remaining -= 1
                    fault.fired += 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_reply(self, fault: Fault, route_path: str) -> _Reply:
        relay = route_path.startswith("/api/relay/")
        status = 429 if fault.kind == "429" else (fault.status or 500)
        shape = fault.body_shape or ("relay" if relay else "plain")
        code = fault.code if fault.code is not None else 20000 + status
        text = fault.message or (
            "Too Many Requests" if status == 429 else f"{_RELAY_ERROR_TEXT.get(status, 'Error')} (injected fault)"
        )
        headers: dict[str, str] = {}
        if fault.kind == "429" and fault.retry_after is not None:
            seconds = fault.retry_after
            headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
        if shape == "empty":
            return _Reply(status, None, headers, raw=b"")
        if shape == "html":
            page = f"<html><body><h1>{status} {_RELAY_ERROR_TEXT.get(status, 'Error')}</h1></body></html>"
            return _Reply(status, None, headers, content_type="text/html; charset=utf-8", raw=page.encode())
        if shape == "relay":
            reply = _relay_error(status).reply
        elif shape == "errors_array":
            reply = _errors_array(status, code, text).reply
        elif shape == "string_array":
            reply = _Reply(status, {"errors": [text]})
        else:
            reply = _plain(status, code, text).reply
        reply.headers.update(headers)
        return reply

    # ------------------------------------------------------------------ phone numbers

    def add_phone_number(
        self,
        number: str,
        *,
        name: str | None = None,
        capabilities: Sequence[str] = ("voice", "sms", "mms", "fax"),
        number_type: str = "longcode",
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a phone number to the project; ``fields`` set any PhoneNumber field (e.g. ``call_request_url``)."""
        if not _E164.fullmatch(number):
            raise ValueError(f"Not an E.164 number: {number!r}")
        unknown = set(fields) - set(_new_phone_number("", "+1", None, (), "", 0))
        if unknown:
            raise ValueError(f"Unknown PhoneNumber fields: {', '.join(sorted(unknown))}")
        with self._lock:
            if any(n.data["number"] == number for n in self._numbers):
                raise ValueError(f"{number} is already in the project")
            record = self._add_number(number, name, capabilities, number_type, self._now())
            record.data.update(fields)
            return dict(record.data)

    def _add_number(
        self, number: str, name: str | None, capabilities: Iterable[str], number_type: str, created: float
    ) -> _PhoneNumber:
        data = _new_phone_number(self._project_id, number, name, capabilities, number_type, created)
        record = _PhoneNumber((created, next(self._seq)), data)
        insort(self._numbers, record, key=_sort_key)
        self._numbers_by_id[data["id"]] = record
        return record

    def _number_id(self, number: str) -> str | None:
        for record in self._numbers:
            if record.data["number"] == number:
                return str(record.data["id"])
        return None

    # ------------------------------------------------------------------ statuses over time

    def _settle(self, record: _Record, now: float) -> None:
        """Apply the status changes whose time has come."""
        if not record.pending or record.pending[0][0] > now:
            return
        while record.pending and record.pending[0][0] <= now:
            at, changes = record.pending.pop(0)
            for name, value in changes.items():
                setattr(record, name, value)
            record.updated = at
        record.rendered = None

    def _change(self, record: _Record, now: float, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(record, name, value)
        record.updated = now
        record.rendered = None

    def _message_plan(self, t0: float, to: str, mms: bool, price: float) -> list[tuple[float, dict[str, Any]]]:
        step = self.status_step_seconds
        sent = {"status": "sent", "sent": t0 + step, "price": price}
        if to == STAYS_QUEUED_NUMBER:
            return []
        if to == MESSAGE_FAILED_NUMBER:
            failure = {"status": "failed", "error_code": "30007", "error_message": "Message filtered by the carrier"}
            return [(t0 + step, failure)]
        if to == MESSAGE_UNDELIVERED_NUMBER:
            undelivered = {
                "status": "undelivered",
                "error_code": "30003",
                "error_message": "Unreachable destination handset",
            }
            return [(t0 + step, sent), (t0 + 2 * step, undelivered)]
        if mms:
            return [(t0 + step, sent)]
        return [(t0 + step, sent), (t0 + 2 * step, {"status": "delivered"})]

    @staticmethod
    def _completed_changes(start: float, end: float) -> dict[str, Any]:
        duration = math.ceil(end - start)
        return {
            "status": "completed",
            "end": end,
            "duration": duration,
            "price": round(0.0065 * max(1, math.ceil(duration / 60)), 4),
            "audio_stats": True,
        }

    def _call_plan(self, t0: float, to: str, answered_by: str | None) -> list[tuple[float, dict[str, Any]]]:
        step = self.status_step_seconds
        if to == STAYS_QUEUED_NUMBER:
            return []
        if to == CALL_FAILED_NUMBER:
            return [(t0 + step, {"status": "failed", "end": t0 + step, "sip_result_code": "404"})]
        plan: list[tuple[float, dict[str, Any]]] = [(t0 + step, {"status": "ringing"})]
        if to == CALL_BUSY_NUMBER:
            plan.append((t0 + 2 * step, {"status": "busy", "end": t0 + 2 * step, "sip_result_code": "486"}))
            return plan
        if to == CALL_NO_ANSWER_NUMBER:
            plan.append((t0 + 3 * step, {"status": "no-answer", "end": t0 + 3 * step, "sip_result_code": "487"}))
            return plan
        answered = {"status": "in-progress", "start": t0 + 2 * step, "sip_result_code": "200"}
        answered["answered_by"] = answered_by
        plan.append((t0 + 2 * step, answered))
        if to != CALL_LONG_NUMBER:
            plan.append((t0 + 3 * step, self._completed_changes(t0 + 2 * step, t0 + 3 * step)))
        return plan

    # ------------------------------------------------------------------ resource views

    def _message_view(self, message: _Message, now: float) -> dict[str, Any]:
        self._settle(message, now)
        if message.rendered is None:
            base = f"{COMPAT_PREFIX}/Accounts/{self._project_id}/Messages/{message.sid}"
            message.rendered = {
                "account_sid": self._project_id,
                "api_version": API_VERSION,
                "body": message.body,
                "num_segments": _segments(message.body or ""),
                "num_media": len(message.media_urls),
                "date_created": _rfc2822(message.key[0]),
                "date_sent": _rfc2822(message.sent),
                "date_updated": _rfc2822(message.updated),
                "direction": message.direction,
                "error_code": message.error_code,
                "error_message": message.error_message,
                "from": message.from_,
                "price": message.price,
                "price_unit": "USD",
                "sid": message.sid,
                "status": message.status,
                "to": message.to,
                "messaging_service_sid": message.messaging_service_sid,
                "uri": f"{base}.json",
                "subresource_uris": {"media": f"{base}/Media.json"},
            }
        return message.rendered

    def _call_view(self, call: _Call, now: float) -> dict[str, Any]:
        self._settle(call, now)
        if call.rendered is None:
            base = f"{COMPAT_PREFIX}/Accounts/{self._project_id}/Calls/{call.sid}"
            stats = call.audio_stats
            call.rendered = {
                "sid": call.sid,
                "account_sid": self._project_id,
                "date_created": _rfc2822(call.key[0]),
                "date_updated": _rfc2822(call.updated),
                "parent_call_sid": call.parent_call_sid,
                "to": call.to,
                "formatted_to": _format_number(call.to),
                "to_formatted": _format_number(call.to),
                "from": call.from_,
                "formatted_from": _format_number(call.from_),
                "from_formatted": _format_number(call.from_),
                "phone_number_sid": call.phone_number_sid,
                "status": call.status,
                "start_time": _rfc2822(call.start),
                "end_time": _rfc2822(call.end),
                "duration": call.duration,
                "price": call.price,
                "price_unit": "USD",
                "direction": call.direction,
                "answered_by": call.answered_by,
                "api_version": API_VERSION,
                "forwarded_from": None,
                "caller_name": None,
                "uri": f"{base}.json",
                "subresource_uris": {"notifications": None, "recordings": f"{base}/Recordings.json"},
                "annotation": None,
                "group_sid": None,
                "audio_in_mos": 4.4 if stats else None,
                "sip_result_code": call.sip_result_code,
                "audio_rtt_avg": 42 if stats else None,
                "audio_rtt_min": 20 if stats else None,
                "audio_rtt_max": 90 if stats else None,
                "audio_out_jitter_min": 1 if stats else None,
                "audio_out_jitter_max": 9 if stats else None,
                "audio_out_jitter_avg": 3 if stats else None,
                "audio_out_lost": 0 if stats else None,
            }
        return call.rendered

    # ------------------------------------------------------------------ inbound traffic and seeding

    def inject_inbound_message(
        self,
        from_: str,
        to: str,
        body: str = "",
        media_urls: Sequence[str] = (),
        date_sent: datetime | None = None,
    ) -> dict[str, Any]:
        """
        Record a message received by the project (direction ``inbound``, status ``received``).

        ``date_sent`` (naive means UTC) also dates its creation, so it sorts among older messages.
        """
        with self._lock:
            now = self._now()
            when = now if date_sent is None else _timestamp(date_sent)
            message = _Message(
                sid=str(uuid.uuid4()),
                key=(when, next(self._seq)),
                updated=when,
                from_=from_,
                to=to,
                body=body,
                media_urls=list(media_urls),
                direction="inbound",
                status="received",
                sent=when,
                price=0.00415 if not media_urls else 0.01,
            )
            self._store_message(message)
            return _view_copy(self._message_view(message, now))

    def inject_inbound_call(
        self,
        from_: str,
        to: str,
        status: str = "completed",
        start_time: datetime | None = None,
        duration: int = 30,
    ) -> dict[str, Any]:
        """
        Record a call received by the project (direction ``inbound``); it keeps the given status.

        ``start_time`` (naive means UTC; by default ``duration`` seconds ago for a completed call, else now)
        dates its creation and start; a completed call ends ``duration`` seconds later.
        """
        if status not in CALL_STATUSES:
            raise ValueError(f"Unknown call status {status!r}: use one of {', '.join(CALL_STATUSES)}")
        if duration < 0:
            raise ValueError("duration must not be negative")
        with self._lock:
            now = self._now()
            if start_time is not None:
                start = _timestamp(start_time)
            else:
                start = now - duration if status == "completed" else now
            call = _Call(
                sid=str(uuid.uuid4()),
                key=(start, next(self._seq)),
                updated=start,
                from_=from_,
                to=to,
                direction="inbound",
                status=status,
                phone_number_sid=self._number_id(to),
            )
            if status in ("in-progress", "completed"):
                call.start = start
                call.sip_result_code = "200"
            if status == "completed":
                changes = self._completed_changes(start, start + duration)
                changes["duration"] = duration
                self._change(call, start + duration, **changes)
            elif status in CALL_FINAL_STATUSES:
                call.end = start
            self._store_call(call)
            return _view_copy(self._call_view(call, now))

    def seed_messages(
        self,
        n: int,
        *,
        from_: str,
        to: str,
        body: str = "Seeded message {i}",
        direction: str = "inbound",
        start: datetime | None = None,
        spacing_seconds: float = 1.0,
    ) -> list[str]:
        """
        Add ``n`` settled messages quickly (benchmarks): message ``i`` is dated ``start + i * spacing_seconds``.

        ``{i}`` in ``body`` becomes the index. Inbound messages are ``received``, others ``delivered``. By
        default the last one is dated now. Returns the sids, oldest first.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            now = self._now()
            first = now - (n - 1) * spacing_seconds if start is None else _timestamp(start)
            status = "received" if direction == "inbound" else "delivered"
            sids: list[str] = []
            batch: list[_Message] = []
            for i in range(n):
                when = first + i * spacing_seconds
                sid = str(uuid.uuid4())
                text = body.replace("{i}", str(i))
                batch.append(
                    _Message(
                        sid=sid,
                        key=(when, next(self._seq)),
                        updated=when,
                        from_=from_,
                        to=to,
                        body=text,
                        media_urls=[],
                        direction=direction,
                        status=status,
                        sent=when,
                        price=round(0.00415 * max(1, _segments(text)), 5),
                    )
                )
                sids.append(sid)
            in_order = not self._messages or not batch or batch[0].key >= self._messages[-1].key
            self._messages.extend(batch)
            if not in_order or spacing_seconds < 0:
                self._messages.sort(key=_sort_key)
            self._messages_by_sid.update((m.sid, m) for m in batch)
            return sids

    def _store_message(self, message: _Message) -> None:
        if not self._messages or message.key >= self._messages[-1].key:
            self._messages.append(message)
        else:
            insort(self._messages, message, key=_sort_key)
        self._messages_by_sid[message.sid] = message

    def _store_call(self, call: _Call) -> None:
        if not self._calls or call.key >= self._calls[-1].key:
            self._calls.append(call)
        else:
            insort(self._calls, call, key=_sort_key)
        self._calls_by_sid[call.sid] = call

    @staticmethod
    def _remove(items: list[_K], record: _K) -> None:
        index = bisect_left(items, record.key, key=_sort_key)
        if index < len(items) and items[index] is record:
            del items[index]

    # ------------------------------------------------------------------ HTTP entry point

    def _handle(self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes) -> _Reply | None:
        """Answer one request; ``None`` means: close the connection without an answer."""
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path, query, raw_body)

        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        form: dict[str, list[str]] = {}
        json_body: Any = None
        if raw_body:
            if content_type == "application/json":
                try:
                    json_body = json.loads(raw_body)
                except ValueError:
                    json_body = None
            elif content_type in ("", "application/x-www-form-urlencoded"):
                form = parse_qs(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        hidden = {"authorization", "proxy-authorization", "cookie"}
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "form": form,
            "json": json_body,
            "headers": {k: v for k, v in headers.items() if k not in hidden},
            "status": None,
            "fault": None,
            "fault_id": None,
            "time": time.time(),
        }
        route_path = _strip_json(path)
        with self._lock:
            self._log.append(entry)
        fault = self._take_fault(method, route_path)
        if fault is not None:
            with self._lock:
                entry["fault"], entry["fault_id"] = fault.kind, fault.id
            if fault.kind == "drop_before":
                return None
            if fault.kind in ("status", "429"):
                reply = self._fault_reply(fault, route_path)
                with self._lock:
                    entry["status"] = reply.status
                return reply
            if fault.kind == "slow":
                time.sleep(fault.delay)
        try:
            reply = self._route(method, path, query, headers, form, json_body, raw_body)
        except _ApiError as err:
            reply = err.reply
        with self._lock:
            entry["status"] = reply.status
        if fault is not None and fault.kind == "drop_after":
            return None
        return reply

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user, colon, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), self._project_id.encode())
        password_ok = hmac.compare_digest(password.encode(), self._api_token.encode())
        return bool(colon) and user_ok and password_ok

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        form: dict[str, list[str]],
        json_body: Any,
        raw_body: bytes,
    ) -> _Reply:
        relay = _RELAY_ROUTE.match(path)
        if relay:
            if not self._authorized(headers):
                raise _relay_error(401)
            return self._relay(method, relay["id"], query, headers, raw_body)
        if path.startswith("/api/relay/"):
            if not self._authorized(headers):
                raise _relay_error(401)
            raise _relay_error(404)
        account = _COMPAT_ACCOUNT.match(path)
        if account is None:
            raise _not_found(path)
        if not self._authorized(headers):
            error = _plain(401, 20003, "Authentication Error - invalid project id or API token")
            error.reply.headers["WWW-Authenticate"] = 'Basic realm="SignalWire"'
            raise error
        if account["account"] != self._project_id:
            raise _plain(401, 20003, "Authentication Error - the AccountSid does not match the credentials")
        route = _COMPAT_ROUTE.match(path)
        if route is None:
            raise _not_found(path)
        suffix = route["suffix"] or ""
        collection, sid = route["collection"], route["sid"]
        with self._lock:
            now = self._now()
            if collection == "Messages":
                if sid is None:
                    if method == "GET":
                        return self._list_messages(query, suffix, now)
                    if method == "POST":
                        return self._create_message(form, now)
                elif method in ("GET", "POST", "DELETE"):
                    return self._message_item(method, sid, path, form, now)
            else:
                if sid is None:
                    if method == "GET":
                        return self._list_calls(query, suffix, now)
                    if method == "POST":
                        return self._create_call(form, now)
                elif method in ("GET", "POST", "DELETE"):
                    return self._call_item(method, sid, path, form, now)
        raise _plain(405, 20004, f"Method {method} not allowed on {path}")

    # ------------------------------------------------------------------ Messages

    def _create_message(self, form: dict[str, list[str]], now: float) -> _Reply:
        to = _first(form, "To")
        if not to or not _E164.fullmatch(to):
            raise _plain(400, 21211, f"Invalid 'To' Phone Number: {to or '(missing)'}")
        from_ = _first(form, "From")
        service = _first(form, "MessagingServiceSid")
        if from_ is None and not service:
            raise _plain(400, 21212, "A 'From' phone number or a MessagingServiceSid is required")
        if from_ is not None and not (_E164.fullmatch(from_) or _SHORT_CODE.fullmatch(from_)):
            raise _plain(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if from_ is not None and self.require_owned_from and self._number_id(from_) is None:
            raise _plain(422, "21210", f"'From' phone number {from_} is not a number in this project", 400)
        body = _first(form, "Body")
        media = form.get("MediaUrl", [])
        if not body and not media:
            raise _plain(400, 21602, "Message body is required: give Body or MediaUrl")
        if body is not None and len(body) > MAX_BODY_LENGTH:
            raise _plain(400, 21617, f"The message body exceeds the {MAX_BODY_LENGTH} character limit")
        if len(media) > MAX_MEDIA:
            raise _plain(400, 21623, f"Too many media URLs: {len(media)} given, at most {MAX_MEDIA} allowed")
        bad_media = [url for url in media if not _is_http_url(url)]
        if bad_media:
            raise _plain(400, 21620, f"Invalid media URL(s): {', '.join(bad_media)}")
        validity = _first(form, "ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 172800):
            raise _plain(400, 21624, f"Invalid ValidityPeriod {validity!r}: give seconds between 1 and 172800")
        problems: list[str] = []
        send_as_mms = _first(form, "SendAsMms")
        if send_as_mms is not None and send_as_mms.lower() not in ("true", "false"):
            problems.append("SendAsMms must be true or false")
        max_price = _first(form, "MaxPrice")
        if max_price is not None and not _PRICE.fullmatch(max_price):
            problems.append("MaxPrice must be a decimal with at most 4 decimal places")
        for name in ("ApplicationSid", "MessagingServiceSid"):
            value = _first(form, name)
            if value is not None and not _UUID.fullmatch(value):
                problems.append(f"{name} must be a UUID")
        callback = _first(form, "StatusCallback")
        if callback is not None and not _is_http_url(callback):
            problems.append("StatusCallback must be an http(s) URL")
        if problems:
            raise _string_array(problems)

        mms = bool(media) or (send_as_mms or "").lower() == "true"
        text = body or ""
        price = round(0.01 if mms else 0.00415 * max(1, _segments(text)), 5)
        message = _Message(
            sid=str(uuid.uuid4()),
            key=(now, next(self._seq)),
            updated=now,
            from_=from_ or self._service_number(),
            to=to,
            body=text,
            media_urls=list(media),
            direction="outbound-api",
            status="queued",
            messaging_service_sid=service or None,
        )
        message.pending = self._message_plan(now, to, mms, price)
        self._store_message(message)
        return _Reply(201, self._message_view(message, now))

    def _service_number(self) -> str:
        return str(self._numbers[0].data["number"]) if self._numbers else DEFAULT_PHONE_NUMBERS[0]

    def _message_item(self, method: str, sid: str, path: str, form: dict[str, list[str]], now: float) -> _Reply:
        message = self._messages_by_sid.get(sid)
        if message is None:
            raise _not_found(path)
        self._settle(message, now)
        if method == "GET":
            return _Reply(200, self._message_view(message, now))
        if method == "DELETE":
            if message.status in MESSAGE_IN_PROGRESS:
                raise _plain(400, 20009, "Cannot delete a message that is still queued")
            self._remove(self._messages, message)
            del self._messages_by_sid[sid]
            return _Reply(204)
        body = _first(form, "Body")
        if body is None:
            raise _string_array(["Body is required: give an empty Body to redact the message"])
        if body != "":
            raise _plain(422, 50509, "The redacted message body must be empty")
        if message.status in MESSAGE_IN_PROGRESS:
            raise _plain(400, 10000, "An attempt was made to redact a message that is still in-progress")
        self._change(message, now, body="")
        return _Reply(200, self._message_view(message, now))

    def _list_messages(self, query: dict[str, list[str]], suffix: str, now: float) -> _Reply:
        page_size, page, token = self._paging(query)
        windows = _date_windows(query, ("DateSent",))
        to, from_, status = _first(query, "To"), _first(query, "From"), _first(query, "Status")
        if status and status not in MESSAGE_STATUSES:
            raise _string_array([f"Status must be one of {', '.join(sorted(MESSAGE_STATUSES))}"])
        sent_window = windows.get("DateSent")

        def match(message: _Message) -> bool:
            if message.pending:
                self._settle(message, now)
            return (
                (not to or message.to == to)
                and (not from_ or message.from_ == from_)
                and (not status or message.status == status)
                and (sent_window is None or sent_window.contains(message.sent))
            )

        items, more = _walk_page(self._messages, match, page_size, token)
        filters = self._echo_filters(query, ("To", "From", "Status", "DateSent", "DateSent<", "DateSent>"))
        envelope = self._envelope("Messages", suffix, filters, page, page_size, token, items, more)
        envelope["messages"] = [self._message_view(m, now) for m in items]
        return _Reply(200, envelope)

    # ------------------------------------------------------------------ Calls

    def _create_call(self, form: dict[str, list[str]], now: float) -> _Reply:
        to = _first(form, "To")
        if not to or not (_E164.fullmatch(to) or _SIP_URI.fullmatch(to) or _CLIENT_ID.fullmatch(to)):
            raise _errors_array(400, 21211, f"Invalid 'To' Phone Number: {to or '(missing)'}")
        from_ = _first(form, "From")
        if not from_ or not (_E164.fullmatch(from_) or _SIP_URI.fullmatch(from_)):
            raise _errors_array(400, 21212, f"Invalid 'From' Phone Number: {from_ or '(missing)'}")
        if self.require_owned_from and _E164.fullmatch(from_) and self._number_id(from_) is None:
            raise _errors_array(400, 21210, f"'From' phone number {from_} is not a number in this project")
        url, application = _first(form, "Url"), _first(form, "ApplicationSid")
        if bool(url) == bool(application):
            raise _errors_array(
                400, 21205, "A phone call was attempted without a CXML URL or ApplicationSid (give exactly one)"
            )
        problems = self._call_form_problems(form, create=True)
        if problems:
            raise _string_array(problems)
        detection = _first(form, "MachineDetection") or "none"
        call = _Call(
            sid=str(uuid.uuid4()),
            key=(now, next(self._seq)),
            updated=now,
            from_=from_,
            to=to,
            direction="outbound-api",
            status="queued",
            phone_number_sid=self._number_id(from_),
            url=url,
            method=_first(form, "Method") or "POST",
        )
        call.pending = self._call_plan(now, to, "human" if detection != "none" else None)
        self._store_call(call)
        return _Reply(200, self._call_view(call, now))

    @staticmethod
    def _call_form_problems(form: dict[str, list[str]], create: bool) -> list[str]:
        """The values outside the parameters' schemas (answered with a 422 string array)."""
        problems: list[str] = []

        def enum(name: str, allowed: Sequence[str]) -> None:
            value = _first(form, name)
            if value is not None and value not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

        def integer(name: str, low: int, high: int) -> None:
            value = _first(form, name)
            if value is not None and not (value.isdigit() and low <= int(value) <= high):
                problems.append(f"{name} must be an integer between {low} and {high}, got {value!r}")

        def url(name: str) -> None:
            value = _first(form, name)
            if value is not None and not _is_http_url(value):
                problems.append(f"{name} must be an http(s) URL, got {value!r}")

        for name in ("Method", "FallbackMethod", "StatusCallbackMethod"):
            enum(name, ("GET", "POST"))
        for name in ("Url", "FallbackUrl", "StatusCallback"):
            url(name)
        if not create:
            enum("Status", ("canceled", "completed"))
            return problems
        for name in ("AsyncAmdStatusCallbackMethod", "RecordingStatusCallbackMethod"):
            enum(name, ("GET", "POST"))
        for name in ("AsyncAmdStatusCallback", "RecordingStatusCallback"):
            url(name)
        for event in form.get("StatusCallbackEvent", []):
            if event not in CALL_STATUS_CALLBACK_EVENTS:
                problems.append(
                    f"StatusCallbackEvent must be among {', '.join(sorted(CALL_STATUS_CALLBACK_EVENTS))}, got {event!r}"
                )
        recording_events = _first(form, "RecordingStatusCallbackEvent")
        if recording_events is not None and not set(recording_events.split()) <= {"completed", "in-progress", "absent"}:
            problems.append(
                "RecordingStatusCallbackEvent must be a space-separated list of completed, in-progress, absent"
            )
        digits = _first(form, "SendDigits")
        if digits is not None and not _SEND_DIGITS.fullmatch(digits):
            problems.append(f"SendDigits must match ^[\\d#*wW]{{1,32}}$, got {digits!r}")
        integer("Timeout", 1, 600)
        integer("MachineDetectionTimeout", 1, 120)
        integer("MachineDetectionSpeechThreshold", 1000, 6000)
        integer("MachineDetectionSpeechEndThreshold", 500, 5000)
        integer("MachineDetectionSilenceTimeout", 2000, 10000)
        integer("MachineWordsThreshold", 1, 100)
        enum("MachineDetection", ("Enable", "DetectMessageEnd", "none"))
        enum("RecordingChannels", ("mono", "dual"))
        enum("RecordingTrack", ("inbound", "outbound", "both"))
        enum("Trim", ("trim-silence", "do-not-trim"))
        for name in ("AsyncAmd", "AsyncAmdPartialResults", "Record"):
            value = _first(form, name)
            if value is not None and value.lower() not in ("true", "false"):
                problems.append(f"{name} must be true or false, got {value!r}")
        price = _first(form, "MaxPricePerMinute")
        if price is not None and not _PRICE.fullmatch(price):
            problems.append("MaxPricePerMinute must be a decimal with at most 4 decimal places")
        application = _first(form, "ApplicationSid")
        if application is not None and not _UUID.fullmatch(application):
            problems.append("ApplicationSid must be a UUID")
        return problems

    def _call_item(self, method: str, sid: str, path: str, form: dict[str, list[str]], now: float) -> _Reply:
        call = self._calls_by_sid.get(sid)
        if call is None:
            raise _not_found(path)
        self._settle(call, now)
        if method == "GET":
            return _Reply(200, self._call_view(call, now))
        if method == "DELETE":
            if call.status not in CALL_FINAL_STATUSES:
                raise _plain(400, 20009, "An attempt was made to delete a call that is not finished")
            self._remove(self._calls, call)
            del self._calls_by_sid[sid]
            return _Reply(204)
        problems = self._call_form_problems(form, create=False)
        if problems:
            raise _string_array(problems)
        if call.status in CALL_FINAL_STATUSES:
            raise _plain(400, 10000, f"An attempt was made to update a completed call (status {call.status})")
        status, url = _first(form, "Status"), _first(form, "Url")
        if status == "canceled":
            if call.status == "in-progress":
                raise _plain(400, 10000, "An attempt was made to cancel an in-progress call")
            call.pending.clear()
            self._change(call, now, status="canceled", end=now, sip_result_code="487")
        elif status == "completed":
            call.pending.clear()
            if call.status == "in-progress" and call.start is not None:
                self._change(call, now, **self._completed_changes(call.start, now))
            else:
                self._change(call, now, status="canceled", end=now, sip_result_code="487")
        elif url is not None:
            if call.status != "in-progress":
                raise _plain(400, 21220, "The call cannot be redirected if it is not in-progress")
            self._change(call, now, url=url, method=_first(form, "Method") or "POST")
        elif form:
            self._change(call, now)
        return _Reply(200, self._call_view(call, now))

    def _list_calls(self, query: dict[str, list[str]], suffix: str, now: float) -> _Reply:
        page_size, page, token = self._paging(query)
        windows = _date_windows(query, ("StartTime", "EndTime"))
        to, from_, status = _first(query, "To"), _first(query, "From"), _first(query, "Status")
        parent = _first(query, "ParentCallSid")
        if status and status not in CALL_STATUSES:
            raise _string_array([f"Status must be one of {', '.join(CALL_STATUSES)}"])
        start_window, end_window = windows.get("StartTime"), windows.get("EndTime")

        def match(call: _Call) -> bool:
            if call.pending:
                self._settle(call, now)
            return (
                (not to or call.to == to)
                and (not from_ or call.from_ == from_)
                and (not status or call.status == status)
                and (not parent or call.parent_call_sid == parent)
                and (start_window is None or start_window.contains(call.start))
                and (end_window is None or end_window.contains(call.end))
            )

        items, more = _walk_page(self._calls, match, page_size, token)
        names = ["To", "From", "Status", "ParentCallSid"]
        names += [f"{n}{op}" for n in ("StartTime", "EndTime") for op in ("", "<", ">")]
        envelope = self._envelope(
            "Calls", suffix, self._echo_filters(query, names), page, page_size, token, items, more
        )
        envelope["calls"] = [self._call_view(c, now) for c in items]
        return _Reply(200, envelope)

    # ------------------------------------------------------------------ Compatibility pagination

    @staticmethod
    def _paging(query: Mapping[str, list[str]]) -> tuple[int, int, tuple[str, SortKey] | None]:
        size_text = _first(query, "PageSize")
        if size_text is None or size_text == "":
            page_size = DEFAULT_PAGE_SIZE
        elif size_text.isdigit() and 1 <= int(size_text) <= MAX_PAGE_SIZE:
            page_size = int(size_text)
        else:
            raise _plain(400, 54454, f"The page size provided is invalid: {size_text!r} (1 to {MAX_PAGE_SIZE})")
        page_text = _first(query, "Page") or "0"
        if not page_text.isdigit():
            raise _string_array([f"Page must be a non-negative integer, got {page_text!r}"])
        page = int(page_text)
        token_text = _first(query, "PageToken")
        token = _decode_token(token_text) if token_text else None
        if token_text and token is None:
            raise _plain(400, 54453, f"The PageToken provided is invalid: {token_text!r}")
        if page > 0 and token is None:
            raise _plain(400, 54453, "A PageToken is required for pages after the first: follow next_page_uri")
        return page_size, page, token

    @staticmethod
    def _echo_filters(query: Mapping[str, list[str]], names: Sequence[str]) -> list[tuple[str, str]]:
        return [(name, value) for name in names if (value := _first(query, name))]

    def _envelope(
        self,
        collection: str,
        suffix: str,
        filters: list[tuple[str, str]],
        page: int,
        page_size: int,
        token: tuple[str, SortKey] | None,
        items: Sequence[_Record],
        more: bool,
    ) -> dict[str, Any]:
        base = f"{COMPAT_PREFIX}/Accounts/{self._project_id}/{collection}{suffix}"

        def uri(page_number: int, page_token: str | None) -> str:
            pairs = [*filters, ("Page", str(page_number)), ("PageSize", str(page_size))]
            if page_token:
                pairs.append(("PageToken", page_token))
            return f"{base}?{urlencode(pairs, quote_via=quote)}"

        current_token = _encode_token(*token) if token else None
        next_uri = uri(page + 1, _encode_token("PA", items[-1].key)) if more and items else None
        previous_uri = None
        if page > 0:
            anchor = _previous_anchor(items, token)
            previous_uri = uri(page - 1, _encode_token("PB", anchor) if anchor else None)
        return {
            "uri": uri(page, current_token),
            "first_page_uri": uri(0, None),
            "next_page_uri": next_uri,
            "previous_page_uri": previous_uri,
            "page": page,
            "page_size": page_size,
        }

    # ------------------------------------------------------------------ Relay REST phone numbers

    def _relay(
        self, method: str, number_id: str | None, query: dict[str, list[str]], headers: Mapping[str, str], raw: bytes
    ) -> _Reply:
        with self._lock:
            if number_id is None:
                if method != "GET":
                    raise _relay_error(405)
                return self._list_numbers(query)
            record = self._numbers_by_id.get(number_id)
            if record is None:
                raise _relay_error(404)
            if method == "GET":
                return _Reply(200, dict(record.data))
            if method != "PUT":
                raise _relay_error(405)
            try:
                changes = json.loads(raw or b"{}")
            except ValueError as err:
                raise _relay_error(400) from err
            if not isinstance(changes, dict):
                raise _relay_error(400)
            problems = self._phone_number_problems(changes)
            if problems:
                raise _relay_validation(problems)
            record.data.update({k: v for k, v in changes.items() if k not in _PHONE_NUMBER_WRITE_ONLY})
            record.data["updated_at"] = _iso8601(self._now())
            return _Reply(200, dict(record.data))

    @staticmethod
    def _phone_number_problems(changes: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
        problems: list[tuple[str, str, str | None]] = []
        for name, value in changes.items():
            if name not in _PHONE_NUMBER_UPDATABLE:
                problems.append(("invalid_parameter", f"{name} is not a parameter that can be updated", name))
            elif value is None and name != "name":
                continue
            elif not isinstance(value, str):
                problems.append(("invalid_parameter_value", f"{name} must be a string", name))
            elif name in _PHONE_NUMBER_ENUMS and value not in _PHONE_NUMBER_ENUMS[name]:
                allowed = ", ".join(sorted(_PHONE_NUMBER_ENUMS[name]))
                problems.append(("invalid_parameter_value", f"{name} must be one of {allowed}", name))
            elif name in _PHONE_NUMBER_URLS and value and not _is_http_url(value):
                problems.append(("invalid_parameter_value", f"{name} must be an http(s) URL", name))
            elif name == "name" and len(value) > 255:
                problems.append(("invalid_parameter_value", "name must be at most 255 characters", name))
        return problems

    def _list_numbers(self, query: dict[str, list[str]]) -> _Reply:
        size_text = _first(query, "page_size") or str(DEFAULT_PAGE_SIZE)
        if not (size_text.isdigit() and 1 <= int(size_text) <= MAX_PAGE_SIZE):
            raise _relay_validation([("invalid_parameter", f"page_size must be 1 to {MAX_PAGE_SIZE}", "page_size")])
        page_size = int(size_text)
        number_text = _first(query, "page_number") or "0"
        if not number_text.isdigit():
            raise _relay_validation([("invalid_parameter", "page_number must be 0 or more", "page_number")])
        page_number = int(number_text)
        token_text = _first(query, "page_token")
        token = _decode_token(token_text) if token_text else None
        if (token_text and token is None) or (page_number > 0 and token is None):
            raise _relay_validation([("page_token_is_invalid", "Page token is invalid", None)])
        name_filter, number_filter = _first(query, "filter_name"), _first(query, "filter_number")

        def match(record: _PhoneNumber) -> bool:
            name = record.data["name"] or ""
            return (not name_filter or name_filter in name) and (
                not number_filter or number_filter in record.data["number"]
            )

        items, more = _walk_page(self._numbers, match, page_size, token)
        filters = [(k, v) for k in ("filter_name", "filter_number") if (v := _first(query, k))]

        def link(number: int, page_token: str | None) -> str:
            pairs = [*filters, ("page_number", str(number)), ("page_size", str(page_size))]
            if page_token:
                pairs.append(("page_token", page_token))
            return f"{RELAY_PHONE_NUMBERS_PATH}?{urlencode(pairs, quote_via=quote)}"

        links = {"self": link(page_number, token_text), "first": link(0, None)}
        if more and items:
            links["next"] = link(page_number + 1, _encode_token("PA", items[-1].key))
        if page_number > 0:
            anchor = _previous_anchor(items, token)
            links["prev"] = link(page_number - 1, _encode_token("PB", anchor) if anchor else None)
        return _Reply(200, {"links": links, "data": [dict(r.data) for r in items]})

    # ------------------------------------------------------------------ control API

    def _control(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> _Reply:
        route = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            return _Reply(400, {"error": "The body must be JSON"})
        if not isinstance(payload, dict):
            return _Reply(400, {"error": "The body must be a JSON object"})
        try:
            return self._control_route(method, route, query, payload)
        except (ValueError, TypeError, KeyError, re.error) as err:
            return _Reply(400, {"error": f"{type(err).__name__}: {err}"})

    def _control_route(self, method: str, route: str, query: dict[str, list[str]], payload: dict[str, Any]) -> _Reply:
        key = (method, route)
        if key == ("GET", "health"):
            return _Reply(200, {"status": "ok", "base_url": self.base_url, "project_id": self._project_id})
        if key == ("GET", "state"):
            return _Reply(
                200,
                {
                    "project_id": self._project_id,
                    "messages": self.messages,
                    "calls": self.calls,
                    "phone_numbers": self.phone_numbers,
                    "faults": [f.to_dict() for f in self.faults],
                },
            )
        if key == ("GET", "requests"):
            entries = self._select_requests(_first(query, "method"), _first(query, "path_regex"))
            return _Reply(200, {"requests": json.loads(json.dumps(entries))})
        if key == ("POST", "reset"):
            self.reset()
            return _Reply(200, {"status": "reset"})
        if key == ("POST", "inbound/messages"):
            sent = payload.get("date_sent")
            message = self.inject_inbound_message(
                from_=payload.get("from_") or payload["from"],
                to=payload["to"],
                body=payload.get("body", ""),
                media_urls=payload.get("media_urls", ()),
                date_sent=None if sent is None else datetime.fromtimestamp(_timestamp(sent), UTC),
            )
            return _Reply(201, message)
        if key == ("POST", "inbound/calls"):
            started = payload.get("start_time")
            call = self.inject_inbound_call(
                from_=payload.get("from_") or payload["from"],
                to=payload["to"],
                status=payload.get("status", "completed"),
                start_time=None if started is None else datetime.fromtimestamp(_timestamp(started), UTC),
                duration=int(payload.get("duration", 30)),
            )
            return _Reply(201, call)
        if key == ("GET", "faults"):
            return _Reply(200, {"faults": [f.to_dict() for f in self.faults]})
        if key == ("POST", "faults"):
            allowed = {"method", "path", "times", "status", "retry_after", "delay", "body_shape", "code", "message"}
            unknown = set(payload) - allowed - {"kind"}
            if unknown:
                raise ValueError(f"Unknown fault fields: {', '.join(sorted(unknown))}")
            fault = self.add_fault(payload["kind"], **{k: v for k, v in payload.items() if k in allowed})
            return _Reply(201, fault.to_dict())
        if key == ("DELETE", "faults"):
            self.clear_faults()
            return _Reply(200, {"faults": []})
        if key == ("POST", "seed/messages"):
            start = payload.get("start")
            sids = self.seed_messages(
                int(payload["n"]),
                from_=payload.get("from_") or payload["from"],
                to=payload["to"],
                body=payload.get("body", "Seeded message {i}"),
                direction=payload.get("direction", "inbound"),
                start=None if start is None else datetime.fromtimestamp(_timestamp(start), UTC),
                spacing_seconds=float(payload.get("spacing_seconds", 1.0)),
            )
            return _Reply(201, {"count": len(sids), "first_sid": sids[0] if sids else None})
        if key == ("POST", "phone_numbers"):
            fields = dict(payload)
            number = fields.pop("number")
            return _Reply(201, self.add_phone_number(number, **fields))
        if key == ("POST", "clock"):
            self.advance_clock(float(payload["advance_seconds"]))
            return _Reply(200, {"now": _iso8601(self._now())})
        return _Reply(404, {"error": f"No control route {method} {CONTROL_PREFIX}{route}"})


# --------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: SignalWireEmulator, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a timeout test, a cancelled poll) is normal here, not an error to print.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Idle keep-alive connections would otherwise outlive the emulator."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SignalWireEmulator/1.0"
    timeout = 300
    # Headers and body leave in two writes; with Nagle on, the client's delayed ACK costs 40 ms a request.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the emulator's record."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._write(_Reply(400, {"error": "Bad Request"}))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = self.server.emulator._handle(self.command, self.path, headers, body)
        except Exception as err:  # an emulator bug must still answer, and say what broke
            traceback.print_exc(file=sys.stderr)
            reply = _plain(500, 20500, f"Internal emulator error: {type(err).__name__}: {err}").reply
        if reply is None:
            self.close_connection = True
            return
        self._write(reply)

    def _write(self, reply: _Reply) -> None:
        payload = reply.payload()
        self.send_response(reply.status)
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and reply.status != 204:
            self.wfile.write(payload)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_signalwire.testing.emulator",
        description="Serve an in-memory SignalWire API (Calls, Messages, phone numbers) for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback unless --allow-remote)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one")
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    parser.add_argument("--token", default=DEFAULT_API_TOKEN)
    parser.add_argument("--status-step-seconds", type=float, default=0.2)
    parser.add_argument("--require-owned-from", action="store_true", help="refuse a From outside the project")
    parser.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    args = parser.parse_args(argv)
    if not _is_loopback(args.host) and not args.allow_remote:
        parser.error(f"refusing to serve on non-loopback host {args.host!r} without --allow-remote")

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    emulator = SignalWireEmulator(
        project_id=args.project_id,
        api_token=args.token,
        host=args.host,
        port=args.port,
        status_step_seconds=args.status_step_seconds,
        require_owned_from=args.require_owned_from,
    ).start()
    try:
        print(f"signalwire-emulator base_url={emulator.base_url} conn_uri={emulator.connection_uri()}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
