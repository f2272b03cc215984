"""
The event triggers with Airflow's real asset state store, and the example event-driven DAG's wiring.

The DAG is parsed and written to a SQLite metadata database as the DAG processor does, which creates
its watcher's Trigger row. Each trigger here is built from that row as the triggerer builds it, and
its asset state store reaches the database through Airflow's own request handlers and in-process
Execution API (``InProcessSupervisorComms``): the only stand-in is the pipe to the supervisor.

The asset state store arrived in Airflow 3.3: its tests are skipped before. The DAG's wiring, and its task
reading the events its watcher emits, are checked on every minor (before 3.3 the trigger is built, as the
triggerer builds it there, without a store: ``test_event_triggers.py`` checks what it then logs).
"""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from airflow_compat import AIRFLOW_V_3_3_PLUS, asset_state_store_for, requires_asset_state_store

from airflow_provider_signalwire.api.watching import Cursor
from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

from .conftest import (
    CURSOR_OWN_SUFFIX,
    CUSTOMER,
    EXAMPLE_DAGS,
    SUPPORT_NUMBER,
    TriggerDriver,
    await_for,
    forget_cursor,
    inflate_watcher_trigger,
    run_async,
    sync_unpaused,
    watcher_triggers,
)

ASSET = "signalwire_support_sms"
FAST = {"poll_interval": 0.05}  # the one change from the DAG's trigger: poll fast


def _stored_cursor(asset_name: str, key: str) -> tuple[Cursor | None, str | None]:
    """The cursor stored for ``key`` (the listener's key and the trigger's own, merged) and who wrote it last."""
    import json

    from airflow.models.asset import AssetModel
    from airflow.models.asset_state_store import AssetStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetStateStoreModel)
            .join(AssetModel, AssetModel.id == AssetStateStoreModel.asset_id)
            .where(AssetModel.name == asset_name, AssetStateStoreModel.key.in_([key, key + CURSOR_OWN_SUFFIX]))
        ).all()
        cursors = [(Cursor.from_json(json.loads(row.value)), row.last_updated_by_kind) for row in rows]
    cursors = [(cursor, kind) for cursor, kind in cursors if cursor is not None]
    if not cursors:
        return None, None
    newest, kind = max(cursors, key=lambda pair: pair[0].date)
    fired: dict = {}
    for cursor, _ in cursors:
        fired.update(cursor.fired)
    return Cursor(newest.floor, newest.date, fired), kind


def test_example_dag_asset_has_the_signalwire_watcher(synced_example_dags):
    import runpy

    from airflow_compat import DagBag

    path = EXAMPLE_DAGS / "example_signalwire_event_driven.py"
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors and "example_signalwire_event_driven" in bag.dags
    asset = runpy.run_path(str(path))["support_sms"]
    assert asset.name == ASSET
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, SignalWireNewMessageEventTrigger)
    assert watcher.trigger.serialize()[1]["to"] == SUPPORT_NUMBER
    (row,) = watcher_triggers(ASSET)  # what the DAG processor registered for the triggerer
    assert row.classpath == "airflow_provider_signalwire.triggers.events.SignalWireNewMessageEventTrigger"


@requires_asset_state_store
def test_cursor_survives_triggerer_restarts_in_the_real_store(synced_example_dags, supervisor_comms, signalwire_conn):
    emulator = signalwire_conn
    (row,) = watcher_triggers(ASSET)
    key = inflate_watcher_trigger(row.id, **FAST).cursor_key

    async def scenario():
        sent: list[str] = []
        delivered: list[str] = []
        # The first start finds no cursor and stores "the present"; messages come after it.
        first = TriggerDriver(inflate_watcher_trigger(row.id, **FAST))
        await forget_cursor(first.trigger)
        await first.wait_stored(key)
        await first.stop()
        moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        for round_number in range(3):
            driver = TriggerDriver(inflate_watcher_trigger(row.id, **FAST), cancel_after=2 + round_number % 2)
            await asyncio.sleep(0.3)
            for i in range(4):  # two per second: ties
                when = moment + timedelta(seconds=2 * round_number + i // 2)
                message = emulator.inject_inbound_message(
                    CUSTOMER, SUPPORT_NUMBER, body=f"{round_number}.{i}", date_sent=when
                )
                sent.append(message["sid"])
            await driver.wait_done()
            delivered += driver.events
            # Arrives while the triggerer is down, at the very second the cursor stands on.
            gap = emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="gap", date_sent=when)
            sent.append(gap["sid"])
        driver = TriggerDriver(inflate_watcher_trigger(row.id, **FAST))
        await driver.wait_events(1)
        await asyncio.sleep(0.4)
        delivered += await driver.stop()
        return sent, [e["sid"] for e in delivered]

    sent, delivered = run_async(scenario())
    # Nothing missed. An event taken at the very moment its trigger was stopped may come again after the restart
    # (at most one per stop): the cursor is written only once Airflow confirmed the events it covers were stored.
    assert set(delivered) == set(sent)
    assert len(delivered) - len(set(delivered)) <= 3
    cursor, writer = _stored_cursor(ASSET, key)
    assert cursor is not None and writer == "watcher"
    assert cursor.date == datetime.strptime(emulator.get_message(sent[-1])["date_sent"], "%a, %d %b %Y %H:%M:%S %z")
    assert "SetAssetStateStoreByName" in supervisor_comms.requests


