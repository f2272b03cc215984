"""
One request from start to end: log it, check its credentials, fire a fault, route it, answer.

Credentials come first, as at SignalWire: a request without them gets its 401 and consumes no fault.
Control routes (``/__emulator__/``) skip all of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_signalwire.testing.emulator.auth import has_credentials
from airflow_provider_signalwire.testing.emulator.replies import (
    ApiError,
    Reply,
    not_found,
    plain_error,
    relay_error,
    unauthenticated,
)
from airflow_provider_signalwire.testing.emulator.request_log import strip_json
from airflow_provider_signalwire.testing.emulator.routing import CONTROL_PREFIX, ApiRequest, Destination
from airflow_provider_signalwire.testing.emulator.state import EmulatorState

ControlHandler = Callable[[str, str, dict[str, list[str]], bytes], Reply]


class Dispatcher:
    def __init__(
        self,
        project_id: str,
        api_token: str,
        lock: threading.RLock,
        state: Callable[[], EmulatorState],
        control: ControlHandler,
    ) -> None:
        self._project_id = project_id
        self._api_token = api_token
        self._lock = lock
        self._state = state
        self._control = control

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes, stopping: threading.Event
    ) -> Reply | None:
        """The answer to one request; ``None`` means: close the connection without an answer."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query, keep_blank_values=True)
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path, query, raw_body)
        form, json_body = _parse_body(headers, raw_body)
        state = self._state()
        with self._lock:
            entry = state.log.record(method, path, query, form, json_body, headers)
        destination = Destination.of(path)
        refusal = self._refusal(destination, headers)
        if refusal is not None:
            return self._logged(entry, refusal.reply)
        route_path = strip_json(path)
        with self._lock:
            fault = state.faults.take(method, route_path)
            if fault is not None:
                entry["fault"], entry["fault_id"] = fault.kind, fault.id
        if fault is not None:
            if fault.kind == "drop_before":
                return None
            if fault.kind in ("status", "429"):
                return self._logged(entry, fault.reply(route_path))
            # A slow fault is cut short when the emulator stops: the request is then dropped unanswered.
            if fault.kind == "slow" and stopping.wait(fault.delay):
                return None
        # Its time and route parameters are set when it is answered, under the lock.
        request = ApiRequest(method, path, query, form, json_body, raw_body, now=0.0, suffix=destination.suffix)
        reply = self._logged(entry, self._answer(state, destination, request))
        return None if fault is not None and fault.kind == "drop_after" else reply

    def _refusal(self, destination: Destination, headers: Mapping[str, str]) -> ApiError | None:
        if destination.api is None:
            return None
        if not has_credentials(headers, self._project_id, self._api_token):
            if destination.api == "relay":
                return relay_error(401)
            return unauthenticated("invalid project id or API token")
        if destination.api == "compat" and destination.account != self._project_id:
            return plain_error(401, 20003, "Authentication Error - the AccountSid does not match the credentials")
        return None

    def _answer(self, state: EmulatorState, destination: Destination, request: ApiRequest) -> Reply:
        with self._lock:
            try:
                if destination.api is None:
                    raise not_found(request.path)
                route, request.params = state.router.resolve(
                    destination.api, request.method, destination.relative, request.path
                )
                request.now = state.now()
                return route.handler(request)
            except ApiError as err:
                return err.reply

    def _logged(self, entry: dict[str, Any], reply: Reply) -> Reply:
        with self._lock:
            entry["status"] = reply.status
        return reply


def _parse_body(headers: Mapping[str, str], raw_body: bytes) -> tuple[dict[str, list[str]], Any]:
    """The form (``x-www-form-urlencoded`` or no content type) or the JSON of a request body."""
    if not raw_body:
        return {}, None
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            return {}, json.loads(raw_body)
        except ValueError:
            return {}, None
    if content_type in ("", "application/x-www-form-urlencoded"):
        return parse_qs(raw_body.decode("utf-8", "replace"), keep_blank_values=True), None
    return {}, None
