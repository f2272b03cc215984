"""
The example event-driven DAG with a real ``airflow triggerer`` process, restarted once.

Its own metadata database (the triggerer would otherwise also run the other tests' triggers). The DAG is
written to it unpaused, as the DAG processor does, which registers the asset watcher. The triggerer then
turns inbound SMS into asset events with the message as payload, and queues the DAG for the scheduler.

Airflow 3.3+ keeps the watcher's cursor in the asset state store: a message that arrives while the triggerer
is down comes after its restart, and none comes twice. Airflow 3.1 and 3.2 have no such store: the watcher
starts at the present each time, warning that what arrives while it is not running is not seen, and that
message never comes (the ones after the restart do).

What it leaves out: the scheduler creating the run from the queue and a worker running the task (plain
Airflow; ``test_asset_state_store.py`` runs the task's code on these asset events). About 70 s.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow_compat import AIRFLOW_V_3_3_PLUS

from .conftest import CUSTOMER, EXAMPLE_DAGS, SUPPORT_NUMBER

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_signalwire_event_driven"


def _query(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute(sql).fetchall()


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def airflow_home(tmp_path: Path, dag_file: Path, dag_id: str, **settings: str) -> tuple[dict[str, str], Path]:
    """
    A migrated SQLite Airflow home of its own, with ``dag_file``'s DAG written to it unpaused (which registers its
    asset watchers): the environment to run Airflow in, and the database's path.
    """
    home = tmp_path / "airflow"
    home.mkdir()
    database = home / "airflow.db"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **settings,
    }
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    sync = (
        "from pathlib import Path; from tests.watchers.conftest import sync_unpaused; "
        f"sync_unpaused(Path({str(dag_file)!r}), {dag_id!r})"
    )
    sync_env = {**env, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    subprocess.run([sys.executable, "-c", sync], env=sync_env, cwd=REPO, check=True, capture_output=True)
    return env, database


def _start_triggerer(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow", "triggerer"],
        env=env,
        cwd=env["AIRFLOW_HOME"],  # outside the source tree, as Airflow runs
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.mark.timeout(300)
def test_real_triggerer_turns_inbound_sms_into_asset_events_across_a_restart(signalwire_conn, tmp_path):
    emulator = signalwire_conn
    env, database = airflow_home(tmp_path, EXAMPLE_DAGS / "example_signalwire_event_driven.py", DAG_ID)
    log = tmp_path / "triggerer.log"

    def events() -> list[dict]:
        return [
            json.loads(extra)["payload"] for (extra,) in _query(database, "SELECT extra FROM asset_event ORDER BY id")
        ]

    def watching(starts: int) -> bool:
        """Whether the watcher is polling, in the triggerer's ``starts``-th run."""
        if AIRFLOW_V_3_3_PLUS:  # its first run finds no cursor and stores "the present"
            return bool(_query(database, "SELECT 1 FROM asset_state_store"))
        # No store: each run starts at the present, and says so.
        return log.read_text().count("Watching new SignalWire messages from the present") >= starts

    triggerer = _start_triggerer(env, log)
    try:
        _wait(lambda: watching(1), 90, "the watcher to start")
        first = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="first, while it runs")
        emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="not the support line")
        _wait(lambda: len(events()) >= 1, 60, "the first asset event")
        if AIRFLOW_V_3_3_PLUS:  # the cursor is stored once Airflow confirmed the event was: stop after that
            _wait(
                lambda: any(first["sid"] in v for (v,) in _query(database, "SELECT value FROM asset_state_store")),
                30,
                "the cursor to cover the first event",
            )
    finally:
        _stop(triggerer)

    second = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="second, while it is down")
    triggerer = _start_triggerer(env, log)
    try:
        if AIRFLOW_V_3_3_PLUS:
            expected = [first["sid"], second["sid"]]
        else:
            _wait(lambda: watching(2), 90, "the watcher to start again")
            third = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="third, after the restart")
            expected = [first["sid"], third["sid"]]
        _wait(lambda: len(events()) >= 2, 90, "the second asset event")
        polls = emulator.count_requests("GET", r"/Messages$")
        _wait(lambda: emulator.count_requests("GET", r"/Messages$") > polls, 30, "one more poll")
    finally:
        _stop(triggerer)

    payloads = events()
    assert [p["sid"] for p in payloads] == expected, log.read_text()[-3000:]
    if not AIRFLOW_V_3_3_PLUS:
        assert "Items that arrive while the trigger is not running will not be seen." in log.read_text()
    assert payloads[0]["body"] == "first, while it runs" and payloads[0]["from"] == CUSTOMER
    queued = _query(database, "SELECT target_dag_id FROM asset_dag_run_queue")
    assert (DAG_ID,) in queued  # what the scheduler starts a run from
    assert emulator.api_token not in log.read_text()
