"""
Write ``constraints/airflow-3.X.txt``: a known-good set of pins for each Airflow minor the provider supports.

Each file pins the newest patch release of that minor (as of ``RESOLVED_AS_OF``) and every package it and the
provider need (the ``dev`` extra included), resolved by ``uv pip compile`` with nothing published after that
Airflow release: the set of releases Airflow itself was tested with (newer ones can break an older Airflow:
pydantic and cadwyn releases after 3.2.2 break its task SDK). Running the script again gives the same files.
``make test`` builds one virtual environment per file and runs the suite in each: a file is known-good once that
passes. Install with one::

    pip install airflow-provider-signalwire -c constraints/airflow-3.2.txt

Usage: ``python scripts/constraints.py [--minor 3.2] [--as-of 2026-11-29]`` (needs ``uv`` on PATH or in .venv).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "constraints"
PYTHON_VERSION = "3.11"
#: Airflow releases published after this day are not considered; change it (and re-run the suite) to move on.
RESOLVED_AS_OF = "2026-11-29"
INDEX = "https://pypi.org/simple/apache-airflow/"
RELEASE_MARGIN = timedelta(days=1)
SUPPORTED_MINORS = ("3.1", "3.2", "3.3")
#: Pins a minor needs beyond its release-day set, each with the reason (none needed so far).
EXTRA_PINS: dict[str, list[tuple[str, str]]] = {}
#: The provider's own optional extras, resolved with Airflow so that their tests run on every minor.
EXTRAS = ("dev",)


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")
    if not os.path.exists(found):
        sys.exit("uv not found: run `make venv` first, or install uv.")
    return found


def _compile(requirements: list[str], cutoff: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "requirements.in"
        source.write_text("\n".join(requirements) + "\n")
        result = subprocess.run(
            [
                _uv(),
                "pip",
                "compile",
                str(source),
                str(ROOT / "pyproject.toml"),
                *(f"--extra={extra}" for extra in EXTRAS),
                f"--python-version={PYTHON_VERSION}",
                f"--exclude-newer={cutoff}",
                "--no-header",
                "--no-annotate",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        sys.exit(f"uv pip compile failed for {requirements}:\n{result.stderr}")
    return result.stdout


def newest_patch(minor: str, as_of: str) -> tuple[str, str]:
    """The newest ``apache-airflow`` release of ``minor`` published by ``as_of``, and when it was published."""
    request = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    releases: dict[tuple[int, ...], str] = {}
    for file in files:
        found = re.fullmatch(rf"apache_airflow-({re.escape(minor)}\.(\d+))-py3-none-any\.whl", file["filename"])
        if found and not file.get("yanked") and file["upload-time"][:10] <= as_of:
            releases[tuple(int(part) for part in found.group(1).split("."))] = file["upload-time"]
    if not releases:
        sys.exit(f"No apache-airflow {minor}.x release found as of {as_of}.")
    newest = max(releases)
    return ".".join(map(str, newest)), releases[newest]


def write_constraints(minor: str, as_of: str) -> Path:
    version, released = newest_patch(minor, as_of)
    extra = EXTRA_PINS.get(minor, [])
    # A day's margin: the release's own parts (apache-airflow-core, the task SDK) are uploaded around it.
    cutoff = (datetime.fromisoformat(released.replace("Z", "+00:00")) + RELEASE_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")
    pins = _compile([f"apache-airflow=={version}", *(pin for pin, _ in extra)], cutoff)
    lines = [
        f"# Known-good pins for apache-airflow {version} (Airflow {minor}) with airflow-provider-signalwire,",
        f"# Python {PYTHON_VERSION}: what was published by {cutoff} (a day after that release), resolved by",
        "# scripts/constraints.py; do not edit by hand.",
        *(f"# {pin}: {why}" for pin, why in extra),
        *(line for line in pins.splitlines() if line and not line.startswith("-e ")),
    ]
    path = OUT / f"airflow-{minor}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minor", choices=SUPPORTED_MINORS, action="append", help="only this minor (repeatable)")
    parser.add_argument("--as-of", default=RESOLVED_AS_OF, help="ignore releases published after this day")
    arguments = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    for minor in arguments.minor or SUPPORTED_MINORS:
        path = write_constraints(minor, arguments.as_of)
        print(f"{path.relative_to(ROOT)}: {sum(1 for line in path.read_text().splitlines() if '==' in line)} pins")


if __name__ == "__main__":
    main()
