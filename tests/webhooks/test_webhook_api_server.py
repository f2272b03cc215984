"""
The receiver in a real ``airflow api-server`` (SQLite home of its own, loopback port), loaded as the installed
provider's plugin, and the events it records seen through Airflow's REST API. And the plugin's one declaration:
the ``airflow.plugins`` entry point, which Airflow loads however it discovers providers.
"""

from __future__ import annotations

import json
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
    rest: requests.Session  # Airflow's REST API, as a user of the simple auth manager (every user is admin)

    def api(self, path: str, **params: object) -> dict:
        response = self.rest.get(f"{self.url}/api/v2/{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def events(self, uri: str) -> list[dict]:
        events = self.api("assets/events", name_pattern=uri, limit=100)["asset_events"]
        return [event for event in events if event["uri"] == uri]


def _rest_session(url: str) -> requests.Session:
    """
    A session with a token of the simple auth manager's all-admins mode. From 3.2 the API server adds one to
    requests that carry none; 3.1 answers those 401.
    """
    response = requests.get(f"{url}/auth/token", timeout=30)
    response.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


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
        # Not a SignalWire connection: its (weak) password must not sign claims.
        "AIRFLOW_CONN_METADATA_DB": "postgres://postgres:airflow@postgres:5432/airflow",
    }
    assert _plugin_entry_point_installed(), "reinstall the package (pip install -e .): its plugin is an entry point"
    # Started outside the source tree, as Airflow is (see test_airflow_loads_the_plugin_once_...).
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]

    command = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)]
    log_path = home / "api-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", "1"],
            env=env,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"airflow api-server exited with {process.returncode}:\n{log_path.read_text()[-5000:]}")
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"airflow api-server did not come up:\n{log_path.read_text()[-5000:]}")
            time.sleep(0.5)
        yield ApiServer(url=url, log=log_path, rest=_rest_session(url))
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
    plugins = api_server.api("plugins")["plugins"]
    mounted = [app for plugin in plugins for app in plugin["fastapi_apps"] if plugin["name"] == "signalwire_webhooks"]
    assert [(app["url_prefix"], app["name"]) for app in mounted] == [("/signalwire", "SignalWire webhooks")]
    assert "already registered" not in api_server.log.read_text()


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


def test_a_replay_is_refused_for_as_long_as_its_event_is_kept(api_server):
    import sqlite3
    from datetime import datetime, timedelta

    uri = f"signalwire://{CONN_ID}/messages"
    params = inbound_sms(Body="replayed a month later")
    assert _post_sms(api_server, params).status_code == 200
    (event,) = [e for e in api_server.events(uri) if e["extra"]["MessageSid"] == params["MessageSid"]]
    # A month passes: the event is still kept (until `airflow db clean` removes it).
    with sqlite3.connect(api_server.log.parent / "airflow.db") as database:
        (stored,) = database.execute("SELECT timestamp FROM asset_event WHERE id = ?", (event["id"],)).fetchone()
        earlier = (datetime.fromisoformat(stored) - timedelta(days=30)).isoformat(sep=" ")
        database.execute("UPDATE asset_event SET timestamp = ? WHERE id = ?", (earlier, event["id"]))

    replay = _post_sms(api_server, params)

    assert replay.status_code == 200 and replay.text == EMPTY_CXML
    assert [e["id"] for e in api_server.events(uri) if e["extra"]["MessageSid"] == params["MessageSid"]] == [
        event["id"]
    ]


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


def test_plugin_is_declared_once_as_an_entry_point_and_not_in_the_provider_info():
    from airflow_provider_signalwire.get_provider_info import get_provider_info

    # Declared in both places, Airflow loads it twice when it discovers providers eagerly ([core]
    # lazy_discover_providers off), and the second time warns "Plugin 'signalwire_webhooks' already registered".
    assert "plugins" not in get_provider_info()
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["airflow.plugins"] == {"signalwire_webhooks": PLUGIN_CLASS}
    installed = [(e.name, e.value) for e in metadata.entry_points(group="airflow.plugins") if "signalwire" in e.value]
    assert installed == [("signalwire_webhooks", PLUGIN_CLASS)], "reinstall the package (pip install -e .)"


