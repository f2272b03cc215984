"""SignalWireNewMessageSensor and SignalWireNewCallSensor, in poke mode and deferred, against the emulator."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow_compat import TaskDeferred

from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireInputError
from airflow_provider_signalwire.sensors import SignalWireNewCallSensor, SignalWireNewMessageSensor
from airflow_provider_signalwire.sensors.signalwire import default_since
from airflow_provider_signalwire.triggers.new_items import SignalWireNewItemsTrigger

from .conftest import CUSTOMER, SUPPORT_NUMBER, TriggerDriver, rebuild, run_async, wait_for


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _message_sensor(**kwargs) -> SignalWireNewMessageSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 20)
    return SignalWireNewMessageSensor(task_id="wait_for_sms", to=SUPPORT_NUMBER, **kwargs)


def _run_in_thread(function, *args):
    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_poke_mode_succeeds_when_a_message_arrives_while_it_waits(signalwire_conn):
    emulator = signalwire_conn
    since = _now()
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="before", date_sent=since - timedelta(seconds=5))
    sensor = _message_sensor(body_contains="report")
    thread, outcome = _run_in_thread(sensor.execute, {"data_interval_start": since})

    wait_for(lambda: emulator.count_requests("GET", r"/Messages$") >= 3)  # it is poking
    assert thread.is_alive()
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="no match")
    arrived = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="Daily report please")
    thread.join(10)

    assert not thread.is_alive() and "error" not in outcome, outcome
    assert outcome["value"] == [arrived]  # what goes to XCom


def test_deferred_sensor_waits_in_the_trigger_and_returns_the_same_items_as_poke(signalwire_conn):
    emulator = signalwire_conn
    since = _now()
    sensor = _message_sensor(deferrable=True, limit=2)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"data_interval_start": since})
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=20)
    trigger = rebuild(deferred.value.trigger)  # the triggerer builds it from its serialized form
    assert isinstance(trigger, SignalWireNewItemsTrigger) and trigger.since == since

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.3)
        assert driver.events == [] and not driver.done
        for body in ("one", "two", "three"):
            emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body=body)
        await driver.wait_done()
        return driver.events

    (event,) = run_async(scenario())
    items = sensor.execute_complete({}, event)
    assert [m["body"] for m in items] == ["one", "two"]  # oldest first, at most limit

    poked = _message_sensor(limit=2).poke({"data_interval_start": since})
    assert poked.is_done and poked.xcom_value == items


def test_call_sensor_pushes_the_calls_that_started_since(signalwire_conn):
    emulator = signalwire_conn
    since = _now()
    emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="completed", start_time=since - timedelta(hours=1))
    sensor = SignalWireNewCallSensor(task_id="wait_for_call", to=SUPPORT_NUMBER, poke_interval=0.05, timeout=5)
    assert not sensor.poke({"data_interval_start": since}).is_done
    call = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="in-progress")
    result = sensor.poke({"data_interval_start": since})
    assert result.is_done and [c["sid"] for c in result.xcom_value] == [call["sid"]]


def test_since_is_templated_and_defaults_to_the_data_interval_start(signalwire_conn):
    emulator = signalwire_conn
    start = _now() - timedelta(minutes=10)
    old = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="old", date_sent=start - timedelta(minutes=1))
    new = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="new", date_sent=start + timedelta(minutes=1))
    sensor = _message_sensor()
    assert sensor.poke({"data_interval_start": start}).xcom_value == [new]
    # A rendered template is a string; a date means its midnight UTC.
    sensor = _message_sensor(since=(start - timedelta(minutes=2)).isoformat())
    assert sensor.poke({}).xcom_value == [old, new]
    assert "since" in sensor.template_fields and "body_contains" in sensor.template_fields
    sensor = _message_sensor(since=date.today().isoformat(), limit=1)
    assert sensor.poke({}).xcom_value in ([old], [new])  # the oldest of today's (the run may cross midnight)


def test_since_falls_back_for_runs_without_a_data_interval():
    logical = datetime(2026, 1, 2, tzinfo=UTC)
    run_after = datetime(2026, 1, 3, tzinfo=UTC)
    started = datetime(2026, 1, 4, tzinfo=UTC)
    assert default_since({"data_interval_start": logical - timedelta(hours=1), "logical_date": logical}) == (
        logical - timedelta(hours=1)
    )
    # Manual and asset-triggered runs may have no data interval, and no logical date.
    assert default_since({"data_interval_start": None, "logical_date": logical}) == logical
    run = SimpleNamespace(run_after=run_after, start_date=started)
    assert default_since({"data_interval_start": None, "logical_date": None, "dag_run": run}) == run_after
    assert default_since({"dag_run": SimpleNamespace(run_after=None, start_date=started)}) == started
    with pytest.raises(SignalWireInputError, match="since"):
        default_since({})


def test_bad_sensor_input_fails_before_any_request(signalwire_conn):
    with pytest.raises(SignalWireInputError, match="limit"):
        _message_sensor(limit=0)
    with pytest.raises(SignalWireInputError, match="since"):
        _message_sensor(since="2026-13-45").poke({})
    with pytest.raises(SignalWireInputError, match=r"'since' \('2026-01-01T00:00:00'\) has no timezone"):
        _message_sensor(since=datetime(2026, 1, 1)).poke({})
    with pytest.raises(SignalWireInputError, match="status"):
        _message_sensor(status="bogus", deferrable=True).execute({"data_interval_start": _now()})
    assert signalwire_conn.count_requests() == 0


def test_poke_retries_transient_failures_then_fails_with_signalwire_error(signalwire_conn, capfd):
    emulator = signalwire_conn
    since = _now()
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="here")
    emulator.add_fault(method="GET", path=r"/Messages$", kind="status", status=503, times=2)
    sensor = _message_sensor(max_consecutive_failures=3)
    assert [m["body"] for m in sensor.execute({"data_interval_start": since})] == ["here"]
    logged = capfd.readouterr().out
    assert "1 of 3 in a row" in logged and "2 of 3 in a row" in logged

    emulator.add_fault(method="GET", path=r"/Messages$", kind="status", status=503, times=3)
    with pytest.raises(SignalWireApiError) as failed:
        _message_sensor(max_consecutive_failures=3).execute({"data_interval_start": since})
    assert failed.value.status == 503
    assert emulator.count_requests("GET", r"/Messages$") == 6


def test_deferred_sensor_fails_with_signalwire_error_after_too_many_failures(signalwire_conn):
    emulator = signalwire_conn
    emulator.add_fault(method="GET", path=r"/Messages$", kind="status", status=500, times=2)
    trigger = SignalWireNewItemsTrigger(
        resource="messages", since=_now(), poll_interval=0.05, max_consecutive_failures=2
    )

    async def scenario():
        driver = TriggerDriver(trigger)
        await driver.wait_done()
        return driver.events

    (event,) = run_async(scenario())
    assert event["status"] == "error" and event["error"]["status"] == 500
    with pytest.raises(SignalWireApiError, match="HTTP 500"):
        _message_sensor().execute_complete({}, event)


def test_secrets_stay_out_of_sensor_and_trigger_reprs_and_logs(signalwire_conn, capfd):
    token = signalwire_conn.api_token
    sensor = _message_sensor(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"data_interval_start": _now()})
    trigger = deferred.value.trigger
    assert token not in repr(trigger) and token not in str(trigger.serialize())
    signalwire_conn.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="x")
    sensor = _message_sensor()
    sensor.poke({"data_interval_start": _now() - timedelta(seconds=5)})
    captured = capfd.readouterr()
    assert "Found 1 new SignalWire messages" in captured.out
    assert token not in repr(sensor.hook) and token not in captured.out + captured.err


def test_rescheduled_sensor_gives_up_after_max_consecutive_failures(airflow_db, signalwire_conn):
    """Airflow builds the sensor anew for every poke in reschedule mode: the count is kept in the task's ledger."""
    from airflow.sdk import DAG
    from airflow.utils.state import DagRunState
    from operators.helpers import register_dag, task_states

    emulator = signalwire_conn
    emulator.add_fault(method="GET", path=r"/Messages$", kind="status", status=503, times=50)
    with DAG(dag_id="signalwire_reschedule_failures", schedule=None) as dag:
        SignalWireNewMessageSensor(
            task_id="wait",
            to=SUPPORT_NUMBER,
            mode="reschedule",
            poke_interval=0.1,
            timeout=120,
            max_consecutive_failures=2,
        )
    register_dag(dag)
    dag_run = dag.test()
    assert dag_run.state == DagRunState.FAILED
    assert task_states(dag_run)[("wait", -1)] == "failed"
    # Two polls, each answered 503: the second one ends the wait, long before the sensor's timeout.
    assert emulator.count_requests("GET", r"/Messages$") == 2
