"""
Approve by text, the whole loop: the example DAG run by ``airflow dags test``, a real ``airflow api-server`` with the
webhook receiver, and the emulator texting the code and delivering the signed replies to the receiver.

``airflow dags test`` runs the tasks in its own process against the shared SQLite database; on 3.3 the task waits
in ``awaiting_input`` until the API server's answer resumes it. About 80 s. On 3.1 and 3.2 ``dags test`` cannot run
a HITL request at all (its in-process supervisor does not serve the trigger's ``GetHITLDetailResponse`` and the
task fails): there the loop needs a scheduler and a triggerer, which this test does not start yet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from airflow_compat import AIRFLOW_V_3_3_PLUS

from airflow_provider_signalwire.testing.emulator import SignalWireEmulator, webhook_delivery

from .conftest import SIGNING_KEY
from .test_webhook_api_server import _free_port, _rest_session

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_signalwire_hitl.py"
DAG_ID = "example_signalwire_hitl"
NUMBER = "+15550000001"  # the example's sending number, whose messaging webhook is the receiver
ALICE = "+15550000002"
STRANGER = "+15559990000"


def _wait(condition, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"{what}: process exited {process.returncode}\n{log.read_text()[-5000:] if log else ''}"
            )
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-5000:] if log else ''}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow", *command],
        env=env,
        cwd=env["AIRFLOW_HOME"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _replies(delivered: dict) -> list[str]:
    assert delivered["webhook_status"] == 200, delivered
    return [reply["body"] for reply in delivered["replies"]]


@pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason="airflow dags test cannot run a HITL trigger before 3.3 (GetHITLDetailResponse unhandled)",
)
@pytest.mark.timeout(420)
def test_a_signed_sms_reply_approves_the_request_and_every_bad_reply_changes_nothing(tmp_path):
    home, dags = tmp_path / "airflow", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    shutil.copy(EXAMPLE, dags / EXAMPLE.name)
    emulator = SignalWireEmulator(signing_key=SIGNING_KEY).start()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    connection = {
        "conn_type": "signalwire",
        "host": "example.signalwire.com",
        "login": emulator.project_id,
        "password": emulator.api_token,
        "extra": {
            "base_url": emulator.base_url,
            "signing_secret": SIGNING_KEY,
            "hitl_responders": {"alice": ALICE},
        },
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW_CONN_SIGNALWIRE_DEFAULT": json.dumps(connection),
    }
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=home, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    # The number's messaging webhook points at the receiver, as the README's set-up says.
    number_id = next(n["id"] for n in emulator.phone_numbers if n["number"] == NUMBER)
    requests.put(
        f"{emulator.base_url}/api/relay/rest/phone_numbers/{number_id}",
        auth=(emulator.project_id, emulator.api_token),
        json={"message_request_url": f"{url}/signalwire/webhooks/signalwire_default/messages"},
        timeout=10,
    ).raise_for_status()

    server_log, run_log = home / "api-server.log", home / "dags-test.log"
    server = _start(["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env, server_log)
    run = None
    try:
        _wait(lambda: _healthy(url), 120, "the api-server", server, server_log)
        rest = _rest_session(url)
        run = _start(["dags", "test", DAG_ID], env, run_log)

        def texted() -> list[dict]:
            return [m for m in emulator.messages if m["to"] == ALICE and m["direction"] == "outbound-api"]

        (request_sms,) = _wait(texted, 180, "the request's SMS", run, run_log)
        body = request_sms["body"]
        code = re.search(r"code (\d{4})\b", body).group(1)
        assert body.startswith("Load today's orders into the warehouse? - reply Approve/Reject + code ")
        assert re.search(r" by \w{3} \d\d \d\d:\d\d UTC: ", body), body
        assert f"{url}/dags/{DAG_ID}/runs/" in body and "/tasks/approve_load/required_actions?map_index=-1" in body
        (dag_run,) = rest.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).json()["dag_runs"]
        detail_url = (
            f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{dag_run['dag_run_id']}/taskInstances/approve_load/-1/hitlDetails"
        )

        def answered() -> bool:
            return rest.get(detail_url, timeout=30).json()["response_received"]

        wrong = f"{(int(code) + 1) % 10000:04d}"
        assert _replies(emulator.deliver_inbound_message(STRANGER, NUMBER, f"APPROVE {code}")) == [
            "This number may not answer Airflow requests."
        ]
        assert _replies(emulator.deliver_inbound_message(ALICE, NUMBER, f"APPROVE {wrong}")) == [
            "No open Airflow request has that code. Check the code in the SMS you got."
        ]
        assert _replies(emulator.deliver_inbound_message(ALICE, NUMBER, f"maybe {code}")) == [
            "Not an option of approve_load in example_signalwire_hitl. Reply Approve/Reject + code."
        ]
        assert not answered()

        accepted = emulator.deliver_inbound_message(ALICE, NUMBER, f"approve {code}")
        assert _replies(accepted) == ["Approved: approve_load in example_signalwire_hitl"]
        detail = rest.get(detail_url, timeout=30).json()
        assert detail["chosen_options"] == ["Approve"]
        assert detail["responded_by_user"]["id"] == "alice"

        # SignalWire (or anyone who caught it) delivers the same signed webhook again.
        fields = webhook_delivery.webhook_fields(emulator.project_id, accepted["message"])
        receiver = f"{url}/signalwire/webhooks/signalwire_default/messages"
        status, answer = webhook_delivery.post(receiver, SIGNING_KEY, fields)
        assert status == 200
        assert webhook_delivery.reply_texts(answer) == [
            "Already answered: approve_load in example_signalwire_hitl (by alice)."
        ]
        assert _replies(emulator.deliver_inbound_message(ALICE, NUMBER, f"REJECT {code}")) == [
            "Already answered: approve_load in example_signalwire_hitl (by alice)."
        ]
        assert rest.get(detail_url, timeout=30).json()["chosen_options"] == ["Approve"]

        assert run.wait(180) == 0, run_log.read_text()[-5000:]
        with sqlite3.connect(home / "airflow.db") as database:
            states = dict(database.execute("SELECT task_id, state FROM task_instance").fetchall())
        assert states == {"approve_load": "success", "publish": "success"}
        assert len(texted()) == 1, "one SMS per request"
        logs = server_log.read_text()
        assert "SignalWire HITL reply via 'signalwire_default' from user alice accepted" in logs
        assert logs.count("refused") >= 5
        assert f" {code}" not in logs and SIGNING_KEY not in logs
    finally:
        if run is not None:
            _stop(run)
        _stop(server)
        emulator.stop()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
