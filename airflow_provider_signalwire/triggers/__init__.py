"""Triggers that poll SignalWire from the triggerer: they only read, never create."""

from __future__ import annotations

from airflow_provider_signalwire.triggers.events import (
    SignalWireNewCallEventTrigger,
    SignalWireNewMessageEventTrigger,
)
from airflow_provider_signalwire.triggers.new_items import SignalWireNewItemsTrigger
from airflow_provider_signalwire.triggers.status import SignalWireStatusTrigger

__all__ = [
    "SignalWireNewCallEventTrigger",
    "SignalWireNewItemsTrigger",
    "SignalWireNewMessageEventTrigger",
    "SignalWireStatusTrigger",
]
