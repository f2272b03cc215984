from __future__ import annotations

import os
import tempfile

# Airflow reads its home at import; every test session gets a fresh one (logs, SQLite database).
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="signalwire-airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(os.path.dirname(__file__), "..", "example_dags"))


import pytest  # noqa: E402

from airflow_provider_signalwire.testing.pytest_plugin import signalwire_emulator  # noqa: E402, F401


@pytest.fixture
def signalwire_conn(signalwire_emulator, monkeypatch):
    """The default SignalWire connection, pointed at the emulator through the environment."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri())
    return signalwire_emulator


@pytest.fixture
def fast_retries():
    from airflow_provider_signalwire.api import RetryPolicy

    return RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05, total_timeout=10)


@pytest.fixture
def hook(signalwire_conn, fast_retries):
    from airflow_provider_signalwire.hooks import SignalWireHook

    return SignalWireHook(retry_policy=fast_retries)
