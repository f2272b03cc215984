"""
Text everyone in a CSV file a personalised reminder, at the sending number's rate, resumable and never twice.

The recipients are read through Airflow's ``ObjectStoragePath``: ``file://`` here, ``s3://`` or ``gs://`` with
the Amazon or Google provider installed (give a ``conn_id`` in the path's storage options). The first task writes
a small sample CSV where none is, so that the DAG runs as is against the local emulator
(``python -m airflow_provider_signalwire.testing.emulator``); point ``recipients_csv`` at your own file.

Connection ``signalwire_default``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, ObjectStoragePath, Param, task

from airflow_provider_signalwire.operators import SignalWireBulkSendOperator

with DAG(
    dag_id="example_signalwire_bulk_send",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "signalwire"],
    params={
        "recipients_csv": Param("file:///tmp/signalwire_example/reminders.csv", type="string"),
        "results": Param("file:///tmp/signalwire_example/reminders-results.jsonl", type="string"),
        "from_": Param("+15550000001", type="string", description="A number of your SignalWire project."),
    },
) as dag:

    @task
    def sample_csv(params: dict | None = None) -> str:
        """Write a sample file of three recipients where there is none (a real DAG reads its own)."""
        assert params is not None
        path = ObjectStoragePath(params["recipients_csv"])
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("to,name,slot\n+15550100001,Ada,09:30\n+15550100002,Grace,11:00\n+15550100003,Zoë,14:15\n")
        return str(path)

    SignalWireBulkSendOperator(
        task_id="send_reminders",
        recipients=sample_csv(),
        # Rendered per row: the CSV's columns, plus the task's context ({{ ds }}...).
        body="Hi {{ name }}, your appointment is at {{ slot }} on {{ ds }}. Reply STOP to opt out.",
        from_="{{ params.from_ }}",
        number_type="10dlc",  # 4 segments a second
        max_segments=2,  # refuse, before sending anything, a text that would cost more
        results_path="{{ params.results }}",
        retries=2,  # a retry goes on after the last confirmed send; nobody is texted twice
    )
