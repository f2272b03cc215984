"""
Approve by text, the whole loop, as a deployment runs it: the example DAG triggered through the REST API and run
by a real ``airflow scheduler`` (LocalExecutor, SQLite), a real ``airflow api-server`` with the webhook receiver
(and the execution API the tasks talk to), a real ``airflow triggerer`` where the request waits through a trigger
(3.1, 3.2), and the emulator texting the code and delivering the signed replies to the receiver.

Airflow 3.x runs the LocalExecutor on SQLite (the SequentialExecutor is gone); the DAG is written to the database
once with ``airflow dags reserialize`` instead of a DAG processor running beside.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from airflow_compat import AIRFLOW_V_3_3_PLUS

from airflow_provider_signalwire.api.segments import count_segments
from airflow_provider_signalwire.testing.emulator import SignalWireEmulator, webhook_delivery

from .conftest import SIGNING_KEY
from .test_webhook_api_server import _free_port, _rest_session

EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_signalwire_hitl.py"
DAG_ID = "example_signalwire_hitl"
NUMBER = "+15550000001"  # the example's sending number, whose messaging webhook is the receiver
ALICE = "+15550000002"
BOB, CAROL = "+15550000003", "+15550000004"
MAPPED_DAG_ID = "mapped_signalwire_approvals"
#: Eight mapped requests to two responders at once: each gets its own code, and both responders get all eight.
MAPPED_DAG = f"""
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG

from airflow_provider_signalwire.notifications import SignalWireHITLNotifier

with DAG(dag_id={MAPPED_DAG_ID!r}, schedule=None, catchup=False):
    ApprovalOperator.partial(
        task_id="approve_each",
        assigned_users=[{{"id": "bob", "name": "bob"}}, {{"id": "carol", "name": "carol"}}],
        notifiers=[SignalWireHITLNotifier(from_="+15550000001")],
    ).expand(subject=[f"Publish batch {{n}}?" for n in range(8)])
