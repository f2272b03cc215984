"""
Benchmark: SignalWireExportOperator writing 100,000 messages to ``file://`` as JSON lines, against listing the
same window with the hook alone (target: at most 1.2x its wall time), and its peak memory for 10,000 vs 100,000
messages (target: flat).

The emulator runs in its own process; the operator runs in this one, as a task would run it, with a data
interval covering the seeded messages (its window Variable goes to a fresh SQLite metadata database). Peak memory is
measured with tracemalloc in separate runs from the timings, which it would slow down.

Run: ``.venv/bin/python benchmarks/bench_export.py [--records 100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-export-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def context(start: datetime, end: datetime) -> dict:
    # Each window its own run: an export keeps its run's window for the run's retries (in a Variable here).
    run_id = f"bench {start.isoformat()} {end.isoformat()}"
    task = SimpleNamespace(retries=0)
    ti = SimpleNamespace(dag_id="bench", task_id="export", run_id=run_id, map_index=-1, max_tries=0, task=task)
    return {"ti": ti, "run_id": run_id, "logical_date": end, "data_interval_start": start, "data_interval_end": end}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)

    from _emulator import emulator_process

    from airflow_provider_signalwire.hooks import SignalWireHook
    from airflow_provider_signalwire.operators import SignalWireExportOperator

    folder = Path(tempfile.mkdtemp(prefix="bench-export-out-"))
    with emulator_process(seed_messages=args.records) as emulator:
        os.environ["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = emulator.connection_uri
        end = datetime.now(UTC) + timedelta(minutes=1)
        everything = (end - timedelta(seconds=args.records + 3600), end)
        tenth = (end - timedelta(seconds=args.records // 10 + 60), end)
        hook = SignalWireHook()

        def listing(window: tuple[datetime, datetime]) -> int:
            found = hook.list_messages(page_size=1000, date_sent_after=window[0], date_sent_before=window[1])
            return sum(1 for _ in found)

        def export(window: tuple[datetime, datetime]) -> int:
            operator = SignalWireExportOperator(
                task_id="export", resource="messages", path=f"file://{folder}/messages.jsonl", page_size=1000
            )
            return operator.execute(context(*window))["count"]

        export(tenth), listing(tenth)  # warm up: imports, connection, caches
        hook_times, export_times = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            listed = listing(everything)
            hook_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            exported = export(everything)
            export_times.append(time.perf_counter() - started)
        assert listed == exported == args.records, (listed, exported)
        lines = sum(1 for _ in (folder / "messages.jsonl").open())
        assert lines == args.records

        peaks = []
        for window in (tenth, everything):
            tracemalloc.start()
            count = export(window)
            peaks.append((count, tracemalloc.get_traced_memory()[1]))
            tracemalloc.stop()

    hook_time, export_time = statistics.median(hook_times), statistics.median(export_times)
    size = (folder / "messages.jsonl").stat().st_size
    print(f"{args.records} messages, page size 1000, median of {args.repeat}:")
    print(f"  listing with the hook alone: {hook_time:.2f} s")
    print(f"  export to file:// JSON lines: {export_time:.2f} s ({size / 1024 / 1024:.1f} MiB written)")
    ratio = export_time / hook_time
    print(f"  ratio: {ratio:.2f}x (target <= 1.2x): {'PASS' if ratio <= 1.2 else 'FAIL'}")
    print("peak traced memory of the export:")
    for count, peak in peaks:
        print(f"  {count:>7} messages: {peak / 1024 / 1024:.1f} MiB")
    growth = peaks[1][1] / peaks[0][1]
    print(f"  growth for 10x the messages: {growth:.2f}x (flat means about 1x): {'PASS' if growth < 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
