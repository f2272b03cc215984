"""
Alerts out: when a task fails for good, or the whole run fails, the on-call phones get an SMS.

``SignalWireNotifier`` sends one SMS per recipient, once per failure: a callback Airflow repeats for the same
task try (or DAG run) sends nothing more. A failure to send is logged and never hides the task's own error.
``on_retry_callback`` could use it too; here a retry stays quiet and only the last try alerts.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, task

from airflow_provider_signalwire.notifications import SignalWireNotifier, send_signalwire_notification

ON_CALL = ["+15550000002", "+15550000003"]
FROM_NUMBER = "+15550000001"

with DAG(
    dag_id="example_signalwire_notifier",
    schedule=None,
    catchup=False,
    tags=["example", "signalwire"],
    # The default text names the DAG, the run and the task that failed.
    on_failure_callback=send_signalwire_notification(to=ON_CALL[0], from_=FROM_NUMBER),
    doc_md=__doc__,
):

    @task(
        retries=1,
        retry_delay=timedelta(seconds=1),
        on_failure_callback=SignalWireNotifier(
            to=ON_CALL,
            from_=FROM_NUMBER,
            body=(
                "{{ dag.dag_id }}: {{ ti.task_id }} failed on try {{ ti.try_number }} "
                "(run {{ run_id }}). Log: {{ ti.log_url }}"
            ),
        ),
    )
    def load_warehouse() -> None:
        raise RuntimeError("the warehouse is unreachable")

    load_warehouse()
