"""Hooks for SignalWire: :class:`SignalWireHook` (sync) and :class:`SignalWireAsyncHook` (async)."""

from __future__ import annotations

from airflow_provider_signalwire.hooks.signalwire import SignalWireAsyncHook, SignalWireHook

__all__ = ["SignalWireAsyncHook", "SignalWireHook"]
