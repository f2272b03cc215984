"""
Send messages with SignalWire and search them: an SMS that the task waits to see delivered, an MMS waited
for in the triggerer (``deferrable=True``: run a triggerer), and every message sent or received in the run's
data interval, once per daily run.

Connection ``signalwire_default``. The numbers and the media URL are DAG params: their defaults work against
the local emulator (``python -m airflow_provider_signalwire.testing.emulator``). Against a real Space, trigger
the DAG with your own numbers.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from airflow.sdk import DAG, Param, task

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.1: airflow.sdk exports it from 3.2 on
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_signalwire.operators import (
    SignalWireSearchMessagesOperator,
    SignalWireSendMessageOperator,
)

with DAG(
    dag_id="example_signalwire_messages",
    # Data intervals of one local day: the search below gets each message once, whatever the timezone.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="America/New_York"),
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "signalwire"],
    params={
        "to": Param("+15550000002", type="string", description="The number to text."),
        "from_": Param("+15550000001", type="string", description="A number of your SignalWire project."),
        "media_url": Param("https://example.com/charts/daily.png", type="string"),
        "poll_interval": Param(2, type="number", description="Seconds between two status checks."),
    },
) as dag:
    send_sms = SignalWireSendMessageOperator(
        task_id="send_sms",
        to="{{ params.to }}",
        from_="{{ params.from_ }}",
        body="The report for {{ ds }} is ready.",
        # Ends when the SMS is delivered; fails with SignalWire's error code if it is undelivered or failed.
        wait_for_completion=True,
        poll_interval="{{ params.poll_interval }}",
        wait_timeout=900,
    )

    send_mms = SignalWireSendMessageOperator(
        task_id="send_mms",
        to="{{ params.to }}",
        from_="{{ params.from_ }}",
        body="Today's chart",
        media_url=["{{ params.media_url }}"],
        # An MMS gets no delivery report: the wait ends when it is sent. The wait runs in the triggerer.
        wait_for_completion=True,
        deferrable=True,
        poll_interval="{{ params.poll_interval }}",
    )

    search_data_interval = SignalWireSearchMessagesOperator(
        task_id="search_data_interval",
        date_sent_after="{{ data_interval_start }}",
        date_sent_before="{{ data_interval_end }}",
        limit=5000,
    )

    @task
    def count_by_status(messages: list[dict]) -> dict[str, int]:
        counts = Counter(message["status"] for message in messages)
        print(f"{len(messages)} messages in the data interval: {dict(counts)}")
        return dict(counts)

    [send_sms, send_mms] >> search_data_interval
    count_by_status(search_data_interval.output)
