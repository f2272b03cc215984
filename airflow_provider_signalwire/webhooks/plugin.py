"""
The Airflow plugin that mounts the SignalWire webhook receiver in Airflow's API server, at ``/signalwire``.

The provider declares it twice, as Airflow's own providers do: as an ``airflow.plugins`` entry point (which
Airflow always reads) and under ``plugins`` in its provider info (read only when ``[core]
lazy_discover_providers`` is off).
"""

from __future__ import annotations

from typing import Any

try:
    from airflow.sdk.plugins_manager import AirflowPlugin
except ImportError:  # older task SDKs
    from airflow.plugins_manager import AirflowPlugin  # type: ignore[assignment]

from airflow_provider_signalwire.webhooks import MOUNT_PREFIX

try:
    from airflow_provider_signalwire.webhooks.app import app
except ImportError:  # a worker with the task SDK alone has no FastAPI; only the API server serves webhooks
    _apps: list[dict[str, Any]] = []
else:
    _apps = [{"app": app, "url_prefix": MOUNT_PREFIX, "name": "SignalWire webhooks"}]


class SignalWireWebhookPlugin(AirflowPlugin):
    """Serves SignalWire webhooks at ``<API server>/signalwire/webhooks/<conn_id>/<kind>``."""

    name = "signalwire_webhooks"
    fastapi_apps = _apps
