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

    :param store: the trigger's ``asset_state_store`` (``None`` when Airflow gave it none).
    :param key: the key of this trigger's cursor.
    """

    def __init__(self, store: Any, key: str) -> None:
        self.key = key
        self.accessors = asset_state_accessors(store)

    @property
    def available(self) -> bool:
        return bool(self.accessors)

    async def load(self) -> Cursor | None:
        found = [Cursor.from_json(await accessor.aget(self.key)) for accessor in self.accessors]
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
        await asyncio.shield(asyncio.gather(*(accessor.aset(self.key, value) for accessor in self.accessors)))