"""
STRANGER = "+15559990000"
#: How the request waits for its answer: in ``awaiting_input`` from 3.3, deferred to the trigger before.
WAITING = "awaiting_input" if AIRFLOW_V_3_3_PLUS else "deferred"


def _wait(condition, timeout: float, what: str, processes: dict[str, tuple[subprocess.Popen, Path]]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for name, (process, log) in processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{what}: {name} exited {process.returncode}\n{log.read_text()[-5000:]}")
        time.sleep(0.5)
    logs = "\n".join(f"--- {name}\n{log.read_text()[-3000:]}" for name, (_, log) in processes.items())
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _airflow(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *command], env=env, cwd=env["AIRFLOW_HOME"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _replies(delivered: dict) -> list[str]:
    assert delivered["webhook_status"] == 200, delivered
    return [reply["body"] for reply in delivered["replies"]]


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.timeout(420)
def test_a_signed_sms_reply_approves_the_request_and_every_bad_reply_changes_nothing(tmp_path):
    home, dags = tmp_path / "airflow", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    shutil.copy(EXAMPLE, dags / EXAMPLE.name)
    (dags / "mapped_approvals.py").write_text(MAPPED_DAG)
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
            "hitl_responders": {"alice": ALICE, "bob": BOB, "carol": CAROL},
        },
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "hitl-end-to-end-test-jwt-secret",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW_CONN_SIGNALWIRE_DEFAULT": json.dumps(connection),
    }
    _airflow(["db", "migrate"], env)
    _airflow(["dags", "reserialize"], env)
    # The number's messaging webhook points at the receiver, as the README's set-up says.
    number_id = next(n["id"] for n in emulator.phone_numbers if n["number"] == NUMBER)
    requests.put(
        f"{emulator.base_url}/api/relay/rest/phone_numbers/{number_id}",
        auth=(emulator.project_id, emulator.api_token),
        json={"message_request_url": f"{url}/signalwire/webhooks/signalwire_default/messages"},
        timeout=10,
    ).raise_for_status()

    components = {"api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]}
    components["scheduler"] = ["scheduler"]
    if not AIRFLOW_V_3_3_PLUS:
        components["triggerer"] = ["triggerer"]
    processes: dict[str, tuple[subprocess.Popen, Path]] = {}
    try:
        for name, command in components.items():
            log = home / f"{name}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *command],
                env=env,
                cwd=home,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes[name] = (process, log)
        _wait(lambda: _healthy(url), 120, "the api-server", processes)
        rest = _rest_session(url)
        triggered = rest.post(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}, timeout=30)
        assert triggered.status_code == 200, triggered.text
        run_url = f"{url}/api/v2/dags/{DAG_ID}/dagRuns/{triggered.json()['dag_run_id']}"

        def texted() -> list[dict]:
            return [m for m in emulator.messages if m["to"] == ALICE and m["direction"] == "outbound-api"]

        def state(task_id: str) -> str | None:
            return rest.get(f"{run_url}/taskInstances/{task_id}", timeout=30).json().get("state")

        (request_sms,) = _wait(texted, 180, "the request's SMS", processes)
        body = request_sms["body"]
        code = re.search(r"code (\d{8})\b", body).group(1)
        assert body.startswith("Load today's orders into the warehouse? - reply Approve/Reject + code ")
        assert re.search(r" by \w{3} \d\d \d\d:\d\d UTC: ", body), body
        # The run's own link is longer than one segment leaves room for: the SMS links the Required Actions page.
        assert body.endswith(f" UTC: {url}/required_actions") and count_segments(body).segments == 1, body
        assert rest.get(f"{url}/required_actions", timeout=30).status_code == 200
        # The responder answers once the request waits, as it does a moment after the SMS.
        _wait(lambda: state("approve_load") == WAITING, 60, f"approve_load {WAITING}", processes)
        if AIRFLOW_V_3_3_PLUS:
            # Airflow 3.3.2 fails a request answered before its scheduler took the executor's report of the pause
            # ("finished with state success, but the task instance's state attribute is queued"): a person takes
            # longer than that, a busy test machine's scheduler may not. Answer once the report is taken.
            paused = "Received executor event with state success for task instance TaskInstanceKey(dag_id="
            paused += f"'{DAG_ID}', task_id='approve_load'"
            _wait(lambda: paused in processes["scheduler"][1].read_text(), 120, "the pause reported", processes)
        detail_url = f"{run_url}/taskInstances/approve_load/-1/hitlDetails"

        def answered() -> bool:
            return rest.get(detail_url, timeout=30).json()["response_received"]

        wrong = f"{(int(code) + 1) % 10**8:08d}"
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
        assert state("approve_load") == WAITING

        accepted = emulator.deliver_inbound_message(ALICE, NUMBER, f"approve {code}")
        assert _replies(accepted) == ["Approved: approve_load in example_signalwire_hitl"]
        detail = rest.get(detail_url, timeout=30).json()
        assert detail["chosen_options"] == ["Approve"]
        assert detail["responded_by_user"]["id"] == "alice"

        # SignalWire (or anyone who caught it) delivers the same signed webhook again: the same reply, answered
        # as it was the first time, and recorded no second time.
        fields = webhook_delivery.webhook_fields(emulator.project_id, accepted["message"])
        receiver = f"{url}/signalwire/webhooks/signalwire_default/messages"
        status, answer = webhook_delivery.post(receiver, SIGNING_KEY, fields)
        assert status == 200
        assert webhook_delivery.reply_texts(answer) == ["Approved: approve_load in example_signalwire_hitl"]
        assert _replies(emulator.deliver_inbound_message(ALICE, NUMBER, f"REJECT {code}")) == [
            "Already answered: approve_load in example_signalwire_hitl (by alice)."
        ]
        assert rest.get(detail_url, timeout=30).json()["chosen_options"] == ["Approve"]

        # The run goes on down the approved branch.
        _wait(lambda: rest.get(run_url, timeout=30).json()["state"] in ("success", "failed"), 180, "the run", processes)
        assert rest.get(run_url, timeout=30).json()["state"] == "success"
        assert {"approve_load": state("approve_load"), "publish": state("publish")} == {
            "approve_load": "success",
            "publish": "success",
        }
        assert len(texted()) == 1, "one SMS per request"

        # Eight mapped requests, whose notifiers claim their codes at the same time from task processes (through
        # the API server's claim route): every one texted to both responders, each with its own code. (Triggered
        # once the first run is over: on 3.3.2 a busy scheduler fails a request answered within a second or two of
        # its pause, before the executor reported the pause.)
        mapped = rest.post(f"{url}/api/v2/dags/{MAPPED_DAG_ID}/dagRuns", json={"logical_date": None}, timeout=30)
        assert mapped.status_code == 200, mapped.text

        def mapped_codes(number: str) -> list[str]:
            sent = [m["body"] for m in emulator.messages if m["to"] == number and m["direction"] == "outbound-api"]
            return [re.search(r"code (\d{8})\b", body).group(1) for body in sent]

        _wait(lambda: len(mapped_codes(BOB)) >= 8 and len(mapped_codes(CAROL)) >= 8, 180, "8 + 8 SMS", processes)
        time.sleep(1)
        assert sorted(mapped_codes(BOB)) == sorted(mapped_codes(CAROL)) and len(set(mapped_codes(BOB))) == 8
        logs = processes["api-server"][1].read_text()
        assert "SignalWire HITL reply via 'signalwire_default' from user alice accepted" in logs
        assert logs.count("refused") >= 4
        assert f" {code}" not in logs and SIGNING_KEY not in logs
        import sqlite3

        with sqlite3.connect(home / "airflow.db") as database:
            stored = " ".join(value for (value,) in database.execute("SELECT val FROM variable"))
        assert code not in stored and not any(c in stored for c in mapped_codes(BOB)), "codes are sealed"
        # No reply, accepted or refused, from a mapped number or not, became an inbound-message event.
        inbound = rest.get(f"{url}/api/v2/assets/events", params={"limit": 100}, timeout=30).json()["asset_events"]
        assert not [e for e in inbound if code in json.dumps(e.get("extra"))], "approval replies make no events"
    finally:
        for process, _ in processes.values():
            _stop(process)
        emulator.stop()
