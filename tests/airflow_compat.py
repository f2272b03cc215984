"""
Where Airflow keeps, on each minor the provider supports (3.1, 3.2, 3.3), what the tests use: the one place in
the tests that knows it. Tests import from here, never an Airflow name that moved between minors.

Deliberately independent of ``airflow_provider_signalwire.compat``: a mistake there must not be repeated here,
where it would hide itself. Names that would import half of Airflow (``DagBag``, ``sync_bag_to_db``) are
resolved on first use, like the imports inside the tests' functions that they replace.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import airflow
import pytest


def _minor(version: str) -> tuple[int, int]:
    found = re.match(r"(\d+)\.(\d+)", version)
    assert found, f"unparsable Airflow version {version!r}"
    return int(found.group(1)), int(found.group(2))


AIRFLOW_MINOR: tuple[int, int] = _minor(airflow.__version__)
AIRFLOW_V_3_2_PLUS: bool = AIRFLOW_MINOR >= (3, 2)
#: The task state store, and the asset state store of event triggers, arrived in Airflow 3.3.
AIRFLOW_V_3_3_PLUS: bool = AIRFLOW_MINOR >= (3, 3)

requires_asset_state_store = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="the asset state store arrived in Airflow 3.3"
)

if TYPE_CHECKING:  # type-checked against the newest minor
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
else:
    # ``airflow.sdk.exceptions`` has these from 3.2; 3.1 keeps them in ``airflow.exceptions``.
    try:
        from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import AirflowException, AirflowFailException, TaskDeferred

    # ``airflow.sdk`` exports it from 3.2.
    try:
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:  # Airflow 3.1
        from airflow.timetables.interval import CronDataIntervalTimetable


def _dagbag_module() -> Any:
    """``airflow.dag_processing.dagbag`` from 3.2; ``airflow.models.dagbag`` in 3.1."""
    import importlib

    try:
        return importlib.import_module("airflow.dag_processing.dagbag")
    except ImportError:  # Airflow 3.1
        return importlib.import_module("airflow.models.dagbag")


def __getattr__(name: str) -> Any:
    if name in ("DagBag", "sync_bag_to_db"):
        return getattr(_dagbag_module(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AIRFLOW_MINOR",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowException",
    "AirflowFailException",
    "CronDataIntervalTimetable",
    "DagBag",
    "TaskDeferred",
    "asset_state_store_for",
    "decode_trigger_kwargs",
    "import_string",
    "loaded_plugins",
    "requires_asset_state_store",
    "run_cleared_task",
    "serialize_dag",
    "sync_bag_to_db",
    "task_ledger_entry",
    "write_dags_to_db",
]


def import_string(dotted_path: str) -> Any:
    """Airflow's ``import_string``: ``airflow._shared.module_loading`` from 3.2, ``airflow.utils`` in 3.1."""
    try:
        from airflow._shared.module_loading import import_string as airflow_import_string
    except ImportError:  # Airflow 3.1
        from airflow.utils.module_loading import import_string as airflow_import_string
    return airflow_import_string(dotted_path)


def decode_trigger_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """
    A Trigger row's decrypted kwargs decoded as the triggerer decodes them (``smart_decode_trigger_kwargs``: in
    ``airflow.serialization.decoders`` from 3.2, in ``airflow.serialization.serialized_objects`` in 3.1).
    """
    try:
        from airflow.serialization.decoders import smart_decode_trigger_kwargs
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serialized_objects import smart_decode_trigger_kwargs
    return {key: smart_decode_trigger_kwargs(value) for key, value in kwargs.items()}


def serialize_dag(dag: Any) -> dict[str, Any]:
    """A DAG as the DAG processor serializes it: ``DagSerialization`` from 3.2, ``SerializedDAG`` in 3.1."""
    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:  # Airflow 3.1
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer
    return Serializer.serialize_dag(dag)


