"""One request to the Space, independent of the HTTP library that sends it, and the checks on what it may reach."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import unquote

from airflow_provider_signalwire.exceptions import SignalWireInputError

RAW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
# Set by the connection: a caller may not override them.
_FORBIDDEN_HEADERS = frozenset({"authorization", "host", "cookie", "proxy-authorization"})
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


class ApiRequest(NamedTuple):
    """
    One request to the Space.

    :param path: relative to the connection's base URL, starting with ``/``; may carry a query.
    :param params: query parameters, as pairs.
    :param data: a form body, as pairs; or a raw body (a string or bytes) that a raw call gave.
    :param json: a JSON body.
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

    @property
    def is_form(self) -> bool:
        return isinstance(self.data, list)


def check_sid(action: str, sid: Any, name: str = "sid") -> str:
    """A SID (or an id) must be a non-empty string that stays one path segment."""
    if not isinstance(sid, str) or not sid.strip():
        raise SignalWireInputError(f"SignalWire {action}: {name!r} must be a non-empty SID; got {sid!r}.")
    if sid != sid.strip() or any(ch in sid for ch in "/?#\\%") or sid in (".", ".."):
        raise SignalWireInputError(
            f"SignalWire {action}: {name!r} must be a SID (letters, digits and dashes); got {sid!r}."
        )
    return sid


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


def raw_request(
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    data: Any = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> ApiRequest:
    """
    A request to any path under the Space, for what the resource specs do not cover (``call_api``).

    ``params`` and a ``data`` form are a dict or (name, value) pairs, sent as pairs by either hook: a list value
    repeats the name, ``None`` leaves it out. ``data`` as a string or bytes is sent as it is.
    """
    method_name = method.upper() if isinstance(method, str) else method
    if method_name not in RAW_METHODS:
        raise SignalWireInputError(
            f"SignalWire call_api: 'method' must be one of {', '.join(RAW_METHODS)}; got {method!r}."
        )
    if data is not None and json is not None:
        raise SignalWireInputError("SignalWire call_api: give 'data' (a form) or 'json', not both.")
    if json is not None:
        _check_json(json)
    return ApiRequest(
        method_name,
        check_relative_path(path),
        params=_pairs("params", params) or None,
        data=data if data is None or isinstance(data, (str, bytes)) else _pairs("data", data),
        json=json,
        headers=_check_headers(headers) or None,
        # A POST or PATCH to an unknown path may create something: never resend it when unsure.
        is_create=method_name in ("POST", "PATCH"),
    )


def _pairs(name: str, given: Any) -> list[tuple[str, str]]:
    """A query or a form as the API's pairs; what cannot be one is refused before anything is sent."""
    if given is None:
        return []
    allowed = "a dict or a list of (name, value) pairs"
    if isinstance(given, (str, bytes)) or not isinstance(given, (Mapping, Sequence)):
        raise SignalWireInputError(f"SignalWire call_api: {name!r} must be {allowed}; got a {type(given).__name__}.")
    pairs: list[tuple[str, str]] = []
    for entry in given.items() if isinstance(given, Mapping) else given:
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise SignalWireInputError(
                f"SignalWire call_api: {name!r} must be {allowed}; got an entry that is a {type(entry).__name__}."
            )
        key, value = entry
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((str(key), str(v)) for v in values if v is not None)
    return pairs


def _check_headers(headers: Any) -> dict[str, str]:
    """Extra headers: text names and values (a value of another type would fail only once sending began)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise SignalWireInputError(
            f"SignalWire call_api: 'headers' must be a dict of names to text values; got a {type(headers).__name__}."
        )
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise SignalWireInputError(f"SignalWire call_api: header name {name!r} is not a valid HTTP header name.")
        if name.lower() in _FORBIDDEN_HEADERS:
            raise SignalWireInputError(
                f"SignalWire call_api: header {name!r} is set by the connection and cannot be given."
            )
        if not isinstance(value, str):
            raise SignalWireInputError(
                f"SignalWire call_api: header {name!r} must be a string, such as {str(value)!r}; "
                f"got {value!r} ({type(value).__name__})."
            )
        if any(ch in value for ch in "\r\n\0"):
            raise SignalWireInputError(
                f"SignalWire call_api: header {name!r} must be one line of text; its value has a line break."
            )
    return dict(headers)


def _check_json(body: Any) -> None:
    import json

    try:
        json.dumps(body)
    except (TypeError, ValueError) as error:
        raise SignalWireInputError(f"SignalWire call_api: 'json' must be JSON-serialisable: {error}.") from None
