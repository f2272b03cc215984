"""
Once-only state, kept in Airflow's metadata database: what must survive a retry, a restart or another machine.

* :class:`TaskLedger`: values one task instance keeps across its tries (a create's record, a sensor's failed
  polls): Airflow's task state store from 3.3, one Airflow Variable per key and task instance before.
* :class:`SharedMarkers`: "already done" markers that every worker, DAG processor and triggerer sees (the
  notifier's alerts, approval codes, wrong-code budgets), each live for a while: one Airflow Variable per marker,
  taken atomically (a compare-and-set in the metadata database).

Nothing here touches a local disk, so Celery and Kubernetes workers share the same state. Where the database
cannot be reached, the calls raise: the caller decides whether to go on without the guarantee.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
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
    def identity(self) -> str:
        """A digest naming the task instance (not its try): the same for every execution of it."""
        return self._identity

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
    """A marker could be neither taken nor found taken (Airflow's metadata database did not settle it)."""


class SharedMarkers:
    """
    "Done" markers that every machine sees, each live for a while, for one owner (a notifier, a connection's
    approval requests): one Airflow Variable per marker, taken with an atomic compare-and-set.

    A claim reads the marker's Variable and swaps it for its own record only if the Variable still holds what it
    read (absent, or an expired record): of any number of concurrent claimers, on any number of machines, exactly
    one takes a marker, whatever a write takes. Claims of different markers touch different Variables and never
    meet. Where this process reaches the metadata database (the API server, ``dag.test()``) the swap runs there;
    in a task or a trigger, which Airflow keeps from the database, it runs in the API server through the provider's
    claim route (see :mod:`airflow_provider_signalwire.ledger_stores`). Expiry follows that one clock.

    :param owner: who the markers belong to (a digest of the notifier's settings).
    :param ttl: seconds a marker counts, unless a claim gives its own.
    :param conn_id: the SignalWire connection whose API token signs the claims sent to the API server.
    :param purpose: what the markers are for, in their Variables' description.
    :param store: where the markers live (default: see :func:`~airflow_provider_signalwire.ledger_stores.claim_store`).
    """

    ATTEMPTS = 5
    #: One claim in this many also drops the owner's expired markers.
    SWEEP_EVERY = 20

    def __init__(
        self,
        owner: str,
        ttl: float,
        *,
        conn_id: str,
        purpose: str = "an alert already sent",
        store: Any = None,
    ) -> None:
        from airflow_provider_signalwire.ledger_stores import claim_prefix, claim_store

        self.prefix = f"{claim_prefix(conn_id)}{owner}_"
        self.ttl = ttl
        self.purpose = purpose
        self._store = store if store is not None else claim_store(conn_id)

    def key(self, name: str) -> str:
        """The Variable that holds marker ``name`` (a digest: names may hold what a key must not show)."""
        return self.prefix + digest(name)

    @staticmethod
    def _live(text: str | None, now: float) -> dict[str, Any] | None:
        from airflow_provider_signalwire.ledger_stores import expires_at

        # Anything that is not a live record (garbage, an expiry that is no number) counts as free.
        return json.loads(text) if expires_at(text) > now else None  # type: ignore[arg-type]

    def _record(self, token: str, now: float, ttl: float | None, facts: Mapping[str, Any] | None) -> str:
        record = {"token": token, "expires": now + (self.ttl if ttl is None else ttl), "facts": dict(facts or {})}
        return json.dumps(record, sort_keys=True)

    def _description(self, record: str) -> str:
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(json.loads(record)["expires"]))
        return f"SignalWire once-only marker: {self.purpose} (counts until {until})."

    def _swap(self, key: str, expected: str | None, new: str | None) -> bool:
        """Swap, and where the answer was lost, tell from what the Variable now holds whether the swap happened."""
        try:
            return bool(self._store.swap(key, expected, new, self._description(new) if new else ""))
        except Exception:
            text, _ = self._store.read(key)
            if text == new:
                return True
            if text != expected:
                return False
            raise

    def claim(self, name: str, facts: Mapping[str, Any] | None = None, *, ttl: float | None = None) -> str | None:
        """
        Take the marker ``name``: its token, for :meth:`release`; ``None`` when it is live already (done, or being
        done elsewhere). Raises :class:`MarkerUnavailable` when it cannot tell.
        """
        key, token = self.key(name), secrets.token_hex(8)
        for _ in range(self.ATTEMPTS):
            text, now = self._store.read(key)
            if self._live(text, now) is not None:
                return None
            if self._swap(key, text, self._record(token, now, ttl, facts)):
                if secrets.randbelow(self.SWEEP_EVERY) == 0:
                    try:
                        self.sweep()
                    except Exception as error:  # the claim is taken: housekeeping must not undo that
                        logging.getLogger(__name__).warning("SignalWire markers: sweep failed: %s", error)
                return token
        raise MarkerUnavailable(f"SignalWire marker {key}: every claim lost to a change made meanwhile")

    def holder(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """The token and the facts of the live marker ``name``, ``None`` when it is not live."""
        text, now = self._store.read(self.key(name))
        record = self._live(text, now)
        return None if record is None else (str(record.get("token")), dict(record.get("facts") or {}))

    def get(self, name: str) -> dict[str, Any] | None:
        """The facts kept with the live marker ``name``, ``None`` when it is not live."""
        held = self.holder(name)
        return None if held is None else held[1]

    def update(self, name: str, token: str, facts: Mapping[str, Any]) -> bool:
        """Add ``facts`` to the marker this claim holds (what became of the work); ``False`` when it is not held."""
        key = self.key(name)
        for _ in range(self.ATTEMPTS):
            text, now = self._store.read(key)
            record = self._live(text, now)
            if record is None or record.get("token") != token:
                return False
            changed = {**record, "facts": {**(record.get("facts") or {}), **facts}}
            if self._swap(key, text, json.dumps(changed, sort_keys=True)):
                return True
        raise MarkerUnavailable(f"SignalWire marker {key}: every update lost to a change made meanwhile")

    def release(self, name: str, token: str) -> None:
        """Give back a marker this claim took (its work certainly did not happen), so that a repeat may try again."""
        key = self.key(name)
        for _ in range(self.ATTEMPTS):
            text, now = self._store.read(key)
            record = self._live(text, now)
            if record is None or record.get("token") != token or self._swap(key, text, None):
                return

    def claim_slot(self, name: str, slots: int, facts: Mapping[str, Any] | None = None) -> tuple[str, str] | None:
        """
        Take one of ``slots`` markers ``name:0`` … (a budget: at most ``slots`` live at once, however many claim
        together): ``(marker, token)``, ``None`` when every slot is live.
        """
        for slot in range(slots):
            marker = f"{name}:{slot}"
            token = self.claim(marker, facts)
            if token is not None:
                return marker, token
        return None

    def live_slots(self, name: str, slots: int) -> int:
        """How many of the ``slots`` markers ``name:0`` … are live."""
        return sum(1 for slot in range(slots) if self.holder(f"{name}:{slot}") is not None)

    def sweep(self) -> int:
        """Delete the owner's expired markers; how many went."""
        return int(self._store.sweep(self.prefix))