@pytest.mark.parametrize("lazy_discover_providers", ["True", "False"])
def test_airflow_loads_the_plugin_once_however_it_discovers_providers(tmp_path, lazy_discover_providers):
    """
    Airflow's plugins manager, in a process of its own as in every Airflow component, with either discovery.

    Run outside the source tree, as Airflow is: there an editable install's ``*.egg-info`` is on ``sys.path``
    too, Airflow finds the distribution twice, and loads (3.2+: warns of) the entry point twice.
    """
    tests = Path(__file__).parents[1]
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": lazy_discover_providers,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tests), os.environ.get("PYTHONPATH")])),
    }
    script = "import json, airflow_compat; print('LOADED ' + json.dumps(airflow_compat.loaded_plugins(), default=str))"
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]

    loaded = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("LOADED "))[7:])
    (plugin,) = [p for p in loaded["plugins"] if p["name"] == "signalwire_webhooks"]
    assert "group='airflow.plugins'" in plugin["source"], plugin  # through the entry point
    assert "already registered" not in output, output[-5000:]
    assert not [error for error in loaded["import_errors"].items() if "signalwire" in str(error)], loaded
    assert "signalwire_webhooks" not in loaded["provider_plugins"]  # no provider info declares it (3.1 is silent)


# The claim route: once-only markers for tasks and triggers, which Airflow keeps from the database ---------------


def _claim_markers(api_server: ApiServer, owner: str):
    from airflow_provider_signalwire.ledger import SharedMarkers
    from airflow_provider_signalwire.ledger_stores import ApiServerStore

    store = ApiServerStore(CONN_ID, url=f"{api_server.url}/signalwire/claims/{CONN_ID}")
    return SharedMarkers(owner, ttl=600, conn_id=CONN_ID, store=store)


def test_claims_through_the_api_server_are_atomic_under_concurrent_callers(api_server, monkeypatch):
    import threading
    import uuid

    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_json(webhook_base_url=PUBLIC_BASE_URL))
    owner = f"route_{uuid.uuid4().hex[:8]}"
    start = threading.Barrier(16)
    same: list[str | None] = [None] * 16
    different: list[str | None] = [None] * 16

    def claim(index: int) -> None:
        markers = _claim_markers(api_server, owner)
        start.wait()
        same[index] = markers.claim("one alert")
        different[index] = markers.claim(f"alert {index}")

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sum(1 for token in same if token) == 1, same
    assert all(different), different
    markers = _claim_markers(api_server, owner)
    assert markers.claim("one alert") is None and markers.get("alert 3") == {}


def test_the_claim_route_refuses_unsigned_stale_and_foreign_requests(api_server, monkeypatch):
    from airflow_provider_signalwire.ledger_stores import claim_prefix, sign_claim_request

    url = f"{api_server.url}/signalwire/claims/{CONN_ID}"
    token = json.loads(connection_json())["password"]

    def post(body: dict, *, stamp: float | None = None, key: str = token) -> requests.Response:
        data = json.dumps(body).encode()
        when = str(int(time.time() if stamp is None else stamp))
        headers = {"X-SignalWire-Claim-Time": when}
        headers["X-SignalWire-Claim-Signature"] = sign_claim_request(key, when, CONN_ID, data)
        return requests.post(url, data=data, headers=headers, timeout=30)

    mine = {"op": "read", "key": claim_prefix(CONN_ID) + "x"}
    assert post(mine).status_code == 200
    assert requests.post(url, json=mine, timeout=30).status_code == 403, "unsigned"
    assert post(mine, key="not-the-token").status_code == 403
    assert post(mine, stamp=time.time() - 3600).status_code == 403, "an hour old"
    assert post({"op": "read", "key": "some_other_variable"}).status_code == 403, "not a marker of this connection"
    assert post({"op": "read", "key": claim_prefix("another_conn") + "x"}).status_code == 403
    long_stamp = {"X-SignalWire-Claim-Time": "9" * 400, "X-SignalWire-Claim-Signature": "00"}
    assert requests.post(url, json=mine, headers=long_stamp, timeout=30).status_code == 403, "not a 500"
    foreign = f"{api_server.url}/signalwire/claims/metadata_db"
    data = json.dumps({"op": "swap", "key": claim_prefix("metadata_db") + "x", "new": "y" * 1000}).encode()
    when = str(int(time.time()))
    signed = {"X-SignalWire-Claim-Time": when}
    signed["X-SignalWire-Claim-Signature"] = sign_claim_request("airflow", when, "metadata_db", data)
    assert requests.post(foreign, data=data, headers=signed, timeout=30).status_code == 403, "only SignalWire's"
