"""
Where :class:`~airflow_provider_signalwire.ledger.SharedMarkers` keep their markers: Airflow Variables, one per
marker, each changed only by an atomic compare-and-set in the metadata database.

* :class:`DatabaseStore`, in a process that reaches the metadata database (the API server, ``dag.test()``).
* :class:`ApiServerStore`, in a task or a trigger, which Airflow keeps from the database: each read and swap is a
  request to the provider's claim route in the API server (``POST /signalwire/claims/<conn_id>``, mounted with the
  webhook receiver), which does it there with :class:`DatabaseStore`. The API server is found where the worker
  finds the Execution API (``[core] execution_api_server_url``). A request is signed with a key derived from the
  connection's API token, which both sides read from the same connection, and carries its time: the route refuses
  an unsigned, foreign or stale request, and keys outside the connection's own markers.

Every store answers ``read(key) -> (text or None, now)`` (``now`` by the clock that expiry follows: the database
side's), ``swap(key, expected, new, description) -> bool`` and ``sweep(prefix) -> int``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

CLAIM_ROUTE = "/claims"
TIME_HEADER = "X-SignalWire-Claim-Time"
SIGNATURE_HEADER = "X-SignalWire-Claim-Signature"
#: Seconds a signed claim request counts, either way of the API server's clock.
CLAIM_REQUEST_LIFE = 15 * 60
_KEY_CONTEXT = b"airflow-provider-signalwire claims"


def claim_prefix(conn_id: str) -> str:
    """The start of every marker Variable of connection ``conn_id``: all a signed claim request may touch."""
    from airflow_provider_signalwire.ledger import VARIABLE_PREFIX, digest

    return f"{VARIABLE_PREFIX}_claim_{digest(conn_id)[:16]}_"


def expires_at(text: str | None) -> float:
    """When the marker record ``text`` expires; 0 for anything that is not a record (it counts as expired)."""
    try:
        record = json.loads(text) if text else None
        return float(record.get("expires", 0)) if isinstance(record, dict) else 0.0
    except (ValueError, TypeError):
        return 0.0


def _expired(text: str, now: float) -> bool:
    return expires_at(text) <= now


class DatabaseStore:
    """Markers in the metadata database, from a process that reaches it."""

    def read(self, key: str) -> tuple[str | None, float]:
        from airflow_provider_signalwire.compat import read_variable

        return read_variable(key), time.time()

    def swap(self, key: str, expected: str | None, new: str | None, description: str = "") -> bool:
        from airflow_provider_signalwire.compat import swap_variable

        return swap_variable(key, expected, new, description)

    def sweep(self, prefix: str) -> int:
        from airflow_provider_signalwire.compat import swap_variable, variables_under

        now = time.time()
        return sum(
            1 for key, text in variables_under(prefix).items() if _expired(text, now) and swap_variable(key, text, None)
        )


def _signing_key(api_token: str) -> bytes:
    return hmac.new(api_token.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def sign_claim_request(api_token: str, stamp: str, conn_id: str, body: bytes) -> str:
    """The signature of a claim request: HMAC-SHA256 of its time, connection id and body."""
    message = f"{stamp}\n{conn_id}\n".encode() + body
    return hmac.new(_signing_key(api_token), message, hashlib.sha256).hexdigest()


class ApiServerStore:
    """Markers in the metadata database, through the provider's claim route in Airflow's API server."""

    def __init__(self, conn_id: str, *, url: str | None = None) -> None:
        from urllib.parse import quote

        from airflow_provider_signalwire.compat import api_server_url
        from airflow_provider_signalwire.webhooks import MOUNT_PREFIX

        self.conn_id = conn_id
        self.url = url or f"{api_server_url()}{MOUNT_PREFIX}{CLAIM_ROUTE}/{quote(conn_id, safe='')}"
        self._token: str | None = None

    def _call(self, payload: dict[str, Any], *, retry: bool) -> dict[str, Any]:
        import requests

        from airflow_provider_signalwire.ledger import MarkerUnavailable

        if self._token is None:
            from airflow_provider_signalwire.hooks.base import read_settings

            self._token = read_settings(self.conn_id).api_token
        body = json.dumps(payload, sort_keys=True).encode()
        for attempt in range(3 if retry else 1):
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIME_HEADER: stamp,
                SIGNATURE_HEADER: sign_claim_request(self._token, stamp, self.conn_id, body),
            }
            try:
                answer = requests.post(self.url, data=body, headers=headers, timeout=(5, 30))
            except requests.RequestException as error:
                if attempt == 2 or not retry:
                    raise MarkerUnavailable(
                        f"SignalWire markers: the API server's claim route {self.url} cannot be reached "
                        f"({type(error).__name__})"
                    ) from None
                time.sleep(0.2 * (attempt + 1))
                continue
            if answer.status_code == 200:
                result: dict[str, Any] = answer.json()
                return result
            why = {
                403: "refused the request (is the connection the same in the API server, and its clock right?)",
                404: "has no SignalWire claim route (install the provider in the API server too)",
            }.get(answer.status_code, f"answered {answer.status_code}")
            raise MarkerUnavailable(f"SignalWire markers: the API server at {self.url} {why}")
        raise MarkerUnavailable(f"SignalWire markers: no answer from {self.url}")

    def read(self, key: str) -> tuple[str | None, float]:
        found = self._call({"op": "read", "key": key}, retry=True)
        return found.get("value"), float(found["now"])

    def swap(self, key: str, expected: str | None, new: str | None, description: str = "") -> bool:
        # Not sent twice: a swap that got no answer may have happened; the caller reads the marker to tell.
        payload = {"op": "swap", "key": key, "expected": expected, "new": new, "description": description}
        return bool(self._call(payload, retry=False)["swapped"])

    def sweep(self, prefix: str) -> int:
        return int(self._call({"op": "sweep", "key": prefix}, retry=True)["swept"])


def claim_store(conn_id: str) -> DatabaseStore | ApiServerStore:
    """The store for this process: the database where it is at hand, else the API server's claim route."""
    from airflow_provider_signalwire.compat import metadata_database_at_hand

    return DatabaseStore() if metadata_database_at_hand() else ApiServerStore(conn_id)


