"""
The one place that knows the SignalWire API.

Paths, parameter names and their encoding, validation of inputs against the API's rules, date filters,
pagination, error bodies and the retry rules live here. The sync hook (``requests``) and the async hook
(``httpx``) only move the :class:`ApiRequest` objects built here over the wire and hand the answers back.
Nothing in this module performs I/O.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

COMPAT_PREFIX = "/api/laml/2010-04-01"
PHONE_NUMBERS_PATH = "/api/relay/rest/phone_numbers"
DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 1000
SPACE_DOMAIN = "signalwire.com"

CALL_FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
CALL_FAILED_STATUSES = frozenset({"busy", "failed", "no-answer", "canceled"})
MESSAGE_FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed"})
# An MMS gets no delivery report: "sent" is as far as it goes.
MMS_FINAL_STATUSES = MESSAGE_FINAL_STATUSES | {"sent"}
MESSAGE_FAILED_STATUSES = frozenset({"undelivered", "failed"})


# --------------------------------------------------------------------------------------------------
# The connection: Space, base URL and credentials
# --------------------------------------------------------------------------------------------------

_SPACE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_space(space: str) -> str:
    """
    Return the Space host (``xyz.signalwire.com``) for ``xyz``, ``xyz.signalwire.com`` or its https URL.

    Anything else is refused, so that the API token is never sent to another host.
    """
    allowed = "'example', 'example.signalwire.com' or 'https://example.signalwire.com'"
    if not isinstance(space, str) or not space:
        raise SignalWireInputError(f"The SignalWire Space is missing: give {allowed}.")
    if space != space.strip() or any(ch.isspace() or ord(ch) < 32 for ch in space):
        raise SignalWireInputError(f"The SignalWire Space must not contain whitespace: give {allowed}.")
    host = space
    if "://" in space:
        parts = urlsplit(space)
        if parts.scheme.lower() != "https":
            raise SignalWireInputError(f"The SignalWire Space URL must use https: give {allowed}.")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise SignalWireInputError(f"The SignalWire Space must not carry user info: give {allowed}.")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise SignalWireInputError(
                f"The SignalWire Space must not carry a path, query or fragment: give {allowed}."
            )
        host = parts.netloc
    if ":" in host:
        raise SignalWireInputError(f"The SignalWire Space must not carry a port: give {allowed}.")
    host = host.lower()
    name = host[: -len("." + SPACE_DOMAIN)] if host.endswith("." + SPACE_DOMAIN) else host
    if not _SPACE_NAME.fullmatch(name):
        raise SignalWireInputError(f"The SignalWire Space {space!r} is not a signalwire.com Space: give {allowed}.")
    return f"{name}.{SPACE_DOMAIN}"


def normalize_base_url(base_url: str) -> str:
    """Check a base-URL override (an emulator or a proxy) and return it without a trailing slash."""
    if not isinstance(base_url, str) or base_url != base_url.strip() or any(c.isspace() for c in base_url):
        raise SignalWireInputError("The SignalWire base_url override must be an http(s) URL without whitespace.")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SignalWireInputError(
            f"The SignalWire base_url override must be an http:// or https:// URL, got {base_url!r}."
        )
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise SignalWireInputError("The SignalWire base_url override must not carry user info, a query or a fragment.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # The API token travels in every request: in clear text only to this machine (a local emulator).
        raise SignalWireInputError(
            "The SignalWire base_url override may use http:// only for a loopback host (127.0.0.1, localhost, "
            f"::1), such as the local emulator; use https:// for {parts.hostname!r}."
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_timeout(value: Any) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout <= 600:
        raise SignalWireInputError(
            f"The connection's 'timeout' extra must be a number of seconds from 0 to 600, got {value!r}."
        )
    return timeout


class ConnectionSettings(NamedTuple):
    """
    What a SignalWire connection says, checked.

    :param conn_id: the Airflow connection id, for messages.
    :param base_url: where requests go: the Space's https URL, or the ``base_url`` override.
    :param project_id: the Project ID (Basic-auth user, and the AccountSid in paths).
    :param api_token: the API token (Basic-auth password).
    :param timeout: seconds to wait for a connection and for each read.
    :param default_from: the From number used when an action is given none.
    :param signing_secret: the Signing Key that SignalWire signs webhooks with.
    """

    conn_id: str
    base_url: str
    project_id: str
    api_token: str
    timeout: float = DEFAULT_TIMEOUT
    default_from: str | None = None
    signing_secret: str | None = None

    def __repr__(self) -> str:
        # The token and the Signing Key stay out of reprs, logs and tracebacks.
        return (
            f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
            f"project_id={self.project_id!r}, timeout={self.timeout!r}, default_from={self.default_from!r})"
        )

    @classmethod
    def from_connection(
        cls,
        conn_id: str,
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> ConnectionSettings:
        if not login:
            raise SignalWireInputError(
                f"Connection {conn_id!r} has no Project ID: put it in the connection's Login field."
            )
        if not password:
            raise SignalWireInputError(
                f"Connection {conn_id!r} has no API Token: put it in the connection's Password field."
            )
        override = extra.get("base_url") or None
        base_url = normalize_base_url(override) if override else f"https://{normalize_space(host or '')}"
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            project_id=login,
            api_token=password,
            timeout=_read_timeout(extra.get("timeout")),
            default_from=extra.get("default_from") or None,
            signing_secret=extra.get("signing_secret") or None,
        )


# --------------------------------------------------------------------------------------------------
# Parameters: names, validation and form encoding
# --------------------------------------------------------------------------------------------------

_HTTP_METHODS = ("GET", "POST")


class Param(NamedTuple):
    """One API parameter: its PascalCase name and what values it allows."""

    api_name: str
    kind: str = "text"  # text | url | choice | int | bool | pattern | list | words
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    pattern: str | None = None
    hint: str | None = None  # what a "pattern" value must look like, for the error
    max_items: int | None = None
    max_length: int | None = None
    secret: bool = False
    urls: bool = False  # a "list" of http(s) URLs


def _choice(api_name: str, *choices: str) -> Param:
    return Param(api_name, "choice", choices=choices)


def _int(api_name: str, low: int, high: int) -> Param:
    return Param(api_name, "int", low=low, high=high)


def _url(api_name: str) -> Param:
    return Param(api_name, "url")


def _price(api_name: str) -> Param:
    return Param(api_name, "pattern", pattern=r"^\d+\.?\d{0,4}$", hint="a price in USD such as 0.05 (up to 4 decimals)")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value)


E164 = r"\+[1-9][0-9]{1,14}"
# Messages go to E.164 numbers; calls may also go to SIP URIs and clients, so their To is left open.
_MESSAGE_TO = Param("To", "pattern", pattern=E164, hint="an E.164 number such as +15551234567")

CREATE_CALL_PARAMS: dict[str, Param] = {
    "to": Param("To"),
    "from_": Param("From"),
    "url": _url("Url"),
    "application_sid": Param("ApplicationSid"),
    "method": _choice("Method", *_HTTP_METHODS),
    "fallback_url": _url("FallbackUrl"),
    "fallback_method": _choice("FallbackMethod", *_HTTP_METHODS),
    "status_callback": _url("StatusCallback"),
    "status_callback_event": Param(
        "StatusCallbackEvent",
        "list",
        choices=("initiated", "ringing", "answered", "completed", "ringing_forwarded", "ringing_queued"),
    ),
    "status_callback_method": _choice("StatusCallbackMethod", *_HTTP_METHODS),
    "caller_id": Param("CallerId"),
    "send_digits": Param(
        "SendDigits", "pattern", pattern=r"^[0-9#*wW]{1,32}$", hint="1 to 32 of the characters 0-9 # * w W"
    ),
    "timeout": _int("Timeout", 1, 600),
    "machine_detection": _choice("MachineDetection", "Enable", "DetectMessageEnd", "none"),
    "machine_detection_timeout": _int("MachineDetectionTimeout", 1, 120),
    "machine_detection_speech_threshold": _int("MachineDetectionSpeechThreshold", 1000, 6000),
    "machine_detection_speech_end_threshold": _int("MachineDetectionSpeechEndThreshold", 500, 5000),
    "machine_detection_silence_timeout": _int("MachineDetectionSilenceTimeout", 2000, 10000),
    "machine_words_threshold": _int("MachineWordsThreshold", 1, 100),
    "async_amd": Param("AsyncAmd", "bool"),
    "async_amd_status_callback": _url("AsyncAmdStatusCallback"),
    "async_amd_status_callback_method": _choice("AsyncAmdStatusCallbackMethod", *_HTTP_METHODS),
    "async_amd_partial_results": Param("AsyncAmdPartialResults", "bool"),
    "record": Param("Record", "bool"),
    "recording_channels": _choice("RecordingChannels", "mono", "dual"),
    "recording_track": _choice("RecordingTrack", "inbound", "outbound", "both"),
    "recording_status_callback": _url("RecordingStatusCallback"),
    # The API takes these events as one space-separated string, not repeated keys.
    "recording_status_callback_event": Param(
        "RecordingStatusCallbackEvent", "words", choices=("completed", "in-progress", "absent")
    ),
    "recording_status_callback_method": _choice("RecordingStatusCallbackMethod", *_HTTP_METHODS),
    "trim": _choice("Trim", "trim-silence", "do-not-trim"),
    "sip_auth_username": Param("SipAuthUsername"),
    "sip_auth_password": Param("SipAuthPassword", secret=True),
    "max_price_per_minute": _price("MaxPricePerMinute"),
}

UPDATE_CALL_PARAMS: dict[str, Param] = {
    "url": _url("Url"),
    "method": _choice("Method", *_HTTP_METHODS),
    "status": _choice("Status", "canceled", "completed"),
    "fallback_url": _url("FallbackUrl"),
    "fallback_method": _choice("FallbackMethod", *_HTTP_METHODS),
    "status_callback": _url("StatusCallback"),
    "status_callback_method": _choice("StatusCallbackMethod", *_HTTP_METHODS),
}

MAX_BODY_LENGTH = 1600
MAX_MEDIA_URLS = 8

CREATE_MESSAGE_PARAMS: dict[str, Param] = {
    "to": _MESSAGE_TO,
    "from_": Param("From"),
    "body": Param("Body", max_length=MAX_BODY_LENGTH),
    "media_url": Param("MediaUrl", "list", max_items=MAX_MEDIA_URLS, urls=True),
    "application_sid": Param("ApplicationSid"),
    "max_price": _price("MaxPrice"),
    "status_callback": _url("StatusCallback"),
    "validity_period": _int("ValidityPeriod", 1, 172800),
    "messaging_service_sid": Param("MessagingServiceSid"),
    "send_as_mms": Param("SendAsMms", "bool"),
}

CALL_STATUSES = ("queued", "ringing", "in-progress", "canceled", "completed", "busy", "failed", "no-answer")
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

SECRET_PARAMS = frozenset(
    name
    for table in (CREATE_CALL_PARAMS, UPDATE_CALL_PARAMS, CREATE_MESSAGE_PARAMS)
    for name, spec in table.items()
    if spec.secret
)


def _fail(action: str, name: str, allowed: str, value: Any, *, secret: bool = False) -> SignalWireInputError:
    shown = "(hidden)" if secret else repr(value)
    return SignalWireInputError(f"SignalWire {action}: {name!r} must be {allowed}; got {shown}.")


def _coerce(action: str, name: str, spec: Param, value: Any) -> list[str]:
    """Check one value against its rule and return its form values (more than one for repeated keys)."""
    kind = spec.kind
    if kind in ("list", "words"):
        values = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else None
        if values is None or not all(isinstance(v, str) and v for v in values) or not values:
            raise _fail(action, name, "a non-empty string or a list of non-empty strings", value)
        if spec.max_items is not None and len(values) > spec.max_items:
            raise _fail(action, name, f"at most {spec.max_items} items", f"{len(values)} items")
        if kind == "words":
            values = [word for v in values for word in v.split()]
        for v in values:
            if spec.choices and v not in spec.choices:
                raise _fail(action, name, "made of " + ", ".join(spec.choices), value)
            if spec.urls and not _is_http_url(v):
                raise _fail(action, name, "http(s) URLs", v)
        return [" ".join(values)] if kind == "words" else values
    if kind == "bool":
        if isinstance(value, bool):
            return ["true" if value else "false"]
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return [value.lower()]
        raise _fail(action, name, "true or false", value)
    if kind == "int":
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
            number = int(value)
        if number is None or not spec.low <= number <= spec.high:  # type: ignore[operator]
            raise _fail(action, name, f"a whole number from {spec.low} to {spec.high}", value)
        return [str(number)]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind == "pattern":
        value = str(value)
    if not isinstance(value, str):
        raise _fail(action, name, "a string", value, secret=spec.secret)
    if kind == "choice":
        for choice in spec.choices:
            if value.lower() == choice.lower():
                return [choice]
        raise _fail(action, name, "one of " + ", ".join(spec.choices), value)
    if kind == "pattern" and not re.fullmatch(spec.pattern or "", value):
        raise _fail(action, name, spec.hint or f"text matching {spec.pattern}", value, secret=spec.secret)
    if kind == "url" and not _is_http_url(value):
        raise _fail(action, name, "an http:// or https:// URL", value)
    if spec.max_length is not None and len(value) > spec.max_length:
        raise _fail(action, name, f"at most {spec.max_length} characters", f"{len(value)} characters")
    return [value]


def encode_params(action: str, table: Mapping[str, Param], params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """
    Validate snake_case keyword arguments against ``table`` and return the API's form pairs.

    ``None`` values are left out (not sent). Unknown names are refused with the list of allowed ones.
    """
    unknown = sorted(set(params) - set(table))
    if unknown:
        raise SignalWireInputError(
            f"SignalWire {action}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(table))}."
        )
    form: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        spec = table[name]
        form.extend((spec.api_name, v) for v in _coerce(action, name, spec, value))
    return form


def _present(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    return not (isinstance(value, (str, list, tuple)) and len(value) == 0)


def _require_one(action: str, params: Mapping[str, Any], first: str, second: str, why: str) -> None:
    given = [name for name in (first, second) if _present(params, name)]
    if len(given) != 1:
        got = "both" if len(given) == 2 else "neither"
        raise SignalWireInputError(
            f"SignalWire {action}: give exactly one of {first!r} or {second!r} ({why}); got {got}."
        )


def check_sid(action: str, sid: Any, name: str = "sid") -> str:
    """A SID must be a non-empty string that stays one path segment."""
    if not isinstance(sid, str) or not sid.strip():
        raise SignalWireInputError(f"SignalWire {action}: {name!r} must be a non-empty SID; got {sid!r}.")
    if sid != sid.strip() or any(ch in sid for ch in "/?#\\%") or sid in (".", ".."):
        raise SignalWireInputError(
            f"SignalWire {action}: {name!r} must be a SID (letters, digits and dashes); got {sid!r}."
        )
    return sid


def create_call_form(params: Mapping[str, Any], default_from: str | None = None) -> list[tuple[str, str]]:
    """Check the arguments of a new call and return its form."""
    action = "create_call"
    params = dict(params)
    if not _present(params, "from_") and default_from:
        params["from_"] = default_from
    for name in ("to", "from_"):
        if not _present(params, name):
            hint = " (or set 'default_from' on the connection)" if name == "from_" else ""
            raise SignalWireInputError(f"SignalWire {action}: {name!r} is required{hint}.")
    _require_one(action, params, "url", "application_sid", "where the call's cXML comes from")
    return encode_params(action, CREATE_CALL_PARAMS, params)


def update_call_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Check the arguments of a call update (redirect, cancel, hang up, callbacks) and return its form."""
    form = encode_params("update_call", UPDATE_CALL_PARAMS, params)
    if not form:
        raise SignalWireInputError(
            "SignalWire update_call: give at least one of " + ", ".join(sorted(UPDATE_CALL_PARAMS)) + "."
        )
    return form


