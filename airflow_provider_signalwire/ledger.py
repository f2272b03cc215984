"""
Once-only state, kept in Airflow's metadata database: what must survive a retry, a restart or another machine.

* :class:`TaskLedger`: values one task instance keeps across its tries (a create's record, a sensor's failed
  polls): Airflow's task state store from 3.3, one Airflow Variable per key and task instance before.
* :class:`SharedMarkers`: "already done" markers that every worker, DAG processor and triggerer sees (the
  notifier's alerts), each live for a while: one Airflow Variable per owner, holding its live markers.

Nothing here touches a local disk, so Celery and Kubernetes workers share the same state. Where the database
cannot be reached, the calls raise: the caller decides whether to go on without the guarantee.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

VARIABLE_PREFIX = "signalwire"


def digest(*parts: Any) -> str:
    """A short, stable name for ``parts`` (a task instance, an event), usable in a Variable key."""
    return hashlib.sha256("\n".join(str(part) for part in parts).encode()).hexdigest()[:32]


def clear_generation(ti: Any) -> int:
    """
    The first try since the task instance was last cleared: a retry keeps it, a clear starts a new one.

    Clearing sets ``max_tries = try_number + retries``; Airflow reads it back the same way when it looks for a
    sensor's first reschedule in this generation.
    """
    return int(ti.max_tries) - int(ti.task.retries or 0) + 1


class TaskLedger:
    """
    JSON values one task instance keeps across its tries, in Airflow's metadata database.

    Each value is kept with the clear generation that wrote it (see :func:`clear_generation`) and read only in
    that generation: the retries of a try see what it kept; clearing the task starts afresh.

    :param context: the task's context: its ``ti`` and, from Airflow 3.3, its ``task_state_store``.
    """

    def __init__(self, context: Mapping[str, Any]) -> None:
        from airflow_provider_signalwire.compat import variable_store

        ti = context["ti"]
        self._store = context.get("task_state_store")
        self._variables = None if self._store is not None else variable_store()
        self._identity = digest(ti.dag_id, ti.task_id, ti.run_id, ti.map_index)
        self._where = f"{ti.dag_id}.{ti.task_id}, run {ti.run_id}, map index {ti.map_index}"
        self.generation = clear_generation(ti)

    @property
    def in_task_state_store(self) -> bool:
        return self._store is not None

    def variable_key(self, key: str) -> str:
        """The Airflow Variable that holds ``key`` where there is no task state store (before Airflow 3.3)."""
        return f"{VARIABLE_PREFIX}_{key}_{self._identity}"

    def get(self, key: str, default: Any = None) -> Any:
        """The value kept under ``key`` in this generation, else ``default``."""
        if self._store is not None:
            kept = self._store.get(f"{VARIABLE_PREFIX}_{key}")
        else:
            assert self._variables is not None
            text = self._variables.get(self.variable_key(key))
            kept = json.loads(text) if text else None
        if isinstance(kept, dict) and kept.get("generation") == self.generation and "value" in kept:
            return kept["value"]
        return default

    def set(self, key: str, value: Any) -> None:
        kept = {"generation": self.generation, "value": value}
        if self._store is not None:
            self._store.set(f"{VARIABLE_PREFIX}_{key}", kept)
            return
        assert self._variables is not None
        description = f"SignalWire {key} of {self._where}, kept across its tries."
        self._variables.set(self.variable_key(key), json.dumps(kept, sort_keys=True), description)

    def delete(self, key: str) -> None:
        if self._store is not None:
            self._store.delete(f"{VARIABLE_PREFIX}_{key}")
        else:
            assert self._variables is not None
            self._variables.delete(self.variable_key(key))


class MarkerUnavailable(RuntimeError):
    """A marker could be neither taken nor found taken (other claims kept rewriting the owner's markers)."""


class SharedMarkers:
    """
    "Done" markers that every machine sees, each live for ``ttl`` seconds, for one owner (a notifier).

    All of an owner's live markers are one Airflow Variable; expired ones are dropped at each write, and the
    Variable is deleted when none is left. A claim writes a fresh token and reads it back ``settle`` seconds later:
    of two machines claiming the same marker at once, the last writer keeps it and the other finds it taken, as
    long as a write takes less than ``settle``.

    :param owner: who the markers belong to (a digest of the notifier's settings).
    :param ttl: seconds a marker counts.
    :param settle: seconds to wait before reading a claim back.
    """

    ATTEMPTS = 3

    def __init__(self, owner: str, ttl: float, *, settle: float = 0.3, clock: Callable[[], float] = time.time) -> None:
        from airflow_provider_signalwire.compat import variable_store

        self.key = f"{VARIABLE_PREFIX}_markers_{owner}"
        self.ttl = ttl
        self.settle = settle
        self._clock = clock
        self._variables = variable_store()

    def _read(self) -> dict[str, dict[str, Any]]:
        text = self._variables.get(self.key)
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = {}
        now = self._clock()
        return {
            name: marker
            for name, marker in (value.items() if isinstance(value, dict) else [])
            if isinstance(marker, dict) and now - float(marker.get("at", 0)) <= self.ttl
        }

    def _write(self, markers: dict[str, dict[str, Any]]) -> None:
        if not markers:
            self._variables.delete(self.key)
            return
        description = "SignalWire notifier: alerts already sent (each kept for a while, so a repeat sends nothing)."
        self._variables.set(self.key, json.dumps(markers, sort_keys=True), description)

    def get(self, name: str) -> dict[str, Any] | None:
        """The facts kept with the live marker ``name`` (as claimed), ``None`` when it is not live."""
        marker = self._read().get(name)
        return None if marker is None else {k: v for k, v in marker.items() if k not in ("at", "token")}

    def count(self, prefix: str) -> int:
        """How many live markers have a name starting with ``prefix``."""
        return sum(1 for name in self._read() if name.startswith(prefix))

    def claim(self, name: str, facts: Mapping[str, Any] | None = None) -> str | None:
        """
        Take the marker ``name``: its token, for :meth:`release`; ``None`` when it is live already (done, or being
        done elsewhere). Raises :class:`MarkerUnavailable` when it cannot tell.
        """
        token = secrets.token_hex(8)
        for _ in range(self.ATTEMPTS):
            markers = self._read()
            if name in markers:
                return None
            markers[name] = {**(facts or {}), "at": self._clock(), "token": token}
            self._write(markers)
            time.sleep(self.settle)
            kept = self._read().get(name)
            if kept is not None:
                return token if kept.get("token") == token else None
            # A claim of another marker rewrote the Variable without ours: claim again.
        raise MarkerUnavailable(f"SignalWire marker {name} kept being overwritten in Variable {self.key}")

    def release(self, name: str, token: str) -> None:
        """Give back a marker this claim took (its work certainly did not happen), so that a repeat may try again."""
        markers = self._read()
        if markers.get(name, {}).get("token") == token:
            del markers[name]
            self._write(markers)
