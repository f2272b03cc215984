"""
Watchers follow SignalWire's time, never the local clock: with the emulator's clock five minutes behind this
machine's (the local clock ahead) or five minutes ahead, a sensor and an event trigger each see every message
injected over HTTP exactly once, none from before the watch, and warn once that the clocks differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from airflow_compat import TaskDeferred

from airflow_provider_signalwire.api.dates import parse_api_datetime
from airflow_provider_signalwire.api.server_time import ServerClock
from airflow_provider_signalwire.sensors import SignalWireNewMessageSensor
from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

from .conftest import CUSTOMER, SUPPORT_NUMBER, TriggerDriver, rebuild, run_async, wait_for
from .test_event_triggers import DictStore

SKEW = 300.0
LIST = r"/Messages$"
WARNING = "(its Date header)"

SKEWS = [
    pytest.param(-SKEW, marks=pytest.mark.signalwire_emulator(clock_skew_seconds=-SKEW), id="signalwire_5min_behind"),
    pytest.param(SKEW, marks=pytest.mark.signalwire_emulator(clock_skew_seconds=SKEW), id="signalwire_5min_ahead"),
]


def _signalwire_now(emulator) -> datetime:
    return datetime.fromtimestamp(emulator.now(), UTC)


def _inject(emulator, body: str, date_sent: datetime | None = None) -> str:
    """An inbound SMS to the support line, through the emulator's control API over HTTP; its SID."""
    payload = {"from": CUSTOMER, "to": SUPPORT_NUMBER, "body": body}
    if date_sent is not None:
        payload["date_sent"] = date_sent.isoformat()
    answer = requests.post(f"{emulator.base_url}/__emulator__/inbound/messages", json=payload, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["sid"]


def _warnings(capfd, caplog) -> int:
    """How many clock warnings were logged (Airflow's loggers print them; others reach caplog)."""
    out, err = capfd.readouterr()
    printed = [line for line in (*out.splitlines(), *err.splitlines()) if WARNING in line]
    recorded = [r for r in caplog.records if WARNING in r.getMessage() and r.levelname == "WARNING"]
    return max(len(printed), len(recorded))


@pytest.mark.parametrize("skew", SKEWS)
def test_the_emulator_dates_its_answers_by_its_own_clock_and_the_hooks_read_it(skew, signalwire_conn, hook):
    emulator = signalwire_conn
    answer = requests.get(f"{emulator.base_url}/__emulator__/health", timeout=10)
    dated = parse_api_datetime(answer.headers["Date"])
    assert dated is not None and abs(dated.timestamp() - emulator.now()) < 2
    assert abs(dated.timestamp() - time.time() - skew) < 2

    list(hook.list_messages(page_size=1, limit=1))
    signalwire_now = hook.server_clock.now()
    assert signalwire_now is not None and abs(signalwire_now.timestamp() - emulator.now()) < 2


def test_a_server_clock_without_a_date_header_tells_no_time_and_warns_only_beyond_30_seconds():
    clock = ServerClock()
    clock.record(None)
    assert clock.reading is None and clock.to_server(time.time()) is None and clock.skew_warning() is None
    clock.record("Tue, 08 Dec 2026 00:00:00 GMT", received=datetime(2026, 12, 8, 0, 0, 20, tzinfo=UTC).timestamp())
    assert clock.skew_warning() is None
    an_hour_later = datetime(2026, 12, 8, 1, 0, 20, tzinfo=UTC).timestamp()
    assert clock.to_server(an_hour_later) == datetime(2026, 12, 8, 1, tzinfo=UTC)  # SignalWire 20 s behind
    clock.record("Tue, 08 Dec 2026 00:00:00 GMT", received=datetime(2026, 12, 8, 0, 5, tzinfo=UTC).timestamp())
    warning = clock.skew_warning()
    assert warning is not None
    assert "2026-12-08T00:05:00+00:00" in warning and "2026-12-08T00:00:00+00:00" in warning
    assert "300 s ahead of SignalWire's" in warning


@pytest.mark.parametrize("skew", SKEWS)
@pytest.mark.parametrize("with_store", [False, True], ids=["no_store", "store"])
def test_an_event_trigger_sees_every_message_once_whatever_the_clocks(skew, with_store, signalwire_conn, capfd, caplog):
    emulator = signalwire_conn
    earlier = _inject(emulator, "before the watch", _signalwire_now(emulator) - timedelta(seconds=3))
    trigger = rebuild(SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, poll_interval=0.05))
    if with_store:
        trigger.asset_state_store = DictStore()  # a cursor kept as on Airflow 3.3 (none stored yet)

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.to_thread(wait_for, lambda: emulator.count_requests("GET", LIST) >= 4)  # it is polling
        injected = []
        for wave in range(4):  # arriving over many polls
            injected += [await asyncio.to_thread(_inject, emulator, f"wave {wave} #{i}") for i in range(5)]
            await asyncio.sleep(0.3)
        with contextlib.suppress(AssertionError):  # counted below
            await driver.wait_events(len(injected), timeout=10)
        await asyncio.sleep(0.3)  # several more polls: nothing else comes
        return injected, await driver.stop()

    injected, events = run_async(scenario())
    seen = [event["sid"] for event in events]
    warnings = _warnings(capfd, caplog)
    with capfd.disabled():
        print(f"skew {skew:+.0f} s: {len(set(seen) & set(injected))} of {len(injected)} seen, {len(seen)} events")
    assert earlier not in seen
    assert sorted(seen) == sorted(injected)  # each exactly once
    assert warnings == 1


