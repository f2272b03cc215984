"""A SignalWire connection, checked: the Space (or a base-URL override), the credentials and the extras."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from airflow_provider_signalwire.api.secrets import MIN_SECRET_LENGTH, scrub, without_user_info
from airflow_provider_signalwire.exceptions import SignalWireInputError

DEFAULT_TIMEOUT = 30.0
SPACE_DOMAIN = "signalwire.com"
_SPACE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SPACE_FORMS = "'example', 'example.signalwire.com' or 'https://example.signalwire.com'"


def normalize_space(space: str) -> str:
    """
    Return the Space host (``xyz.signalwire.com``) for ``xyz``, ``xyz.signalwire.com`` or its https URL.

    Anything else is refused, so that the API token is never sent to another host.
    """

    def refuse(why: str) -> SignalWireInputError:
        return SignalWireInputError(f"The SignalWire Space (the Host field) {why}: give {_SPACE_FORMS}.")

    if not isinstance(space, str) or not space:
        raise refuse("is missing")
    if space != space.strip() or any(ch.isspace() or ord(ch) < 32 for ch in space):
        raise refuse("must not contain whitespace")
    host = space
    if "://" in space:
        try:
            parts = urlsplit(space)
        except ValueError:  # a malformed IPv6 host
            raise refuse("URL is malformed") from None
        if parts.scheme.lower() != "https":
            raise refuse("URL must use https")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise refuse("must not carry user info")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise refuse("must not carry a path, query or fragment")
        host = parts.netloc
    if ":" in host:
        raise refuse("must not carry a port")
    host = host.lower()
    name = host[: -len("." + SPACE_DOMAIN)] if host.endswith("." + SPACE_DOMAIN) else host
    if not _SPACE_NAME.fullmatch(name):
        raise refuse(f"{without_user_info(space)!r} is not a signalwire.com Space")
    return f"{name}.{SPACE_DOMAIN}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, ``127.0.0.1``, ``::1``...)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(base_url: str) -> str:
    """Check a base-URL override (an emulator or a proxy) and return it without a trailing slash."""
    if not isinstance(base_url, str) or base_url != base_url.strip() or any(c.isspace() for c in base_url):
        raise SignalWireInputError("The SignalWire base_url override must be an http(s) URL without whitespace.")
    try:
        parts = urlsplit(base_url)
    except ValueError:  # a malformed IPv6 host
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Quoted only when it reads as a URL (a token pasted here is not), and never with its user info.
        given = repr(without_user_info(base_url)) if "://" in base_url else "text without a scheme"
        raise SignalWireInputError(f"The SignalWire base_url override must be an http:// or https:// URL, got {given}.")
    if "@" in base_url or parts.query or parts.fragment:
        raise SignalWireInputError("The SignalWire base_url override must not carry user info, a query or a fragment.")
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise SignalWireInputError("The SignalWire base_url override has a port that is not a number.") from None
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # The API token travels in every request: in clear text only to this machine (a local emulator).
        raise SignalWireInputError(
            "The SignalWire base_url override may use http:// only for a loopback host (127.0.0.1, localhost, "
            f"::1), such as the local emulator; use https:// for {parts.hostname!r}."
        )
    return base_url.rstrip("/")


def _read_timeout(value: Any) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout <= 600:
        # A long text may be a token pasted into the wrong field: it is described, not quoted.
        given = repr(value) if len(str(value)) <= 12 else f"a {type(value).__name__} of {len(str(value))} characters"
        raise SignalWireInputError(f"The 'timeout' extra must be a number of seconds from 0 to 600, got {given}.")
    return timeout


class ConnectionSettings(NamedTuple):
    """
    What a SignalWire connection says, checked.

    :param conn_id: the Airflow connection id, for messages.
    :param base_url: where requests go: the Space's https URL, or the ``base_url`` override.
    :param project_id: the Project ID (Basic-auth user, and the AccountSid in paths).
    :param api_token: the API token (Basic-auth password).
    :param timeout: seconds to wait for a connection and for each read.
    :param default_from: the From number used when an action is given none.
    :param signing_secret: the Signing Key that SignalWire signs webhooks with.
    :param webhook_base_url: the Airflow API server's public URL, as SignalWire reaches it (webhook signatures).
    """

    conn_id: str
    base_url: str
    project_id: str
    api_token: str
    timeout: float = DEFAULT_TIMEOUT
    default_from: str | None = None
    signing_secret: str | None = None
    webhook_base_url: str | None = None

    def __repr__(self) -> str:
        # The token and the Signing Key stay out of reprs, logs and tracebacks.
        return (
            f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
            f"project_id={self.project_id!r}, timeout={self.timeout!r}, default_from={self.default_from!r})"
        )

    @property
    def defaults(self) -> dict[str, Any]:
        """What a resource spec needs from the connection to build a request: the Project ID, the From number."""
        return {"project_id": self.project_id, "default_from": self.default_from}

    @property
    def secrets(self) -> list[str]:
        """The values that must never be shown: the API token and the Signing Key."""
        return [value for value in (self.api_token, self.signing_secret) if value]

    @staticmethod
    def secrets_given(password: Any, extra: Mapping[str, Any]) -> list[str]:
        """The secrets of a connection as given, before any check: the API token and the Signing Key."""
        return [value for value in (password, extra.get("signing_secret")) if isinstance(value, str) and value]

    @classmethod
    def from_connection(
        cls,
        conn_id: str,
        *,
        host: str | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
    ) -> ConnectionSettings:
        """Check a connection's fields; an error never quotes its secrets, wherever they were typed."""
        if not login:
            raise SignalWireInputError(
                f"Connection {conn_id!r} has no Project ID: put it in the connection's Login field."
            )
        if not password:
            raise SignalWireInputError(
                f"Connection {conn_id!r} has no API Token: put it in the connection's Password field."
            )
        try:
            places = (host, extra.get("base_url"))
            if len(password) >= MIN_SECRET_LENGTH and any(password.lower() in str(p or "").lower() for p in places):
                raise SignalWireInputError(
                    f"SignalWire connection {conn_id!r} has its API Token in the Space or the base_url: the token "
                    "belongs in the Password field only."
                )
            override = extra.get("base_url") or None
            base_url = normalize_base_url(override) if override else f"https://{normalize_space(host or '')}"
            timeout = _read_timeout(extra.get("timeout"))
        except SignalWireInputError as error:
            message = scrub(str(error), cls.secrets_given(password, extra))
            if repr(conn_id) not in message:
                message = f"SignalWire connection {conn_id!r}: {message[:1].lower()}{message[1:]}"
            raise SignalWireInputError(message) from None
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            project_id=login,
            api_token=password,
            timeout=timeout,
            default_from=extra.get("default_from") or None,
            signing_secret=extra.get("signing_secret") or None,
            webhook_base_url=str(extra.get("webhook_base_url") or "") or None,
        )
