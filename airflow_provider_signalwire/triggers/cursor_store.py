"""Where an event trigger keeps its cursor: the asset state store of the assets it watches (Airflow 3.3+)."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow_provider_signalwire.api.watching import Cursor
from airflow_provider_signalwire.compat import asset_state_accessors


class CursorStore:
    """
    The cursor in the asset state store of the watched asset(s), or nowhere when there is no store.

    A trigger shared by several assets (same class and arguments) gets one accessor per asset: the cursor is
    written to each, and the one that has seen the most is read back.

    Two writers keep it, each under a key of its own, so that neither overwrites the other: the provider's asset
    listener adds each event's item under ``key``, in the transaction that stores the event (see
    :mod:`.event_cursor`); the trigger writes what it saw under ``key`` + :data:`OWN_SUFFIX`. Reading merges both.

    :param store: the trigger's ``asset_state_store`` (``None`` when Airflow gave it none).
    :param key: the key of this trigger's cursor.
    """

    OWN_SUFFIX = "/trigger"

    def __init__(self, store: Any, key: str) -> None:
        self.key = key
        self.own_key = key + self.OWN_SUFFIX
        self.accessors = asset_state_accessors(store)

    @property
    def available(self) -> bool:
        return bool(self.accessors)

    async def load(self) -> Cursor | None:
        found = [
            Cursor.from_json(await accessor.aget(key))
            for accessor in self.accessors
            for key in (self.key, self.own_key)
        ]
        cursors = [c for c in found if c is not None]
        if not cursors:
            return None
        newest = max(cursors, key=lambda c: c.date)
        fired: dict[str, Any] = {}
        for cursor in cursors:
            fired.update(cursor.fired)
        return Cursor(newest.floor, newest.date, fired)

    async def save(self, cursor: Cursor) -> None:
        if not self.accessors:
            return
        value = cursor.to_json()
        # Shielded: a trigger cancelled mid-write (a triggerer shutting down) still records what was stored.
        await asyncio.shield(asyncio.gather(*(accessor.aset(self.own_key, value) for accessor in self.accessors)))
