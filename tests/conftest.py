from __future__ import annotations

import os
import tempfile

# Airflow reads its home at import; every test session gets a fresh one (logs, SQLite database).
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="signalwire-airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(os.path.dirname(__file__), "..", "example_dags"))


import pytest

# The `signalwire_emulator` fixture comes from the package's pytest plugin (a pytest11 entry point).


@pytest.fixture
def signalwire_conn(signalwire_emulator, monkeypatch):
    """The default SignalWire connection, pointed at the emulator through the environment."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri())
    return signalwire_emulator


@pytest.fixture
def fast_retries():
    from airflow_provider_signalwire.api.retries import RetryPolicy

    return RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05, total_timeout=10)


@pytest.fixture
def hook(signalwire_conn, fast_retries):
    from airflow_provider_signalwire.hooks import SignalWireHook

    return SignalWireHook(retry_policy=fast_retries)


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata database in this session's AIRFLOW_HOME, for dag.test() and friends."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return os.environ["AIRFLOW_HOME"]
