"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

_PACKAGE = "airflow_provider_signalwire"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-signalwire",
        "name": "SignalWire",
        "description": "Place and manage calls, send and manage SMS/MMS, and react to them, with SignalWire. "
        "Requires Apache Airflow 3.1+.",
        "integrations": [
            {
                "integration-name": "SignalWire",
                "external-doc-url": "https://developer.signalwire.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "SignalWire",
                "python-modules": [f"{_PACKAGE}.hooks.signalwire"],
            }
        ],
        "operators": [
            {
                "integration-name": "SignalWire",
                "python-modules": [
                    f"{_PACKAGE}.operators.calls",
                    f"{_PACKAGE}.operators.messages",
                    f"{_PACKAGE}.operators.api_call",
                    f"{_PACKAGE}.operators.bulk_send",
                    f"{_PACKAGE}.operators.phone_numbers",
                    f"{_PACKAGE}.operators.export",
                    f"{_PACKAGE}.operators.retention",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "SignalWire",
                "python-modules": [f"{_PACKAGE}.sensors.signalwire"],
            }
        ],
        "triggers": [
            {
                "integration-name": "SignalWire",
                "python-modules": [
                    f"{_PACKAGE}.triggers.status",
                    f"{_PACKAGE}.triggers.new_items",
                    f"{_PACKAGE}.triggers.events",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "signalwire",
                "hook-class-name": f"{_PACKAGE}.hooks.signalwire.SignalWireHook",
                "hook-name": "SignalWire",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Space", "login": "Project ID", "password": "API Token"},
                    "placeholders": {
                        "host": "example (for example.signalwire.com)",
                        "login": "Project ID (a UUID)",
                        "password": "API Token (PT...)",
                    },
                },
                "conn-fields": {
                    "signing_secret": {
                        "label": "Signing Key",
                        "description": "The project's Signing Key (PSK_...), used to check webhook signatures.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "default_from": {
                        "label": "Default From number",
                        "description": "E.164 number used when a call or message is given no From.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "Seconds to wait for a connection and for each read; default 30.",
                        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 600},
                    },
                    "webhook_base_url": {
                        "label": "Webhook public URL",
                        "description": "The Airflow API server's public URL as SignalWire reaches it (behind a proxy "
                        "or tunnel); webhook signatures are checked against it. Default: [api] base_url.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "base_url": {
                        "label": "Base URL override",
                        "description": "Send requests here instead of the Space, e.g. a local emulator "
                        "(http://127.0.0.1:8765) or a proxy. Leave empty for SignalWire itself.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
            }
        ],
        "notifications": [
            f"{_PACKAGE}.notifications.signalwire.SignalWireNotifier",
            f"{_PACKAGE}.notifications.hitl.SignalWireHITLNotifier",
        ],
        # MessageQueueTrigger(scheme="signalwire") (apache-airflow-providers-common-messaging, an optional extra).
        "queues": [f"{_PACKAGE}.queues.signalwire.SignalWireMessageQueueProvider"],
        "asset-uris": [{"schemes": ["signalwire"], "handler": f"{_PACKAGE}.webhooks.normalize_asset_uri"}],
    }
