"""Start the emulator in its own process for a benchmark, so its work and memory are not measured with ours."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class RunningEmulator:
    base_url: str
    connection_uri: str

    def control(self, path: str, payload: dict) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}/__emulator__/{path}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.loads(answer.read())


@contextmanager
def emulator_process(seed_messages: int = 0) -> Iterator[RunningEmulator]:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_signalwire.testing.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        emulator = RunningEmulator(base_url=fields["base_url"], connection_uri=fields["conn_uri"])
        if seed_messages:
            emulator.control("seed/messages", {"n": seed_messages, "from_": "+15551230000", "to": "+15550000001"})
        yield emulator
    finally:
        process.terminate()
        process.wait(timeout=30)
