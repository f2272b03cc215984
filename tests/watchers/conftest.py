"""
Helpers for the sensor and trigger tests: driving a trigger's ``run()`` in an event loop, watcher triggers
built from their database rows as the triggerer builds them, and (Airflow 3.3+) the asset state store of a
real metadata database reached the way the triggerer reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow_compat import AIRFLOW_V_3_3_PLUS, asset_state_store_for, decode_trigger_kwargs, import_string

from airflow_provider_signalwire.triggers.cursor_store import CursorStore

CURSOR_OWN_SUFFIX = CursorStore.OWN_SUFFIX

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
SUPPORT_NUMBER = "+15550000001"  # the example DAGs' support line (an emulator number)
CUSTOMER = "+15551234567"


#: Airflow 3.3+: watchers share polls through the triggerer's shared streams (TriggerDriver does the same).
SHARED_STREAMS = AIRFLOW_V_3_3_PLUS
_MANAGERS: dict[int, Any] = {}


def shared_stream_manager() -> Any:
    """The ``SharedStreamManager`` of the running event loop (Airflow 3.3+), as the triggerer's runner keeps one."""
    from airflow.triggers.shared_stream import SharedStreamManager

    loop = asyncio.get_running_loop()
    manager = _MANAGERS.get(id(loop))
    if manager is None or manager.loop is not loop:
        manager = _MANAGERS[id(loop)] = SharedStreamManager(ack_timeout=30.0)
        manager.loop = loop
    return manager


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


async def await_for(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


class TriggerDriver:
    """
    Runs a trigger as a task of the current event loop the way the triggerer does, collecting its events,
    until :meth:`stop` cancels it (a triggerer shutting down) or the trigger ends.

    On Airflow 3.3 a trigger with a shared stream key joins a shared stream of this event loop's
    ``SharedStreamManager`` (as in the triggerer); each event counts as stored in the database once collected,
    and the manager is told so (``persist_delay`` later), as the triggerer's supervisor does. Before 3.3, or with
    ``shared=False``, the trigger's own ``run()`` is driven.

    :param cancel_after: cancel the task as soon as this many events were taken, so that the
        cancellation reaches the trigger while it is busy with the rest of its batch.
    """

    def __init__(
        self, trigger: Any, cancel_after: int | None = None, *, shared: bool = True, persist_delay: float = 0.0
    ) -> None:
        self.trigger = trigger
        self.cancel_after = cancel_after
        self.persist_delay = persist_delay
        self.events: list[Any] = []
        self.error: BaseException | None = None
        self.key = trigger.shared_stream_key() if shared and AIRFLOW_V_3_3_PLUS else None
        self.task = asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        manager = shared_stream_manager() if self.key is not None else None
        trigger_id = id(self)
        if manager is not None:
            stream = self.trigger.filter_shared_stream(
                manager.subscribe(trigger_id=trigger_id, trigger=self.trigger, key=self.key)
            )
        else:
            stream = self.trigger.run()
        try:
            async for event in stream:
                await asyncio.sleep(0)  # the triggerer awaits its log call before queueing the event
                if manager is not None:
                    seq = manager.bind_pending_event(trigger_id=trigger_id, key=self.key)
                    if seq is not None:
                        asyncio.get_running_loop().call_later(self.persist_delay, manager.confirm_persisted, [seq])
                self.events.append(event.payload)
                if len(self.events) == self.cancel_after:
                    self.task.cancel()
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self.error = error
        finally:
            if manager is not None:
                await asyncio.shield(manager.unsubscribe(trigger_id, self.key))

    @property
    def done(self) -> bool:
        return self.task.done()

    async def wait_events(self, count: int, timeout: float = 10.0) -> list[Any]:
        await await_for(lambda: len(self.events) >= count or self.task.done(), timeout)
        return self.events

    async def wait_stored(self, key: str, timeout: float = 30.0) -> Any:
        """Wait until the trigger's cursor is in its asset state store (under the listener's key or its own)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for written in (key, key + CURSOR_OWN_SUFFIX):
                value = await self.trigger.asset_state_store.aget(written)
                if value is not None:
                    return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {key!r} in the asset state store within {timeout} s")

    async def wait_done(self, timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except asyncio.CancelledError:
            if not self.task.cancelled():
                raise

    async def stop(self) -> list[Any]:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        return self.events


def rebuild(trigger: Any) -> Any:
    """What the triggerer does after a restart: a new instance from ``serialize()``'s classpath and kwargs."""
    classpath, kwargs = trigger.serialize()
    return import_string(classpath)(**kwargs)


def run_async(coroutine: Any) -> Any:
    """Run a test coroutine in a fresh event loop, closing the pooled httpx clients it opened."""
    from airflow_provider_signalwire.hooks.asynchronous import close_shared_clients

    async def main() -> Any:
        try:
            return await coroutine
        finally:
            await close_shared_clients()

    return asyncio.run(main())


# --------------------------------------------------------------------------------------------------
# The asset state store, for real (Airflow 3.3+)
# --------------------------------------------------------------------------------------------------


class InProcessSupervisorComms:
    """
    Stands in for the pipe between the triggerer's trigger runner and its supervisor, and nothing else.

    A trigger's asset state store (``AssetStateStoreAccessors``) sends its requests to
    ``SUPERVISOR_COMMS``; the triggerer's supervisor answers them with Airflow's request handlers and an
    in-process Execution API client, which write to the metadata database. This does the same in the
    test's process, with the same handlers and the same client the triggerer builds.
    """

    def __init__(self) -> None:
        from airflow.jobs.triggerer_job_runner import in_process_api_server
        from airflow.sdk.api.client import Client

        self.client = Client(base_url=None, token="", dry_run=True, transport=in_process_api_server().transport)
        self.client.base_url = "http://in-process.invalid./"  # type: ignore[assignment]
        self.requests: list[str] = []

    def send(self, msg: Any) -> Any:
        from airflow.sdk.execution_time import comms, request_handlers

        self.requests.append(type(msg).__name__)
        if isinstance(msg, comms.GetAssetStateStoreByName):
            return request_handlers.handle_get_asset_state_store_by_name(self.client, msg)[0]
        if isinstance(msg, comms.GetAssetStateStoreByUri):
            return request_handlers.handle_get_asset_state_store_by_uri(self.client, msg)[0]
        if isinstance(msg, comms.SetAssetStateStoreByName):
            request_handlers.handle_set_asset_state_store_by_name(self.client, msg)
            return comms.OKResponse(ok=True)
        if isinstance(msg, comms.SetAssetStateStoreByUri):
            request_handlers.handle_set_asset_state_store_by_uri(self.client, msg)
            return comms.OKResponse(ok=True)
        if isinstance(msg, comms.DeleteAssetStateStoreByName):
            request_handlers.handle_delete_asset_state_store_by_name(self.client, msg)
            return comms.OKResponse(ok=True)
        if isinstance(msg, comms.MaskSecret):
            return None
        raise AssertionError(f"unexpected request from the trigger: {msg!r}")

    async def asend(self, msg: Any) -> Any:
        return self.send(msg)


@pytest.fixture(scope="session")
def _in_process_comms(airflow_db):
    return InProcessSupervisorComms()  # the Execution API app takes seconds to build: once per session


@pytest.fixture
def supervisor_comms(request, monkeypatch):
    """The triggerer's pipe to its supervisor, answering the asset state store's requests (Airflow 3.3+)."""
    if not AIRFLOW_V_3_3_PLUS:
        pytest.skip("the asset state store arrived in Airflow 3.3")
    import airflow.sdk.execution_time.task_runner as task_runner

    comms = request.getfixturevalue("_in_process_comms")
    comms.requests.clear()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    return comms


def sync_dag_file(path: Path) -> None:
    """Parse a DAG file and write it to the metadata database, as the DAG processor does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow_compat import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)


def sync_unpaused(path: Path, dag_id: str) -> None:
    """Write a DAG to the database unpaused: only then does the DAG processor register its asset watchers."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    sync_dag_file(path)
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=False))
    sync_dag_file(path)


