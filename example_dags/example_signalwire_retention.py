"""
Keep message bodies no longer than needed: each day, find the messages sent more than ``retention_days``
ago, clear their bodies (redact), then delete them.

Connection ``signalwire_default``. Works as it is against the local emulator
(``python -m airflow_provider_signalwire.testing.emulator``) and a real Space.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Param, task

from airflow_provider_signalwire.operators import (
    SignalWireDeleteMessageOperator,
    SignalWireRedactMessageOperator,
    SignalWireSearchMessagesOperator,
)

with DAG(
    dag_id="example_signalwire_retention",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["example", "signalwire"],
    params={"retention_days": Param(90, type="integer", minimum=1, description="Days a message is kept.")},
) as dag:
    search_old_messages = SignalWireSearchMessagesOperator(
        task_id="search_old_messages",
        # A date: SignalWire's whole UTC days, so every message sent before that day.
        date_sent_before="{{ macros.ds_add(ds, -params.retention_days) }}",
        limit=1000,
    )

    @task
    def sids_of(messages: list[dict]) -> list[str]:
        return [message["sid"] for message in messages]

    old_sids = sids_of(search_old_messages.output)

    redact_bodies = SignalWireRedactMessageOperator.partial(task_id="redact_body").expand(sid=old_sids)
    delete_messages = SignalWireDeleteMessageOperator.partial(task_id="delete_message").expand(sid=old_sids)

    redact_bodies >> delete_messages
