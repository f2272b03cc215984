"""
Receive SignalWire webhooks in Airflow's API server and turn them into asset events.

The receiver (:mod:`.app`, mounted by :mod:`.plugin`) answers at
``<Airflow API server>/signalwire/webhooks/<conn_id>/<kind>``, one set of endpoints per connection id,
and records each accepted webhook as an event on the asset ``signalwire://<conn_id>/<kind>``. The kinds:

* ``messages``: a phone number's "a message comes in" webhook (one event per inbound SMS/MMS);
* ``messages/status``: the ``StatusCallback`` of a message sent (one event per status change);
* ``calls``: a phone number's "a call comes in" webhook (one event per inbound call);
* ``calls/status``: a call's or a phone number's status callback (one event per status change).

This package imports only the standard library (and the Airflow SDK when an asset is asked for), so DAG
files may import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import SplitResult

from airflow_provider_signalwire.webhooks.signature import (
    FALLBACK_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    compute_form_signature,
    compute_json_signature,
    get_signature,
    validate_form_signature,
    validate_json_signature,
    validate_request,
)

if TYPE_CHECKING:
    from airflow.sdk import Asset

ASSET_SCHEME = "signalwire"
MOUNT_PREFIX = "/signalwire"
WEBHOOKS_PATH = "/webhooks"
WEBHOOK_KINDS = ("messages", "messages/status", "calls", "calls/status")

__all__ = [
    "ASSET_SCHEME",
    "FALLBACK_SIGNATURE_HEADER",
    "MOUNT_PREFIX",
    "SIGNATURE_HEADER",
    "WEBHOOK_KINDS",
    "compute_form_signature",
    "compute_json_signature",
    "get_signature",
    "normalize_asset_uri",
    "validate_form_signature",
    "validate_json_signature",
    "validate_request",
    "webhook_asset",
    "webhook_asset_uri",
    "webhook_path",
    "webhook_url",
]


def _check(conn_id: str, kind: str) -> None:
    if kind not in WEBHOOK_KINDS:
        raise ValueError(f"SignalWire webhook kind must be one of {', '.join(WEBHOOK_KINDS)}; got {kind!r}.")
    if not isinstance(conn_id, str) or not conn_id or any(ch in conn_id for ch in "/?#@:% \t\r\n"):
        raise ValueError(f"SignalWire webhook conn_id must be a connection id; got {conn_id!r}.")


def webhook_asset_uri(conn_id: str = "signalwire_default", kind: str = "messages") -> str:
    """
    The URI of the asset that webhooks of ``kind`` for ``conn_id`` update: ``signalwire://<conn_id>/<kind>``.

    :param conn_id: the SignalWire connection whose Signing Key checks the webhooks.
    :param kind: ``messages``, ``messages/status``, ``calls`` or ``calls/status``.
    """
    _check(conn_id, kind)
    return f"{ASSET_SCHEME}://{conn_id}/{kind}"


def webhook_asset(conn_id: str = "signalwire_default", kind: str = "messages") -> Asset:
    """
    The asset to schedule a DAG on to run once per webhook of ``kind`` (see :func:`webhook_asset_uri`).

    Each event's ``extra`` holds the webhook's fields as SignalWire sent them (``From``, ``To``, ``Body``,
    ``MessageSid``, ``CallSid``, ``CallStatus``...), plus ``signalwire_webhook_key``, the key that
    recognises a repeated delivery.

    :param conn_id: the SignalWire connection whose Signing Key checks the webhooks.
    :param kind: ``messages``, ``messages/status``, ``calls`` or ``calls/status``.
    """
    from airflow.sdk import Asset

    return Asset(webhook_asset_uri(conn_id, kind))


def webhook_path(conn_id: str = "signalwire_default", kind: str = "messages") -> str:
    """The receiver's path under the Airflow API server: ``/signalwire/webhooks/<conn_id>/<kind>``."""
    _check(conn_id, kind)
    return f"{MOUNT_PREFIX}{WEBHOOKS_PATH}/{conn_id}/{kind}"


def webhook_url(base_url: str, conn_id: str = "signalwire_default", kind: str = "messages") -> str:
    """
    The public URL to give SignalWire for webhooks of ``kind``.

    :param base_url: the public URL of the Airflow API server as SignalWire reaches it, e.g.
        ``https://airflow.example.com``: the value the receiver checks signatures against (the
        connection's ``webhook_base_url`` extra, else ``[api] base_url``).
    :param conn_id: the SignalWire connection whose Signing Key checks the webhooks.
    :param kind: ``messages``, ``messages/status``, ``calls`` or ``calls/status``.
    """
    return base_url.rstrip("/") + webhook_path(conn_id, kind)


def normalize_asset_uri(parts: SplitResult) -> SplitResult:
    """
    Check a ``signalwire://`` asset URI; Airflow calls this for every such URI it meets.

    :raises ValueError: when the URI does not name a connection and one of the webhook kinds.
    """
    kind = parts.path.strip("/")
    if not parts.netloc or kind not in WEBHOOK_KINDS or parts.query:
        raise ValueError(
            f"A {ASSET_SCHEME}:// asset URI must be {ASSET_SCHEME}://<conn_id>/<kind> with kind one of "
            f"{', '.join(WEBHOOK_KINDS)}; got {parts.geturl()!r}."
        )
    return parts._replace(path=f"/{kind}")
