"""
Benchmark (a): what importing the provider's operators and hooks costs a DAG file, on top of ``import airflow.sdk``.

Each sample is a fresh interpreter: it imports ``airflow.sdk`` first (which every DAG file pays anyway), then
times ``import airflow_provider_signalwire.operators`` and ``.hooks``. Target: median at most 10 ms.

The package is byte-compiled first, as an installed wheel is (a machine with ``PYTHONDONTWRITEBYTECODE`` set
would otherwise recompile the sources at every import and measure the compiler).

Run: ``.venv/bin/python benchmarks/bench_import.py [--samples 15]``
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
import time
import airflow.sdk
start = time.perf_counter()
import airflow_provider_signalwire.operators
import airflow_provider_signalwire.hooks
print((time.perf_counter() - start) * 1000)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "AIRFLOW_HOME": tempfile.mkdtemp(prefix="bench-import-")}
    package = Path(__file__).resolve().parent.parent / "airflow_provider_signalwire"
    compileall.compile_dir(str(package), quiet=1)
    samples = []
    for _ in range(args.samples):
        out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    median = statistics.median(samples)
    print(f"import operators + hooks on top of airflow.sdk, {args.samples} fresh interpreters:")
    print(f"  median {median:.2f} ms, min {min(samples):.2f} ms, max {max(samples):.2f} ms (target <= 10 ms)")
    print("  PASS" if median <= 10 else "  FAIL")


if __name__ == "__main__":
    main()