def create_message_form(params: Mapping[str, Any], default_from: str | None = None) -> list[tuple[str, str]]:
    """Check the arguments of a new SMS or MMS and return its form."""
    action = "create_message"
    params = dict(params)
    if not _present(params, "from_") and not _present(params, "messaging_service_sid") and default_from:
        params["from_"] = default_from
    if not _present(params, "to"):
        raise SignalWireInputError(f"SignalWire {action}: 'to' is required.")
    if not _present(params, "from_") and not _present(params, "messaging_service_sid"):
        raise SignalWireInputError(
            f"SignalWire {action}: 'from_' is required (or 'messaging_service_sid', "
            "or set 'default_from' on the connection)."
        )
    if not _present(params, "body") and not _present(params, "media_url"):
        raise SignalWireInputError(f"SignalWire {action}: give 'body', 'media_url' or both; got neither.")
    return encode_params(action, CREATE_MESSAGE_PARAMS, params)


def is_mms(message: Mapping[str, Any]) -> bool:
    """Whether a message resource is an MMS (it then never gets a delivery report)."""
    try:
        return int(message.get("num_media") or 0) > 0
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------


def parse_api_datetime(value: Any) -> datetime | None:
    """Parse a resource's RFC 2822 date (ISO 8601 tolerated); ``None`` when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_api_datetime(moment: datetime) -> str:
    """Format an aware datetime as the API's RFC 2822 dates (``Wed, 19 Sep 2018 20:00:00 +0000``)."""
    return email.utils.format_datetime(moment.astimezone(UTC)).replace("-0000", "+0000")


