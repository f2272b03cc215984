"""
`make demo`: run the example DAGs against the local SignalWire emulator and say what happened.

It uses a SQLite Airflow home inside the repository (.airflow-demo/), starts the emulator on a free loopback
port, points the `signalwire_default` connection at it, runs each demo DAG with `airflow dags test`, prints
what the emulator received and what the searches found, then stops the emulator. No SignalWire account is
needed. Full Airflow output goes to .airflow-demo/demo.log.

A DAG is "ok" only if every one of its tasks succeeded on its first try (read from the metadata database after
the run): a task that passed on a retry is a failure the retry hid. The emulator moves statuses on with no time
between two steps, so no task races its clock (a call to +15005550006 is in progress as soon as it is placed,
and can be redirected at once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".airflow-demo"
LOG = HOME / "demo.log"

# (dag id, what it shows)
DEMO_DAGS = [
    ("example_signalwire_messages", "send an SMS and an MMS, wait for delivery, search the data interval"),
    ("example_signalwire_calls", "place a call, wait, look it up, hang up"),
    ("example_signalwire_retention", "delete old messages in one task (bodies cleared where deletion is refused)"),
    ("example_signalwire_api_call", "a raw API call: list the Space's phone numbers"),
]


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def _run(args: list[str], env: dict[str, str]) -> bool:
    with LOG.open("a") as log:
        log.write(f"\n$ {' '.join(args)}\n")
        log.flush()
        # Run from the Airflow home, not the checkout: from here Airflow would find the package twice.
        result = subprocess.run(args, env=env, stdout=log, stderr=subprocess.STDOUT, check=False, cwd=HOME)
        return result.returncode == 0


def _control(base_url: str, path: str, payload: dict | None = None) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        f"{base_url}/__emulator__/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


_TRIES_PROBE = """
import json, sys
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
with create_session() as session:
    run = session.query(DagRun).filter(DagRun.dag_id == sys.argv[1]).order_by(DagRun.id.desc()).first()
    tis = [] if run is None else run.get_task_instances(session=session)
    print(json.dumps([[ti.task_id, ti.map_index, ti.state, ti.try_number] for ti in tis]))
"""


def task_tries(dag_id: str, env: dict[str, str], cwd: Path = HOME) -> list[tuple[str, int, str | None, int]]:
    """(task id, map index, state, try number) of each task instance of the DAG's latest run."""
    args = [sys.executable, "-c", _TRIES_PROBE, dag_id]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False, cwd=cwd)
    try:
        return [tuple(row) for row in json.loads(out.stdout.strip().splitlines()[-1])]  # type: ignore[misc]
    except (IndexError, ValueError):
        return []


def not_first_try_successes(tries: list[tuple[str, int, str | None, int]]) -> list[str]:
    """Each task instance that did not succeed on its first try, as ``task: state on try N``; a run of none too."""
    if not tries:
        return ["no task instances found"]
    return [
        f"{task}{'' if index < 0 else f'[{index}]'}: {state} on try {number}"
        for task, index, state, number in tries
        if state != "success" or number != 1
    ]


def _search_results(env: dict[str, str]) -> dict[str, int]:
    """How many items each search task of the demo runs returned (read from XCom in the demo database)."""
    probe = """
import json
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
found = {}
with create_session() as session:
    rows = session.query(XComModel).filter(XComModel.key == "return_value", XComModel.task_id.like("search%"))
    for row in rows:
        value = row.value if not isinstance(row.value, str) else json.loads(row.value)
        if isinstance(value, list):
            found[f"{row.dag_id}.{row.task_id}"] = len(value)
print(json.dumps(found))
"""
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False, cwd=HOME)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {}


def main() -> int:
    # A fresh home each time: what the demo prints is about this run only.
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir()
    LOG.write_text("")
    env = _env()
    print("SignalWire provider demo: the example DAGs against the local emulator (no account needed)")
    print(f"  Airflow home: {HOME.relative_to(ROOT)} (SQLite); full output in {LOG.relative_to(ROOT)}")
    if not _run([sys.executable, "-m", "airflow", "db", "migrate"], env):
        print("  airflow db migrate failed; see the log")
        return 1
    # No time between two status steps: nothing in the demo depends on how fast Airflow runs its tasks.
    emulator_args = ["--port", "0", "--status-step-seconds", "0"]
    emulator = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_signalwire.testing.emulator", *emulator_args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    failures = 0
    try:
        assert emulator.stdout is not None
        fields = dict(part.split("=", 1) for part in emulator.stdout.readline().split()[1:])
        base_url = fields["base_url"]
        env["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = fields["conn_uri"]
        print(f"  emulator: {base_url}")
        # The messages DAG searches its data interval (yesterday, New York time); the retention DAG deletes
        # what is older than 90 days.
        new_york = ZoneInfo("America/New_York")
        yesterday_noon = datetime.combine(datetime.now(new_york).date() - timedelta(days=1), dt_time(12), new_york)
        inbound = [
            (yesterday_noon - timedelta(hours=3), "Is the report ready?"),
            (yesterday_noon + timedelta(hours=2), "Thanks!"),
            (datetime.now(UTC) - timedelta(days=120), "An old message past retention"),
        ]
        for sent, body in inbound:
            _control(
                base_url,
                "inbound/messages",
                {"from_": "+15557654321", "to": "+15550000001", "body": body, "date_sent": sent.timestamp()},
            )
        print(f"  injected {len(inbound)} inbound SMS into the emulator (2 from yesterday, 1 from 120 days ago)")
        print()
        for dag_id, what in DEMO_DAGS:
            started = time.monotonic()
            exited_0 = _run([sys.executable, "-m", "airflow", "dags", "test", dag_id], env)
            problems = ([] if exited_0 else ["airflow dags test failed"]) + not_first_try_successes(
                task_tries(dag_id, env)
            )
            failures += bool(problems)
            print(f"  {'FAILED' if problems else 'ok    '} {dag_id} ({time.monotonic() - started:.1f} s): {what}")
            for problem in problems:
                print(f"           {problem}")
        state = _control(base_url, "state")
        requests_seen = _control(base_url, "requests")
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    calls = [c for c in state["calls"] if c["direction"] != "inbound"]
    sent = [m for m in state["messages"] if m["direction"] != "inbound"]
    print()
    print("What the emulator received:")
    print(f"  {len(requests_seen['requests'])} API requests")
    for call in calls:
        print(f"  call {call['sid'][:8]}… to {call['to']}: {call['status']}")
    for message in sent:
        kind = "MMS" if int(message.get("num_media") or 0) else "SMS"
        print(f"  {kind} {message['sid'][:8]}… to {message['to']}: {message['status']} {message['body']!r}")
    left = [m for m in state["messages"] if m["direction"] == "inbound"]
    print(f"  inbound messages kept after the retention DAG: {[m['body'] for m in left]}")
    print("What the searches found:")
    for task, count in sorted(_search_results(env).items()):
        print(f"  {task}: {count} item(s)")
    print()
    print("Demo finished." if not failures else f"{failures} DAG(s) failed; see {LOG.relative_to(ROOT)}.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