@requires_asset_state_store
def test_one_trigger_watching_two_assets_keeps_the_cursor_in_both(
    airflow_db, supervisor_comms, signalwire_conn, tmp_path
):
    # Two assets with the same watcher trigger share one Trigger row, and the store then holds two assets.
    dag_file = tmp_path / "two_assets.py"
    dag_file.write_text(
        textwrap.dedent(
            """
            from airflow.sdk import DAG, Asset, AssetWatcher
            from airflow_provider_signalwire.triggers.events import SignalWireNewMessageEventTrigger

            def watched(name):
                trigger = SignalWireNewMessageEventTrigger(to="+15550000002")
                return Asset(name, watchers=[AssetWatcher(name=name + "_watcher", trigger=trigger)])

            with DAG(dag_id="signalwire_two_assets", schedule=[watched("sms_a"), watched("sms_b")]):
                pass
            """
        )
    )
    sync_unpaused(dag_file, "signalwire_two_assets")
    (row,) = watcher_triggers("sms_a")
    assert [t.id for t in watcher_triggers("sms_b")] == [row.id]
    trigger = inflate_watcher_trigger(row.id, **FAST)

    async def scenario():
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.3)
        message = signalwire_conn.inject_inbound_message(CUSTOMER, "+15550000002", body="both")
        await driver.wait_events(1)

        def stored_in_both() -> bool:
            cursors = [_stored_cursor(name, trigger.cursor_key)[0] for name in ("sms_a", "sms_b")]
            return all(c is not None and message["sid"] in c.fired for c in cursors)

        # Written once Airflow confirmed the event stored (here at once), in a moment.
        await await_for(stored_in_both, 10)
        await driver.stop()
        return message

    message = run_async(scenario())
    for asset_name in ("sms_a", "sms_b"):
        cursor, _ = _stored_cursor(asset_name, trigger.cursor_key)
        assert cursor is not None and set(cursor.fired) == {message["sid"]}


def test_example_dag_task_reads_the_events_its_watcher_emits(synced_example_dags, request, signalwire_conn):
    """Trigger events become asset events (Airflow's own Trigger.submit_event), which the DAG's task reads."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.trigger import Trigger
    from airflow.sdk.api.datamodels._generated import AssetEventDagRunReference
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow_compat import DagBag
    from sqlalchemy import select

    emulator = signalwire_conn
    (row,) = watcher_triggers(ASSET)

    if AIRFLOW_V_3_3_PLUS:
        request.getfixturevalue("supervisor_comms")  # the trigger's asset state store reaches the database

    async def scenario():
        trigger = inflate_watcher_trigger(row.id, **FAST)
        if AIRFLOW_V_3_3_PLUS:
            await forget_cursor(trigger)
            driver = TriggerDriver(trigger)
            await driver.wait_stored(trigger.cursor_key)  # it watches from the present
        else:
            assert not hasattr(trigger, "asset_state_store")
            driver = TriggerDriver(trigger)
            await asyncio.sleep(0.3)  # no store: it watches from the moment it starts
        emulator.inject_inbound_message(CUSTOMER, SUPPORT_NUMBER, body="Hello, I need help")
        emulator.inject_inbound_message(CUSTOMER, "+15550000002", body="not the support line")
        await driver.wait_events(1)
        await asyncio.sleep(0.2)
        return await driver.stop()

    (payload,) = run_async(scenario())
    with create_session() as session:
        before = session.scalar(select(AssetEvent.id).order_by(AssetEvent.id.desc()).limit(1)) or 0
    Trigger.submit_event(row.id, TriggerEvent(payload))

    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.id > before)).all()
        asset = session.scalars(select(AssetModel).where(AssetModel.name == ASSET)).one()
        queued = session.scalars(
            select(AssetDagRunQueue.target_dag_id).where(AssetDagRunQueue.asset_id == asset.id)
        ).all()
        references = [
            AssetEventDagRunReferenceResult.from_asset_event_dag_run_reference(
                AssetEventDagRunReference(
                    asset={"name": asset.name, "uri": asset.uri, "extra": asset.extra},
                    extra=event.extra,
                    source_task_id=None,
                    source_dag_id=None,
                    source_run_id=None,
                    source_map_index=None,
                    source_aliases=[],
                    timestamp=event.timestamp,
                )
            )
            for event in events
        ]
    assert [e.extra["payload"]["body"] for e in events] == ["Hello, I need help"]
    assert "example_signalwire_event_driven" in queued  # the scheduler starts a run from this

    dag = DagBag(dag_folder=str(EXAMPLE_DAGS / "example_signalwire_event_driven.py")).dags[
        "example_signalwire_event_driven"
    ]
    handle = dag.get_task("handle_support_sms").python_callable
    messages = handle(triggering_asset_events=TriggeringAssetEventsAccessor.build(references))
    assert messages == [payload]
    assert payload["from"] == CUSTOMER and payload["to"] == SUPPORT_NUMBER


@requires_asset_state_store
@pytest.mark.parametrize("stored", [None, {"date": "garbage"}])
def test_without_a_usable_cursor_the_watch_starts_at_the_present(
    synced_example_dags, supervisor_comms, signalwire_conn, stored
):
    emulator = signalwire_conn
    trigger = SignalWireNewMessageEventTrigger(to="+15550000002", body_contains=f"fresh-{stored is None}", **FAST)

    async def scenario():
        trigger.asset_state_store = asset_state_store_for([(ASSET, ASSET)])
        if stored is not None:
            await trigger.asset_state_store.aset(trigger.cursor_key, stored)
        emulator.inject_inbound_message(
            CUSTOMER,
            "+15550000002",
            body=f"fresh-{stored is None} old",
            date_sent=datetime.now(UTC) - timedelta(minutes=1),
        )
        driver = TriggerDriver(trigger)
        await asyncio.sleep(0.3)
        new = emulator.inject_inbound_message(CUSTOMER, "+15550000002", body=f"fresh-{stored is None} new")
        await driver.wait_events(1)
        await asyncio.sleep(0.2)
        return new, await driver.stop()

    new, events = run_async(scenario())
    assert [e["sid"] for e in events] == [new["sid"]]