def to_date_or_datetime(name: str, value: Any) -> date | datetime:
    """
    Read a date filter: a ``date``, an aware ``datetime``, or an ISO 8601 string (as templates render).

    A naive datetime is refused: its timezone would be a guess.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise SignalWireInputError(
                f"SignalWire filter {name!r} must be a date (YYYY-MM-DD) or an ISO 8601 datetime with a "
                f"timezone; got {text!r}."
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise SignalWireInputError(
                f"SignalWire filter {name!r} got a naive datetime ({value.isoformat()}); give it a timezone, "
                "for example datetime(..., tzinfo=timezone.utc)."
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value
    raise SignalWireInputError(
        f"SignalWire filter {name!r} must be a date, an aware datetime or an ISO 8601 string; got {value!r}."
    )


# --------------------------------------------------------------------------------------------------
# Requests, lists and pagination
# --------------------------------------------------------------------------------------------------


class ApiRequest(NamedTuple):
    """
    One request to the Space, independent of the HTTP library that sends it.

    :param path: relative to the connection's base URL, starting with ``/``; may carry a query.
    :param is_create: True when sending it twice could create two things (a call or a message).
    """

    method: str
    path: str
    params: list[tuple[str, str]] | None = None
    data: Any = None
    json: Any = None
    headers: dict[str, str] | None = None
    is_create: bool = False

    @property
    def label(self) -> str:
        """``METHOD /path`` without the query, for messages."""
        return f"{self.method} {self.path.split('?', 1)[0]}"


class Resource(NamedTuple):
    """A list-able Compatibility API resource."""

    collection: str  # path segment, e.g. "Calls"
    list_key: str  # key of the items in a list page, e.g. "calls"
    # snake_case filter -> (API parameter, resource field compared for exact windows)
    date_filters: dict[str, tuple[str, str]]
    other_filters: dict[str, Param]


CALLS = Resource(
    collection="Calls",
    list_key="calls",
    date_filters={"start_time": ("StartTime", "start_time"), "end_time": ("EndTime", "end_time")},
    other_filters={
        "to": Param("To"),
        "from_": Param("From"),
        "status": Param("Status", "choice", choices=CALL_STATUSES),
        "parent_call_sid": Param("ParentCallSid"),
    },
)
MESSAGES = Resource(
    collection="Messages",
    list_key="messages",
    date_filters={"date_sent": ("DateSent", "date_sent")},
    other_filters={
        "to": Param("To"),
        "from_": Param("From"),
        "status": Param("Status", "choice", choices=MESSAGE_STATUSES),
    },
)
# A message's media (MMS pictures...): .../Messages/{Sid}/Media.
MESSAGE_MEDIA = Resource(collection="Media", list_key="media_list", date_filters={}, other_filters={})


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


class ListPlan:
    """
    How to list a resource: the first request, the exact time window, and the limit.

    SignalWire's date filters take whole UTC days. A datetime bound asks for the covering days and
    :meth:`accept` keeps exactly the items inside ``[after, before)``, so consecutive windows (one per
    DAG run, in any timezone) see each item once.
    """

    def __init__(
        self,
        resource: Resource,
        first_request: ApiRequest,
        limit: int | None = None,
        window: list[tuple[str, str, datetime]] | None = None,
    ) -> None:
        self.resource = resource
        self.first_request = first_request
        self.limit = limit
        self.window = window or []  # (resource field, "after" | "before", bound)

    def accept(self, item: Mapping[str, Any]) -> bool:
        for item_field, side, bound in self.window:
            moment = parse_api_datetime(item.get(item_field))
            if moment is None:
                return False
            if side == "after" and moment < bound:
                return False
            if side == "before" and moment >= bound:
                return False
        return True

    def items(self, page: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = page.get(self.resource.list_key)
        if not isinstance(found, list):
            raise SignalWireApiError(
                status=200,
                method="GET",
                path=self.first_request.path,
                message=f"the list page has no {self.resource.list_key!r} list",
            )
        return [item for item in found if self.accept(item)] if self.window else found


def next_page_request(
    page: Mapping[str, Any], base_path: str = "", fetched: set[str] | None = None
) -> ApiRequest | None:
    """
    The request for the page after ``page``: ``next_page_uri`` verbatim, or ``None`` on the last page
    (and when it points back at a page already in ``fetched``, so that a server repeating itself cannot
    make the listing loop forever).

    The URI is a path on the Space. An absolute URI is followed only when it is a bare path on the
    same origin, so the token never goes elsewhere.
    """
    uri = page.get("next_page_uri")
    if not uri:
        return None
    if not isinstance(uri, str):
        raise SignalWireApiError(status=200, method="GET", path=base_path, message="next_page_uri is not a string")
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        # Only the path and query are taken: the host is always the connection's own.
        uri = parts.path + (f"?{parts.query}" if parts.query else "")
    if fetched is not None and uri in fetched:
        return None
    return ApiRequest("GET", check_relative_path(uri))


def iterate_pages(plan: ListPlan, fetch: Callable[[ApiRequest], Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield the items of every page, following ``next_page_uri``, up to the plan's limit."""
    count = 0
    fetched: set[str] = set()
    request: ApiRequest | None = plan.first_request
    while request is not None:
        fetched.add(request.path)
        page = fetch(request)
        for item in plan.items(page):
            yield item
            count += 1
            if plan.limit is not None and count >= plan.limit:
                return
        request = next_page_request(page, plan.first_request.path, fetched)


