"""
Many SignalWire event triggers in one event loop, as in a triggerer, against the local emulator.

By default: 500 ``SignalWireNewMessageEventTrigger`` (each watching its own number, each with its own
cursor store) poll every 5 s for a minute, while one inbound SMS per trigger arrives at a random moment.
It prints a table and exits non-zero unless:

* the process used less than 20% of one core (CPU time from ``resource.getrusage`` over the run);
* every message was delivered as exactly one event, to its own trigger;
* the open connections to SignalWire never exceeded the shared pool's size.

The emulator runs in a child process, so its work is not counted. Run it with::

    .venv/bin/python benchmarks/bench_triggers.py [--triggers 500] [--poll-interval 5] [--duration 60]

``--duration 10 --triggers 50`` makes a quick smoke run. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

CPU_LIMIT = 0.20  # of one core


class MemoryStore:
    """One asset's state store (aget/aset), kept in memory: the benchmark measures the provider, not the database."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


def start_emulator() -> tuple[subprocess.Popen[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_signalwire.testing.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    return process, fields["base_url"], fields["conn_uri"]


def control(base_url: str, method: str, route: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(  # the local emulator
        f"{base_url}/__emulator__/{route}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def number(i: int) -> str:
    return f"+1555200{i:04d}"


def open_connections(port: int) -> int:
    import psutil

    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


async def run(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    from airflow_provider_signalwire.hooks.asynchronous import POOL_SIZE, close_shared_clients
    from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

    port = int(base_url.rsplit(":", 1)[1])
    injected: dict[str, tuple[int, float]] = {}  # sid -> (trigger index, time)
    delivered: list[tuple[int, str, float]] = []
    peak_connections = 0

    async def drive(index: int, trigger: SignalWireNewMessageEventTrigger) -> None:
        async for event in trigger.run():
            delivered.append((index, event.payload["sid"], time.monotonic()))

    # Warm up as a running triggerer is: the modules a first poll imports lazily are loaded (this
    # environment may forbid .pyc files, so an import compiles its source) before the measurement starts.
    warm = SignalWireNewMessageEventTrigger(to="+15559999999", poll_interval=0.05)
    warm.asset_state_store = MemoryStore()
    warm_events: list[Any] = []

    async def warm_up() -> None:
        async for event in warm.run():
            warm_events.append(event)

    warm_task = asyncio.create_task(warm_up())
    await asyncio.sleep(0.3)
    control(base_url, "POST", "inbound/messages", {"from": "+15551234567", "to": "+15559999999"})
    while not warm_events:
        await asyncio.sleep(0.05)
    warm_task.cancel()
    await asyncio.gather(warm_task, return_exceptions=True)

    triggers = []
    for i in range(args.triggers):
        trigger = SignalWireNewMessageEventTrigger(to=number(i), poll_interval=args.poll_interval)
        trigger.asset_state_store = MemoryStore()
        triggers.append(trigger)
    # Messages arrive until one poll interval (and a margin) before the end, so the last ones are polled for.
    rng = random.Random(7)
    last = args.duration - args.poll_interval - 1.5
    schedule = sorted((rng.uniform(1.0, last), i) for i in range(args.triggers))

    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    wall_start = time.monotonic()
    tasks = [asyncio.create_task(drive(i, t)) for i, t in enumerate(triggers)]
    await asyncio.sleep(0.5)  # every trigger has set its cursor to "now"
    # SignalWire's side (the inbound messages) is another process: its work is not the triggers'.
    sent_log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read back at the end of the run
    injector = subprocess.Popen(
        [sys.executable, __file__, "--inject", base_url], stdin=subprocess.PIPE, stdout=sent_log, text=True
    )
    assert injector.stdin is not None
    injector.stdin.write(json.dumps([[wall_start + at, i, number(i)] for at, i in schedule]))
    injector.stdin.close()
    while time.monotonic() - wall_start < args.duration:
        await asyncio.sleep(2.0)
        peak_connections = max(peak_connections, open_connections(port))
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - wall_start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await close_shared_clients()
    injector.wait(30)
    sent_log.seek(0)
    sent_lines = sent_log.read().splitlines()
    sent_log.close()
    for line in sent_lines:
        sid, index, at = json.loads(line)
        injected[sid] = (index, at)

    user, system = cpu_end.ru_utime - cpu_start.ru_utime, cpu_end.ru_stime - cpu_start.ru_stime
    cpu = user + system
    by_sid: dict[str, list[int]] = {}
    for index, sid, _ in delivered:
        by_sid.setdefault(sid, []).append(index)
    latencies = [at - injected[sid][1] for _, sid, at in delivered if sid in injected]
    return {
        "wall": wall,
        "cpu": cpu,
        "user": user,
        "system": system,
        "injected": len(injected),
        "delivered": len(delivered),
        "unique": len(by_sid),
        "misrouted": sum(1 for sid, idx in by_sid.items() if sid in injected and idx != [injected[sid][0]]),
        "missing": len(set(injected) - set(by_sid)),
        "peak_connections": peak_connections,
        "pool_size": POOL_SIZE,
        "latency_p50": statistics.median(latencies) if latencies else float("nan"),
        "latency_max": max(latencies) if latencies else float("nan"),
    }


def inject(base_url: str) -> None:
    """The injector process: one inbound SMS per (monotonic time, trigger index, number) read from stdin."""
    for at, index, to in json.load(sys.stdin):
        time.sleep(max(0.0, at - time.monotonic()))
        message = control(base_url, "POST", "inbound/messages", {"from": "+15551234567", "to": to})
        print(json.dumps([message["sid"], index, time.monotonic()]), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triggers", type=int, default=500)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--inject", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inject:
        inject(args.inject)
        return 0
    if args.duration < args.poll_interval + 3:
        parser.error("--duration must be at least --poll-interval + 3 seconds")

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="signalwire-bench-"))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"  # 500 "starting from the present" lines otherwise
    emulator, base_url, conn_uri = start_emulator()
    try:
        os.environ["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = conn_uri
        import airflow.sdk  # noqa: F401 - imported before the measurement starts

        figures = asyncio.run(run(args, base_url))
        polls = len(control(base_url, "GET", "requests?method=GET&path_regex=/Messages$")["requests"])
    finally:
        emulator.terminate()
        emulator.wait(10)

    share = figures["cpu"] / figures["wall"]
    checks = {
        "cpu": share < CPU_LIMIT,
        "delivery": figures["missing"] == 0
        and figures["delivered"] == figures["unique"] == figures["injected"]
        and figures["misrouted"] == 0,
        "connections": figures["peak_connections"] <= figures["pool_size"],
    }
    rows = [
        ("triggers in one event loop", f"{args.triggers}"),
        ("poll interval / run", f"{args.poll_interval:g} s / {figures['wall']:.0f} s"),
        ("list requests served", f"{polls} ({polls / figures['wall']:.0f}/s)"),
        ("CPU time (user+sys)", f"{figures['cpu']:.2f} s = {share:.1%} of one core (limit {CPU_LIMIT:.0%})"),
        ("  of which user / kernel", f"{figures['user']:.2f} s / {figures['system']:.2f} s"),
        ("messages injected / events", f"{figures['injected']} / {figures['delivered']}"),
        (
            "missing / duplicates / misrouted",
            f"{figures['missing']} / {figures['delivered'] - figures['unique']} / {figures['misrouted']}",
        ),
        ("delivery latency p50 / max", f"{figures['latency_p50']:.2f} s / {figures['latency_max']:.2f} s"),
        ("peak open connections / pool", f"{figures['peak_connections']} / {figures['pool_size']}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("result: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in checks.items()))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
