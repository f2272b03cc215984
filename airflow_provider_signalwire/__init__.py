"""Apache Airflow provider for SignalWire."""

from __future__ import annotations

__version__ = "0.2.0.dev0"
#: The connection id every hook, operator, sensor, trigger and notifier uses unless told otherwise.
DEFAULT_CONN_ID = "signalwire_default"