def check_relative_path(path: Any) -> str:
    """
    Refuse anything that is not a path under the Space: absolute or scheme-relative URLs,
    ``..`` segments (even percent-encoded), backslashes, fragments, whitespace and control characters.
    """
    allowed = "a path under the Space starting with '/', such as '/api/relay/rest/phone_numbers'"
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise SignalWireInputError(f"SignalWire call_api: 'path' must be {allowed}; got {path!r}.")
    if "://" in path or "\\" in path or "#" in path or any(ch.isspace() or ord(ch) < 32 for ch in path):
        raise SignalWireInputError(f"SignalWire call_api: 'path' must be {allowed}; got {path!r}.")
    decoded = unquote(unquote(path.split("?", 1)[0]))
    if any(segment in (".", "..") for segment in decoded.split("/")) or "\\" in decoded:
        raise SignalWireInputError(f"SignalWire call_api: 'path' must not leave the Space; got {path!r}.")
    return path


_FORBIDDEN_HEADERS = frozenset({"authorization", "host", "cookie", "proxy-authorization"})


class SignalWireApi:
    """
    Builds the requests for one Project.

    :param project_id: the Project ID (the API's AccountSid).
    :param default_from: the From number to use when an action is given none.
    """

    def __init__(self, project_id: str, default_from: str | None = None) -> None:
        self.project_id = project_id
        self.default_from = default_from

    def _path(self, collection: str, sid: str | None = None) -> str:
        path = f"{COMPAT_PREFIX}/Accounts/{quote(self.project_id, safe='')}/{collection}"
        return f"{path}/{quote(sid, safe='')}" if sid is not None else path

    # Calls
    def create_call(self, params: Mapping[str, Any]) -> ApiRequest:
        form = create_call_form(params, self.default_from)
        return ApiRequest("POST", self._path("Calls"), data=form, is_create=True)

    def get_call(self, sid: str) -> ApiRequest:
        return ApiRequest("GET", self._path("Calls", check_sid("get_call", sid)))

    def update_call(self, sid: str, params: Mapping[str, Any]) -> ApiRequest:
        sid = check_sid("update_call", sid)
        return ApiRequest("POST", self._path("Calls", sid), data=update_call_form(params))

    def delete_call(self, sid: str) -> ApiRequest:
        return ApiRequest("DELETE", self._path("Calls", check_sid("delete_call", sid)))

    # Messages
    def create_message(self, params: Mapping[str, Any]) -> ApiRequest:
        form = create_message_form(params, self.default_from)
        return ApiRequest("POST", self._path("Messages"), data=form, is_create=True)

    def get_message(self, sid: str) -> ApiRequest:
        return ApiRequest("GET", self._path("Messages", check_sid("get_message", sid)))

    def redact_message(self, sid: str) -> ApiRequest:
        # The only update a message allows is an empty Body, which clears it.
        sid = check_sid("redact_message", sid)
        return ApiRequest("POST", self._path("Messages", sid), data=[("Body", "")])

    def delete_message(self, sid: str) -> ApiRequest:
        return ApiRequest("DELETE", self._path("Messages", check_sid("delete_message", sid)))

    # Lists
    def list_calls(self, *, page_size: int | None = None, limit: int | None = None, **filters: Any) -> ListPlan:
        return self._list(CALLS, "list_calls", page_size, limit, filters)

    def list_messages(self, *, page_size: int | None = None, limit: int | None = None, **filters: Any) -> ListPlan:
        return self._list(MESSAGES, "list_messages", page_size, limit, filters)

    def _list(
        self,
        resource: Resource,
        action: str,
        page_size: int | None,
        limit: int | None,
        filters: Mapping[str, Any],
    ) -> ListPlan:
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise SignalWireInputError(
                f"SignalWire {action}: 'limit' must be a whole number of 1 or more; got {limit!r}."
            )
        if page_size is None:
            page_size = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SignalWireInputError(
                f"SignalWire {action}: 'page_size' must be a whole number from 1 to {MAX_PAGE_SIZE}; got {page_size!r}."
            )
        date_names = {
            f"{base}{suffix}": (api_name, item_field, suffix)
            for base, (api_name, item_field) in resource.date_filters.items()
            for suffix in ("", "_before", "_after")
        }
        plain = {k: v for k, v in filters.items() if k not in date_names}
        unknown = sorted(set(plain) - set(resource.other_filters))
        if unknown:
            allowed = sorted([*resource.other_filters, *date_names, "limit", "page_size"])
            raise SignalWireInputError(
                f"SignalWire {action}: unknown filter(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}."
            )
        query = encode_params(action, resource.other_filters, plain)
        window: list[tuple[str, str, datetime]] = []
        for name, value in filters.items():
            if name not in date_names or value is None:
                continue
            api_name, item_field, suffix = date_names[name]
            moment = to_date_or_datetime(name, value)
            if suffix == "":
                day = moment.date() if isinstance(moment, datetime) else moment
                query.append((api_name, day.isoformat()))
            elif isinstance(moment, datetime):
                side = "after" if suffix == "_after" else "before"
                day = moment.date()
                if side == "before" and moment == datetime.combine(day, datetime.min.time(), UTC):
                    day -= timedelta(days=1)  # nothing on the bound's own day is before it
                query.append((api_name + (">" if side == "after" else "<"), day.isoformat()))
                window.append((item_field, side, moment))
            else:
                query.append((api_name + (">" if suffix == "_after" else "<"), moment.isoformat()))
        query.append(("PageSize", str(page_size)))
        first = ApiRequest("GET", self._path(resource.collection), params=query)
        return ListPlan(resource=resource, first_request=first, limit=limit, window=window)

    def list_message_media(self, sid: str) -> ListPlan:
        """The media list of a message (an MMS has up to 10: one page holds them all)."""
        path = self._path("Messages", check_sid("list_message_media", sid)) + "/" + MESSAGE_MEDIA.collection
        first = ApiRequest("GET", path, params=[("PageSize", str(MAX_PAGE_SIZE))])
        return ListPlan(resource=MESSAGE_MEDIA, first_request=first)

    # Anything else
    def raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiRequest:
        method_name = method.upper() if isinstance(method, str) else method
        if method_name not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            raise SignalWireInputError(
                f"SignalWire call_api: 'method' must be one of GET, POST, PUT, PATCH, DELETE, HEAD; got {method!r}."
            )
        if data is not None and json is not None:
            raise SignalWireInputError("SignalWire call_api: give 'data' (a form) or 'json', not both.")
        for name in headers or {}:
            if name.lower() in _FORBIDDEN_HEADERS:
                raise SignalWireInputError(
                    f"SignalWire call_api: header {name!r} is set by the connection and cannot be given."
                )
        query = list(params.items()) if isinstance(params, Mapping) else params
        return ApiRequest(
            method_name,
            check_relative_path(path),
            params=[(str(k), str(v)) for k, v in query] if query else None,
            data=data,
            json=json,
            headers=dict(headers) if headers else None,
            # A POST or PATCH to an unknown path may create something: never resend it when unsure.
            is_create=method_name in ("POST", "PATCH"),
        )

    def probe(self) -> ApiRequest:
        """The cheap read that ``test_connection`` makes: one message of the Project."""
        return ApiRequest("GET", self._path("Messages"), params=[("PageSize", "1")])


