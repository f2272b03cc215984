"""SignalWire notifiers for Airflow callbacks and human-in-the-loop requests."""

from __future__ import annotations

from airflow_provider_signalwire.notifications.hitl import SignalWireHITLNotifier
from airflow_provider_signalwire.notifications.signalwire import SignalWireNotifier, send_signalwire_notification

__all__ = ["SignalWireHITLNotifier", "SignalWireNotifier", "send_signalwire_notification"]
