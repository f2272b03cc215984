"""
Many SignalWire watchers in one triggerer event loop, against the local emulator in its own process.

By default: 500 ``SignalWireNewMessageEventTrigger`` (100 numbers, 5 filter variants each: all inbound, all
directions, and three ``body_contains``) poll every 5 s, joined to the triggerer's shared streams as Airflow 3.3's
triggerer joins them (its ``SharedStreamManager``, acknowledgement mode, each event confirmed stored at once), while
one inbound SMS a second arrives for 60 s. It runs twice: with 20,000 messages already in today (200 per number,
the newest ten minutes ago), and on an empty day. It prints a table per run and exits non-zero unless, in each:

* the process used at most 5 % of one core (CPU time from ``resource.getrusage`` over the run);
* at most one list request per distinct query per interval was sent;
* every watcher fired exactly once for every message that matches its filters, and for no other;
* the p95 latency from a message's arrival to its event is at most the interval + 1 s.

Run it with (Airflow 3.3; ``--duration 20 --numbers 20`` for a quick run)::

    .venv/bin/python benchmarks/bench_watchers.py [--numbers 100] [--poll-interval 5] [--duration 60]

Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _emulator import RunningEmulator, emulator_process

CPU_LIMIT = 0.05  # of one core
CUSTOMER = "+15551234567"
#: The five filter variants of each number's watchers: all but ``direction`` are applied client-side.
VARIANTS: list[dict[str, Any]] = [
    {},
    {"direction": None},
    {"body_contains": "order"},
    {"body_contains": "refund"},
    {"body_contains": "stop"},
]
BODIES = ["where is my order", "refund please", "STOP", "hello", "order and refund"]


class MemoryStore:
    """One asset's state store (aget/aset), kept in memory: the benchmark measures the provider, not the database."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


def number(i: int) -> str:
    return f"+1555300{i:04d}"


def matches(variant: dict[str, Any], body: str) -> bool:
    wanted = variant.get("body_contains")
    return wanted is None or wanted in body.casefold()


async def run(args: argparse.Namespace, emulator: RunningEmulator) -> dict[str, Any]:
    from airflow.triggers.shared_stream import SharedStreamManager

    from airflow_provider_signalwire.hooks.asynchronous import close_shared_clients
    from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

    manager = SharedStreamManager(ack_timeout=60.0)
    delivered: list[tuple[int, str, float]] = []

    async def drive(index: int, trigger: SignalWireNewMessageEventTrigger) -> None:
        key = trigger.shared_stream_key()
        stream = trigger.filter_shared_stream(manager.subscribe(trigger_id=index, trigger=trigger, key=key))
        try:
            async for event in stream:
                seq = manager.bind_pending_event(trigger_id=index, key=key)
                delivered.append((index, event.payload["sid"], time.monotonic()))
                if seq is not None:
                    manager.confirm_persisted([seq])  # the supervisor's confirmation, without a database
        finally:
            await asyncio.shield(manager.unsubscribe(index, key))

    watchers: list[tuple[int, dict[str, Any]]] = []
    triggers = []
    for n in range(args.numbers):
        for variant in VARIANTS:
            trigger = SignalWireNewMessageEventTrigger(to=number(n), poll_interval=args.poll_interval, **variant)
            trigger.asset_state_store = MemoryStore()
            triggers.append(trigger)
            watchers.append((n, variant))
    queries = len({t.shared_stream_key() for t in triggers})
    rng = random.Random(11)
    last = args.duration - args.poll_interval - 1.5
    schedule = [(1.0 + i * (last - 1.0) / args.messages, rng.randrange(args.numbers)) for i in range(args.messages)]

    tasks = [asyncio.create_task(drive(i, t)) for i, t in enumerate(triggers)]
    await asyncio.sleep(args.poll_interval + 1.0)  # every watcher has its cursor and its first poll is done
    polls_before = len(_requests(emulator))
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    measure_start = time.monotonic()
    # SignalWire's side (the inbound messages) is another process: its work is not the watchers'.
    sent_log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read back at the end of the run
    injector = subprocess.Popen(
        [sys.executable, __file__, "--inject", emulator.base_url], stdin=subprocess.PIPE, stdout=sent_log, text=True
    )
    assert injector.stdin is not None
    plan = [[measure_start + at, n, number(n), BODIES[i % len(BODIES)]] for i, (at, n) in enumerate(schedule)]
    injector.stdin.write(json.dumps(plan))
    injector.stdin.close()
    while time.monotonic() - measure_start < args.duration:
        await asyncio.sleep(1.0)
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    measured = time.monotonic() - measure_start
    polls = len(_requests(emulator)) - polls_before
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await close_shared_clients()
    injector.wait(30)
    sent_log.seek(0)
    injected = {}
    for line in sent_log.read().splitlines():
        sid, n, body, at = json.loads(line)
        injected[sid] = (n, body, at)
    sent_log.close()

    expected = {
        (index, sid)
        for sid, (n, body, _) in injected.items()
        for index, (watched, variant) in enumerate(watchers)
        if watched == n and matches(variant, body)
    }
    got = [(index, sid) for index, sid, _ in delivered]
    latencies = sorted(at - injected[sid][2] for _, sid, at in delivered if sid in injected)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    return {
        "watchers": len(triggers),
        "queries": queries,
        "measured": measured,
        "cpu_share": cpu / measured,
        "polls": polls,
        "polls_per_query_interval": polls / (queries * measured / args.poll_interval),
        # One per query per interval, and one more where the measured window cuts an interval.
        "polls_allowed": queries * (math.floor(measured / args.poll_interval) + 1),
        "messages": len(injected),
        "expected": len(expected),
        "events": len(got),
        "missing": len(expected - set(got)),
        "repeated": len(got) - len(set(got)),
        "unexpected": len(set(got) - expected),
        "p95": latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] if latencies else float("nan"),
    }