@pytest.mark.parametrize("skew", SKEWS)
def test_a_poking_sensor_sees_every_message_once_whatever_the_clocks(skew, signalwire_conn, capfd, caplog):
    emulator = signalwire_conn
    since = _signalwire_now(emulator).replace(microsecond=0) - timedelta(seconds=60)  # the run's interval start
    earlier = _inject(emulator, "before since", since - timedelta(seconds=5))
    sensor = SignalWireNewMessageSensor(
        task_id="wait_for_sms", to=SUPPORT_NUMBER, since=since.isoformat(), poke_interval=0.05, timeout=20
    )
    outcome: dict[str, object] = {}

    def poke():
        try:
            outcome["items"] = sensor.execute({})
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=poke, daemon=True)
    thread.start()
    wait_for(lambda: emulator.count_requests("GET", LIST) >= 4)  # several empty pokes
    injected = [_inject(emulator, f"report #{i}") for i in range(5)]
    thread.join(30)

    seen = [item["sid"] for item in outcome.get("items") or []]
    warnings = _warnings(capfd, caplog)
    with capfd.disabled():
        print(f"skew {skew:+.0f} s: {len(seen)} of {len(injected)} seen; {outcome.get('error')!r}")
    assert "error" not in outcome, outcome
    assert earlier not in seen and sorted(seen) == sorted(injected)
    assert warnings == 1


@pytest.mark.parametrize("skew", SKEWS)
def test_a_deferred_sensor_sees_every_message_once_whatever_the_clocks(skew, signalwire_conn):
    emulator = signalwire_conn
    since = _signalwire_now(emulator).replace(microsecond=0) - timedelta(seconds=60)
    earlier = _inject(emulator, "before since", since - timedelta(seconds=5))
    sensor = SignalWireNewMessageSensor(
        task_id="wait_for_sms", to=SUPPORT_NUMBER, since=since.isoformat(), poke_interval=0.05, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = rebuild(deferred.value.trigger)

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.to_thread(wait_for, lambda: emulator.count_requests("GET", LIST) >= 4)
        injected = [await asyncio.to_thread(_inject, emulator, f"report #{i}") for i in range(5)]
        with contextlib.suppress(TimeoutError):  # counted below
            await driver.wait_done(timeout=10)
        return injected, await driver.stop()

    injected, events = run_async(scenario())
    items = sensor.execute_complete({}, events[0]) if events else []
    seen = [item["sid"] for item in items]
    print(f"skew {skew:+.0f} s: {len(seen)} of {len(injected)} seen")
    assert earlier not in seen and sorted(seen) == sorted(injected)


@pytest.mark.parametrize("skew", SKEWS)
@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_a_manual_runs_sensor_waits_from_its_start_on_signalwire_s_clock(skew, deferrable, signalwire_conn):
    """No ``since``: a manual run's start (read on Airflow's clock) never starts the wait in SignalWire's future."""
    emulator = signalwire_conn
    earlier = _inject(emulator, "long before the run", _signalwire_now(emulator) - timedelta(minutes=10))
    triggered = datetime.now(UTC)  # the run's logical date and zero-length interval, on this machine's clock
    context = {"logical_date": triggered, "data_interval_start": triggered}
    sensor = SignalWireNewMessageSensor(
        task_id="wait_for_sms", to=SUPPORT_NUMBER, poke_interval=0.05, timeout=20, deferrable=deferrable
    )
    outcome: dict[str, object] = {}

    def poke():
        try:
            outcome["items"] = sensor.execute(context)
        except BaseException as error:
            outcome["error"] = error

    async def deferred(trigger):
        driver = TriggerDriver(trigger)
        await asyncio.to_thread(wait_for, lambda: emulator.count_requests("GET", LIST) >= 3)
        injected = [await asyncio.to_thread(_inject, emulator, f"reply #{i}") for i in range(3)]
        with contextlib.suppress(TimeoutError):  # counted below
            await driver.wait_done(timeout=10)
        return injected, await driver.stop()

    if deferrable:
        with pytest.raises(TaskDeferred) as deferral:
            sensor.execute(context)
        injected, events = run_async(deferred(rebuild(deferral.value.trigger)))
        outcome["items"] = sensor.execute_complete({}, events[0]) if events else []
    else:
        thread = threading.Thread(target=poke, daemon=True)
        thread.start()
        wait_for(lambda: emulator.count_requests("GET", LIST) >= 3)
        injected = [_inject(emulator, f"reply #{i}") for i in range(3)]
        thread.join(30)

    seen = [item["sid"] for item in outcome.get("items") or []]
    print(f"skew {skew:+.0f} s: {len(seen)} of {len(injected)} seen; {outcome.get('error')!r}")
    assert "error" not in outcome, outcome
    assert earlier not in seen and sorted(seen) == sorted(injected)
