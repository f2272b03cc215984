"""
The asset listener that stores an event trigger's cursor in the same transaction as the event (Airflow 3.3).

Each event of the provider's event triggers carries ``payload["cursor"]``: the store key of the trigger's cursor, its
start and look-back. When Airflow stores the asset event, this listener adds the event's item to that cursor in the
asset state store, inside the same database transaction: the cursor covers exactly the events that are stored, so
a triggerer killed at any moment neither loses an event nor fires one again. The trigger's own cursor writes
(once Airflow confirmed its events stored) only ever add to what is there.

Registered by the provider's plugin (``listeners``); it ignores every other asset event.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.listeners import hookimpl

from airflow_provider_signalwire.api.watching import Cursor, SeenItem, aware_datetime
from airflow_provider_signalwire.compat import update_asset_state_with_event

CURSOR_FIELD = "cursor"


def cursor_mark(key: str, cursor: Cursor, lookback: timedelta) -> dict[str, Any]:
    """What an event carries for this listener: where its trigger keeps its cursor, from where, how far back."""
    return {"key": key, "floor": cursor.floor.isoformat(), "lookback": lookback.total_seconds()}


def with_event(stored: Any, mark: dict[str, Any], sid: str, date: str) -> dict[str, Any]:
    """The stored cursor ``stored`` once the item ``sid`` dated ``date`` was handed out."""
    lookback = timedelta(seconds=float(mark["lookback"]))
    cursor = Cursor.from_json(stored) or Cursor.starting(aware_datetime(mark["floor"]))
    return cursor.after([SeenItem(aware_datetime(date), {"sid": sid}, True)], lookback).to_json()


@hookimpl
def on_asset_event_emitted(asset_event: Any) -> None:
    payload = (asset_event.extra or {}).get("payload")
    if not isinstance(payload, dict):
        return
    mark, sid, date = payload.get(CURSOR_FIELD), payload.get("sid"), payload.get("date")
    if not isinstance(mark, dict) or not {"key", "floor", "lookback"} <= mark.keys():
        return
    if isinstance(sid, str) and isinstance(date, str):
        key = str(mark["key"])
        update_asset_state_with_event(asset_event.asset, key, lambda stored: with_event(stored, mark, sid, date))
