"""
The project itself: ``GET /Accounts/{Sid}`` (``get_account``), as the Compatibility spec's ``AccountResponse``
documents it. Its ``auth_token`` is always ``"redacted"`` and its ``signing_key`` ``null``, as the spec says.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_signalwire.testing.emulator.clock import rfc2822
from airflow_provider_signalwire.testing.emulator.context import Context
from airflow_provider_signalwire.testing.emulator.replies import Reply
from airflow_provider_signalwire.testing.emulator.routing import ApiRequest, Route

#: The sub-resources the spec lists with a URI; the others it documents as not supported (``null``).
_SUBRESOURCES = {
    "available_phone_numbers": "AvailablePhoneNumbers",
    "applications": "Applications",
    "calls": "Calls",
    "conferences": "Conferences",
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "queues": "Queues",
    "recordings": "Recordings",
    "messages": "Messages",
    "transcriptions": "Transcriptions",
}
_NOT_SUPPORTED = (
    "addresses",
    "authorized_connect_apps",
    "connect_apps",
    "keys",
    "notifications",
    "outgoing_caller_ids",
    "sandbox",
    "sip",
    "short_codes",
    "usage",
)


class Accounts:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._created = rfc2822(context.clock.now())

    def routes(self) -> list[Route]:
        # The empty template is the account path itself: ``/Accounts/{Sid}``.
        return [Route("compat", "GET", "", self._retrieve)]

    def _retrieve(self, request: ApiRequest) -> Reply:
        return Reply(200, self.view())

    def view(self) -> dict[str, Any]:
        path = self._context.account_path
        return {
            "sid": self._context.project_id,
            "friendly_name": "Emulated Project",
            "status": "active",
            "auth_token": "redacted",
            "date_created": self._created,
            "date_updated": self._created,
            "type": "Full",
            "owner_account_sid": self._context.project_id,
            "region_preference": "us-east",
            "uri": path,
            "subproject": False,
            "signing_key": None,
            "subresource_uris": {
                **dict.fromkeys(_NOT_SUPPORTED),
                **{name: f"{path}/{resource}" for name, resource in _SUBRESOURCES.items()},
            },
        }
