"""
:class:`SignalWireAsyncHook`: the async twin of ``SignalWireHook``, on ``httpx``, for triggers.

It reads the connection through Airflow's async connection API and shares one pooled ``httpx.AsyncClient`` per
connection per event loop with every other trigger in it (:mod:`.shared_clients`: closed when the loop ends, or
when the connection's token changes). Its operations are those of the sync hook (from
:class:`~airflow_provider_signalwire.hooks.base.SignalWireHookBase`), awaited. A trigger must only read: a create
sent from a trigger is sent again when the triggerer restarts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_provider_signalwire.api.connection import ConnectionSettings
from airflow_provider_signalwire.api.errors import read_answer, transport_error
from airflow_provider_signalwire.api.paging import Listing
from airflow_provider_signalwire.api.retries import done_by_an_earlier_attempt
from airflow_provider_signalwire.api.server_time import ServerClock, server_clock
from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.hooks.base import SignalWireHookBase, aread_settings
from airflow_provider_signalwire.hooks.shared_clients import POOL_SIZE, close_shared_clients, loop_clients

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.paging import ListPlan
    from airflow_provider_signalwire.api.request import ApiRequest
    from airflow_provider_signalwire.api.resource import Defaults

__all__ = ["POOL_SIZE", "SignalWireAsyncHook", "close_shared_clients"]


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

    @cached_property
    def log(self) -> Any:
        import logging

        return logging.getLogger(f"{__name__}.{type(self).__name__}")

    async def get_settings(self) -> ConnectionSettings:
        """The connection, read once through Airflow's async API and checked; its secrets are masked first."""
        if self._settings is None:
            settings = await aread_settings(self.signalwire_conn_id)
            await loop_clients().renew(settings)
            self._settings = settings
        return self._settings

    async def get_server_clock(self) -> ServerClock:
        """SignalWire's time, from the ``Date`` header of the Space's answers (to this hook and every other)."""
        return server_clock((await self.get_settings()).base_url)

    async def _send_once(self, request: ApiRequest) -> Any:
        import httpx

        from airflow_provider_signalwire.compat import httpx_transport_for

        clients = loop_clients()
        # A hook that read the connection before another hook of this loop read newer settings (a rotated token)
        # moves to them, with the client made for them.
        settings, client = clients.current(self._settings or await self.get_settings())
        self._settings = settings
        clients.borrow(client)
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
        finally:
            await clients.give_back(client)
        headers = response.headers
        server_clock(settings.base_url).record(headers.get("Date"))
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
