"""
The one place that knows the SignalWire API, and does no I/O.

* :mod:`.connection`: the connection (Space, base URL, credentials), checked.
* :mod:`.params` and :mod:`.rules`: parameter kinds, each checking and encoding its value, and the rules across them.
* :mod:`.resource` and :mod:`.resources`: one declarative spec per resource (calls, messages, phone numbers).
* :mod:`.request`, :mod:`.paging`, :mod:`.errors`, :mod:`.retries`: requests, pages, answers and when to retry.
* :mod:`.dates`, :mod:`.statuses`, :mod:`.watching`, :mod:`.polling`: dates, outcomes, and what watchers see.
* :mod:`.secrets`: keeping the connection's secrets out of error texts and results.

The hooks move what is built here over the wire: ``requests`` on workers, ``httpx`` in the triggerer. The names
below load on first use: DAG files import the operators, which need only the specs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.connection import ConnectionSettings
    from airflow_provider_signalwire.api.request import ApiRequest
    from airflow_provider_signalwire.api.resource import Resource
    from airflow_provider_signalwire.api.retries import RetryPolicy

_WHERE = {
    "ApiRequest": "request",
    "ConnectionSettings": "connection",
    "Resource": "resource",
    "RetryPolicy": "retries",
}
__all__ = ["ApiRequest", "ConnectionSettings", "Resource", "RetryPolicy"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
