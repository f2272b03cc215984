"""What a local Airflow needs to talk to a command-line emulator: shell ``export`` lines, and the file they go to."""

from __future__ import annotations

import base64
import json
import os
import shlex
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.testing.emulator.context import DEFAULT_PHONE_NUMBERS

if TYPE_CHECKING:
    from airflow_provider_signalwire.testing.emulator.signalwire_emulator import SignalWireEmulator

#: The number the connection sends from by default: one the emulator's project owns from the start.
DEFAULT_FROM = DEFAULT_PHONE_NUMBERS[0]


def parse_responders(text: str) -> dict[str, Any]:
    """``--hitl-responders``: a JSON object from an Airflow user id to a number (or ``{"phone", "name"}``)."""
    try:
        responders = json.loads(text)
    except ValueError as err:
        raise ValueError(f"--hitl-responders must be a JSON object, got {text!r}: {err}") from None
    if not isinstance(responders, dict) or not responders:
        raise ValueError(
            f'--hitl-responders must be a non-empty JSON object such as {{"alice": "+15550000002"}}, got {text!r}'
        )
    return responders


def connection(emulator: SignalWireEmulator, hitl_responders: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``signalwire_default`` connection (JSON form) pointing at ``emulator``, signing as it signs."""
    extra: dict[str, Any] = {"base_url": emulator.base_url, "default_from": DEFAULT_FROM}
    if emulator.signing_key:
        extra["signing_secret"] = emulator.signing_key
    if hitl_responders:
        extra["hitl_responders"] = hitl_responders
    return {
        "conn_type": "signalwire",
        "host": "example.signalwire.com",
        "login": emulator.project_id,
        "password": emulator.api_token,
        "extra": extra,
    }


def export_lines(emulator: SignalWireEmulator, hitl_responders: dict[str, Any] | None = None) -> str:
    """Shell lines to ``source`` (or ``eval``): the connection, and the emulator's address for its control API."""
    conn = json.dumps(connection(emulator, hitl_responders), separators=(",", ":"))
    return (
        f"# the local SignalWire emulator at {emulator.base_url} (a fake project, fake token)\n"
        f"export AIRFLOW_CONN_SIGNALWIRE_DEFAULT={shlex.quote(conn)}\n"
        f"export SIGNALWIRE_EMULATOR_URL={shlex.quote(emulator.base_url)}\n"
    )


def point_number(emulator: SignalWireEmulator, number: str, message_request_url: str) -> None:
    """Set ``number``'s "message comes in" webhook through the emulator's own Relay REST API, as SignalWire's is set."""
    (number_id,) = [n["id"] for n in emulator.phone_numbers if n["number"] == number]
    credentials = base64.b64encode(f"{emulator.project_id}:{emulator.api_token}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the emulator's own loopback URL
        f"{emulator.base_url}/api/relay/rest/phone_numbers/{number_id}",
        data=json.dumps({"message_request_url": message_request_url, "message_request_method": "POST"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def write_env_file(path: Path, text: str) -> None:
    """Write ``text`` readable by this user only, under a temporary name then moved: a reader never sees half."""
    path = path.expanduser().resolve()
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(partial, path)
