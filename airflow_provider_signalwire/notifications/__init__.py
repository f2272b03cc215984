"""SignalWire notifiers for Airflow callbacks."""

from __future__ import annotations

from airflow_provider_signalwire.notifications.signalwire import SignalWireNotifier, send_signalwire_notification

__all__ = ["SignalWireNotifier", "send_signalwire_notification"]
