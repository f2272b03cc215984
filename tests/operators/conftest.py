"""Fixtures for the operator tests: a task context, and running a whole DAG with dag.test()."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import make_context, register_dag


@pytest.fixture
def context():
    """A task context for running an operator by itself (first try, empty task state store)."""
    return make_context()


@pytest.fixture
def run_dag(airflow_db, signalwire_conn):
    """Run a DAG with dag.test() on real Airflow (SQLite) against the emulator; returns the DagRun."""

    def run(dag, **kwargs: Any):
        register_dag(dag)
        return dag.test(**kwargs)

    return run
