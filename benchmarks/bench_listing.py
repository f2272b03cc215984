"""
Benchmark (b): listing 20,000 messages at page size 1000 through SignalWireHook, against a bare ``requests``
loop over the same pages, in the same run against the same emulator (in its own process).
Target: hook at most 1.10x the bare loop.

The two are run alternately, several rounds, and the medians are compared.

Run: ``.venv/bin/python benchmarks/bench_listing.py [--messages 20000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Iterator

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-listing-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import requests
    from _emulator import emulator_process

    from airflow_provider_signalwire.hooks import SignalWireHook

    with emulator_process(seed_messages=args.messages) as emulator:
        os.environ["AIRFLOW_CONN_SIGNALWIRE_DEFAULT"] = emulator.connection_uri
        hook = SignalWireHook()
        project_id, token = hook.settings.project_id, hook.settings.api_token
        first_page = f"/api/laml/2010-04-01/Accounts/{project_id}/Messages"

        def through_hook() -> int:
            return sum(1 for _ in hook.list_messages(page_size=1000))

        session = requests.Session()
        session.auth = (project_id, token)

        def bare_pages() -> Iterator[dict]:
            url: str | None = emulator.base_url + first_page + "?PageSize=1000"
            while url:
                page = session.get(url, timeout=30).json()
                yield from page["messages"]
                url = emulator.base_url + page["next_page_uri"] if page["next_page_uri"] else None

        def bare_requests() -> int:
            return sum(1 for _ in bare_pages())

        timings: dict[str, list[float]] = {"hook": [], "bare": []}
        through_hook(), bare_requests()  # warm both connections
        for _ in range(args.rounds):
            for name, run in (("hook", through_hook), ("bare", bare_requests)):
                start = time.perf_counter()
                count = run()
                timings[name].append(time.perf_counter() - start)
                assert count == args.messages, (name, count)

    hook_median, bare_median = statistics.median(timings["hook"]), statistics.median(timings["bare"])
    ratio = hook_median / bare_median
    print(f"listing {args.messages} messages at page size 1000, {args.rounds} rounds each:")
    print(f"  hook  median {hook_median * 1000:.0f} ms")
    print(f"  bare  median {bare_median * 1000:.0f} ms (a requests.Session generator over next_page_uri)")
    print(f"  ratio {ratio:.3f} (target <= 1.10)")
    print("  PASS" if ratio <= 1.10 else "  FAIL")


if __name__ == "__main__":
    main()
