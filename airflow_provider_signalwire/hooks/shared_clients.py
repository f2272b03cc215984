"""
The pooled ``httpx.AsyncClient`` of each SignalWire connection in each event loop, shared by every hook in it.

A connection's client follows the newest read of the connection: when a hook reads other settings (a rotated
token), the old client is closed as soon as no request is using it, and hooks holding the old settings move to
the new ones. When the loop ends (``asyncio.run`` cancels the tasks left running), a small keeper task closes them
all, so no socket outlives its loop.
"""

from __future__ import annotations

import asyncio
import base64
import weakref
from typing import TYPE_CHECKING, NamedTuple

from airflow_provider_signalwire.hooks.base import USER_AGENT

if TYPE_CHECKING:
    import httpx

    from airflow_provider_signalwire.api.connection import ConnectionSettings

POOL_SIZE = 20


class SharedClient(NamedTuple):
    """A connection's client, and the settings it was made with."""

    settings: ConnectionSettings
    client: httpx.AsyncClient


class LoopClients:
    """The shared clients of the running event loop, the requests each is serving, and the keeper that closes them."""

    def __init__(self) -> None:
        self.by_connection: dict[str, SharedClient] = {}
        self.in_use: dict[httpx.AsyncClient, int] = {}
        self.retired: set[httpx.AsyncClient] = set()
        self.keeper = asyncio.get_running_loop().create_task(self._close_at_loop_end(), name="signalwire-clients")

    def current(self, settings: ConnectionSettings) -> SharedClient:
        """The client of ``settings``' connection, made for ``settings`` when the loop has none yet."""
        shared = self.by_connection.get(settings.conn_id)
        if shared is None:
            shared = self.by_connection[settings.conn_id] = SharedClient(settings, _new_client(settings))
        return shared

    async def renew(self, settings: ConnectionSettings) -> None:
        """A hook has just read ``settings``: a client made with other settings of that connection is retired."""
        shared = self.by_connection.get(settings.conn_id)
        if shared is not None and shared.settings != settings:
            # The new client is in place before anything is awaited: no hook can meet the old one after this.
            self.by_connection[settings.conn_id] = SharedClient(settings, _new_client(settings))
            self.retired.add(shared.client)
            await self._close_if_idle(shared.client)

    def borrow(self, client: httpx.AsyncClient) -> None:
        self.in_use[client] = self.in_use.get(client, 0) + 1

    async def give_back(self, client: httpx.AsyncClient) -> None:
        self.in_use[client] -= 1
        await self._close_if_idle(client)

    async def _close_if_idle(self, client: httpx.AsyncClient) -> None:
        if client in self.retired and not self.in_use.get(client):
            self.retired.discard(client)
            self.in_use.pop(client, None)
            await client.aclose()

    async def close(self) -> None:
        clients = [shared.client for shared in self.by_connection.values()] + list(self.retired)
        self.by_connection.clear()
        self.retired.clear()
        for client in clients:
            await client.aclose()

    async def _close_at_loop_end(self) -> None:
        try:
            await asyncio.Event().wait()  # until cancelled: asyncio.run cancels what is left before closing the loop
        finally:
            loop = asyncio.get_running_loop()
            if _LOOPS.get(loop) is self:
                del _LOOPS[loop]
            await self.close()


# One entry per event loop; the keeper removes it when its loop ends.
_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopClients] = weakref.WeakKeyDictionary()


def loop_clients() -> LoopClients:
    """The shared clients of the running event loop."""
    loop = asyncio.get_running_loop()
    clients = _LOOPS.get(loop)
    if clients is None:
        clients = _LOOPS[loop] = LoopClients()
    return clients


async def close_shared_clients() -> None:
    """Close the shared clients of the running event loop now (for tests and clean shutdowns)."""
    clients = _LOOPS.get(asyncio.get_running_loop())
    if clients is not None:
        clients.keeper.cancel()
        await asyncio.wait([clients.keeper])  # its own cancellation is not the caller's


def _new_client(settings: ConnectionSettings) -> httpx.AsyncClient:
    import httpx

    credentials = base64.b64encode(f"{settings.project_id}:{settings.api_token}".encode()).decode()
    return httpx.AsyncClient(
        # A fixed header rather than httpx's auth flow: the same Basic auth, less work per request (httpx masks the
        # header in reprs; redirects are never followed).
        headers={"Accept": "application/json", "User-Agent": USER_AGENT, "Authorization": f"Basic {credentials}"},
        timeout=settings.timeout,
        limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
        follow_redirects=False,
    )