def write_dags_to_db(dags: Iterable[Any]) -> None:
    """Write DAGs defined in a test into the metadata database, as the DAG processor would (for dag.test())."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    bag = SimpleNamespace(
        dags={dag.dag_id: dag for dag in dags},
        import_errors={},
        bundle_path=None,
        dag_warnings=set(),
        file_last_changed={},
    )
    _dagbag_module().sync_bag_to_db(bag, "dags-folder", None)


def task_ledger_entry(dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
    """
    What the provider's ``TaskLedger`` keeps under ``key`` for a task instance, read straight from the metadata
    database: ``{"generation": <first try of its clear generation>, "value": ...}``, ``None`` when absent.

    Airflow 3.3+: the task instance's task state store, key ``signalwire_<key>``. Before: the Airflow Variable
    ``signalwire_<key>_<sha256("dag_id\\ntask_id\\nrun_id\\nmap_index")[:32]>``, as JSON.
    """
    if AIRFLOW_V_3_3_PLUS:
        from airflow._shared.state import TaskScope
        from airflow.state import get_state_backend

        scope = TaskScope(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
        value = get_state_backend().get(scope, f"signalwire_{key}")
        return None if value is None else json.loads(value)

    from airflow.models.variable import Variable

    identity = f"{dag_id}\n{task_id}\n{run_id}\n{map_index}"
    name = f"signalwire_{key}_{hashlib.sha256(identity.encode()).hexdigest()[:32]}"
    return Variable.get(name, default_var=None, deserialize_json=True)


def run_cleared_task(dag: Any, dag_run: Any, task_id: str) -> str:
    """
    Clear one task instance of a finished DagRun, as the UI's Clear does, and run its next try as ``dag.test()``
    runs tries; returns the state it ends in. (``dag.test()`` itself deletes a run with the same logical date and
    creates a new one, which is not a clear.) Internal: ``clear_task_instances`` and ``dag.test()``'s ``_run_task``
    (both with the same signature on 3.1, 3.2 and 3.3).
    """
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    with create_session() as session:
        (ti,) = [t for t in dag_run.get_task_instances(session=session) if t.task_id == task_id]
        clear_task_instances([ti], session, dag_run_state=DagRunState.RUNNING)
        session.flush()
        # What the scheduler does when it schedules the next try.
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        _run_task(ti=ti, task=dag.task_dict[task_id], run_triggerer=True)
        return TaskInstanceState(ti.state).value


def asset_state_store_for(assets: Iterable[tuple[str, str]]) -> Any:
    """
    What the triggerer gives an event trigger as ``asset_state_store`` for the (name, uri) of the assets it
    watches: their accessors on Airflow 3.3+, nothing before (the attribute is then not set at all).
    """
    if not AIRFLOW_V_3_3_PLUS:
        return None
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors

    return AssetStateStoreAccessors(inlets=[Asset(name=name, uri=uri) for name, uri in assets])


def loaded_plugins() -> dict[str, Any]:
    """
    Load the plugins through Airflow's plugins manager, as every Airflow component does: the name and source
    of each plugin loaded, the plugin import errors (``get_import_errors()`` from 3.2; a module global in 3.1,
    which also drops a second registration of a name silently where 3.2+ warns and records an error), and the
    plugins that the providers' infos declare (loaded too when ``[core] lazy_discover_providers`` is off).
    """
    from airflow import plugins_manager
    from airflow.providers_manager import ProvidersManager

    plugins_manager.ensure_plugins_loaded()
    info = plugins_manager.get_plugin_info(attrs_to_dump=["name", "source"])
    get_errors = getattr(plugins_manager, "get_import_errors", None)
    errors = get_errors() if get_errors is not None else plugins_manager.import_errors
    providers = ProvidersManager()
    providers.initialize_providers_plugins()
    return {
        "plugins": [{"name": p["name"], "source": str(p["source"])} for p in info],
        "import_errors": dict(errors),
        "provider_plugins": [p.name for p in providers.plugins],
    }
