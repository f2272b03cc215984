"""
Call any SignalWire endpoint the other operators do not cover: list the Space's phone numbers (Relay REST).

Connection ``signalwire_default``. Works as it is against the local emulator
(``python -m airflow_provider_signalwire.testing.emulator``) and a real Space (the API token needs the
Numbers scope).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Param, task

from airflow_provider_signalwire.operators import SignalWireApiCallOperator

with DAG(
    dag_id="example_signalwire_api_call",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "signalwire"],
    params={"page_size": Param(50, type="integer", minimum=1, maximum=1000)},
) as dag:
    list_phone_numbers = SignalWireApiCallOperator(
        task_id="list_phone_numbers",
        method="GET",
        path="/api/relay/rest/phone_numbers",
        query={"page_size": "{{ params.page_size }}"},
    )

    @task
    def numbers_of(page: dict) -> list[str]:
        numbers = [number["number"] for number in page["data"]]
        print(f"The Space has {len(numbers)} phone numbers on this page: {', '.join(numbers)}")
        return numbers

    numbers_of(list_phone_numbers.output)
