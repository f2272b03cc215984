"""
An answer to send, and the error bodies each API documents.

Compatibility API (``/api/laml``): the plain ``{"code", "message", "more_info", "status"}`` body for every
documented error except a call create's 400, which is ``{"errors": [{"code": "<str>", "message",
"more_info"}]}``. Relay REST: ``{"error": "Not Found"}`` for 400/401/404/405/500, and for a 422 the
``{"errors": [{"detail", "status", "title", "code"}]}`` body ``update_phone_number`` documents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
MORE_INFO = "https://signalwire.com/docs/compatibility-api/reference/errors"
# SignalWire's compatibility error code for "The argument passed is invalid".
INVALID_ARGUMENT = 10000

HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Reply:
    """An HTTP answer: a JSON ``body``, or ``raw`` bytes of ``content_type``; 204 sends neither."""

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


class ApiError(Exception):
    """Raised anywhere while answering a request: its reply is sent instead."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def plain_error(status: int, code: int | str, message: str, body_status: int | None = None) -> ApiError:
    """The Compatibility API's ``CompatibilityErrorResponse``."""
    body = {"code": code, "message": message, "more_info": MORE_INFO, "status": body_status or status}
    return ApiError(Reply(status, body))


def errors_array(status: int, code: int | str, message: str) -> ApiError:
    """``CompatibilityErrorArrayResponse``: what a call create answers with a 400 (the code is a string)."""
    return ApiError(Reply(status, {"errors": [{"code": str(code), "message": message, "more_info": MORE_INFO}]}))


def invalid_arguments(problems: Sequence[str]) -> ApiError:
    """A 422 for values outside their parameter's schema (an enum, a range, a pattern), one line per value."""
    return plain_error(422, INVALID_ARGUMENT, "; ".join(problems))


def not_found(path: str) -> ApiError:
    return plain_error(404, 20404, f"The requested resource {path} was not found")


def method_not_allowed(method: str, path: str) -> ApiError:
    return plain_error(405, 20004, f"Method {method} not allowed on {path}")


def unauthenticated(reason: str) -> ApiError:
    error = plain_error(401, 20003, f"Authentication Error - {reason}")
    error.reply.headers["WWW-Authenticate"] = 'Basic realm="SignalWire"'
    return error


def relay_error(status: int) -> ApiError:
    """Relay REST's ``{"error": "<reason>"}`` (``Types.StatusCodes.StatusCode400`` and its siblings)."""
    return ApiError(Reply(status, {"error": HTTP_REASONS.get(status, "Error")}))


def relay_validation(problems: Sequence[str]) -> ApiError:
    """Relay REST's ``Types.StatusCodes.ValidationError``: one ``{detail, status, title, code}`` per problem."""
    errors = [
        {"detail": detail, "status": "422", "title": "Invalid Attribute", "code": "invalid_parameter"}
        for detail in problems
    ]
    return ApiError(Reply(422, {"errors": errors}))
