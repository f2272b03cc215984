"""
The control API under ``/__emulator__/``: another process drives the emulator as tests do in Python.

No auth, never faulted or logged. JSON bodies mirror the Python methods; a bad body is a 400
``{"error": "..."}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.testing.emulator.clock import iso8601, to_utc_datetime
from airflow_provider_signalwire.testing.emulator.replies import Reply
from airflow_provider_signalwire.testing.emulator.routing import CONTROL_PREFIX
from airflow_provider_signalwire.testing.emulator.validation import Form, first

if TYPE_CHECKING:
    from airflow_provider_signalwire.testing.emulator.signalwire_emulator import SignalWireEmulator

_FAULT_FIELDS = frozenset(
    {"method", "path", "times", "status", "retry_after", "delay", "body_shape", "code", "message"}
)


def _date(payload: dict[str, Any], name: str) -> Any:
    value = payload.get(name)
    return None if value is None else to_utc_datetime(value)


def _sender(payload: dict[str, Any]) -> str:
    return str(payload.get("from_") or payload["from"])


class ControlApi:
    def __init__(self, emulator: SignalWireEmulator) -> None:
        self._emulator = emulator
        self._routes: dict[tuple[str, str], Callable[[Form, dict[str, Any]], Reply]] = {
            ("GET", "health"): self._health,
            ("GET", "state"): self._state,
            ("GET", "requests"): self._requests,
            ("POST", "reset"): self._reset,
            ("POST", "inbound/messages"): self._inbound_message,
            ("POST", "inbound/messages/deliver"): self._deliver_inbound_message,
            ("POST", "inbound/calls"): self._inbound_call,
            ("GET", "faults"): self._faults,
            ("POST", "faults"): self._add_fault,
            ("DELETE", "faults"): self._clear_faults,
            ("POST", "seed/messages"): self._seed_messages,
            ("POST", "phone_numbers"): self._add_phone_number,
            ("POST", "clock"): self._advance_clock,
            ("POST", "opt_outs"): self._opt_out,
        }

    def handle(self, method: str, path: str, query: Form, raw: bytes) -> Reply:
        route = path[len(CONTROL_PREFIX) :].strip("/")
        answer = self._routes.get((method, route))
        if answer is None:
            return Reply(404, {"error": f"No control route {method} {CONTROL_PREFIX}{route}"})
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            return Reply(400, {"error": "The body must be JSON"})
        if not isinstance(payload, dict):
            return Reply(400, {"error": "The body must be a JSON object"})
        try:
            return answer(query, payload)
        except (ValueError, TypeError, KeyError, re.error) as err:
            return Reply(400, {"error": f"{type(err).__name__}: {err}"})

    def _health(self, query: Form, payload: dict[str, Any]) -> Reply:
        emulator = self._emulator
        return Reply(200, {"status": "ok", "base_url": emulator.base_url, "project_id": emulator.project_id})

    def _state(self, query: Form, payload: dict[str, Any]) -> Reply:
        emulator = self._emulator
        state = {
            "project_id": emulator.project_id,
            "messages": emulator.messages,
            "calls": emulator.calls,
            "phone_numbers": emulator.phone_numbers,
            "faults": [f.to_dict() for f in emulator.faults],
        }
        return Reply(200, state)

    def _requests(self, query: Form, payload: dict[str, Any]) -> Reply:
        entries = self._emulator.find_requests(first(query, "method"), first(query, "path_regex"))
        return Reply(200, {"requests": entries})

    def _reset(self, query: Form, payload: dict[str, Any]) -> Reply:
        self._emulator.reset()
        return Reply(200, {"status": "reset"})

    def _inbound_message(self, query: Form, payload: dict[str, Any]) -> Reply:
        message = self._emulator.inject_inbound_message(
            from_=_sender(payload),
            to=payload["to"],
            body=payload.get("body", ""),
            media_urls=payload.get("media_urls", ()),
            date_sent=_date(payload, "date_sent"),
        )
        return Reply(201, message)

    def _deliver_inbound_message(self, query: Form, payload: dict[str, Any]) -> Reply:
        if "signing_key" in payload:
            self._emulator.signing_key = str(payload["signing_key"])
        delivered = self._emulator.deliver_inbound_message(_sender(payload), payload["to"], payload.get("body", ""))
        return Reply(201, delivered)

    def _inbound_call(self, query: Form, payload: dict[str, Any]) -> Reply:
        call = self._emulator.inject_inbound_call(
            from_=_sender(payload),
            to=payload["to"],
            status=payload.get("status", "completed"),
            start_time=_date(payload, "start_time"),
            duration=int(payload.get("duration", 30)),
        )
        return Reply(201, call)

    def _faults(self, query: Form, payload: dict[str, Any]) -> Reply:
        return Reply(200, {"faults": [f.to_dict() for f in self._emulator.faults]})

    def _add_fault(self, query: Form, payload: dict[str, Any]) -> Reply:
        unknown = set(payload) - _FAULT_FIELDS - {"kind"}
        if unknown:
            raise ValueError(f"Unknown fault fields: {', '.join(sorted(unknown))}")
        fault = self._emulator.add_fault(payload["kind"], **{k: v for k, v in payload.items() if k in _FAULT_FIELDS})
        return Reply(201, fault.to_dict())

    def _clear_faults(self, query: Form, payload: dict[str, Any]) -> Reply:
        self._emulator.clear_faults()
        return Reply(200, {"faults": []})

    def _seed_messages(self, query: Form, payload: dict[str, Any]) -> Reply:
        sids = self._emulator.seed_messages(
            int(payload["n"]),
            from_=_sender(payload),
            to=payload["to"],
            body=payload.get("body", "Seeded message {i}"),
            direction=payload.get("direction", "inbound"),
            start=_date(payload, "start"),
            spacing_seconds=float(payload.get("spacing_seconds", 1.0)),
            status=payload.get("status"),
        )
        return Reply(201, {"count": len(sids), "first_sid": sids[0] if sids else None})

    def _add_phone_number(self, query: Form, payload: dict[str, Any]) -> Reply:
        fields = dict(payload)
        return Reply(201, self._emulator.add_phone_number(fields.pop("number"), **fields))

    def _advance_clock(self, query: Form, payload: dict[str, Any]) -> Reply:
        self._emulator.advance_clock(float(payload["advance_seconds"]))
        return Reply(200, {"now": iso8601(self._emulator.now())})

    def _opt_out(self, query: Form, payload: dict[str, Any]) -> Reply:
        numbers = [str(number) for number in payload["numbers"]]
        self._emulator.opt_out(*numbers)
        return Reply(200, {"opted_out": numbers})