def serve_claim_request(conn_id: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """
    In the API server: check one signed claim request and do it with :class:`DatabaseStore`; ``(status, answer)``.
    Every refusal of a signature, a connection or a time is the same 403.
    """
    from airflow_provider_signalwire.hooks.base import read_settings

    refused = (403, {"error": "forbidden"})
    lowered = {name.lower(): value for name, value in headers.items()}
    stamp, signature = lowered.get(TIME_HEADER.lower(), ""), lowered.get(SIGNATURE_HEADER.lower(), "")
    if (
        not (stamp.isdigit() and len(stamp) <= 12)
        or not signature
        or abs(time.time() - int(stamp)) > CLAIM_REQUEST_LIFE
    ):
        return refused
    try:
        from airflow.sdk import BaseHook

        if BaseHook.get_connection(conn_id).conn_type != "signalwire":
            return refused  # only a SignalWire connection's token signs claims
        token = read_settings(conn_id).api_token
    except Exception:
        return refused
    if not hmac.compare_digest(sign_claim_request(token, stamp, conn_id, body), signature):
        return refused
    try:
        payload = json.loads(body)
        op, key = payload["op"], payload["key"]
    except (ValueError, KeyError, TypeError):
        return 400, {"error": "a JSON object with 'op' and 'key'"}
    if not isinstance(key, str) or not key.startswith(claim_prefix(conn_id)):
        return refused
    store = DatabaseStore()
    if op == "read":
        value, now = store.read(key)
        return 200, {"value": value, "now": now}
    if op == "swap":
        expected, new = payload.get("expected"), payload.get("new")
        if not all(value is None or isinstance(value, str) for value in (expected, new)):
            return 400, {"error": "'expected' and 'new' are text or null"}
        return 200, {"swapped": store.swap(key, expected, new, str(payload.get("description") or ""))}
    if op == "sweep":
        return 200, {"swept": store.sweep(key)}
    return 400, {"error": "'op' is one of read, swap, sweep"}
