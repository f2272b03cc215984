"""
Test helpers for DAG authors and for this provider: a local SignalWire emulator and its pytest fixture.

``from airflow_provider_signalwire.testing import SignalWireEmulator``. The names are loaded on first use,
so importing this package alone costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_signalwire.testing.emulator import Fault, SignalWireEmulator

__all__ = ["Fault", "SignalWireEmulator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from airflow_provider_signalwire.testing import emulator

        return getattr(emulator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
