"""
What a watcher's poll costs, and what it must still see: a quiet poll is one request whatever the day holds; watchers
asking the same share one request per interval; an item that comes to match late still fires, once.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_signalwire.api.polling import POLL_RETRY_POLICY
from airflow_provider_signalwire.api.watching import Cursor, NewItemsQuery
from airflow_provider_signalwire.hooks.signalwire import SignalWireHook
from airflow_provider_signalwire.testing.emulator.magic_numbers import MESSAGE_UNDELIVERED_NUMBER
from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

from .conftest import CUSTOMER, SHARED_STREAMS, SUPPORT_NUMBER, TriggerDriver, rebuild, run_async
from .test_event_triggers import DictStore

LIST = r"/Messages$"
POLLS = 12  # shared: about 6 s of polls; two watchers polling each on their own would take 4 s


def _poll(hook, query, cursor):
    return query.select(hook.list(query.spec, **query.poll_arguments(cursor)), cursor)


def test_a_quiet_poll_is_one_request_on_a_day_with_thousands_of_messages(signalwire_conn):
    emulator = signalwire_conn
    now = datetime.fromtimestamp(emulator.now(), UTC).replace(microsecond=0)
    # 10,000 messages to the watched number earlier today (one every 2 s, the last ten minutes ago).
    emulator.seed_messages(
        10_000, from_=CUSTOMER, to=SUPPORT_NUMBER, start=now - timedelta(seconds=20_600), spacing_seconds=2
    )
    hook = SignalWireHook(retry_policy=POLL_RETRY_POLICY)
    query = NewItemsQuery("messages", to=SUPPORT_NUMBER)
    cursor = Cursor.starting(now)

    emulator.clear_requests()
    assert _poll(hook, query, cursor) == []
    assert emulator.count_requests("GET", LIST) == 1

    # A few new ones: still one request (two at most), each seen once.
    new = [emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body=f"new {i}")["sid"] for i in range(3)]
    emulator.clear_requests()
    seen = _poll(hook, query, cursor)
    assert sorted(s.sid for s in seen) == sorted(new)
    assert emulator.count_requests("GET", LIST) <= 2
    cursor = cursor.after(seen, query.lookback)
    emulator.clear_requests()
    assert _poll(hook, query, cursor) == []
    assert emulator.count_requests("GET", LIST) == 1

    # A burst larger than a page is still read completely.
    burst = [emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body=f"b{i}")["sid"] for i in range(130)]
    seen = _poll(hook, query, cursor)
    assert sorted(s.sid for s in seen) == sorted(burst)


def test_a_poke_with_since_far_back_reads_the_past_once_then_only_what_is_new(signalwire_conn):
    from airflow_provider_signalwire.sensors import SignalWireNewMessageSensor

    emulator = signalwire_conn
    now = datetime.fromtimestamp(emulator.now(), UTC).replace(microsecond=0)
    emulator.seed_messages(
        600, from_=CUSTOMER, to=SUPPORT_NUMBER, direction="outbound-api", start=now - timedelta(hours=1)
    )
    sensor = SignalWireNewMessageSensor(task_id="wait", to=SUPPORT_NUMBER, since=(now - timedelta(hours=2)).isoformat())
    emulator.clear_requests()
    assert not sensor.poke({}).is_done  # outbound only: nothing matches
    first = emulator.count_requests("GET", LIST)
    assert first >= 2  # the past hour, read once
    emulator.clear_requests()
    assert not sensor.poke({}).is_done
    assert emulator.count_requests("GET", LIST) == 1


@pytest.mark.skipif(not SHARED_STREAMS, reason="watchers share polls through Airflow 3.3's shared trigger streams")
def test_two_watchers_of_one_number_share_one_request_per_interval(signalwire_conn):
    emulator = signalwire_conn

    def start(**filters):
        trigger = rebuild(SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, **filters))
        trigger.asset_state_store = DictStore()
        return TriggerDriver(trigger)

    async def scenario():
        refunds = start(body_contains="refund", poll_interval=0.5)
        everything = start(poll_interval=1.0)
        await asyncio.sleep(1.5)  # both started, first polls done
        emulator.clear_requests()
        started = time.monotonic()
        a = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="hello")
        b = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="I want a refund")
        await everything.wait_events(2)
        await refunds.wait_events(1)
        deadline = started + 60
        while emulator.count_requests("GET", LIST) < POLLS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        requests, elapsed = emulator.count_requests("GET", LIST), time.monotonic() - started
        await refunds.stop()
        await everything.stop()
        return a, b, refunds.events, everything.events, requests, elapsed

    a, b, refunds, everything, requests, elapsed = run_async(scenario())
    assert [e["sid"] for e in refunds] == [b["sid"]]
    assert sorted(e["sid"] for e in everything) == sorted([a["sid"], b["sid"]])
    assert requests >= POLLS
    # One request per 0.5 s for both watchers, however slow the machine (two would make 3 a second): the
    # first one at once, and two second pages for the two new messages.
    assert requests <= elapsed / 0.5 + 3, f"{requests} requests in {elapsed:.1f} s"


def test_a_message_that_comes_to_match_late_still_fires_once(signalwire_conn, hook):
    """Message A is sent first, its carrier report comes late; B, sent after it, fails at once."""
    emulator = signalwire_conn
    emulator.status_step_seconds = 5  # A: sent 5 s after creation, undelivered 5 s later

    async def scenario():
        trigger = rebuild(
            SignalWireNewMessageEventTrigger(status="undelivered", direction="outbound", poll_interval=0.05)
        )
        trigger.asset_state_store = DictStore()
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.3)
        a = hook.create_message(to=MESSAGE_UNDELIVERED_NUMBER, from_=SUPPORT_NUMBER, body="A")
        emulator.advance_clock(5)  # A is sent
        b_date = datetime.fromtimestamp(emulator.now() + 2, UTC)
        (b,) = emulator.seed_messages(
            1, from_=SUPPORT_NUMBER, to=CUSTOMER, direction="outbound-api", status="undelivered", start=b_date
        )
        await driver.wait_events(1)
        emulator.advance_clock(6)  # A's report: undelivered, dated before B
        await driver.wait_events(2)
        await asyncio.sleep(0.5)
        events = await driver.stop()
        return a["sid"], b, [e["sid"] for e in events]

    a, b, fired = run_async(scenario())
    assert fired == [b, a]
