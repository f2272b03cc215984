"""
Benchmark: the emulator seeds 100,000 messages and serves them in pages of 1,000, every one once.
Targets: seeding and paging through all of them within 10 s; then, reading the same pages again (every view
already rendered), the last pages as fast as the first: a scan or a sort per page would make the late pages slower,
and the whole run take minutes. (The first pass renders each message's view once, and its late pages are slower on
a loaded machine as its memory grows: that pass is timed as a whole.)

The emulator runs in this process: it is what is measured. tests/test_emulator.py checks what it serves (each
message once, in order, in 100 pages); this script checks how fast.

Run: ``.venv/bin/python benchmarks/bench_emulator_paging.py [--messages 100000] [--page-size 1000]``
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    import requests

    from airflow_provider_signalwire.testing import SignalWireEmulator

    with SignalWireEmulator() as emulator, requests.Session() as session:
        session.auth = (emulator.project_id, emulator.api_token)
        started = time.perf_counter()
        seeded = emulator.seed_messages(args.messages, from_="+15557654321", to="+15550000001")
        seeding = time.perf_counter() - started
        url: str | None = (
            f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages.json"
            f"?PageSize={args.page_size}"
        )
        listed: list[str] = []
        pages: list[str] = []
        while url:
            pages.append(url)
            page = session.get(url, timeout=60).json()
            listed += [m["sid"] for m in page["messages"]]
            url = emulator.base_url + page["next_page_uri"] if page["next_page_uri"] else None
        total = time.perf_counter() - started
        assert listed == seeded[::-1], "each message once, newest first"
        page_seconds = []
        for url in pages:
            before = time.perf_counter()
            session.get(url, timeout=60).raise_for_status()
            page_seconds.append(time.perf_counter() - before)

    first, last = statistics.median(page_seconds[:10]), statistics.median(page_seconds[-10:])
    print(f"{args.messages} messages, {len(pages)} pages of {args.page_size}:")
    print(f"  seeding {seeding:.2f} s, paging {total - seeding:.2f} s, total {total:.2f} s (target <= 10 s)")
    ratio = last / first
    print(f"  again, median page: first ten {first * 1000:.1f} ms, last ten {last * 1000:.1f} ms: {ratio:.2f}x (flat)")
    print("  PASS" if total <= 10 and ratio <= 1.5 else "  FAIL")


if __name__ == "__main__":
    main()
