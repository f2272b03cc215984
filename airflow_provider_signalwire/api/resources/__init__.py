"""
The resources this provider knows, one declaration each. To add one, see "Adding an API resource" in the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.resource import Resource

#: The Compatibility (cXML/LaML) API's account root; ``{project_id}`` is the connection's Project ID.
COMPATIBILITY_ACCOUNT = "/api/laml/2010-04-01/Accounts/{project_id}"


def every_resource() -> tuple[Resource, ...]:
    """Every resource the provider declares."""
    from airflow_provider_signalwire.api.resources.calls import CALLS
    from airflow_provider_signalwire.api.resources.messages import MESSAGES
    from airflow_provider_signalwire.api.resources.phone_numbers import PHONE_NUMBERS

    return (MESSAGES, CALLS, PHONE_NUMBERS)


def resource(name: str) -> Resource:
    """The resource called ``name`` (``"messages"``, ``"calls"``, ``"phone_numbers"``...)."""
    known = {r.name: r for r in every_resource()}
    if name not in known:
        from airflow_provider_signalwire.exceptions import SignalWireInputError

        raise SignalWireInputError(f"SignalWire: unknown resource {name!r}; known: {', '.join(sorted(known))}.")
    return known[name]
