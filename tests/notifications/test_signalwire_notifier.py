from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import pytest

from airflow_provider_signalwire.notifications import SignalWireNotifier, send_signalwire_notification

from .conftest import BACKUP, FROM_NUMBER, ONCALL, task_context


def bodies_to(emulator, number: str) -> list[str]:
    """The texts sent to ``number``, oldest first (the emulator lists newest first)."""
    return [message["body"] for message in reversed(emulator.messages) if message["to"] == number]


def logged(caplog, capsys) -> str:
    """What was logged: the standard library's records and Airflow's structured log lines (on stdout/stderr)."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


def message_creates(emulator) -> int:
    return emulator.count_requests(method="POST", path_regex=r"/Messages(\.json)?$")


def test_failing_task_alerts_every_recipient_with_the_rendered_body_in_a_dag_run(run_dag, emulator):
    from airflow.sdk import DAG, task

    task_alert = SignalWireNotifier(
        to=[ONCALL, BACKUP],
        from_=FROM_NUMBER,
        body="{{ dag.dag_id }}.{{ ti.task_id }} failed on try {{ ti.try_number }} of run {{ run_id }}",
    )
    run_alert = send_signalwire_notification(to=ONCALL, from_=FROM_NUMBER)
    with DAG(
        "signalwire_notifier_run", schedule=None, start_date=datetime(2026, 1, 1), on_failure_callback=run_alert
    ) as dag:

        @task(on_failure_callback=task_alert)
        def load():
            raise RuntimeError("the task's own error")

        load()

    # SignalWire refuses the first SMS: that is logged, and the other recipients are still told.
    emulator.add_fault("status", method="POST", path=r"/Messages$", status=400, times=1)
    dag_run = run_dag(dag)

    assert dag_run.state == "failed"
    (ti,) = dag_run.get_task_instances()
    assert ti.state == "failed"  # the task's own failure, not masked by the notifier
    rendered = f"signalwire_notifier_run.load failed on try 1 of run {dag_run.run_id}"
    assert bodies_to(emulator, BACKUP) == [rendered]
    # ONCALL's task alert was refused; the DAG-level alert (default text) went out once.
    assert bodies_to(emulator, ONCALL) == [
        f"Airflow: DAG signalwire_notifier_run failed at task load (run {dag_run.run_id})."
    ]
    assert message_creates(emulator) == 3


def test_repeated_callback_for_the_same_try_sends_nothing_more(emulator):
    notifier = SignalWireNotifier(to=[ONCALL, BACKUP], from_=FROM_NUMBER, body="load failed")

    notifier(task_context(try_number=1))
    notifier(task_context(try_number=1))
    assert message_creates(emulator) == 2

    notifier(task_context(try_number=2))  # a new try is a new failure
    assert message_creates(emulator) == 4
    assert bodies_to(emulator, ONCALL) == ["load failed", "load failed"]


def test_one_notifier_on_two_callbacks_of_the_same_try_sends_for_each(emulator):
    # e.g. on_execute_callback and on_failure_callback: two events of one try, two alerts.
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="{{ ti.state }}")

    notifier(task_context(state="running"))
    notifier(task_context(state="failed"))
    notifier(task_context(state="failed"))

    assert bodies_to(emulator, ONCALL) == ["running", "failed"]


def test_another_notifier_on_the_same_failure_still_sends(emulator):
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="to the team")(task_context())
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="to the pager")(task_context())

    assert bodies_to(emulator, ONCALL) == ["to the team", "to the pager"]


def test_recipients_as_a_list_or_a_separated_string_each_get_one_sms(emulator):
    SignalWireNotifier(to=f"{ONCALL}, {BACKUP};{ONCALL}", from_=FROM_NUMBER, body="x")(task_context())

    assert sorted(message["to"] for message in emulator.messages) == sorted([ONCALL, BACKUP])


def test_recipients_are_templated(emulator):
    from airflow.sdk import DAG

    dag = DAG("nightly", schedule=None, start_date=datetime(2026, 1, 1), params={"pager": BACKUP})
    context = {**task_context(), "dag": dag, "params": {"pager": BACKUP}}
    SignalWireNotifier(to=["{{ params.pager }}"], from_=FROM_NUMBER, body="x")(context)

    assert [message["to"] for message in emulator.messages] == [BACKUP]


def test_one_notifier_on_several_tasks_renders_each_from_its_template(emulator):
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="{{ ti.task_id }} failed")

    notifier(task_context(task_id="extract"))
    notifier(task_context(task_id="load"))

    assert bodies_to(emulator, ONCALL) == ["extract failed", "load failed"]
    assert notifier.body == "{{ ti.task_id }} failed"


def test_default_text_names_dag_task_run_try_and_log(emulator):
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER)(
        task_context(task_id="load", try_number=3, run_id="scheduled__2026-01-01")
    )

    assert bodies_to(emulator, ONCALL) == [
        "Airflow: task load of DAG nightly ended failed (run scheduled__2026-01-01, try 3). "
        "Log: https://airflow.example.com/dags/nightly/runs/scheduled__2026-01-01/tasks/load?try_number=3"
    ]


def test_refused_send_is_logged_not_raised_and_a_repeat_tries_again(emulator, caplog, capsys):
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x")
    emulator.add_fault("status", method="POST", path=r"/Messages$", status=400, times=1)

    notifier(task_context())  # does not raise
    text = logged(caplog, capsys)
    assert emulator.messages == []
    assert "SignalWire notification to +15550000002 failed" in text
    assert "HTTP 400" in text

    notifier(task_context())  # SignalWire sent nothing, so the marker was released
    assert len(emulator.messages) == 1


def test_send_that_may_have_gone_out_is_not_repeated(emulator, caplog, capsys):
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x")
    # SignalWire creates the message, then the answer is lost.
    emulator.add_fault("drop_after", method="POST", path=r"/Messages$", times=1)

    notifier(task_context())
    notifier(task_context())

    text = logged(caplog, capsys)
    assert len(emulator.messages) == 1
    assert message_creates(emulator) == 1
    assert "may have been processed" in text


def test_broken_template_or_connection_is_logged_not_raised(emulator, caplog, capsys):
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="{{ 1 / 0 }}")(task_context())
    SignalWireNotifier(to=ONCALL, body="x", signalwire_conn_id="no_such_connection")(task_context())

    text = logged(caplog, capsys)
    assert emulator.messages == []
    assert "ZeroDivisionError" in text
    assert "no_such_connection" in text


def test_no_recipient_sends_nothing(emulator, caplog, capsys):
    SignalWireNotifier(to="{{ '' }}", body="x")(task_context())

    text = logged(caplog, capsys)
    assert message_creates(emulator) == 0
    assert "names no recipient" in text


def test_dag_level_callback_sends_once_per_dag_run(emulator):
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER)
    dag_context = {**task_context(), "reason": "task_failure"}  # a DAG callback, with its last task's context

    notifier(dag_context)
    notifier(dag_context)
    notifier(task_context())  # the task-level failure of the same run is another event

    assert bodies_to(emulator, ONCALL) == [
        "Airflow: DAG nightly failed at task load (run scheduled__2026-01-01). "
        "http://localhost:8080/dags/nightly/runs/scheduled__2026-01-01",
        "Airflow: task load of DAG nightly ended failed (run scheduled__2026-01-01, try 1). "
        "Log: https://airflow.example.com/dags/nightly/runs/scheduled__2026-01-01/tasks/load?try_number=1",
    ]


def test_deadline_alert_in_the_triggerer_sends_once_without_blocking_the_loop(emulator):
    # What a deadline callback gets in the triggerer: the notifier class called with its kwargs and a context.
    context = {
        "dag_run": {"dag_id": "nightly", "dag_run_id": "scheduled__2026-01-01"},
        "deadline": {"id": "0195a1c2-0000-7000-8000-000000000001", "deadline_time": "2026-01-01T06:00:00Z"},
    }
    emulator.add_fault("slow", method="POST", path=r"/Messages$", delay=0.6, times=1)

    async def scenario() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        running = asyncio.create_task(ticker())
        await SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, context=context)
        await SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, context=context)
        running.cancel()
        return ticks

    ticks = asyncio.run(scenario())

    assert ticks >= 10  # the loop kept running during the 0.6 s send
    assert bodies_to(emulator, ONCALL) == ["Airflow: DAG nightly, run scheduled__2026-01-01, missed its deadline."]


def test_marker_expires(emulator):
    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x", marker_ttl=0.5)

    notifier(task_context())
    notifier(task_context())
    time.sleep(0.6)
    notifier(task_context())  # expired: this counts as a new alert

    assert len(emulator.messages) == 2


def test_markers_live_in_one_variable_per_alert_and_recipient_without_phone_numbers(emulator):
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    SignalWireNotifier(to=[ONCALL, BACKUP], from_=FROM_NUMBER, body="x")(task_context())

    with create_session() as session:
        kept = session.scalars(select(Variable).where(Variable.key.startswith("signalwire_claim_"))).all()
        records = [json.loads(variable.val) for variable in kept]
        keys = [variable.key for variable in kept]
    assert len(records) == 2, "one marker per recipient, each its own Variable"
    assert not any(number in text for number in (ONCALL, BACKUP) for text in [*keys, json.dumps(records)])
    assert {record["facts"]["event"] for record in records} == {"task nightly load scheduled__2026-01-01 -1 1 failed"}


def test_concurrent_callbacks_for_many_alerts_send_one_sms_each(emulator):
    # Failed before: claims of different alerts of one notifier rewrote one JSON Variable, so some were lost or
    # raised "kept being overwritten" (and then sent without a marker).
    import threading

    notifier = SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x")
    contexts = [task_context(task_id=f"load_{index % 10}") for index in range(30)]  # 10 alerts, each 3 times
    start = threading.Barrier(len(contexts))

    def callback(context) -> None:
        start.wait()
        notifier(context)

    threads = [threading.Thread(target=callback, args=(context,)) for context in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(bodies_to(emulator, ONCALL)) == 10


def test_long_text_is_cut_to_what_an_sms_may_hold(emulator):
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x" * 2000)(task_context())

    (body,) = bodies_to(emulator, ONCALL)
    assert len(body) == 1600
    assert body.endswith("...")


def test_api_token_never_logged(emulator, caplog, capsys):
    caplog.set_level("DEBUG")
    emulator.add_fault("status", method="POST", path=r"/Messages$", status=401, times=1)
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="x")(task_context())
    SignalWireNotifier(to=ONCALL, from_=FROM_NUMBER, body="y")(task_context())

    text = logged(caplog, capsys)
    assert "HTTP 401" in text
    assert emulator.api_token not in text
    assert emulator.api_token not in repr(SignalWireNotifier(to=ONCALL))


def test_notifier_is_declared_for_airflow():
    from airflow_provider_signalwire.get_provider_info import get_provider_info

    assert send_signalwire_notification is SignalWireNotifier
    assert SignalWireNotifier.template_fields == ("to", "body", "from_")
    assert (
        "airflow_provider_signalwire.notifications.signalwire.SignalWireNotifier"
        in (get_provider_info()["notifications"])
    )
    assert "config" not in get_provider_info(), "no option left: the markers live in the metadata database"
    with pytest.raises(TypeError):
        SignalWireNotifier(ONCALL)  # keyword-only
