"""
Every use of an Airflow internal (``airflow_provider_signalwire.compat``), checked on the Airflow this runs on.

Each test fails naming the Airflow version when the internal it guards changed there, so that a new Airflow
release that breaks the provider says where, before a user finds out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_signalwire import compat


@contextlib.contextmanager
def internal(what: str) -> Iterator[None]:
    """Turn any failure inside into one that names the Airflow version and the internal that changed."""
    try:
        yield
    except (AssertionError, AttributeError, ImportError, TypeError, KeyError) as error:
        pytest.fail(f"Airflow {compat.AIRFLOW_VERSION}: the internal {what} changed: {error!r}")


def test_the_minor_is_one_the_provider_supports():
    assert compat.AIRFLOW_MINOR in {(3, 1), (3, 2), (3, 3)}, compat.AIRFLOW_VERSION
    assert (compat.AIRFLOW_MINOR >= (3, 3)) == compat.AIRFLOW_V_3_3_PLUS


def test_public_names_that_moved_between_minors_resolve():
    assert issubclass(compat.AirflowFailException, compat.AirflowException)
    assert issubclass(compat.AirflowNotFoundException, compat.AirflowException)
    assert compat.conf.get("core", "dags_folder")
    compat.mask_secret("a-secret-for-the-masker")
    asyncio.run(compat.amask_secret("another-secret-for-the-masker"))


def test_plugin_base_is_the_class_airflows_plugins_manager_accepts():
    from airflow import plugins_manager

    from airflow_provider_signalwire.webhooks.plugin import SignalWireWebhookPlugin

    with internal("AirflowPlugin (the base a plugin must subclass)"):
        plugins_manager.ensure_plugins_loaded()
        assert plugins_manager.is_valid_plugin(SignalWireWebhookPlugin)


@pytest.mark.skipif(not compat.AIRFLOW_V_3_3_PLUS, reason="event triggers get an asset state store from Airflow 3.3")
def test_asset_state_store_accessors_are_found_per_asset():
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    one, two = Asset(name="signalwire_compat_a", uri="compat://a"), Asset(name="signalwire_compat_b", uri="compat://b")
    with internal("AssetStateStoreAccessors._by_name / _by_uri"):
        accessors = compat.asset_state_accessors(AssetStateStoreAccessors(inlets=[one, two]))
        assert len(accessors) == 2
        assert all(hasattr(accessor, "aget") and hasattr(accessor, "aset") for accessor in accessors)


@pytest.mark.skipif(compat.AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ has the asset state store")
def test_before_3_3_an_event_trigger_has_no_asset_state_store():
    from airflow.triggers.base import BaseEventTrigger

    class Probe(BaseEventTrigger):
        def serialize(self):
            return ("probe", {})

        async def run(self):
            yield None

    with internal("BaseEventTrigger (no asset state store before 3.3)"):
        assert getattr(Probe(), "asset_state_store", None) is None
    assert compat.asset_state_accessors(None) == []


def test_httpx_client_routes_a_request_to_its_pool_transport():
    import httpx

    async def route() -> object:
        async with httpx.AsyncClient() as client:
            request = client.build_request("GET", "http://127.0.0.1:9/")
            return compat.httpx_transport_for(client, request)

    with internal(f"httpx {httpx.__version__} AsyncClient._transport_for_url"):
        assert isinstance(asyncio.run(route()), httpx.AsyncHTTPTransport)


def test_asset_events_are_recorded_once_from_the_api_server_process(airflow_db):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    uri = f"signalwire://compat_{uuid.uuid4().hex[:8]}/messages"

    def seen(session, asset_event, asset_ids):
        found = session.scalar(select(func.count(asset_event.id)).where(asset_event.asset_id.in_(asset_ids)))
        return bool(found)

    with internal("asset manager / AssetModel / AssetEvent / with_row_locks"):
        assert compat.record_asset_event_once(uri, {"n": 1}, seen=seen) is True
        assert compat.record_asset_event_once(uri, {"n": 2}, seen=seen) is False
        with create_session() as session:
            extras = session.scalars(
                select(AssetEvent.extra)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(AssetModel.uri == uri)
            ).all()
        assert [dict(extra) for extra in extras] == [{"n": 1}]


def test_variables_outside_a_task_are_written_straight_to_the_database(airflow_db):
    from airflow.models.variable import Variable

    key = f"signalwire_compat_{uuid.uuid4().hex[:8]}"
    with internal("airflow.models.variable.Variable, and no task_runner.SUPERVISOR_COMMS outside a task"):
        store = compat.variable_store()
        store.set(key, '{"n": 1}', "written by test_compat")
        assert Variable.get(key, default_var=None, deserialize_json=True) == {"n": 1}
        assert store.get(key) == '{"n": 1}'
        store.delete(key)
        store.delete(key)
        assert store.get(key) is None


def test_variables_in_a_task_go_through_its_supervisor(airflow_db):
    import sys
    from datetime import datetime

    from airflow.models.variable import Variable
    from airflow.sdk import DAG, task
    from airflow_compat import write_dags_to_db

    key = f"signalwire_compat_{uuid.uuid4().hex[:8]}"
    seen = {}
    with DAG("compat_variables_in_a_task", schedule=None, start_date=datetime(2024, 1, 1)) as dag:

        @task
        def round_trip() -> None:
            runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
            seen["supervised"] = hasattr(runner, "SUPERVISOR_COMMS")
            store = compat.variable_store()
            store.set(key, "from a task", "written by test_compat")
            seen["read"] = store.get(key)

        round_trip()
    write_dags_to_db([dag])

    with internal("task_runner.SUPERVISOR_COMMS in a running task; airflow.sdk.Variable"):
        assert dag.test().state == "success"
        assert seen == {"supervised": True, "read": "from a task"}
        assert Variable.get(key, default_var=None) == "from a task"
    Variable.delete(key)


def test_a_variable_is_swapped_atomically_by_its_stored_value(airflow_db, monkeypatch):
    import threading

    from airflow.models.variable import Variable
    from cryptography.fernet import Fernet

    key = f"signalwire_claim_compat_{uuid.uuid4().hex[:8]}"
    with internal("airflow.models.variable.Variable (key unique, val and is_encrypted columns)"):
        assert compat.swap_variable(key, None, "first", "by test_compat")
        assert not compat.swap_variable(key, None, "again"), "a create of a key that exists fails"
        assert compat.read_variable(key) == "first" and Variable.get(key) == "first"
        assert not compat.swap_variable(key, "not what it holds", "x")
        wins = []
        start = threading.Barrier(8)

        def swap(index: int) -> None:
            start.wait()
            if compat.swap_variable(key, "first", f"second {index}"):
                wins.append(index)

        threads = [threading.Thread(target=swap, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(wins) == 1, wins
        assert compat.variables_under(key) == {key: f"second {wins[0]}"}
        assert compat.swap_variable(key, f"second {wins[0]}", None)
        assert compat.read_variable(key) is None
    # Encrypted values are compared as stored: a swap names the ciphertext it read.
    from airflow.models import crypto

    def forget_fernet() -> None:
        if hasattr(crypto.get_fernet, "cache_clear"):  # 3.2+ caches it with functools.cache
            crypto.get_fernet.cache_clear()
        else:
            monkeypatch.setattr(crypto, "_fernet", None, raising=False)

    from airflow.configuration import conf as core_conf

    core_conf.set("core", "fernet_key", Fernet.generate_key().decode())
    forget_fernet()
    try:
        with internal("airflow.models.crypto (Fernet) behind Variable.val"):
            assert compat.swap_variable(key, None, "secret-ish")
            assert compat.swap_variable(key, "secret-ish", "changed")
            from airflow.utils.session import create_session
            from sqlalchemy import select

            with create_session() as session:
                row = session.scalar(select(Variable).where(Variable.key == key))
                assert row.is_encrypted and "changed" not in row._val
            assert compat.read_variable(key) == "changed"
            assert compat.swap_variable(key, "changed", None)
    finally:
        core_conf.set("core", "fernet_key", "")
        forget_fernet()


def test_a_task_is_kept_from_the_database_and_finds_the_api_server(airflow_db):
    # A task under the task SDK's supervisor gets the blocked connection string (3.1-3.3).
    with internal("supervisor.block_orm_access's connection string"):
        assert compat.metadata_database_at_hand(), "this test process reaches the database"
        from airflow.sdk.execution_time import supervisor

        assert "airflow-db-not-allowed" in __import__("inspect").getsource(supervisor.block_orm_access)
    compat.conf.set("core", "execution_api_server_url", "http://airflow-api:8080/prefix/execution/")
    try:
        assert compat.api_server_url() == "http://airflow-api:8080/prefix"
    finally:
        compat.conf.remove_option("core", "execution_api_server_url")


@pytest.mark.skipif(not compat.AIRFLOW_V_3_3_PLUS, reason="the asset state store arrived in Airflow 3.3")
def test_an_asset_state_value_is_written_in_the_transaction_that_stores_an_asset_event(airflow_db):
    from airflow.assets.manager import AssetManager
    from airflow.models.asset import AssetModel
    from airflow.sdk import Asset
    from airflow.utils.session import create_session
    from sqlalchemy import select

    name = f"signalwire_compat_{uuid.uuid4().hex[:8]}"
    asset = Asset(name=name, uri=f"file:///tmp/{name}")
    with create_session() as session:
        AssetManager.create_assets([asset], session=session)

    def add(stored):
        return {"n": (stored or {"n": 0})["n"] + 1}

    with internal("settings.Session (scoped), airflow.state.get_state_backend / MetastoreBackend, AssetScope"):
        # Outside a transaction (no event being stored): nothing is written.
        assert compat.update_asset_state_with_event(asset, "k", add) is False
        with create_session() as session:
            session.scalar(select(AssetModel.id).where(AssetModel.name == name))  # a transaction under way
            assert compat.update_asset_state_with_event(asset, "k", add) is True
            assert compat.update_asset_state_with_event(asset, "k", add) is True
        try:
            with create_session() as session:
                session.scalar(select(AssetModel.id).where(AssetModel.name == name))
                assert compat.update_asset_state_with_event(asset, "k", add) is True
                raise RuntimeError("the event is not stored")
        except RuntimeError:
            pass
        from airflow._shared.state import AssetScope
        from airflow.state import get_state_backend

        with create_session() as session:
            asset_id = session.scalar(select(AssetModel.id).where(AssetModel.name == name))
            stored = get_state_backend().get(AssetScope(asset_id=asset_id), "k", session=session)
    # Two writes kept with their transaction; the one rolled back with its event is gone.
    assert json.loads(stored) == {"n": 2}


@pytest.mark.skipif(compat.AIRFLOW_V_3_3_PLUS, reason="Airflow 3.3+ has the asset state store")
def test_before_3_3_no_asset_state_value_is_written_with_an_event():
    assert compat.update_asset_state_with_event(object(), "k", lambda stored: stored) is False


def test_the_hitl_answer_route_takes_what_the_reply_receiver_gives_it():
    import inspect

    with internal("airflow.api_fastapi.core_api.routes.public.hitl.update_hitl_detail"):
        from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
        from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
        from airflow.models.hitl import HITLDetail

        parameters = set(inspect.signature(update_hitl_detail).parameters)
        assert {"dag_id", "dag_run_id", "task_id", "update_hitl_detail_payload", "user", "session", "map_index"} <= (
            parameters
        )
        payload = UpdateHITLDetailPayload(chosen_options=["Approve"], params_input={})
        assert payload.chosen_options == ["Approve"]
        assert {"ti_id", "response_received", "responded_by"} <= set(dir(HITLDetail))


def test_a_hitl_answer_for_a_task_instance_that_does_not_exist_changes_nothing(airflow_db):
    answer = compat.answer_hitl_request(
        ti_id=str(uuid.uuid4()),
        dag_id="no_such_dag",
        run_id="no_such_run",
        task_id="approve",
        map_index=-1,
        chosen_options=["Approve"],
        user_id="alice",
        user_name="alice",
    )
    assert answer == compat.HITLAnswer("gone")


def test_a_hitl_answer_counts_only_while_the_request_waits(airflow_db):
    """Refused before the task waits, once it resumed, ended or failed; accepted while it is deferred (3.1, 3.2)
    or awaiting input (3.3)."""
    from datetime import datetime

    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk import DAG, task
    from airflow.utils.session import create_session
    from airflow_compat import write_dags_to_db

    dag_id = f"compat_hitl_{uuid.uuid4().hex[:8]}"
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1)) as dag:

        @task
        def approve() -> None:
            pass

        approve()
    write_dags_to_db([dag])
    dag_run = dag.test()
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dag_run.run_id).one()
        ti_id = str(ti.id)
        session.add(HITLDetail(ti_id=ti.id, options=["Approve", "Reject"], subject="Load?", params={}))

    def answer() -> compat.HITLAnswer:
        return compat.answer_hitl_request(
            ti_id=ti_id,
            dag_id=dag_id,
            run_id=dag_run.run_id,
            task_id="approve",
            map_index=-1,
            chosen_options=["Approve"],
            user_id="alice",
            user_name="Alice",
        )

    def put_in(state: str) -> None:
        with create_session() as session:
            session.query(TaskInstance).filter_by(id=ti.id).update({"state": state}, synchronize_session=False)

    def response() -> tuple[bool, dict | None]:
        with create_session() as session:
            detail = session.query(HITLDetail).filter_by(ti_id=ti.id).one()
            return detail.response_received, detail.responded_by

    with internal("airflow.api_fastapi.core_api.routes.public.hitl.update_hitl_detail (task instance states)"):
        for state in ("scheduled", "queued", "running", "success", "failed", "up_for_retry"):
            put_in(state)
            assert answer() == compat.HITLAnswer("not_waiting"), state
            assert response() == (False, None), f"an answer while {state} changed the request"

        put_in("awaiting_input" if compat.AIRFLOW_V_3_3_PLUS else "deferred")
        assert answer() == compat.HITLAnswer("accepted")
        assert response() == (True, {"id": "alice", "name": "Alice"})
        assert answer() == compat.HITLAnswer("answered", "Alice")
