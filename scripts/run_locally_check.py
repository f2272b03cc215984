"""
Follow the README's "Run it locally" as written: its marked bash blocks, in order, in one shell.

    python scripts/run_locally_check.py                  # the airflow dags test part
    python scripts/run_locally_check.py dags-test standalone   # and the airflow standalone part

The blocks are those after ``<!-- run-locally: NAME -->`` in that section. They run from the checkout's root with
``bash -e`` and this Python's bin directory first on ``PATH`` (as an activated virtual environment has it).
The one change: the emulator's port 8765 and Airflow's 8080 become free ports, so that the check can run beside
other Airflows; everything else is the README's text. Whatever the blocks started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## Run it locally"
EMULATOR_PORT, AIRFLOW_PORT = "8765", "8080"


def blocks(readme: str | None = None) -> dict[str, str]:
    """The section's marked bash blocks by name, in the README's order."""
    readme = README.read_text() if readme is None else readme
    start = readme.index(f"\n{SECTION}\n")
    section = readme[start : readme.index("\n## ", start + 1)]
    return dict(re.findall(r"<!-- run-locally: ([\w-]+) -->\n```bash\n(.*?)```", section, flags=re.S))


def _free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def script(names: list[str]) -> str:
    """The named blocks as one shell script, ports swapped for free ones."""
    found = blocks()
    unknown = [name for name in names if name not in found]
    if unknown:
        raise SystemExit(f"No run-locally block {', '.join(unknown)} in the README; it has {', '.join(found)}")
    text = "".join(found[name] for name in names)
    ports = {EMULATOR_PORT: _free_port(), AIRFLOW_PORT: _free_port()}
    return re.sub(rf"(?<=[:=\s])({EMULATOR_PORT}|{AIRFLOW_PORT})\b", lambda m: ports[m.group(1)], text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("blocks", nargs="*", default=["dags-test"], help="which marked blocks to run, in order")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before the run is stopped as failed")
    args = parser.parse_args(argv)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with tempfile.TemporaryDirectory(prefix="run-locally-") as scratch:
        env["TMPDIR"] = scratch  # the README's mktemp -d home goes here, and goes with it
        # Its own session: the emulator and Airflow it starts in the background are stopped with it.
        shell = subprocess.Popen(["bash", "-e", "-c", script(args.blocks)], cwd=ROOT, env=env, start_new_session=True)
        try:
            return shell.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"run-locally: still running after {args.timeout:.0f} s", file=sys.stderr)
            return 124
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