def _requests(emulator: RunningEmulator) -> list[Any]:
    import urllib.request

    url = f"{emulator.base_url}/__emulator__/requests?method=GET&path_regex=/Messages$"
    with urllib.request.urlopen(url, timeout=60) as answer:  # the local emulator
        return json.loads(answer.read())["requests"]


def inject(base_url: str) -> None:
    """The injector process: one inbound SMS per (monotonic time, number index, number, body) read from stdin."""
    emulator = RunningEmulator(base_url, "")
    for at, n, to, body in json.load(sys.stdin):
        time.sleep(max(0.0, at - time.monotonic()))
        message = emulator.control("inbound/messages", {"from": CUSTOMER, "to": to, "body": body})
        print(json.dumps([message["sid"], n, body, time.monotonic()]), flush=True)


def seed_today(emulator: RunningEmulator, numbers: int, per_number: int) -> None:
    newest = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(numbers):
        start = newest - timedelta(seconds=30 * (per_number - 1))
        emulator.control(
            "seed/messages",
            {"n": per_number, "from": CUSTOMER, "to": number(n), "start": start.isoformat(), "spacing_seconds": 30},
        )


def report(title: str, args: argparse.Namespace, figures: dict[str, Any]) -> bool:
    checks = {
        "cpu": figures["cpu_share"] <= CPU_LIMIT,
        "requests": figures["polls"] <= figures["polls_allowed"],
        "exactly once": figures["missing"] == figures["repeated"] == figures["unexpected"] == 0,
        "latency": figures["p95"] <= args.poll_interval + 1.0,
    }
    rows = [
        ("watchers / distinct queries", f"{figures['watchers']} / {figures['queries']}"),
        ("poll interval / measured", f"{args.poll_interval:g} s / {figures['measured']:.0f} s"),
        (
            "list requests",
            f"{figures['polls']} ({figures['polls'] / figures['measured']:.1f}/s; "
            f"{figures['polls_per_query_interval']:.2f} per query per interval)",
        ),
        ("CPU", f"{figures['cpu_share']:.1%} of one core (limit {CPU_LIMIT:.0%})"),
        ("messages / events expected / events", f"{figures['messages']} / {figures['expected']} / {figures['events']}"),
        ("missing / repeated / unexpected", f"{figures['missing']} / {figures['repeated']} / {figures['unexpected']}"),
        ("latency p95", f"{figures['p95']:.2f} s (limit {args.poll_interval + 1:g} s)"),
    ]
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("  result: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in checks.items()))
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of inbound traffic")
    parser.add_argument("--seeded", type=int, default=20_000, help="messages already in today, over all numbers")
    parser.add_argument("--inject", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inject:
        inject(args.inject)
        return 0
    args.messages = int(args.duration)  # one a second

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="signalwire-bench-"))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"  # 500 "starting from the present" lines otherwise
    import airflow.sdk  # noqa: F401 - imported before any measurement

    ok = True
    for title, seeded in ((f"busy day ({args.seeded} messages already today)", args.seeded), ("empty day", 0)):
        with emulator_process() as emulator:
            os.environ["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = emulator.connection_uri
            if seeded:
                seed_today(emulator, args.numbers, seeded // args.numbers)
            ok &= report(title, args, asyncio.run(run(args, emulator)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
