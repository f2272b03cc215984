"""
DAGs of the export tests that other processes build too: a test starts several ``dag.test()`` runs of one DAG at
once, each in its own process, against the session's metadata database.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

START = datetime(2024, 1, 1, tzinfo=UTC)
RESULT = "EXPORT-RUN-RESULT "


def hourly_export_dag(dag_id: str, folder: str) -> Any:
    """An ``@hourly`` export of messages, one object per run (named by its logical date), two items a page."""
    from airflow.sdk import DAG

    from airflow_provider_signalwire.operators import SignalWireExportOperator

    with DAG(dag_id, schedule="@hourly", start_date=START, catchup=False) as dag:
        SignalWireExportOperator(
            task_id="export", resource="messages", path=f"file://{folder}/{{{{ ts_nodash }}}}.jsonl", page_size=2
        )
    return dag


def main(dag_id: str, folder: str, logical_date: str) -> None:
    """Run one DAG run with ``dag.test()`` and print its run id and state on a line of its own."""
    dag_run = hourly_export_dag(dag_id, folder).test(logical_date=datetime.fromisoformat(logical_date))
    print(
        RESULT + json.dumps({"run_id": dag_run.run_id, "state": getattr(dag_run.state, "value", dag_run.state)}),
        flush=True,
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
