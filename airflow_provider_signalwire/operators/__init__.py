"""Operators for SignalWire calls, messages and phone numbers, and for any request to the Space."""

from __future__ import annotations

from airflow_provider_signalwire.operators.api_call import SignalWireApiCallOperator
from airflow_provider_signalwire.operators.bulk_send import SignalWireBulkSendOperator
from airflow_provider_signalwire.operators.calls import (
    SignalWireCreateCallOperator,
    SignalWireDeleteCallOperator,
    SignalWireGetCallOperator,
    SignalWireSearchCallsOperator,
    SignalWireUpdateCallOperator,
)
from airflow_provider_signalwire.operators.export import SignalWireExportOperator
from airflow_provider_signalwire.operators.messages import (
    SignalWireDeleteMessageOperator,
    SignalWireGetMessageOperator,
    SignalWireRedactMessageOperator,
    SignalWireSearchMessagesOperator,
    SignalWireSendMessageOperator,
)
from airflow_provider_signalwire.operators.phone_numbers import SignalWireSetPhoneNumberWebhooksOperator
from airflow_provider_signalwire.operators.retention import SignalWireMessageRetentionOperator

__all__ = [
    "SignalWireApiCallOperator",
    "SignalWireBulkSendOperator",
    "SignalWireCreateCallOperator",
    "SignalWireDeleteCallOperator",
    "SignalWireDeleteMessageOperator",
    "SignalWireExportOperator",
    "SignalWireGetCallOperator",
    "SignalWireGetMessageOperator",
    "SignalWireMessageRetentionOperator",
    "SignalWireRedactMessageOperator",
    "SignalWireSearchCallsOperator",
    "SignalWireSearchMessagesOperator",
    "SignalWireSendMessageOperator",
    "SignalWireSetPhoneNumberWebhooksOperator",
    "SignalWireUpdateCallOperator",
]
