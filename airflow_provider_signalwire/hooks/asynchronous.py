"""
:class:`SignalWireAsyncHook`: the async twin of ``SignalWireHook``, on ``httpx``, for triggers.

It reads the connection through Airflow's async connection API and shares one pooled ``httpx.AsyncClient`` per
connection per event loop with every other trigger in it. Its operations are those of the sync hook (from
:class:`~airflow_provider_signalwire.hooks.base.SignalWireHookBase`), awaited. A trigger must only read: a create
sent from a trigger is sent again when the triggerer restarts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import weakref
from collections.abc import AsyncIterator, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_provider_signalwire.api.connection import ConnectionSettings
from airflow_provider_signalwire.api.errors import read_answer, transport_error
from airflow_provider_signalwire.api.paging import Listing
from airflow_provider_signalwire.api.retries import done_by_an_earlier_attempt
from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.hooks.base import USER_AGENT, SignalWireHookBase, aread_settings

if TYPE_CHECKING:
    import httpx

    from airflow_provider_signalwire.api.paging import ListPlan
    from airflow_provider_signalwire.api.request import ApiRequest
    from airflow_provider_signalwire.api.resource import Defaults

POOL_SIZE = 20
# One pooled client per connection (and its credentials) per event loop, shared by every trigger in it.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def _client_key(settings: ConnectionSettings) -> tuple[str, ...]:
    # The credentials take part as a digest: a rotated token gets a new client, and no key holds the token.
    fingerprint = hashlib.sha256(f"{settings.project_id}:{settings.api_token}".encode()).hexdigest()
    return (settings.conn_id, settings.base_url, fingerprint, str(settings.timeout))


def _shared_client(settings: ConnectionSettings, key: tuple[str, ...]) -> httpx.AsyncClient:
    import httpx

    clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(key)
    if client is None or client.is_closed:
        credentials = base64.b64encode(f"{settings.project_id}:{settings.api_token}".encode()).decode()
        client = httpx.AsyncClient(
            # A fixed header rather than httpx's auth flow: the same Basic auth, less work per request (httpx
            # masks the header in reprs; redirects are never followed).
            headers={"Accept": "application/json", "User-Agent": USER_AGENT, "Authorization": f"Basic {credentials}"},
            timeout=settings.timeout,
            limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
            follow_redirects=False,
        )
        clients[key] = client
    return client


async def close_shared_clients() -> None:
    """Close the pooled clients of the running event loop (for tests and clean shutdowns)."""
    clients = _CLIENTS.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.aclose()


def _was_sent(error: Exception) -> bool:
    import httpx

    return not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class SignalWireAsyncHook(SignalWireHookBase):
    """
    The async twin of :class:`~airflow_provider_signalwire.hooks.signalwire.SignalWireHook`, on ``httpx``.

    :param signalwire_conn_id: the Airflow connection to use.
    :param retry_policy: when and how long to retry; see :class:`~airflow_provider_signalwire.api.RetryPolicy`.
    """

    _settings: ConnectionSettings | None = None
    _client_key: tuple[str, ...] = ()

    @cached_property
    def log(self) -> Any:
        import logging

        return logging.getLogger(f"{__name__}.{type(self).__name__}")

    async def get_settings(self) -> ConnectionSettings:
        """The connection, read once through Airflow's async API and checked; its secrets are masked first."""
        if self._settings is None:
            settings = await aread_settings(self.signalwire_conn_id)
            self._settings = settings
            self._client_key = _client_key(settings)
        return self._settings

    async def _send_once(self, request: ApiRequest) -> Any:
        import httpx

        from airflow_provider_signalwire.compat import httpx_transport_for

        settings = self._settings or await self.get_settings()
        client = _shared_client(settings, self._client_key)
        try:
            outgoing = client.build_request(
                request.method,
                settings.base_url + request.path,
                params=request.params,  # type: ignore[arg-type]
                content=urlencode(request.data).encode() if request.is_form else request.data,
                json=request.json,
                headers=_headers(request),
            )
            # The client's transport for this URL (its pool, or an environment proxy's), without the client's
            # per-request auth, redirect and cookie handling, none of which a poll needs: this is most of the
            # CPU a poll costs besides the HTTP exchange itself. Where httpx lacks the hook, the plain send.
            transport = httpx_transport_for(client, outgoing)
            if transport is None:
                response = await client.send(outgoing)
            else:
                response = await transport.handle_async_request(outgoing)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except httpx.HTTPError as error:
            raise transport_error(request, error, sent=_was_sent(error)) from None
        headers = response.headers
        return read_answer(
            request, response.status_code, headers.get("Content-Type", ""), response.content, headers.get("Retry-After")
        )

    async def _call(self, request: ApiRequest) -> Any:
        if self.retry_policy.max_attempts == 1:  # a poller that retries at its next poll
            return await self._send_once(request)
        from tenacity import AsyncRetrying

        attempt = 0

        async def send(request: ApiRequest) -> Any:
            nonlocal attempt
            attempt += 1
            try:
                return await self._send_once(request)
            except SignalWireApiError as error:
                if done_by_an_earlier_attempt(request, error, attempt):
                    return None
                raise

        return await AsyncRetrying(**self.retry_policy.tenacity_arguments(request, self.log))(send, request)

    async def _run(self, build: Callable[[Defaults], ApiRequest]) -> Any:
        return await self._call(build((await self.get_settings()).defaults))

    async def _walk(self, build: Callable[[Defaults], ListPlan]) -> AsyncIterator[dict[str, Any]]:
        listing = Listing(build((await self.get_settings()).defaults))
        while listing.request is not None:
            for item in listing.take(await self._call(listing.request)):
                yield item


def _headers(request: ApiRequest) -> dict[str, str] | None:
    headers = dict(request.headers or {})
    if request.is_form:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers or None
