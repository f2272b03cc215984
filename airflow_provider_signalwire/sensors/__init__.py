"""Sensors that wait for new SignalWire messages and calls."""

from __future__ import annotations

from airflow_provider_signalwire.sensors.signalwire import SignalWireNewCallSensor, SignalWireNewMessageSensor

__all__ = ["SignalWireNewCallSensor", "SignalWireNewMessageSensor"]
