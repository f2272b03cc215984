"""Hooks for SignalWire: :class:`SignalWireHook` (sync) and :class:`SignalWireAsyncHook` (async)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

if TYPE_CHECKING:
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

__all__ = ["SignalWireAsyncHook", "SignalWireHook"]


def __getattr__(name: str) -> Any:
    # The async hook (and httpx with it) loads when a trigger first asks for it, not in every DAG file.
    if name == "SignalWireAsyncHook":
        from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook

        return SignalWireAsyncHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