@pytest.fixture(scope="session")
def synced_example_dags(airflow_db):
    """The example event-driven DAG in the database, unpaused, so that its asset watcher's trigger exists."""
    sync_unpaused(EXAMPLE_DAGS / "example_signalwire_event_driven.py", "example_signalwire_event_driven")
    return airflow_db


def watcher_triggers(asset_name: str) -> list[Any]:
    """The Trigger rows of an asset's watchers."""
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        asset = session.scalars(select(AssetModel).where(AssetModel.name == asset_name)).one()
        triggers = list(asset.triggers)
        for trigger in triggers:
            session.expunge(trigger)
        return triggers


async def forget_cursor(trigger: Any) -> None:
    """Delete a trigger's cursor from its asset state store: the tests share one database."""
    for key in (trigger.cursor_key, trigger.cursor_key + CURSOR_OWN_SUFFIX):
        await trigger.asset_state_store.adelete(key)


def inflate_watcher_trigger(trigger_id: int, **overrides: Any) -> Any:
    """
    Build a watcher's trigger from its database row as the triggerer does: decrypt and decode the
    kwargs, import the class, and (Airflow 3.3+) give it the asset state store of the assets it watches.
    """
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(select(Trigger).where(Trigger.id == trigger_id)).one()
        kwargs = decode_trigger_kwargs(Trigger._decrypt_kwargs(row.encrypted_kwargs))
        kwargs.update(overrides)
        trigger = import_string(row.classpath)(**kwargs)
        trigger.trigger_id = trigger_id
        store = asset_state_store_for((asset.name, asset.uri) for asset in row.assets)
        if store is not None:  # the triggerer of Airflow 3.1 and 3.2 sets no asset_state_store at all
            trigger.asset_state_store = store
    return trigger