# --------------------------------------------------------------------------------------------------
# Answers and errors
# --------------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None) -> float | None:
    """Read ``Retry-After`` in seconds, given as delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def api_error(request: ApiRequest, status: int, body: Any, retry_after_header: str | None = None) -> SignalWireApiError:
    """
    Build the error for a non-2xx answer from its parsed body, whichever of SignalWire's shapes it has:
    ``{code, message, more_info, status}``, ``{"errors": [{code, message, more_info}]}``,
    ``{"errors": ["..."]}``, ``{"errors": [{detail, title, ...}]}`` or ``{"error": "..."}``.
    """
    code: int | str | None = None
    message: str | None = None
    more_info: str | None = None
    if isinstance(body, Mapping):
        errors = body.get("errors")
        first: Any = errors[0] if isinstance(errors, list) and errors else body
        if isinstance(first, str):
            message = "; ".join(str(e) for e in errors) if isinstance(errors, list) else first
        elif isinstance(first, Mapping):
            code = first.get("code")
            message = first.get("message") or first.get("detail") or first.get("title") or body.get("error")
            more_info = first.get("more_info") or first.get("url")
            attribute = first.get("attribute")
            if attribute and message:
                message = f"{attribute}: {message}"
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:500]
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    return SignalWireApiError(
        status=status,
        method=request.method,
        path=request.path.split("?", 1)[0],
        code=code,
        message=str(message) if message is not None else None,
        more_info=str(more_info) if more_info else None,
        retry_after=parse_retry_after(retry_after_header),
    )


def connection_error(request: ApiRequest, detail: str, *, request_sent: bool) -> SignalWireConnectionError:
    """Describe a failure to get an answer; ``request_sent`` says whether SignalWire may have acted."""
    text = f"No answer from SignalWire to {request.label}: {detail}."
    if request_sent and request.is_create:
        text += (
            " The request may have been processed, so it was not sent again (that could create a second "
            "call or message); look it up before retrying."
        )
    return SignalWireConnectionError(text, request_may_have_been_processed=request_sent)


# --------------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------------

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers that mean the request was refused before anything was done. Other 4xx (408, 409, 499 from a proxy
# in front of the Space...) may come after the request was passed on, so they do not count.
REFUSAL_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 415, 422, 429})


def done_by_an_earlier_attempt(request: ApiRequest, error: BaseException, attempt: int) -> bool:
    """A DELETE retried after its answer was lost finds the record gone: the delete did happen."""
    return request.method == "DELETE" and attempt > 1 and isinstance(error, SignalWireApiError) and error.status == 404


def certainly_not_processed(error: BaseException) -> bool:
    """Whether a failed request certainly created nothing: refused by SignalWire, or never sent."""
    if isinstance(error, SignalWireApiError):
        return error.status in REFUSAL_STATUSES
    if isinstance(error, SignalWireConnectionError):
        return not error.request_may_have_been_processed
    return False


class RetryPolicy:
    """
    When and how long to retry a failed request.

    Reads, deletes and updates are retried on connection errors, 429 and 5xx. A create is retried only
    when SignalWire certainly did not act on it: the connection was refused (nothing was sent) or the
    answer was 429. ``Retry-After`` is honoured; when it asks for longer than the time left, the
    error is raised at once rather than retried early.

    :param max_attempts: attempts in all, the first included (1 turns retries off).
    :param initial_backoff: seconds before the first retry; doubled at each retry, with jitter.
    :param max_backoff: the longest wait between two attempts, unless ``Retry-After`` asks for more.
    :param total_timeout: seconds from the first attempt after which no retry is started.
    """

    __slots__ = ("initial_backoff", "max_attempts", "max_backoff", "total_timeout")

    def __init__(
        self,
        max_attempts: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        total_timeout: float = 120.0,
    ) -> None:
        if max_attempts < 1 or initial_backoff < 0 or max_backoff < 0 or total_timeout < 0:
            raise SignalWireInputError(
                "RetryPolicy: 'max_attempts' must be 1 or more and the times must not be negative."
            )
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.total_timeout = total_timeout

    def to_dict(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this policy (for a trigger's ``serialize``)."""
        return {
            name: getattr(self, name) for name in ("max_attempts", "initial_backoff", "max_backoff", "total_timeout")
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryPolicy) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().values()))

    def __repr__(self) -> str:
        return "RetryPolicy(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"

    def should_retry(self, request: ApiRequest, error: BaseException) -> bool:
        if not isinstance(error, (SignalWireApiError, SignalWireConnectionError)):
            return False
        if isinstance(error, SignalWireApiError) and error.status not in RETRYABLE_STATUSES:
            return False
        # A create is sent again only when the first one certainly created nothing (429, never sent).
        return not request.is_create or certainly_not_processed(error)

    def wait_seconds(self, attempt: int, error: BaseException | None) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        backoff = min(self.max_backoff, self.initial_backoff * 2 ** max(0, attempt - 1))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography

    def tenacity_arguments(self, request: ApiRequest, log: Any) -> dict[str, Any]:
        """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` that apply this policy."""
        from tenacity import retry_if_exception

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.wait_seconds(state.attempt_number, error)

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            return (state.seconds_since_start or 0.0) + (state.upcoming_sleep or 0.0) > self.total_timeout

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "SignalWire %s failed (%s); attempt %d of %d, retrying in %.1f s",
                request.label,
                error,
                state.attempt_number,
                self.max_attempts,
                state.upcoming_sleep,
            )

        return {
            "stop": stop,
            "wait": wait,
            "retry": retry_if_exception(lambda error: self.should_retry(request, error)),
            "before_sleep": before_sleep,
            "reraise": True,
        }


