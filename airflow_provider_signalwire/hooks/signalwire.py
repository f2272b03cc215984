"""
Hooks for SignalWire's REST API.

:class:`SignalWireHook` sends requests with ``requests`` (workers, the api-server); :class:`SignalWireAsyncHook`
with ``httpx`` (triggers). Both are thin: what to send and how to read the answer comes from
:mod:`airflow_provider_signalwire.api`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_signalwire import __version__
from airflow_provider_signalwire.api import (
    SECRET_PARAMS,
    ApiRequest,
    ConnectionSettings,
    ListPlan,
    RetryPolicy,
    SignalWireApi,
    api_error,
    connection_error,
    done_by_an_earlier_attempt,
    iterate_pages,
    next_page_request,
)
from airflow_provider_signalwire.exceptions import SignalWireApiError

if TYPE_CHECKING:
    import httpx
    import requests

USER_AGENT = f"airflow-provider-signalwire/{__version__}"


def _decode(status: int, content_type: str, content: bytes) -> Any:
    """The body of an answer: parsed JSON, the text when it is not JSON, ``None`` when empty."""
    if status == 204 or not content:
        return None
    if "json" in content_type or content[:1] in (b"{", b"["):
        import json

        try:
            return json.loads(content)  # bytes: the JSON encoding is detected, no charset guessing
        except ValueError:
            pass
    return content.decode("utf-8", errors="replace")


def _mask(settings: ConnectionSettings, mask: Any) -> None:
    mask(settings.api_token)
    if settings.signing_secret:
        mask(settings.signing_secret)


class SignalWireHook(BaseHook):
    """
    Interact with a SignalWire Space: calls, messages, and any API path under the Space.

    The connection: host = the Space (``example``, ``example.signalwire.com`` or its https URL),
    login = Project ID, password = API Token; extras ``signing_secret``, ``default_from``, ``timeout``
    and ``base_url`` (an emulator or proxy that receives the requests instead of the Space).

    :param signalwire_conn_id: the Airflow connection to use.
    :param retry_policy: when and how long to retry; see :class:`~airflow_provider_signalwire.api.RetryPolicy`.
    """

    conn_name_attr = "signalwire_conn_id"
    default_conn_name = "signalwire_default"
    conn_type = "signalwire"
    hook_name = "SignalWire"

    def __init__(
        self,
        signalwire_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.signalwire_conn_id = signalwire_conn_id
        self.retry_policy = retry_policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signalwire_conn_id={self.signalwire_conn_id!r})"

    # Airflow 3.1 reads the connection form from these; 3.2+ from the provider info, which they are built from.
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from airflow_provider_signalwire.hooks.connection_form import ui_field_behaviour

        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from airflow_provider_signalwire.hooks.connection_form import connection_form_widgets

        return connection_form_widgets()

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection, read once and checked."""
        from airflow_provider_signalwire.compat import mask_secret

        conn = self.get_connection(self.signalwire_conn_id)
        settings = ConnectionSettings.from_connection(
            self.signalwire_conn_id,
            host=conn.host,
            login=conn.login,
            password=conn.password,
            extra=conn.extra_dejson,
        )
        _mask(settings, mask_secret)
        return settings

    @cached_property
    def api(self) -> SignalWireApi:
        return SignalWireApi(self.settings.project_id, self.settings.default_from)

    @cached_property
    def session(self) -> requests.Session:
        """One ``requests.Session`` per hook: Basic auth, JSON answers, connection reuse."""
        import requests

        session = requests.Session()
        session.auth = (self.settings.project_id, self.settings.api_token)
        session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        return session

    def get_conn(self) -> requests.Session:
        return self.session

    # Transport -----------------------------------------------------------------------------------

    def _send_once(self, request: ApiRequest) -> Any:
        import requests

        try:
            response = self.session.request(
                request.method,
                self.settings.base_url + request.path,
                params=request.params,
                data=request.data,
                json=request.json,
                headers=request.headers,
                timeout=self.settings.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            sent = _requests_error_was_sent(error)
            raise connection_error(request, _describe(error, sent), request_sent=sent) from None
        body = _decode(response.status_code, response.headers.get("Content-Type", ""), response.content)
        if not 200 <= response.status_code < 300:
            raise api_error(request, response.status_code, body, response.headers.get("Retry-After"))
        return body

    def _call(self, request: ApiRequest) -> Any:
        if self.retry_policy.max_attempts == 1:
            return self._send_once(request)
        from tenacity import Retrying

        attempt = 0

        def send(request: ApiRequest) -> Any:
            nonlocal attempt
            attempt += 1
            try:
                return self._send_once(request)
            except SignalWireApiError as error:
                if done_by_an_earlier_attempt(request, error, attempt):
                    return None
                raise

        retrying = Retrying(**self.retry_policy.tenacity_arguments(request, self.log))
        return retrying(send, request)

    def _list(self, plan: ListPlan) -> Iterator[dict[str, Any]]:
        return iterate_pages(plan, self._call)

    # Actions ------------------------------------------------------------------------------------

    def create_call(self, **params: Any) -> dict[str, Any]:
        """Place a call. Keyword arguments are the API's fields in snake_case (``from_`` for From)."""
        return self._call(self.api.create_call(_masked(params)))

    def get_call(self, sid: str) -> dict[str, Any]:
        """Look up a call by SID."""
        return self._call(self.api.get_call(sid))

    def update_call(self, sid: str, **params: Any) -> dict[str, Any]:
        """Redirect (``url``, ``method``), cancel or hang up (``status``) a call, or change its callbacks."""
        return self._call(self.api.update_call(sid, _masked(params)))

    def delete_call(self, sid: str) -> None:
        """Delete a finished call's record."""
        self._call(self.api.delete_call(sid))

    def list_calls(
        self, *, page_size: int | None = None, limit: int | None = None, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """
        Iterate over calls, newest first, page by page.

        Filters: ``to``, ``from_``, ``status``, ``parent_call_sid``, and ``start_time``/``end_time`` with
        ``_before``/``_after``, as dates (SignalWire's whole-day filters) or aware datetimes (exact:
        ``_after`` inclusive, ``_before`` exclusive).
        """
        return self._list(self.api.list_calls(page_size=page_size, limit=limit, **filters))

    def create_message(self, **params: Any) -> dict[str, Any]:
        """Send an SMS or MMS. Keyword arguments are the API's fields in snake_case."""
        return self._call(self.api.create_message(params))

    def get_message(self, sid: str) -> dict[str, Any]:
        """Look up a message by SID."""
        return self._call(self.api.get_message(sid))

    def redact_message(self, sid: str) -> dict[str, Any]:
        """Clear a message's body."""
        return self._call(self.api.redact_message(sid))

    def delete_message(self, sid: str) -> None:
        """Delete a message."""
        self._call(self.api.delete_message(sid))

    def list_messages(
        self, *, page_size: int | None = None, limit: int | None = None, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """
        Iterate over messages, newest first, page by page.

        Filters: ``to``, ``from_``, ``status``, and ``date_sent`` with ``_before``/``_after``, as dates
        (whole UTC days) or aware datetimes (exact: ``_after`` inclusive, ``_before`` exclusive).
        """
        return self._list(self.api.list_messages(page_size=page_size, limit=limit, **filters))

    def call_api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """
        Send any authorised request to a path under the Space, e.g. ``GET /api/relay/rest/phone_numbers``.

        Returns the parsed JSON body (text when it is not JSON, ``None`` when empty). Absolute URLs and
        paths that leave the Space are refused.
        """
        return self._call(self.api.raw(method, path, params=params, data=data, json=json, headers=headers))

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap read (a single message of the Project) and report how it went."""
        try:
            request = self.api.probe()
        except Exception as error:  # the connection itself is unusable: say why, nothing was sent
            return False, f"Connection {self.signalwire_conn_id!r}: {error}"
        url = self.settings.base_url + request.path
        try:
            self._send_once(request)
        except SignalWireApiError as error:
            detail = f"HTTP {error.status}" + (f", error {error.code}" if error.code is not None else "")
            return False, f"GET {url} failed: {detail}: {error.message or 'no message'}"
        except Exception as error:
            return False, f"GET {url} failed: {error}"
        return True, f"Connected to SignalWire at {self.settings.base_url} as project {self.settings.project_id}."


def _masked(params: dict[str, Any]) -> dict[str, Any]:
    """Register secret parameters (SIP passwords) with Airflow's log masker before they are used."""
    from airflow_provider_signalwire.compat import mask_secret

    for name in SECRET_PARAMS:
        if isinstance(params.get(name), str) and params[name]:
            mask_secret(params[name])
    return params


def _describe(error: Exception, sent: bool) -> str:
    kind = type(error).__name__
    if "Timeout" in kind:
        return f"{kind}: no answer in time" + ("" if sent else " to connect")
    return f"{kind}: " + ("the connection was closed without an answer" if sent else "the connection was refused")


def _requests_error_was_sent(error: Exception) -> bool:
    """Whether a ``requests`` failure happened after the request may have reached the server."""
    import requests
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = error.args[0] if error.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return not isinstance(reason, NewConnectionError)
    return not isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema))


# --------------------------------------------------------------------------------------------------
# Async
# --------------------------------------------------------------------------------------------------

# One pooled client per connection (and its credentials) per event loop, shared by every trigger in it.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
POOL_SIZE = 20


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
            headers={
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                "Authorization": f"Basic {credentials}",
            },
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


def _httpx_error_was_sent(error: Exception) -> bool:
    import httpx

    return not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class SignalWireAsyncHook:
    """
    The async twin of :class:`SignalWireHook`, on ``httpx``, for triggers.

    It reads the connection only through Airflow's async connection API and shares one pooled
    ``httpx.AsyncClient`` per connection per event loop with every other trigger.

    :param signalwire_conn_id: the Airflow connection to use.
    :param retry_policy: when and how long to retry; see :class:`~airflow_provider_signalwire.api.RetryPolicy`.
    """

    default_conn_name = SignalWireHook.default_conn_name

    def __init__(
        self,
        signalwire_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.signalwire_conn_id = signalwire_conn_id
        self.retry_policy = retry_policy or RetryPolicy()
        self._settings: ConnectionSettings | None = None
        self._client_key: tuple[str, ...] = ()
        self._api_cache: SignalWireApi | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signalwire_conn_id={self.signalwire_conn_id!r})"

    @cached_property
    def log(self) -> Any:
        import logging

        return logging.getLogger(f"{__name__}.{type(self).__name__}")

    async def get_settings(self) -> ConnectionSettings:
        if self._settings is None:
            from airflow_provider_signalwire.compat import amask_secret

            conn = await BaseHook.aget_connection(self.signalwire_conn_id)
            extra = await conn.aextra_dejson() if hasattr(conn, "aextra_dejson") else conn.extra_dejson
            settings = ConnectionSettings.from_connection(
                self.signalwire_conn_id, host=conn.host, login=conn.login, password=conn.password, extra=extra
            )
            await amask_secret(settings.api_token)
            if settings.signing_secret:
                await amask_secret(settings.signing_secret)
            self._settings = settings
        return self._settings

    async def _api(self) -> SignalWireApi:
        if self._api_cache is None:
            settings = await self.get_settings()
            self._api_cache = SignalWireApi(settings.project_id, settings.default_from)
        return self._api_cache

    async def _send_once(self, request: ApiRequest) -> Any:
        import httpx

        from airflow_provider_signalwire.compat import httpx_transport_for

        settings = self._settings or await self.get_settings()
        if not self._client_key:
            self._client_key = _client_key(settings)
        client = _shared_client(settings, self._client_key)
        try:
            outgoing = client.build_request(
                request.method,
                settings.base_url + request.path,
                params=request.params,  # type: ignore[arg-type]
                content=_form_bytes(request.data) if isinstance(request.data, list) else request.data,
                json=request.json,
                headers=_form_headers(request),
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
            sent = _httpx_error_was_sent(error)
            raise connection_error(request, _describe(error, sent), request_sent=sent) from None
        body = _decode(response.status_code, response.headers.get("Content-Type", ""), response.content)
        if not 200 <= response.status_code < 300:
            raise api_error(request, response.status_code, body, response.headers.get("Retry-After"))
        return body

    async def _call(self, request: ApiRequest) -> Any:
        if self.retry_policy.max_attempts == 1:  # a poller that retries at its next poll
            return await self._send_once(request)
        from tenacity import AsyncRetrying

        retrying = AsyncRetrying(**self.retry_policy.tenacity_arguments(request, self.log))
        return await retrying(self._send_once, request)

    # Reads only: a create is never sent from a trigger, where a restart would send it again.

    async def get_call(self, sid: str) -> dict[str, Any]:
        """Look up a call by SID."""
        return await self._call((await self._api()).get_call(sid))

    async def get_message(self, sid: str) -> dict[str, Any]:
        """Look up a message by SID."""
        return await self._call((await self._api()).get_message(sid))

    async def _list(self, plan: ListPlan) -> AsyncIterator[dict[str, Any]]:
        # The async twin of api.iterate_pages: same plan, same next_page_uri rule.
        count = 0
        fetched: set[str] = set()
        request: ApiRequest | None = plan.first_request
        while request is not None:
            fetched.add(request.path)
            page = await self._call(request)
            for item in plan.items(page):
                yield item
                count += 1
                if plan.limit is not None and count >= plan.limit:
                    return
            request = next_page_request(page, plan.first_request.path, fetched)

    async def list_calls(
        self, *, page_size: int | None = None, limit: int | None = None, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        api = await self._api()
        async for item in self._list(api.list_calls(page_size=page_size, limit=limit, **filters)):
            yield item

    async def list_messages(
        self, *, page_size: int | None = None, limit: int | None = None, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        api = await self._api()
        async for item in self._list(api.list_messages(page_size=page_size, limit=limit, **filters)):
            yield item

    async def list_message_media(self, sid: str) -> AsyncIterator[dict[str, Any]]:
        """Iterate over a message's media items (``content_type``, ``uri``...); see ``api.media_content_url``."""
        api = await self._api()
        async for item in self._list(api.list_message_media(sid)):
            yield item

    async def call_api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send a request to a path under the Space; see :meth:`SignalWireHook.call_api`."""
        api = await self._api()
        return await self._call(api.raw(method, path, params=params, data=data, json=json, headers=headers))


def _form_bytes(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


def _form_headers(request: ApiRequest) -> dict[str, str] | None:
    headers = dict(request.headers or {})
    if isinstance(request.data, list):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return headers or None
