"""Reading SignalWire's answers: the body, the errors in every shape SignalWire sends them, and no answer at all."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.request import ApiRequest


def decode_body(status: int, content_type: str, content: bytes) -> Any:
    """The body of an answer: parsed JSON, the text when it is not JSON, ``None`` when empty."""
    if status == 204 or not content:
        return None
    if "json" in content_type or content[:1] in (b"{", b"["):
        import json

        try:
            return json.loads(content)  # bytes: the JSON encoding is detected, no charset guessing
        except ValueError:
            pass
    return content.decode("utf-8", errors="replace")


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


def connection_error(
    request: ApiRequest, detail: str, *, request_sent: bool, timed_out: bool = False
) -> SignalWireConnectionError:
    """
    Describe a failure to get an answer; ``request_sent`` says whether SignalWire may have acted, ``timed_out``
    whether it may still act (this machine stopped waiting).
    """
    text = f"No answer from SignalWire to {request.label}: {detail}."
    if request_sent and request.is_create:
        text += (
            " The request may have been processed, so it was not sent again (that could create a second "
            "call or message); look it up before retrying."
        )
    return SignalWireConnectionError(text, request_may_have_been_processed=request_sent, timed_out=timed_out)


def transport_error(request: ApiRequest, error: Exception, *, sent: bool) -> SignalWireConnectionError:
    """A failure of the HTTP library, in words and without its text (which may quote a URL)."""
    kind = type(error).__name__
    if "Timeout" in kind:
        detail = f"{kind}: no answer in time" + ("" if sent else " to connect")
    else:
        detail = f"{kind}: " + ("the connection was closed without an answer" if sent else "the connection was refused")
    return connection_error(request, detail, request_sent=sent, timed_out=sent and "Timeout" in kind)


def read_answer(
    request: ApiRequest, status: int, content_type: str, content: bytes, retry_after_header: str | None
) -> Any:
    """The parsed body of a 2xx answer; any other answer raises :class:`SignalWireApiError`."""
    body = decode_body(status, content_type, content)
    if not 200 <= status < 300:
        raise api_error(request, status, body, retry_after_header)
    return body
