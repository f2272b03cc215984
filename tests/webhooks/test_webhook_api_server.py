"""
The receiver in a real ``airflow api-server`` (SQLite home of its own, loopback port), loaded as the installed
provider's plugin, and the events it records seen through Airflow's REST API.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
import requests

from ._signing import sign_form
from .conftest import SIGNING_KEY, connection_json, inbound_sms

PLUGIN_CLASS = "airflow_provider_signalwire.webhooks.plugin:SignalWireWebhookPlugin"
CONN_ID = "signalwire_inbound"
# SignalWire reaches Airflow through a proxy: signatures are made over this public URL, not the loopback one.
PUBLIC_BASE_URL = "https://airflow.example.test"
EMPTY_CXML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@dataclass
class ApiServer:
    url: str
    log: Path

    def events(self, uri: str) -> list[dict]:
        response = requests.get(
            f"{self.url}/api/v2/assets/events", params={"name_pattern": uri, "limit": 100}, timeout=30
        )
        response.raise_for_status()
        return [event for event in response.json()["asset_events"] if event["uri"] == uri]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _plugin_entry_point_installed() -> bool:
    return any(entry.value == PLUGIN_CLASS for entry in metadata.entry_points(group="airflow.plugins"))


@pytest.fixture(scope="module")
def api_server(tmp_path_factory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("api-server-home")
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__BASE_URL": "",
        f"AIRFLOW_CONN_{CONN_ID.upper()}": connection_json(webhook_base_url=PUBLIC_BASE_URL),
    }
    if not _plugin_entry_point_installed():
        # Not reinstalled since the airflow.plugins entry point was declared: load the plugin through the
        # provider info's "plugins" instead, which Airflow reads only when providers are discovered eagerly.
        env["AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS"] = "False"
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]

    command = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)]
    log_path = home / "api-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = ApiServer(url=f"http://127.0.0.1:{port}", log=log_path)
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"airflow api-server exited with {process.returncode}:\n{log_path.read_text()[-5000:]}")
            try:
                if requests.get(f"{server.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"airflow api-server did not come up:\n{log_path.read_text()[-5000:]}")
            time.sleep(0.5)
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _post_sms(server: ApiServer, params: dict[str, str], *, key: str = SIGNING_KEY) -> requests.Response:
    path = f"/signalwire/webhooks/{CONN_ID}/messages"
    signature = sign_form(key, PUBLIC_BASE_URL + path, params)
    return requests.post(server.url + path, data=params, headers={"X-SignalWire-Signature": signature}, timeout=30)


def test_api_server_mounts_the_provider_plugin(api_server):
    plugins = requests.get(f"{api_server.url}/api/v2/plugins", timeout=30).json()["plugins"]
    mounted = [app for plugin in plugins for app in plugin["fastapi_apps"] if plugin["name"] == "signalwire_webhooks"]
    assert [(app["url_prefix"], app["name"]) for app in mounted] == [("/signalwire", "SignalWire webhooks")]


def test_signed_sms_makes_exactly_one_event_and_a_replay_none(api_server):
    uri = f"signalwire://{CONN_ID}/messages"
    params = inbound_sms(Body="Deploy now")

    first = _post_sms(api_server, params)
    assert first.status_code == 200, first.text
    assert first.text == EMPTY_CXML
    recorded = api_server.events(uri)
    assert len(recorded) == 1
    assert recorded[0]["extra"]["MessageSid"] == params["MessageSid"]
    assert recorded[0]["extra"]["Body"] == "Deploy now"

    replay = _post_sms(api_server, params)
    assert replay.status_code == 200
    assert len(api_server.events(uri)) == 1


def test_concurrent_redeliveries_make_one_event(api_server):
    from concurrent.futures import ThreadPoolExecutor

    uri = f"signalwire://{CONN_ID}/messages"
    params = inbound_sms(Body="sent eight times at once")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _post_sms(api_server, params), range(8)))

    assert [answer.status_code for answer in answers] == [200] * 8
    assert [e["extra"]["Body"] for e in api_server.events(uri) if e["extra"]["MessageSid"] == params["MessageSid"]] == [
        "sent eight times at once"
    ]


def test_wrongly_signed_sms_gets_403_and_makes_no_event(api_server):
    uri = f"signalwire://{CONN_ID}/messages"
    before = len(api_server.events(uri))
    params = inbound_sms()

    response = _post_sms(api_server, params, key="PSK_not_the_projects_key")

    assert response.status_code == 403
    assert response.text == "Forbidden"
    after = api_server.events(uri)
    assert len(after) == before
    assert all(event["extra"].get("MessageSid") != params["MessageSid"] for event in after)
    assert SIGNING_KEY not in api_server.log.read_text()


def test_plugin_is_declared_for_both_discovery_routes():
    from airflow_provider_signalwire.get_provider_info import get_provider_info

    # Airflow reads a provider info's "plugins" only with [core] lazy_discover_providers off; the
    # airflow.plugins entry point is read always.
    declared = [plugin["plugin-class"] for plugin in get_provider_info().get("plugins", [])]
    assert declared == [PLUGIN_CLASS.replace(":", ".")]
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entry_points = pyproject["project"]["entry-points"].get("airflow.plugins", {})
    assert PLUGIN_CLASS in entry_points.values()
