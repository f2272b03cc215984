"""
What both SignalWire hooks share: the connection, generic operations over a resource spec, and the named methods.

A transport (``requests`` in :class:`~.signalwire.SignalWireHook`, ``httpx`` in
:class:`~.asynchronous.SignalWireAsyncHook`) implements :meth:`_run` (build a request with the connection's
defaults and send it) and :meth:`_walk` (build a list plan and page through it). Every public method here is
written once for both: on the async hook it returns an awaitable (``await hook.get_message(sid)``) or, for lists,
an async iterator (``async for message in hook.list_messages()``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire import DEFAULT_CONN_ID, __version__
from airflow_provider_signalwire.api.resources.calls import CALLS
from airflow_provider_signalwire.api.resources.messages import MESSAGE_MEDIA, MESSAGES
from airflow_provider_signalwire.api.resources.phone_numbers import PHONE_NUMBERS

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_provider_signalwire.api.connection import ConnectionSettings
    from airflow_provider_signalwire.api.paging import ListPlan
    from airflow_provider_signalwire.api.request import ApiRequest
    from airflow_provider_signalwire.api.resource import Defaults, Resource
    from airflow_provider_signalwire.api.retries import RetryPolicy
    from airflow_provider_signalwire.exceptions import SignalWireConnectionNotFoundError

USER_AGENT = f"airflow-provider-signalwire/{__version__}"


def missing_connection(conn_id: str) -> SignalWireConnectionNotFoundError:
    """The error for a SignalWire connection that is not defined: what to define, and no retries."""
    from airflow_provider_signalwire.exceptions import SignalWireConnectionNotFoundError

    return SignalWireConnectionNotFoundError.for_connection(
        conn_id,
        role="SignalWire connection",
        conn_type=SignalWireHookBase.conn_type,
        example="signalwire://PROJECT_ID:API_TOKEN@example.signalwire.com",
    )


def read_settings(conn_id: str) -> ConnectionSettings:
    """
    Read and check a SignalWire connection. Its secrets go to Airflow's log masker before anything is checked,
    so that no failure can show them.
    """
    from airflow.sdk import BaseHook

    from airflow_provider_signalwire.api.connection import ConnectionSettings
    from airflow_provider_signalwire.compat import AirflowNotFoundException, mask_secret

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise missing_connection(conn_id) from None
    extra = conn.extra_dejson
    for secret in ConnectionSettings.secrets_given(conn.password, extra):
        mask_secret(secret)
    return ConnectionSettings.from_connection(
        conn_id, host=conn.host, login=conn.login, password=conn.password, extra=extra
    )


async def aread_settings(conn_id: str) -> ConnectionSettings:
    """:func:`read_settings` through Airflow's async connection API, for triggers."""
    from airflow.sdk import BaseHook

    from airflow_provider_signalwire.api.connection import ConnectionSettings
    from airflow_provider_signalwire.compat import AirflowNotFoundException, amask_secret

    try:
        conn = await BaseHook.aget_connection(conn_id)
    except AirflowNotFoundException:
        raise missing_connection(conn_id) from None
    extra = await conn.aextra_dejson() if hasattr(conn, "aextra_dejson") else conn.extra_dejson
    for secret in ConnectionSettings.secrets_given(conn.password, extra):
        await amask_secret(secret)
    return ConnectionSettings.from_connection(
        conn_id, host=conn.host, login=conn.login, password=conn.password, extra=extra
    )


def masked(resource: Resource, params: dict[str, Any]) -> dict[str, Any]:
    """Register a create's secret arguments (SIP passwords) with Airflow's log masker before they are used."""
    from airflow_provider_signalwire.compat import mask_secret

    for name in resource.create.secret_params if resource.create else ():
        if isinstance(params.get(name), str) and params[name]:
            mask_secret(params[name])
    return params


