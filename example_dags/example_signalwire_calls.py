"""
Place calls with SignalWire: place one and wait for its outcome, then look it up; place another, redirect it
to new cXML while it is live, hang it up, and look it up.

Connection ``signalwire_default``. The numbers and cXML URLs are DAG params: their defaults work against the
local emulator (``python -m airflow_provider_signalwire.testing.emulator``), whose ``+15005550006`` answers and
stays on the line until hung up. Against a real Space, trigger the DAG with your own numbers and cXML URLs.

A call can be redirected only once it is answered (SignalWire answers error 21220 while it rings), so the redirect
retries. The emulator answers after two status steps; ``make demo`` runs it with ``--status-step-seconds 0``, so
the call is in progress as soon as it is placed and every task succeeds on its first try.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_signalwire.operators import (
    SignalWireCreateCallOperator,
    SignalWireGetCallOperator,
    SignalWireUpdateCallOperator,
)

with DAG(
    dag_id="example_signalwire_calls",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "signalwire"],
    params={
        "to": Param("+15550000002", type="string", description="The number to call and wait for."),
        "from_": Param("+15550000001", type="string", description="A number of your SignalWire project."),
        "live_call_to": Param("+15005550006", type="string", description="The number to call, redirect, hang up."),
        "cxml_url": Param("https://example.com/cxml/greeting.xml", type="string"),
        "redirect_url": Param("https://example.com/cxml/goodbye.xml", type="string"),
        "poll_interval": Param(2, type="number", description="Seconds between two status checks."),
    },
) as dag:
    place_call_and_wait = SignalWireCreateCallOperator(
        task_id="place_call_and_wait",
        to="{{ params.to }}",
        from_="{{ params.from_ }}",
        url="{{ params.cxml_url }}",
        timeout=30,
        machine_detection="Enable",
        # Ends when the call is over; fails if it was busy, failed or not answered.
        wait_for_completion=True,
        poll_interval="{{ params.poll_interval }}",
        wait_timeout=600,
    )

    look_up_call = SignalWireGetCallOperator(
        task_id="look_up_call", sid="{{ ti.xcom_pull(task_ids='place_call_and_wait')['sid'] }}"
    )

    start_live_call = SignalWireCreateCallOperator(
        task_id="start_live_call",
        to="{{ params.live_call_to }}",
        from_="{{ params.from_ }}",
        url="{{ params.cxml_url }}",
        status_callback_event=["initiated", "answered", "completed"],
    )

    redirect_live_call = SignalWireUpdateCallOperator(
        task_id="redirect_live_call",
        sid="{{ ti.xcom_pull(task_ids='start_live_call')['sid'] }}",
        url="{{ params.redirect_url }}",
        method="GET",
        # Only an answered call can be redirected: try again while it still rings.
        retries=3,
        retry_delay=timedelta(seconds=5),
    )

    hang_up_live_call = SignalWireUpdateCallOperator(
        task_id="hang_up_live_call",
        sid="{{ ti.xcom_pull(task_ids='start_live_call')['sid'] }}",
        status="completed",
    )

    look_up_live_call = SignalWireGetCallOperator(
        task_id="look_up_live_call", sid="{{ ti.xcom_pull(task_ids='start_live_call')['sid'] }}"
    )

    place_call_and_wait >> look_up_call
    start_live_call >> redirect_live_call >> hang_up_live_call >> look_up_live_call
