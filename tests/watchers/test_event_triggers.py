"""The asset-watcher triggers against the emulator: one event per new item, payloads, failures, the shared pool."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_signalwire.api.resources.messages import media_content_url
from airflow_provider_signalwire.api.watching import Cursor, SeenItem
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireInputError
from airflow_provider_signalwire.triggers.cursor_store import CursorStore
from airflow_provider_signalwire.triggers.events import (
    SignalWireNewCallEventTrigger,
    SignalWireNewMessageEventTrigger,
)

from .conftest import CUSTOMER, SHARED_STREAMS, SUPPORT_NUMBER, TriggerDriver, rebuild, run_async

MESSAGE_KEYS = {"resource", "sid", "from", "to", "status", "direction", "date", "body", "num_media", "media_urls"}


class DictStore:
    """An asset state store holding one asset's keys in a dict (aget/aset, as Airflow's accessor)."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    async def aget(self, key, default=None):
        return self.values.get(key, default)

    async def aset(self, key, value):
        assert value is not None
        self.values[key] = value


def test_one_event_per_new_inbound_message_with_its_fields(signalwire_conn, hook):
    emulator = signalwire_conn
    before = datetime.now(UTC) - timedelta(seconds=2)
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="before the watch", date_sent=before)
    trigger = SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, poll_interval=0.05)

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.2)
        hello = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="hello")
        emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="other line")
        hook.create_message(to=CUSTOMER, from_=SUPPORT_NUMBER, body="outbound")  # direction filter
        again = emulator.inject_inbound_message("+15557654321", SUPPORT_NUMBER, body="again")
        await driver.wait_events(2)
        await asyncio.sleep(0.3)  # several more polls: nothing else comes
        return hello, again, await driver.stop()

    hello, again, events = run_async(scenario())
    assert [e["sid"] for e in events] == [hello["sid"], again["sid"]]
    first = events[0]
    assert set(first) == MESSAGE_KEYS
    assert first["from"] == CUSTOMER and first["to"] == SUPPORT_NUMBER and first["body"] == "hello"
    assert first["status"] == "received" and first["direction"] == "inbound"
    assert datetime.fromisoformat(first["date"]) == datetime.strptime(hello["date_sent"], "%a, %d %b %Y %H:%M:%S %z")
    assert (first["num_media"], first["media_urls"]) == (0, [])


def test_without_an_asset_state_store_the_watch_starts_at_the_present_and_warns(signalwire_conn, capfd):
    """
    The path of Airflow 3.1 and 3.2, whose triggerer gives an event trigger no asset state store (on 3.3 a
    trigger gets none when no asset watches it): the watch starts at the present, a message that came before
    is not seen, and the trigger warns that what arrives while it is not running will not be seen.
    """
    emulator = signalwire_conn
    earlier = datetime.now(UTC) - timedelta(seconds=2)
    emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="STOP, before the watch", date_sent=earlier)
    trigger = SignalWireNewMessageEventTrigger(body_contains="STOP", poll_interval=0.05)
    assert getattr(trigger, "asset_state_store", None) is None

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.2)
        emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="hello")
        stop = emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="please stop")
        await driver.wait_events(1)
        await asyncio.sleep(0.3)  # several more polls: nothing else comes
        return stop, await driver.stop()

    stop, events = run_async(scenario())
    assert [e["sid"] for e in events] == [stop["sid"]]
    (started,) = [line for line in capfd.readouterr().out.splitlines() if "Watching new SignalWire" in line]
    assert "warning" in started.lower(), started
    assert "messages from the present" in started and "no asset state store" in started
    assert "Items that arrive while the trigger is not running will not be seen." in started


def test_mms_without_a_media_list_falls_back_to_the_message_fields(signalwire_conn, capfd):
    # A Space that answers no .../Messages/{Sid}/Media list (404): media_urls stays empty.
    emulator = signalwire_conn
    emulator.add_fault("status", method="GET", path=r"/Messages/[^/]+/Media$", status=404, times=5)
    trigger = SignalWireNewMessageEventTrigger(poll_interval=0.05)

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.2)
        emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, media_urls=["https://example.com/a.png"] * 2)
        await driver.wait_events(1)
        return await driver.stop()

    (event,) = run_async(scenario())
    assert event["num_media"] == 2 and event["media_urls"] == []
    assert emulator.count_requests("GET", r"/Messages/[^/]+/Media$") == 1
    assert "No media list for SignalWire message" in capfd.readouterr().out


def test_media_content_url_is_the_media_uri_without_json_on_the_connection_host():
    media = {"uri": "/api/laml/2010-04-01/Accounts/p/Messages/m/Media/x.json", "content_type": "image/png"}
    assert media_content_url("https://example.signalwire.com", media) == (
        "https://example.signalwire.com/api/laml/2010-04-01/Accounts/p/Messages/m/Media/x"
    )
    assert media_content_url("https://example.signalwire.com", {"uri": "https://elsewhere/x"}) is None
    assert media_content_url("https://example.signalwire.com", {}) is None


