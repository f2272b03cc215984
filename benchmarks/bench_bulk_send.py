"""
Bulk send: 10,000 recipients at 50 messages a second against the emulator (its own process, rate-limited at 50
segments a second per sender), with the worker SIGKILLed at a random moment and then retried.

Reports the achieved rate of each try (target: within 5 % of the limit), the retry's memory over the run (target:
flat), and how many texts each recipient got, counted at the emulator (target: exactly one each).

The "worker" is a process that runs the operator's ``execute`` the way a task runs it, with its ledger in Airflow
Variables of a SQLite metadata database made for the run (``airflow db migrate`` in a temporary AIRFLOW_HOME): the
path Airflow 3.1 and 3.2 take, and 3.3 without a task state store. The retry is the same task instance's try 2.

    .venv/bin/python benchmarks/bench_bulk_send.py [--recipients 10000] [--rate 50] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator import RunningEmulator

FROM = "+15550000001"


def worker(recipients: int, rate: float, try_number: int) -> None:
    """One try of the bulk send task instance: runs until done (or killed)."""
    from types import SimpleNamespace

    from airflow_provider_signalwire.operators import SignalWireBulkSendOperator

    people = [{"to": f"+1555{i:07d}", "name": f"Customer {i}"} for i in range(recipients)]
    operator = SignalWireBulkSendOperator(
        task_id="bulk",
        recipients=people,
        body="Hi {{ name }}, your parcel arrives today between 9 and 12.",
        from_=FROM,
        messages_per_second=rate,
        fail_on=None,
    )
    task = SimpleNamespace(retries=1)
    ti = SimpleNamespace(
        dag_id="bench", task_id="bulk", run_id="run", map_index=-1, try_number=try_number, max_tries=1, task=task
    )
    summary = operator.execute({"ti": ti, "task": task})
    print(json.dumps(summary), flush=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def get(emulator: RunningEmulator, path: str) -> dict:
    with urllib.request.urlopen(f"{emulator.base_url}/__emulator__/{path}", timeout=600) as answer:
        return json.loads(answer.read())


def post_times(emulator: RunningEmulator) -> list[float]:
    return [r["time"] for r in get(emulator, "requests?method=POST")["requests"] if r["status"] == 201]


def rate_of(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def start_emulator(rate: float) -> tuple[subprocess.Popen, RunningEmulator]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_signalwire.testing.emulator",
            "--port",
            "0",
            "--message-rate",
            str(rate),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    fields = dict(part.split("=", 1) for part in process.stdout.readline().split()[1:])
    return process, RunningEmulator(base_url=fields["base_url"], connection_uri=fields["conn_uri"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.recipients, args.rate, args.worker)
        return

    home = tempfile.mkdtemp(prefix="bench-bulk-airflow-")
    env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    emulator_process, emulator = start_emulator(args.rate)
    env["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = emulator.connection_uri
    command = [sys.executable, __file__, "--recipients", str(args.recipients), "--rate", str(args.rate)]
    duration = args.recipients / args.rate
    kill_after = random.Random(args.seed).uniform(0.2, 0.8) * duration
    try:
        first = subprocess.Popen([*command, "--worker", "1"], env=env, stdout=subprocess.PIPE, text=True)
        while not post_times(emulator):  # the worker starts (imports Airflow) before its first text
            time.sleep(0.2)
        time.sleep(kill_after)
        first.send_signal(signal.SIGKILL)
        first.wait()
        before_kill = post_times(emulator)
        print(f"try 1: SIGKILL {kill_after:.1f} s after its first text, {len(before_kill)} texts sent", flush=True)

        second = subprocess.Popen([*command, "--worker", "2"], env=env, stdout=subprocess.PIPE, text=True)
        samples: list[tuple[float, int]] = []
        while second.poll() is None:
            samples.append((time.time(), rss_kib(second.pid)))
            time.sleep(2)
        assert second.stdout is not None
        summary = json.loads(second.stdout.read().strip().splitlines()[-1])
        all_times = post_times(emulator)
        after_kill = all_times[len(before_kill) :]

        per_number = Counter(m["to"] for m in get(emulator, "state")["messages"])
        expected = {f"+1555{i:07d}" for i in range(args.recipients)}
        missing = expected - set(per_number)
        twice = sum(1 for count in per_number.values() if count > 1)
        # While it sends: from its first text on (before it, the worker is importing Airflow).
        sampled = [kib for at, kib in samples if kib and after_kill and at > after_kill[0] + 1]
        tenth = max(1, len(sampled) // 10)
        print(f"try 2: summary {summary}")
        print(f"achieved rate: try 1 {rate_of(before_kill):.2f}/s, try 2 {rate_of(after_kill):.2f}/s "
              f"(limit {args.rate:g}/s, target within 5 %)")  # fmt: skip
        first_tenth, last_tenth = max(sampled[:tenth]) / 1024, max(sampled[-tenth:]) / 1024
        print(f"try 2 RSS while sending: first tenth {first_tenth:.1f} MiB, last tenth {last_tenth:.1f} MiB, "
              f"peak {max(sampled) / 1024:.1f} MiB ({len(sampled)} samples)")  # fmt: skip
        print(f"texts at the emulator: {sum(per_number.values())} to {len(per_number)} numbers; "
              f"missing {len(missing)}, texted more than once {twice}")  # fmt: skip
        ok_rate = all(abs(rate_of(t) - args.rate) <= 0.05 * args.rate for t in (before_kill, after_kill) if len(t) > 1)
        ok = ok_rate and not missing and not twice
        print("PASS" if ok else "FAIL")
    finally:
        emulator_process.terminate()
        emulator_process.wait(timeout=30)


if __name__ == "__main__":
    main()
