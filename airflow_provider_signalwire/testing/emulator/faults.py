"""Injected failures: what a fault is, which request it fires for, and the answer it sends instead."""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from airflow_provider_signalwire.testing.emulator.replies import (
    HTTP_REASONS,
    Reply,
    errors_array,
    plain_error,
    relay_error,
)

FaultKind = Literal["status", "429", "slow", "drop_before", "drop_after"]
BodyShape = Literal["plain", "errors_array", "string_array", "relay", "html", "empty"]
FAULT_KINDS = ("status", "429", "slow", "drop_before", "drop_after")
BODY_SHAPES = ("plain", "errors_array", "string_array", "relay", "html", "empty")


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

    def reply(self, route_path: str) -> Reply:
        """The answer of a ``"status"`` or ``"429"`` fault."""
        status = 429 if self.kind == "429" else (self.status or 500)
        shape = self.body_shape or ("relay" if route_path.startswith("/api/relay/") else "plain")
        code = self.code if self.code is not None else 20000 + status
        reason = HTTP_REASONS.get(status, "Error")
        text = self.message or ("Too Many Requests" if status == 429 else f"{reason} (injected fault)")
        headers: dict[str, str] = {}
        if self.kind == "429" and self.retry_after is not None:
            seconds = self.retry_after
            headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
        if shape == "empty":
            return Reply(status, None, headers, raw=b"")
        if shape == "html":
            page = f"<html><body><h1>{status} {reason}</h1></body></html>"
            return Reply(status, None, headers, content_type="text/html; charset=utf-8", raw=page.encode())
        if shape == "relay":
            reply = relay_error(status).reply
        elif shape == "errors_array":
            reply = errors_array(status, code, text).reply
        elif shape == "string_array":
            reply = Reply(status, {"errors": [text]})
        else:
            reply = plain_error(status, code, text).reply
        reply.headers.update(headers)
        return reply


class Faults:
    """The armed faults, in the order they were added; the first that matches a request fires."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self._armed.append(fault)
        return fault

    def armed(self) -> list[Fault]:
        return list(self._armed)

    def clear(self) -> None:
        self._armed.clear()

    def take(self, method: str, route_path: str) -> Fault | None:
        """The fault that fires for this request, counted down (and forgotten after its last time)."""
        for fault in self._armed:
            if fault.matches(method, route_path):
                fault.remaining -= 1
                fault.fired += 1
                if fault.remaining <= 0:
                    self._armed.remove(fault)
                return fault
        return None