def test_call_trigger_emits_new_inbound_calls(signalwire_conn):
    emulator = signalwire_conn
    trigger = SignalWireNewCallEventTrigger(to=SUPPORT_NUMBER, poll_interval=0.05)
    assert "body_contains" not in trigger.serialize()[1]

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.2)
        live = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="in-progress")
        done = emulator.inject_inbound_call(CUSTOMER, SUPPORT_NUMBER, status="completed", start_time=datetime.now(UTC))
        await driver.wait_events(2)
        return live, done, await driver.stop()

    live, done, events = run_async(scenario())
    assert {e["sid"] for e in events} == {live["sid"], done["sid"]}
    completed = next(e for e in events if e["sid"] == done["sid"])
    assert completed["resource"] == "calls" and completed["status"] == "completed" and completed["duration"] == 30
    assert completed["direction"] == "inbound" and completed["from"] == CUSTOMER


def test_transient_failures_are_retried_then_the_trigger_fails_with_signalwire_error(signalwire_conn, capfd, caplog):
    emulator = signalwire_conn
    store = DictStore()

    async def scenario():
        trigger = SignalWireNewMessageEventTrigger(poll_interval=0.05, max_consecutive_failures=3)
        trigger.asset_state_store = store
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.2)
        emulator.add_fault(method="GET", path=r"/Messages$", kind="drop_before", times=1)
        emulator.add_fault(method="GET", path=r"/Messages$", kind="429", retry_after=None, times=1)
        first = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="through the faults")
        await driver.wait_events(1)
        emulator.add_fault(method="GET", path=r"/Messages$", kind="status", status=503, times=3)
        await driver.wait_done()
        return first, driver

    first, driver = run_async(scenario())
    assert [e["sid"] for e in driver.events] == [first["sid"]]
    assert isinstance(driver.error, SignalWireApiError) and driver.error.status == 503
    logged = capfd.readouterr().out + caplog.text
    assert "failed (1 of 3 in a row)" in logged and "failed 3 times in a row; giving up" in logged
    assert set(Cursor.from_json(next(iter(store.values.values()))).fired) == {first["sid"]}


def test_refused_credentials_fail_the_trigger_at_once(signalwire_emulator, monkeypatch):
    uri = signalwire_emulator.connection_uri().replace(signalwire_emulator.api_token, "PTwrong")
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", uri)

    async def scenario():
        driver = TriggerDriver(SignalWireNewMessageEventTrigger(poll_interval=0.05, max_consecutive_failures=5))
        await driver.wait_done()
        return driver.error

    error = run_async(scenario())
    assert isinstance(error, SignalWireApiError) and error.status == 401
    assert signalwire_emulator.count_requests("GET", r"/Messages$") == 1
    assert "PTwrong" not in str(error)


def test_bad_trigger_input_is_refused_at_dag_parse():
    with pytest.raises(SignalWireInputError, match="poll_interval"):
        SignalWireNewMessageEventTrigger(poll_interval=0)
    with pytest.raises(SignalWireInputError, match="max_consecutive_failures"):
        SignalWireNewCallEventTrigger(max_consecutive_failures=0)
    with pytest.raises(TypeError):
        SignalWireNewCallEventTrigger(body_contains="x")


def test_cursor_key_depends_on_what_is_watched_not_how_often():
    base = SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER)
    assert base.cursor_key == SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, poll_interval=5).cursor_key
    assert base.cursor_key == rebuild(base).cursor_key
    assert base.cursor_key != SignalWireNewMessageEventTrigger(to=CUSTOMER).cursor_key
    assert base.cursor_key != SignalWireNewCallEventTrigger(to=SUPPORT_NUMBER).cursor_key


def test_restart_resumes_from_the_stored_cursor_without_duplicates_or_gaps(signalwire_conn):
    """A stand-in store here; test_asset_state_store.py does the same through Airflow's real store."""
    emulator = signalwire_conn
    store = DictStore()

    def start(cancel_after=None):
        trigger = rebuild(SignalWireNewMessageEventTrigger(to=SUPPORT_NUMBER, poll_interval=0.05))
        trigger.asset_state_store = store
        return TriggerDriver(trigger, cancel_after)

    async def scenario():
        sent: list[str] = []
        delivered: list[str] = []
        moment = datetime.now(UTC).replace(microsecond=0)
        for round_number in range(3):
            # Stopped in the middle of a poll's batch of 4, right after handing over an event.
            driver = start(cancel_after=3 - round_number)
            await asyncio.sleep(0.15)
            for i in range(4):  # two seconds, two messages each: ties at one timestamp
                when = moment + timedelta(seconds=2 * round_number + i // 2)
                message = emulator.inject_inbound_message(
                    CUSTOMER, SUPPORT_NUMBER, body=f"{round_number}.{i}", date_sent=when
                )
                sent.append(message["sid"])
            await driver.wait_done()
            delivered += driver.events
            # Arrives while no trigger runs, at the second the cursor stands on.
            message = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="gap", date_sent=when)
            sent.append(message["sid"])
        driver = start()
        await driver.wait_events(1)
        await asyncio.sleep(0.3)
        delivered += await driver.stop()
        return sent, [e["sid"] for e in delivered]

    sent, delivered = run_async(scenario())
    assert set(delivered) == set(sent)  # nothing missed
    if SHARED_STREAMS:
        # Airflow 3.3: the cursor is stored once Airflow confirmed the events; one taken at the very moment its
        # trigger stopped comes again after the restart (at most one per stop).
        assert len(delivered) - len(set(delivered)) <= 3
    else:
        assert len(delivered) == len(set(delivered))