# --------------------------------------------------------------------------------------------------
# Relay REST: a phone number's webhook handlers
# --------------------------------------------------------------------------------------------------

_E164 = re.compile(E164)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The handler that makes SignalWire request a URL (cXML webhooks) when a call or a message comes in.
WEBHOOK_HANDLER = "laml_webhooks"

PHONE_NUMBER_WEBHOOK_PARAMS: dict[str, Param] = {
    "message_request_url": Param("message_request_url"),
    "message_request_method": _choice("message_request_method", *_HTTP_METHODS),
    "message_fallback_url": Param("message_fallback_url"),
    "call_request_url": Param("call_request_url"),
    "call_request_method": _choice("call_request_method", *_HTTP_METHODS),
    "call_fallback_url": Param("call_fallback_url"),
    "call_status_callback_url": Param("call_status_callback_url"),
    "call_status_callback_method": _choice("call_status_callback_method", *_HTTP_METHODS),
}
# Giving one of these points the number's message (call) handler at webhooks.
_HANDLER_OF_URL = {"message_request_url": "message_handler", "call_request_url": "call_handler"}


def phone_number_webhook_update(params: Mapping[str, Any]) -> dict[str, str]:
    """
    Check the webhook settings of a phone number update and return the JSON body to PUT.

    ``message_request_url`` or ``call_request_url`` (at least one) also switches that handler to webhooks.
    URLs must be absolute http(s) URLs.
    """
    action = "update_phone_number"
    body = dict(encode_params(action, PHONE_NUMBER_WEBHOOK_PARAMS, params))
    for name, value in body.items():
        if name.endswith("_url") and not _is_http_url(value):
            raise _fail(action, name, "an absolute http:// or https:// URL", value)
    handlers = {_HANDLER_OF_URL[name]: WEBHOOK_HANDLER for name in _HANDLER_OF_URL if name in body}
    if not handlers:
        raise SignalWireInputError(
            f"SignalWire {action}: give 'message_request_url', 'call_request_url' or both "
            "(the URL SignalWire requests when a message or a call comes in)."
        )
    return {**handlers, **body}


