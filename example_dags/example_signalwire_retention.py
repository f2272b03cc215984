"""
Keep message bodies no longer than needed: each day, delete the messages sent more than ``retention_days`` ago
(clearing the body of any that SignalWire will not delete), in one task that puts no body into Airflow.

Connection ``signalwire_default``. Works as it is against the local emulator
(``python -m airflow_provider_signalwire.testing.emulator``) and a real Space.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Param

from airflow_provider_signalwire.operators import SignalWireMessageRetentionOperator

with DAG(
    dag_id="example_signalwire_retention",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["example", "signalwire"],
    params={"retention_days": Param(90, type="integer", minimum=1, description="Days a message is kept.")},
) as dag:
    # Seconds, as the template renders them; the XCom gets counts only (matched, redacted, deleted, skipped).
    SignalWireMessageRetentionOperator(
        task_id="delete_old_messages",
        older_than="{{ params.retention_days * 86400 }}",
        action="delete",
        retries=3,
    )