def test_pages_larger_than_one_request(signalwire_conn):
    emulator = signalwire_conn
    store = DictStore()
    total = 1250  # more than one page of 1000

    async def scenario():
        trigger = SignalWireNewMessageEventTrigger(poll_interval=0.05)
        trigger.asset_state_store = store
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.2)
        emulator.clear_requests()
        start = datetime.now(UTC)
        sids = emulator.seed_messages(total, from_=CUSTOMER, to=SUPPORT_NUMBER, start=start, spacing_seconds=0.001)
        await driver.wait_events(total, timeout=30)
        await asyncio.sleep(0.2)
        return sids, await driver.stop()

    sids, events = run_async(scenario())
    assert [e["sid"] for e in events] == sids  # oldest first, none twice, none missing
    pages = [r for r in emulator.requests if r["path"].endswith("/Messages")]
    assert any("PageToken" in r["query"] for r in pages)


def test_cursor_store_reads_the_newest_cursor_and_writes_every_asset():
    first, second = DictStore(), DictStore()
    moment = datetime(2026, 5, 1, tzinfo=UTC)

    class TwoAssets:  # the shape of Airflow's accessors for a trigger shared by two assets
        def __init__(self) -> None:
            self._by_name = {"a": first, "b": second}
            self._by_uri: dict = {}

    store = CursorStore(TwoAssets(), "k")
    first.values["k"] = Cursor(moment, moment, {"x": moment}).to_json()
    second.values["k"] = Cursor(moment, moment - timedelta(seconds=1), {"w": moment}).to_json()

    async def scenario():
        loaded = await store.load()
        await store.save(loaded.after([SeenItem(moment, {"sid": "y"}, True)], timedelta(minutes=2)))
        return loaded

    assert run_async(scenario()) == Cursor(moment, moment, {"x": moment, "w": moment})
    # The trigger writes under a key of its own, which the listener's writes (under "k") never overwrite.
    own = "k" + CursorStore.OWN_SUFFIX
    assert first.values[own] == second.values[own]
    assert set(Cursor.from_json(first.values[own]).fired) == {"w", "x", "y"}
    assert set(Cursor.from_json(first.values["k"]).fired) == {"x"}, "the listener's cursor is left as it was"
    assert not CursorStore(None, "k").available


def test_a_listener_write_between_the_triggers_load_and_save_is_kept():
    # Failed before: the trigger read the cursor, the listener added an event's item with its event, and the
    # trigger's save overwrote it: after a restart that event fired again.
    moment = datetime(2026, 5, 1, tzinfo=UTC)
    only = DictStore()
    store = CursorStore(only, "k")
    only.values["k"] = Cursor(moment, moment, {"a": moment}).to_json()

    async def scenario():
        loaded = await store.load()
        only.values["k"] = Cursor(moment, moment, {"a": moment, "b": moment}).to_json()  # the listener, meanwhile
        await store.save(loaded)
        return await store.load()

    assert set(run_async(scenario()).fired) == {"a", "b"}


def test_many_triggers_in_one_loop_share_one_pooled_client(signalwire_conn):
    import psutil

    from airflow_provider_signalwire.hooks import shared_clients

    emulator = signalwire_conn
    port = emulator.port

    def open_connections() -> int:
        return sum(
            1
            for c in psutil.Process().net_connections(kind="tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        )

    async def scenario():
        drivers = [
            TriggerDriver(SignalWireNewMessageEventTrigger(to=f"+1555100{i:04d}", poll_interval=0.05))
            for i in range(60)
        ]
        peak = 0
        for _ in range(20):
            await asyncio.sleep(0.05)
            peak = max(peak, open_connections())
        for i in range(60):
            emulator.inject_inbound_message(CUSTOMER, f"+1555100{i:04d}", body=str(i))
        await asyncio.gather(*(d.wait_events(1) for d in drivers))
        clients = dict(shared_clients.loop_clients().by_connection)
        for driver in drivers:
            await driver.stop()
        return drivers, clients, peak

    drivers, clients, peak = run_async(scenario())
    assert all([e["body"] for e in d.events] == [str(i)] for i, d in enumerate(drivers))
    assert len(clients) == 1  # one connection id: one client, one pool
    assert 1 <= peak <= shared_clients.POOL_SIZE
