"""
Nothing missed when the triggerer dies: a real ``airflow triggerer`` SIGKILLed at random moments during a burst of
inbound SMS, restarted each time, turns every message into an asset event.

Airflow 3.3: the provider's asset listener adds each event's item to the watcher's cursor in the transaction that
stores the event, so the cursor covers exactly the stored events: after each restart the watcher resumes there,
and every message becomes exactly one event. Airflow 3.1 and 3.2 give a trigger no store: a restarted watcher
starts at the present, as the README says; this test is for 3.3. About 90 s.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time

import pytest
from airflow_compat import AIRFLOW_V_3_3_PLUS

from .conftest import CUSTOMER, SUPPORT_NUMBER
from .test_triggerer_end_to_end import _query, _start_triggerer, _wait, airflow_home

DAG_ID = "signalwire_burst"
MESSAGES = 200
KILLS = 5

DAG_FILE = f'''
from airflow.sdk import DAG, Asset, AssetWatcher, task
from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

burst = Asset(
    "signalwire_burst_sms",
    watchers=[
        AssetWatcher(
            name="burst", trigger=SignalWireNewMessageEventTrigger(to="{SUPPORT_NUMBER}", poll_interval=0.5)
        )
    ],
)

with DAG(dag_id="{DAG_ID}", schedule=[burst], catchup=False):

    @task
    def noop():
        pass

    noop()
'''


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="Airflow 3.1 and 3.2 give event triggers no store to resume from")
@pytest.mark.timeout(600)
def test_triggerer_killed_during_a_burst_misses_no_message(signalwire_conn, tmp_path):
    emulator = signalwire_conn
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "burst.py").write_text(DAG_FILE)
    env, database = airflow_home(
        tmp_path,
        dags / "burst.py",
        DAG_ID,
        # A killed triggerer's triggers go to the next one once its heartbeat is this old.
        AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC="1",
        AIRFLOW__SCHEDULER__TRIGGERER_HEALTH_CHECK_THRESHOLD="3",
    )
    log = tmp_path / "triggerer.log"

    def delivered() -> list[str]:
        rows = _query(database, "SELECT extra FROM asset_event ORDER BY id")
        return [json.loads(extra)["payload"]["sid"] for (extra,) in rows]

    sent: list[str] = []

    def burst() -> None:
        for i in range(MESSAGES):
            sent.append(emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body=f"burst {i}")["sid"])
            time.sleep(0.15)

    started = time.monotonic()
    triggerer = _start_triggerer(env, log)
    kills = 0
    try:
        _wait(lambda: _query(database, "SELECT 1 FROM asset_state_store"), 90, "the watcher to store its start")
        sender = threading.Thread(target=burst)
        sender.start()
        chooser = random.Random()
        while sender.is_alive() and kills < KILLS:
            time.sleep(chooser.uniform(2.0, 5.0))
            _kill(triggerer)
            kills += 1
            triggerer = _start_triggerer(env, log)
        sender.join()
        _wait(lambda: set(sent) <= set(delivered()), 180, "every message to become an asset event")
        time.sleep(3)  # anything fired twice late is counted too
    finally:
        _kill(triggerer)

    events = delivered()
    missing = set(sent) - set(events)
    repeated = len(events) - len(set(events))
    print(
        f"\nmessages={len(sent)} events={len(events)} missing={len(missing)} repeated={repeated} kills={kills} "
        f"seconds={time.monotonic() - started:.0f}"
    )
    assert len(sent) == MESSAGES and kills == KILLS
    assert not missing
    assert set(events) <= set(sent)  # no other message taken for one of these
    assert repeated == 0
