"""
Benchmark (c): peak memory while iterating records through SignalWireHook.list_messages stays flat as the
count grows (10,000 vs 100,000 records): the iterator holds one page at a time.

Peak is measured with tracemalloc in this process; the emulator runs in its own process.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--records 100000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import tracemalloc

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-memory-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    from _emulator import emulator_process

    from airflow_provider_signalwire.hooks import SignalWireHook

    with emulator_process(seed_messages=args.records) as emulator:
        os.environ["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = emulator.connection_uri
        hook = SignalWireHook()
        sum(1 for _ in hook.list_messages(limit=1000))  # warm up: imports, connection, caches

        results = []
        for count in (args.records // 10, args.records):
            tracemalloc.start()
            seen = sum(1 for _ in hook.list_messages(page_size=1000, limit=count))
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert seen == count
            results.append((count, peak))

    print("peak traced memory while iterating, page size 1000:")
    for count, peak in results:
        print(f"  {count:>7} records: {peak / 1024 / 1024:.1f} MiB")
    growth = results[1][1] / results[0][1]
    print(f"  growth for 10x the records: {growth:.2f}x (flat means about 1x)")
    print("  PASS" if growth < 1.5 else "  FAIL")


if __name__ == "__main__":
    main()
