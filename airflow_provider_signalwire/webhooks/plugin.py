"""
The Airflow plugin that mounts the SignalWire webhook receiver in Airflow's API server, at ``/signalwire``.

It is registered once, as an ``airflow.plugins`` entry point, which every supported Airflow reads whatever
``[core] lazy_discover_providers`` says (a provider info's ``plugins`` list is read only when that is off, and
declaring both makes Airflow warn that the plugin is already registered).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_signalwire.compat import plugin_base
from airflow_provider_signalwire.triggers import event_cursor
from airflow_provider_signalwire.webhooks import MOUNT_PREFIX

try:
    from airflow_provider_signalwire.webhooks.app import app
except ImportError:  # a worker with the task SDK alone has no FastAPI; only the API server serves webhooks
    _apps: list[dict[str, Any]] = []
else:
    _apps = [{"app": app, "url_prefix": MOUNT_PREFIX, "name": "SignalWire webhooks"}]


class SignalWireWebhookPlugin(plugin_base()):  # type: ignore[misc]
    """
    Serves SignalWire webhooks at ``<API server>/signalwire/webhooks/<conn_id>/<kind>``, and stores event triggers'
    cursors with their events (:mod:`~airflow_provider_signalwire.triggers.event_cursor`).
    """

    name = "signalwire_webhooks"
    fastapi_apps = _apps
    listeners = [event_cursor]  # noqa: RUF012 - Airflow reads the class attribute