class SignalWireHookBase:
    """
    The connection and every operation, for both transports.

    :param signalwire_conn_id: the Airflow connection to use.
    :param retry_policy: when and how long to retry; see :class:`~airflow_provider_signalwire.api.RetryPolicy`.
    """

    conn_name_attr = "signalwire_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "signalwire"
    hook_name = "SignalWire"

    def __init__(self, signalwire_conn_id: str = DEFAULT_CONN_ID, *, retry_policy: RetryPolicy | None = None) -> None:
        from airflow_provider_signalwire.api.retries import RetryPolicy

        super().__init__()
        self.signalwire_conn_id = signalwire_conn_id
        self.retry_policy = retry_policy or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signalwire_conn_id={self.signalwire_conn_id!r})"

    # What a transport implements ------------------------------------------------------------------

    def _run(self, build: Callable[[Defaults], ApiRequest]) -> Any:
        """Build a request with the connection's defaults, send it with retries, return the parsed answer."""
        raise NotImplementedError

    def _walk(self, build: Callable[[Defaults], ListPlan]) -> Any:
        """Build a list plan with the connection's defaults and iterate over its items, page by page."""
        raise NotImplementedError

    # Generic operations over a resource spec -------------------------------------------------------

    def get(self, resource: Resource, sid: str) -> Any:
        """One item of ``resource`` by its SID (or id)."""
        return self._run(lambda defaults: resource.get_request(defaults, sid))

    def list(
        self,
        resource: Resource,
        *,
        page_size: int | None = None,
        limit: int | None = None,
        parent_sid: str | None = None,
        stop_below: datetime | None = None,
        **filters: Any,
    ) -> Any:
        """
        Iterate over the items of ``resource`` matching ``filters``, newest first, page by page.

        ``stop_below`` ends the listing at the page holding an item older than it (see :meth:`Resource.list_plan`).
        """
        return self._walk(
            lambda defaults: resource.list_plan(
                defaults,
                page_size=page_size,
                limit=limit,
                filters=filters,
                parent_sid=parent_sid,
                stop_below=stop_below,
            )
        )

    def create(self, resource: Resource, **params: Any) -> Any:
        """Create an item of ``resource``; never re-sent when SignalWire may have acted on it."""
        return self._run(lambda defaults: resource.create_request(defaults, masked(resource, params)))

    def update(self, resource: Resource, sid: str, **params: Any) -> Any:
        """Change an item of ``resource``."""
        return self._run(lambda defaults: resource.update_request(defaults, sid, params))

    def delete(self, resource: Resource, sid: str) -> Any:
        """Delete an item of ``resource``; a retry that finds it gone after a lost answer counts as done."""
        return self._run(lambda defaults: resource.delete_request(defaults, sid))

    def call_api(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """
        Send any authorised request to a path under the Space, e.g. ``GET /api/relay/rest/phone_numbers``.

        Returns the parsed JSON body (text when it is not JSON, ``None`` when empty). Absolute URLs and
        paths that leave the Space are refused.
        """
        from airflow_provider_signalwire.api.request import raw_request

        return self._run(
            lambda defaults: raw_request(method, path, params=params, data=data, json=json, headers=headers)
        )

    # Named operations: one line each over the generic ones -----------------------------------------

    def create_call(self, **params: Any) -> Any:
        """Place a call. Keyword arguments are the API's fields in snake_case (``from_`` for From)."""
        return self.create(CALLS, **params)

    def get_call(self, sid: str) -> Any:
        """Look up a call by SID."""
        return self.get(CALLS, sid)

    def update_call(self, sid: str, **params: Any) -> Any:
        """Redirect (``url``, ``method``), cancel or hang up (``status``) a call, or change its callbacks."""
        return self.update(CALLS, sid, **params)

    def delete_call(self, sid: str) -> Any:
        """Delete a finished call's record."""
        return self.delete(CALLS, sid)

    def list_calls(self, *, page_size: int | None = None, limit: int | None = None, **filters: Any) -> Any:
        """
        Iterate over calls, newest first. Filters: ``to``, ``from_``, ``status``, ``parent_call_sid``, and
        ``start_time``/``end_time`` with ``_before``/``_after``, as dates (a UTC day) or aware datetimes; bounds are
        exact: ``_after`` on or after, ``_before`` strictly before.
        """
        return self.list(CALLS, page_size=page_size, limit=limit, **filters)

    def create_message(self, **params: Any) -> Any:
        """Send an SMS or MMS. Keyword arguments are the API's fields in snake_case."""
        return self.create(MESSAGES, **params)

    def get_message(self, sid: str) -> Any:
        """Look up a message by SID."""
        return self.get(MESSAGES, sid)

    def redact_message(self, sid: str) -> Any:
        """Clear a message's body."""
        return self.update(MESSAGES, sid, body="")

    def delete_message(self, sid: str) -> Any:
        """Delete a message."""
        return self.delete(MESSAGES, sid)

    def list_messages(self, *, page_size: int | None = None, limit: int | None = None, **filters: Any) -> Any:
        """
        Iterate over messages, newest first. Filters: ``to``, ``from_``, ``status``, and ``date_sent`` with
        ``_before``/``_after``, as dates (a UTC day) or aware datetimes; bounds are exact: ``_after`` on or after,
        ``_before`` strictly before.
        """
        return self.list(MESSAGES, page_size=page_size, limit=limit, **filters)

    def list_message_media(self, sid: str) -> Any:
        """Iterate over a message's media (``content_type``, ``uri``...); see ``media_content_url``."""
        return self.list(MESSAGE_MEDIA, parent_sid=sid)

    def list_phone_numbers(self, *, limit: int | None = None, **filters: Any) -> Any:
        """Iterate over the Space's phone numbers; ``number`` and ``name`` filter by substring."""
        return self.list(PHONE_NUMBERS, limit=limit, **filters)

    def update_phone_number(self, number_id: str, **params: Any) -> Any:
        """Point a phone number's message or call webhooks at URLs (the fields of ``PHONE_NUMBERS.update``)."""
        return self.update(PHONE_NUMBERS, number_id, **params)
