"""
What differs between the Airflow minors the provider supports (3.1, 3.2, 3.3), and every use of an internal.

Public names that live in different places on different minors are imported here from where each minor keeps
them. Where Airflow offers no public interface, the one internal the provider relies on is wrapped here; each
such use has a test in ``tests/test_compat.py`` that fails, naming the Airflow version, when the internal changes.
Nothing else in the provider imports from Airflow outside ``airflow.sdk`` and ``airflow.triggers.base``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import airflow
from airflow.sdk.log import mask_secret

if TYPE_CHECKING:
    import httpx


__all__ = [
    "AIRFLOW_MINOR",
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "SharedStreamProducer",
    "VariableStore",
    "amask_secret",
    "answer_hitl_request",
    "api_server_url",
    "asset_state_accessors",
    "conf",
    "httpx_transport_for",
    "mask_secret",
    "metadata_database_at_hand",
    "plugin_base",
    "read_variable",
    "record_asset_event_once",
    "swap_variable",
    "update_asset_state_with_event",
    "variable_store",
    "variables_under",
]


def _minor(version: str) -> tuple[int, int]:
    found = re.match(r"(\d+)\.(\d+)", version)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


AIRFLOW_VERSION: str = airflow.__version__
AIRFLOW_MINOR: tuple[int, int] = _minor(AIRFLOW_VERSION)
#: The task state store (``context["task_state_store"]``), the asset state store of event triggers, and shared
#: trigger streams arrived in Airflow 3.3.
AIRFLOW_V_3_3_PLUS: bool = AIRFLOW_MINOR >= (3, 3)

if TYPE_CHECKING:  # type-checked against the newest minor
    from airflow.sdk import conf
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
    from airflow.sdk.log import amask_secret
else:
    # 3.1 keeps these exceptions in ``airflow.exceptions`` only; ``airflow.sdk.exceptions`` has them from 3.2.
    try:
        from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

    # ``airflow.sdk.conf`` arrived in 3.2.
    try:
        from airflow.sdk import conf
    except ImportError:  # Airflow 3.1
        from airflow.configuration import conf

    # ``amask_secret`` arrived in 3.3; before it, ``mask_secret`` is safe to call from async code.
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow 3.1 and 3.2

        async def amask_secret(secret: Any, name: str | None = None) -> None:
            mask_secret(secret, name)


def plugin_base() -> type:
    """``AirflowPlugin``: in ``airflow.sdk.plugins_manager`` from 3.2, in ``airflow.plugins_manager`` before."""
    import importlib

    try:
        module = importlib.import_module("airflow.sdk.plugins_manager")
    except ImportError:  # Airflow 3.1
        module = importlib.import_module("airflow.plugins_manager")
    return module.AirflowPlugin


# --------------------------------------------------------------------------------------------------
# Internals, each because no public interface exists
# --------------------------------------------------------------------------------------------------


def asset_state_accessors(store: Any) -> list[Any]:
    """
    One accessor per asset of an event trigger's ``asset_state_store`` (Airflow 3.3+).

    A trigger cannot name the assets that watch it, and the public interface (``store[asset]``, or ``store.aget``
    when exactly one asset watches) needs it to. Internal: ``AssetStateStoreAccessors._by_name`` / ``_by_uri``.
    """
    if store is None:
        return []
    by_name, by_uri = getattr(store, "_by_name", None), getattr(store, "_by_uri", None)
    if isinstance(by_name, dict) and isinstance(by_uri, dict):
        return [*by_name.values(), *by_uri.values()]
    return [store] if hasattr(store, "aget") and hasattr(store, "aset") else []


def httpx_transport_for(client: httpx.AsyncClient, request: httpx.Request) -> httpx.AsyncBaseTransport | None:
    """
    The transport ``client`` would send ``request`` through (its pool, or an environment proxy's).

    Sending a poll through it skips the client's per-request auth, redirect and cookie work. Internal to httpx:
    ``AsyncClient._transport_for_url``; ``None`` where httpx lacks it (the caller then sends normally).
    """
    route: Callable[[Any], httpx.AsyncBaseTransport] | None = getattr(client, "_transport_for_url", None)
    return route(request.url) if route is not None else None


class VariableStore(NamedTuple):
    """Airflow Variables as text, as one process reaches them."""

    #: The value of a key, ``None`` when there is none.
    get: Callable[[str], str | None]
    #: Write a key: ``set(key, text, description)``.
    set: Callable[[str, str, str], None]
    #: Remove a key (nothing happens when there is none).
    delete: Callable[[str], Any]


def variable_store() -> VariableStore:
    """
    Airflow Variables, in the metadata database, as this process reaches them.

    A task, the DAG processor and the triggerer go through their supervisor to the API server: ``airflow.sdk.Variable``.
    Elsewhere ``airflow.sdk.Variable`` cannot write, and silently reads only the environment; where Airflow's
    database is at hand (a DAG-level callback run by ``dag.test()``, a script next to the scheduler) its core model
    writes there directly, as it does itself in that case. Internal: ``task_runner.SUPERVISOR_COMMS`` (the test
    Airflow's own core model makes) and ``airflow.models.variable.Variable``.
    """
    if hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS"):
        from airflow.sdk import Variable

        return VariableStore(
            get=lambda key: Variable.get(key, default=None),
            set=lambda key, text, description: Variable.set(key, text, description=description),
            delete=Variable.delete,
        )
    from airflow.models.variable import Variable as CoreVariable

    return VariableStore(
        get=lambda key: CoreVariable.get(key, default_var=None),
        set=lambda key, text, description: CoreVariable.set(key, text, description=description),
        delete=CoreVariable.delete,
    )


def metadata_database_at_hand() -> bool:
    """
    Whether this process may reach Airflow's metadata database itself: the API server, the scheduler, ``dag.test()``;
    not a task or a trigger run under a supervisor, where the task SDK blocks the ORM. Internal: the blocked
    connection string ``airflow-db-not-allowed:///`` that ``supervisor.block_orm_access`` sets (3.1-3.3).
    """
    return not str(conf.get("database", "sql_alchemy_conn", fallback="")).startswith("airflow-db-not-allowed")


def api_server_url() -> str:
    """
    The API server's address as this process reaches it: ``[core] execution_api_server_url`` less its
    ``execution/`` part (every worker has it, to reach the Execution API), else ``[api] base_url``.
    """
    execution = conf.get("core", "execution_api_server_url", fallback="") or ""
    if execution:
        base = execution.rstrip("/")
        return base[: -len("/execution")] if base.endswith("/execution") else base
    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def _retry_locked(work: Callable[[], Any]) -> Any:
    # SQLite lets one writer in at a time: a writer that found it locked tries again, briefly.
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(20):
        try:
            return work()
        except OperationalError as error:
            if "locked" not in str(error).lower() or attempt == 19:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def _stored_text(row: Any) -> str:
    # A value that cannot be decrypted (another Fernet key) reads as stored, so that a swap can still replace it.
    value = row.val
    return str(row._val) if value is None else str(value)


def read_variable(key: str) -> str | None:
    """
    From a process with the metadata database: the Variable ``key`` as stored (decrypted), ``None`` when absent,
    read past every secrets backend and cache. Internal: ``airflow.models.variable.Variable``.
    """
    from airflow.models.variable import Variable as CoreVariable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    def read() -> str | None:
        with create_session() as session:
            row = session.scalar(select(CoreVariable).where(CoreVariable.key == key))
            return None if row is None else _stored_text(row)

    return _retry_locked(read)


def swap_variable(key: str, expected: str | None, new: str | None, description: str = "") -> bool:
    """
    From a process with the metadata database: set the Variable ``key`` to ``new`` (delete it for ``None``) only
    if it holds ``expected`` (is absent, for ``None``), atomically; whether it did. A create relies on the key's
    unique constraint, a change or a delete on an update whose ``WHERE`` names the stored text: of concurrent
    swaps from one value, exactly one succeeds, on SQLite as on PostgreSQL or MySQL. Internal:
    ``airflow.models.variable.Variable`` (its ``val`` column, encrypted when a Fernet key is set).
    """
    from airflow.models.variable import Variable as CoreVariable
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select, update
    from sqlalchemy.exc import IntegrityError

    def swap() -> bool:
        with create_session() as session:
            if expected is None:
                if new is None:
                    return session.scalar(select(CoreVariable.id).where(CoreVariable.key == key)) is None
                try:
                    with session.begin_nested():
                        session.add(CoreVariable(key=key, val=new, description=description))
                except IntegrityError:
                    return False
                return True
            row = session.scalar(select(CoreVariable).where(CoreVariable.key == key))
            if row is None or _stored_text(row) != expected:
                return False
            stored = row._val  # the column as stored (ciphertext when encrypted): the update names it exactly
            session.expunge(row)
            where = (CoreVariable.key == key, CoreVariable._val == stored)
            if new is None:
                done = session.execute(delete(CoreVariable).where(*where).execution_options(synchronize_session=False))
            else:
                replacement = CoreVariable(key=key, val=new)
                values = {"_val": replacement._val, "is_encrypted": replacement.is_encrypted}
                if description:
                    values["description"] = description
                done = session.execute(
                    update(CoreVariable).where(*where).values(**values).execution_options(synchronize_session=False)
                )
            return int(getattr(done, "rowcount", 0)) == 1

    return bool(_retry_locked(swap))


def variables_under(prefix: str) -> dict[str, str]:
    """From a process with the metadata database: every Variable whose key starts with ``prefix``, as stored."""
    from airflow.models.variable import Variable as CoreVariable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    def read() -> dict[str, str]:
        with create_session() as session:
            rows = session.scalars(select(CoreVariable).where(CoreVariable.key.startswith(prefix, autoescape=True)))
            return {row.key: _stored_text(row) for row in rows}

    return _retry_locked(read)


def record_asset_event_once(uri: str, extra: dict[str, Any], *, seen: Callable[[Any, Any, list[int]], bool]) -> bool:
    """
    From the API server: add one event with ``extra`` to the asset ``uri`` unless ``seen`` finds it recorded.

    The REST API's ``POST /api/v2/assets/events`` needs a caller's token, an asset that a DAG already declared and
    a second request to look for a repeat; the API server's own process writes through the asset manager instead,
    as that endpoint does. The asset is created when no DAG declared it yet. Concurrent deliveries of one event are
    serialised by locking the asset's rows before ``seen(session, AssetEvent, asset_ids)`` looks: ``SELECT ... FOR
    UPDATE`` where the database has row locks, and a no-op update, which on SQLite takes the writer lock.
    Internal: ``airflow.assets.manager``, ``airflow.models.asset``, ``airflow.utils.session`` and
    ``airflow.utils.sqlalchemy``.
    """
    import inspect

    from airflow.assets.manager import asset_manager
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import with_row_locks
    from sqlalchemy import select, update
    from sqlalchemy.exc import IntegrityError, OperationalError

    try:
        from airflow.serialization.definitions.assets import SerializedAsset as AssetDefinition
    except ImportError:  # Airflow 3.1
        from airflow.sdk import Asset as AssetDefinition  # type: ignore[assignment]
    api_source = "source_is_api" in inspect.signature(asset_manager.register_asset_change).parameters

    for attempt in range(3):
        try:
            with create_session() as session:
                lookup = select(AssetModel).where(AssetModel.uri == uri).order_by(AssetModel.id)
                assets = list(session.scalars(with_row_locks(lookup, session=session, key_share=False)))
                if not assets:
                    new = AssetDefinition(name=uri, uri=uri, group="asset", extra={}, watchers=[])
                    assets = asset_manager.create_assets([new], session=session)
                    session.flush()
                ids = [asset.id for asset in assets]
                session.execute(
                    update(AssetModel)
                    .where(AssetModel.id.in_(ids))
                    .values(id=AssetModel.id)
                    .execution_options(synchronize_session=False)
                )
                if seen(session, AssetEvent, ids):
                    return False
                options: dict[str, Any] = {"source_is_api": True} if api_source else {}
                for asset in assets:
                    asset_manager.register_asset_change(asset=asset, extra=extra, session=session, **options)
            return True
        except (IntegrityError, OperationalError):
            # Another request created the same asset at the same moment, or held the lock too long: start over.
            if attempt == 2:
                raise
    return False


# ``airflow.triggers.shared_stream`` (shared trigger streams with acknowledgement) arrived in 3.3. Before it, a
# stand-in base class lets the provider's poll producer be defined; nothing calls it there.
if TYPE_CHECKING:
    from airflow.triggers.shared_stream import SharedStreamProducer
else:
    try:
        from airflow.triggers.shared_stream import SharedStreamProducer
    except ImportError:  # Airflow 3.1 and 3.2

        class SharedStreamProducer:
            """Airflow before 3.3 has no shared trigger streams."""


def update_asset_state_with_event(asset: Any, key: str, update: Callable[[Any], Any]) -> bool:
    """
    Change the asset state store value ``key`` of ``asset`` in the transaction that is storing an asset event.

    Called from an asset listener (``on_asset_event_emitted``), which Airflow 3.3's triggerer calls inside the
    session that stores the event: the value is then written if and only if the event is. ``update`` gets the
    stored value (``None`` when there is none) and returns the new one. ``False`` when this cannot be done here (an
    older Airflow, another state backend, no transaction under way). Internal: ``settings.Session`` (the scoped
    session ``create_session`` hands out), ``airflow.state.get_state_backend`` and its ``MetastoreBackend``.
    """
    if not AIRFLOW_V_3_3_PLUS:
        return False
    import json

    from airflow import settings
    from airflow._shared.state import AssetScope, AssetStateStoreWriterKind
    from airflow.models.asset import AssetModel
    from airflow.state import get_state_backend
    from airflow.state.metastore import MetastoreBackend
    from sqlalchemy import select

    backend = get_state_backend()
    session_factory = getattr(settings, "Session", None)
    if not isinstance(backend, MetastoreBackend) or session_factory is None:
        return False
    session = session_factory()
    if not session.in_transaction():
        return False
    asset_id = session.scalar(select(AssetModel.id).where(AssetModel.name == asset.name, AssetModel.uri == asset.uri))
    if asset_id is None:
        return False
    scope = AssetScope(asset_id=asset_id)
    stored = backend.get(scope, key, session=session)
    value = update(json.loads(stored) if stored is not None else None)
    backend.set_asset_state_store(
        scope, key, json.dumps(value), kind=AssetStateStoreWriterKind.WATCHER, session=session
    )
    return True


#: The task instance states in which a human-in-the-loop request waits for its answer, by Airflow version.
WAITING_FOR_HITL_STATES = ("deferred", "awaiting_input")


class HITLAnswer(NamedTuple):
    """What became of an answer: ``accepted``, ``answered`` (before), ``not_waiting``, ``forbidden``, ``invalid``,
    ``gone``; and who had answered, for ``answered``."""

    outcome: str
    responded_by: str | None = None


class _Responder:
    """The Airflow user an answer is recorded for (what the auth managers' users offer the HITL route)."""

    def __init__(self, user_id: str, name: str) -> None:
        self._id, self._name = user_id, name

    def get_id(self) -> str:
        return self._id

    def get_name(self) -> str:
        return self._name


def answer_hitl_request(
    *,
    ti_id: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    chosen_options: list[str],
    user_id: str,
    user_name: str,
) -> HITLAnswer:
    """
    From the API server: answer a human-in-the-loop request as the REST API's ``PATCH .../hitlDetails`` does, for
    the user ``user_id``, and only while the task instance ``ti_id`` (the request's, not a later try's) waits for it.

    The route's own function does the work in this process (its checks: answered before, assigned users, the
    options; on 3.3 it also resumes the task), so the answer is Airflow's own, recorded with who gave it; the
    triggerer (3.1, 3.2) or the scheduler (3.3) then resumes the task. Internal:
    ``airflow.api_fastapi.core_api.routes.public.hitl.update_hitl_detail`` (the same signature on 3.1-3.3),
    ``airflow.models.taskinstance``, ``airflow.models.hitl`` and ``airflow.utils.session``.
    """
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from fastapi import HTTPException
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    with create_session() as session:
        # The request is loaded with its task instance: the route then finds it on the instance this session holds
        # (on 3.1 and 3.2 an instance loaded without it would show no request).
        ti = session.scalar(
            select(TaskInstance)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
                TaskInstance.map_index == map_index,
            )
            .options(joinedload(TaskInstance.hitl_detail))
        )
        if ti is None or str(ti.id) != ti_id:
            return HITLAnswer("gone")
        detail: HITLDetail | None = ti.hitl_detail
        if detail is None:
            return HITLAnswer("gone")
        if detail.response_received:
            return HITLAnswer("answered", (detail.responded_by or {}).get("name"))
        # Only while the request waits: deferred to its trigger (3.1, 3.2) or parked in awaiting_input (3.3). Not
        # before it waits, not while the task resumes after a timeout, not once it ended or failed.
        if str(getattr(ti.state, "value", ti.state)) not in WAITING_FOR_HITL_STATES:
            return HITLAnswer("not_waiting")
        try:
            update_hitl_detail(
                dag_id=dag_id,
                dag_run_id=run_id,
                task_id=task_id,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=chosen_options, params_input={}),
                user=_Responder(user_id, user_name),  # type: ignore[arg-type]
                session=session,
                map_index=map_index,
            )
        except HTTPException as error:
            session.rollback()
            outcome = {409: "answered", 403: "forbidden", 400: "invalid"}.get(error.status_code, "gone")
            return HITLAnswer(outcome)
    return HITLAnswer("accepted")