def phone_number_reference(value: Any) -> tuple[str, str]:
    """``("number", "+1...")`` for an E.164 number, ``("id", "<uuid>")`` for a phone number id."""
    if isinstance(value, str) and _E164.fullmatch(value):
        return "number", value
    if isinstance(value, str) and _UUID.fullmatch(value):
        return "id", value.lower()
    raise SignalWireInputError(
        f"SignalWire phone number: 'phone_number' must be an E.164 number such as +15551234567 or a phone "
        f"number id (a UUID); got {value!r}."
    )


def find_phone_number(number: str) -> ApiRequest:
    """The first page of the project's numbers containing ``number`` (the API filters by substring)."""
    params = [("filter_number", number), ("page_size", str(MAX_PAGE_SIZE))]
    return ApiRequest("GET", PHONE_NUMBERS_PATH, params=params)


def update_phone_number(number_id: str, body: Mapping[str, str]) -> ApiRequest:
    """A PUT of ``body`` (from :func:`phone_number_webhook_update`); sending it twice changes nothing more."""
    path = f"{PHONE_NUMBERS_PATH}/{quote(check_sid('update_phone_number', number_id), safe='')}"
    return ApiRequest("PUT", path, json=dict(body))


def phone_numbers_in_page(page: Any) -> list[dict[str, Any]]:
    """The phone numbers of a Relay list page (``data``)."""
    items = page.get("data") if isinstance(page, Mapping) else None
    if not isinstance(items, list):
        raise SignalWireApiError(
            status=200, method="GET", path=PHONE_NUMBERS_PATH, message="the page has no 'data' list"
        )
    return [item for item in items if isinstance(item, dict)]


def next_phone_numbers_request(page: Any) -> ApiRequest | None:
    """The request for the page after ``page``: its ``links.next`` (a path, or a URL whose path is taken)."""
    links = page.get("links") if isinstance(page, Mapping) else None
    link = links.get("next") if isinstance(links, Mapping) else None
    if not link or not isinstance(link, str):
        return None
    parts = urlsplit(link)
    return ApiRequest("GET", check_relative_path(parts.path + (f"?{parts.query}" if parts.query else "")))
