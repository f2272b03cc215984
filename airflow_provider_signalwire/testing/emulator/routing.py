"""
Where a request goes: which API it is for, and the route (method + path template) that answers it.

Every resource contributes its :class:`Route` list; the :class:`Router` is the registry of them. A
Compatibility template is relative to ``/Accounts/{AccountSid}/`` and answers with or without ``/api/laml``
(the twilio-based SDK leaves it out) and with or without ``.json``; a Relay REST template is relative to
``/api/relay/rest/``. A path no route knows is a 404; a known path with another method is a 405.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_signalwire.testing.emulator.replies import (
    Reply,
    method_not_allowed,
    not_found,
    relay_error,
)

COMPAT_PREFIX = "/api/laml/2010-04-01"
RELAY_PREFIX = "/api/relay/rest"
CONTROL_PREFIX = "/__emulator__/"

Api = Literal["compat", "relay"]

_COMPAT_ACCOUNT = re.compile(r"^(?:/api/laml)?/2010-04-01/Accounts/(?P<account>[^/.]+)(?P<rest>[/.].*)?$")
# A Compatibility sid stops at a dot: ``{Sid}.json``.
_PARAMETER_VALUE = {"compat": "[^/.]+", "relay": "[^/]+"}


@dataclass(frozen=True)
class Destination:
    """The API a path belongs to (``None``: neither), the AccountSid it names, and its path inside the API."""

    api: Api | None
    account: str | None = None
    relative: str = ""
    suffix: str = ""

    @classmethod
    def of(cls, path: str) -> Destination:
        compat = _COMPAT_ACCOUNT.match(path)
        if compat is not None:
            relative = (compat["rest"] or "").removesuffix("/")
            suffix = ".json" if relative.endswith(".json") else ""
            return cls("compat", compat["account"], relative.removesuffix(".json").lstrip("/"), suffix)
        if path.startswith(RELAY_PREFIX + "/"):
            return cls("relay", relative=path.removeprefix(RELAY_PREFIX + "/").removesuffix("/"))
        if path.startswith("/api/relay/"):
            return cls("relay")  # Relay, but nothing served here: a 404 once authenticated
        return cls(None)


@dataclass
class ApiRequest:
    """One request, parsed, with the values its route template named (``params``) and the emulator's time."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    json_body: Any
    raw_body: bytes
    now: float
    suffix: str = ""
    params: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest], Reply]


@dataclass(frozen=True)
class Route:
    """
    ``method`` on ``template`` (e.g. ``"Messages/{MessageSid}/Media/{Sid}"``; ``""`` is the account itself) of
    ``api``, answered by ``handler``.
    """

    api: Api
    method: str
    template: str
    handler: Handler

    @property
    def path(self) -> str:
        """The full path, as the official specs write it: ``/api/laml/2010-04-01/Accounts/{AccountSid}/Calls``."""
        if self.api == "relay":
            return f"{RELAY_PREFIX}/{self.template}"
        if not self.template:  # the account itself
            return f"{COMPAT_PREFIX}/Accounts/{{Sid}}"
        return f"{COMPAT_PREFIX}/Accounts/{{AccountSid}}/{self.template}"

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        value = _PARAMETER_VALUE[self.api]
        segments = [
            f"(?P<{segment[1:-1]}>{value})" if segment.startswith("{") else re.escape(segment)
            for segment in self.template.split("/")
        ]
        return re.compile("/".join(segments))

    def match(self, relative: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(relative)
        return None if found is None else found.groupdict()


class Router:
    """The registry of every resource's routes."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = list(routes)

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)

    def resolve(self, api: Api, method: str, relative: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` on ``relative`` and its parameters, or the API's 404 or 405."""
        known = False
        for route in self._routes:
            if route.api != api:
                continue
            params = route.match(relative)
            if params is None:
                continue
            if route.method == method:
                return route, params
            known = True
        if api == "relay":
            raise relay_error(405 if known else 404)
        raise method_not_allowed(method, path) if known else not_found(path)
