"""
Wait for new inbound messages and calls, then summarise them.

* ``wait_for_report_sms`` defers to the triggerer until an inbound SMS containing "report" reaches the
  support line after the run's ``data_interval_start`` (the default ``since``; with Airflow 3's default
  cron timetable, a run's interval starts at its logical date).
* ``wait_for_call`` pokes in reschedule mode (no worker slot held between pokes) for an inbound call.

Both push what they found (API dicts, oldest first) to XCom for ``summarise``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_signalwire.sensors import SignalWireNewCallSensor, SignalWireNewMessageSensor

SUPPORT_NUMBER = "+15550000001"

with DAG(
    dag_id="example_signalwire_sensors",
    schedule="@hourly",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["example", "signalwire"],
    doc_md=__doc__,
):
    wait_for_report_sms = SignalWireNewMessageSensor(
        task_id="wait_for_report_sms",
        to=SUPPORT_NUMBER,
        body_contains="report",
        limit=50,
        deferrable=True,
        poke_interval=30,
        timeout=3600,
    )

    wait_for_call = SignalWireNewCallSensor(
        task_id="wait_for_call",
        to=SUPPORT_NUMBER,
        mode="reschedule",
        poke_interval=60,
        timeout=3600,
        soft_fail=True,
    )

    @task
    def summarise(messages: list[dict[str, Any]] | None, calls: list[dict[str, Any]] | None) -> dict[str, int]:
        for message in messages or []:
            print(f"SMS from {message['from']} at {message['date_sent']}: {message['body']!r}")
        for call in calls or []:
            print(f"Call from {call['from']} at {call['start_time']}, {call['duration']} s")
        return {"messages": len(messages or []), "calls": len(calls or [])}

    summarise(wait_for_report_sms.output, wait_for_call.output)
