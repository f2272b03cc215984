"""
Once per event, whichever machine runs the callback: the notifier's markers live in Airflow's metadata database.

"Another machine" is a fresh Python process with an Airflow home (a disk) of its own and the same database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime

import pytest

from airflow_provider_signalwire.notifications import SignalWireNotifier

from .conftest import FROM_NUMBER, ONCALL, task_context


def message_creates(emulator) -> int:
    return emulator.count_requests(method="POST", path_regex=r"/Messages(\.json)?$")


def notify_from_another_machine(tmp_path, emulator, database: str) -> subprocess.CompletedProcess:
    """The same notifier and failure as :func:`task_context`'s, called by a process with its own Airflow home."""
    script = textwrap.dedent(
        f"""
        from types import SimpleNamespace
        from airflow_provider_signalwire.notifications import SignalWireNotifier

        ti = SimpleNamespace(dag_id="nightly", task_id="load", run_id="scheduled__2026-01-01", map_index=-1,
                             try_number=1, state="failed", log_url=None)
        SignalWireNotifier(to={ONCALL!r}, from_={FROM_NUMBER!r}, body="load failed")(
            {{"ti": ti, "task_instance": ti, "run_id": ti.run_id}}
        )
        """
    )
    environment = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "another-machine"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW_CONN_SIGNALWIRE_DEFAULT": emulator.connection_uri(),
    }
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_a_failure_alerted_on_one_machine_is_not_alerted_again_on_another(emulator, tmp_path):
    from airflow_provider_signalwire.compat import conf

    database = conf.get("database", "sql_alchemy_conn")
    notify_from_another_machine(tmp_path, emulator, database)
    assert message_creates(emulator) == 1

    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="load failed")(task_context())
    notify_from_another_machine(tmp_path, emulator, database)

    assert message_creates(emulator) == 1, "the other callbacks found the marker in the shared database"


def test_without_its_database_the_notifier_still_alerts_and_says_why(emulator, tmp_path):
    unreachable = f"sqlite:///{tmp_path}/no-such-directory/airflow.db"

    first = notify_from_another_machine(tmp_path, emulator, unreachable)
    notify_from_another_machine(tmp_path, emulator, unreachable)

    assert message_creates(emulator) == 2, "an alert that might repeat beats none"
    assert "cannot tell whether this alert went out already" in first.stdout + first.stderr


@pytest.mark.parametrize("status", [408, 409, 499])
def test_an_answer_that_may_have_come_after_sending_keeps_the_marker(emulator, status):
    # A timeout, a conflict or a proxy's "client closed" may come after SignalWire sent the SMS.
    emulator.add_fault("status", method="POST", path=r"/Messages$", status=status, times=1)
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="load failed")

    notifier(task_context())
    notifier(task_context())

    assert message_creates(emulator) == 1, "a repeat must not send a second alert"


def test_marker_dir_is_ignored_with_a_warning(emulator):
    with pytest.warns(DeprecationWarning, match="marker_dir is ignored"):
        notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x", marker_dir="/shared/markers")

    notifier(task_context())
    notifier(task_context())

    assert message_creates(emulator) == 1
    assert not os.path.exists("/shared/markers")


def test_dag_alert_names_the_failed_task_in_one_sms_segment(run_dag, emulator):
    from airflow.sdk import DAG, task

    with DAG(
        "signalwire_nightly_warehouse_load",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        on_failure_callback=SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER),
    ) as dag:

        @task
        def extract() -> None:
            pass

        @task
        def load_customer_orders() -> None:
            raise RuntimeError("the warehouse is unreachable")

        extract() >> load_customer_orders()

    dag_run = run_dag(dag)

    (body,) = [message["body"] for message in emulator.messages]
    assert dag_run.state == "failed"
    assert "load_customer_orders" in body and "signalwire_nightly_warehouse_load" in body
    assert dag_run.run_id in body
    assert len(body) <= 160, f"{len(body)} characters: more than one SMS segment"
