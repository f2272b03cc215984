"""
The ``signalwire`` scheme of ``MessageQueueTrigger``: new SignalWire messages (or calls) as a message queue.

::

    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.sdk import Asset, AssetWatcher

    inbound = Asset(
        "inbound_sms",
        watchers=[AssetWatcher(name="sms", trigger=MessageQueueTrigger(scheme="signalwire", to="+15550000001"))],
    )

The keyword arguments are those of the provider's ``SignalWireNewMessageEventTrigger`` (``to``, ``from_``,
``status``, ``direction``, ``body_contains``, ``lookback``, ``poll_interval``...), plus ``resource="calls"`` for its
``SignalWireNewCallEventTrigger``. The trigger Airflow stores and runs is the provider's own, with the same guarantees.

Registered through the ``queues`` key of the provider info; needs the ``common-messaging`` extra
(``pip install 'airflow-provider-signalwire[common-messaging]'``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from airflow.providers.common.messaging.providers.base_provider import BaseMessageQueueProvider

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.triggers.events import SignalWireNewCallEventTrigger, SignalWireNewMessageEventTrigger

SCHEME = "signalwire"
_TRIGGERS = {"messages": SignalWireNewMessageEventTrigger, "calls": SignalWireNewCallEventTrigger}


def signalwire_queue_trigger(*, resource: str = "messages", **kwargs: Any) -> Any:
    """The provider's event trigger for ``resource`` (``"messages"`` or ``"calls"``), built from ``kwargs``."""
    trigger_class = _TRIGGERS.get(resource)
    if trigger_class is None:
        raise SignalWireInputError(f"SignalWire queue: 'resource' must be 'messages' or 'calls'; got {resource!r}.")
    return trigger_class(**kwargs)


class SignalWireMessageQueueProvider(BaseMessageQueueProvider):
    """
    ``MessageQueueTrigger(scheme="signalwire", ...)``, and the older queue form ``signalwire://messages?to=+1555...``
    (the resource as host, the filters as query parameters).
    """

    scheme = SCHEME

    def queue_matches(self, queue: str) -> bool:
        return queue.startswith(f"{SCHEME}://")

    def trigger_class(self) -> Any:
        return signalwire_queue_trigger

    def trigger_kwargs(self, queue: str, **kwargs: Any) -> dict[str, Any]:
        parts = urlsplit(queue)
        arguments: dict[str, Any] = {"resource": parts.netloc or "messages"}
        # A "+" stays a "+" (phone numbers), unlike form decoding; other characters may be percent-encoded.
        for pair in filter(None, parts.query.split("&")):
            name, _, value = pair.partition("=")
            value = unquote(value)
            arguments[unquote(name)] = float(value) if name in ("poll_interval", "lookback") else value
        return {k: v for k, v in arguments.items() if k not in kwargs}
