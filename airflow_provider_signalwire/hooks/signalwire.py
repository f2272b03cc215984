"""
:class:`SignalWireHook`: SignalWire's REST API over ``requests``, for workers and the API server.

What to send and how to read the answer comes from :mod:`airflow_provider_signalwire.api`; the operations are
those of :class:`~airflow_provider_signalwire.hooks.base.SignalWireHookBase`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.hooks.base import USER_AGENT, SignalWireHookBase

if TYPE_CHECKING:
    import requests

    from airflow_provider_signalwire.api.connection import ConnectionSettings
    from airflow_provider_signalwire.api.paging import Listing, ListPlan
    from airflow_provider_signalwire.api.request import ApiRequest
    from airflow_provider_signalwire.api.resource import Defaults, Resource
    from airflow_provider_signalwire.api.retries import RetryPolicy
    from airflow_provider_signalwire.api.server_time import ServerClock


class SignalWireHook(SignalWireHookBase, BaseHook):
    """
    Interact with a SignalWire Space: calls, messages, phone numbers, and any API path under the Space.

    The connection: host = the Space (``example``, ``example.signalwire.com`` or its https URL),
    login = Project ID, password = API Token; extras ``signing_secret``, ``default_from``, ``timeout``
    and ``base_url`` (an emulator or proxy that receives the requests instead of the Space).

    :param signalwire_conn_id: the Airflow connection to use.
    :param retry_policy: when and how long to retry; see :class:`~airflow_provider_signalwire.api.RetryPolicy`.
    """

    def __init__(
        self, signalwire_conn_id: str = SignalWireHookBase.default_conn_name, *, retry_policy: RetryPolicy | None = None
    ) -> None:
        super().__init__(signalwire_conn_id, retry_policy=retry_policy)

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
        """The connection, read once and checked; its secrets are registered with Airflow's log masker first."""
        from airflow_provider_signalwire.hooks.base import read_settings

        return read_settings(self.signalwire_conn_id)

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

    @property
    def server_clock(self) -> ServerClock:
        """SignalWire's time, from the ``Date`` header of the Space's answers (to this hook and every other)."""
        from airflow_provider_signalwire.api.server_time import server_clock

        return server_clock(self.settings.base_url)

    # Transport ------------------------------------------------------------------------------------

    def _send_once(self, request: ApiRequest) -> Any:
        import requests

        from airflow_provider_signalwire.api.errors import read_answer, transport_error

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
            raise transport_error(request, error, sent=_was_sent(error)) from None
        headers = response.headers
        self.server_clock.record(headers.get("Date"))
        return read_answer(
            request, response.status_code, headers.get("Content-Type", ""), response.content, headers.get("Retry-After")
        )

    def _call(self, request: ApiRequest) -> Any:
        if self.retry_policy.max_attempts == 1:
            return self._send_once(request)
        from tenacity import Retrying

        from airflow_provider_signalwire.api.retries import done_by_an_earlier_attempt

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

        return Retrying(**self.retry_policy.tenacity_arguments(request, self.log))(send, request)

    def _run(self, build: Callable[[Defaults], ApiRequest]) -> Any:
        return self._call(build(self.settings.defaults))

    def _walk(self, build: Callable[[Defaults], ListPlan]) -> Iterator[dict[str, Any]]:
        from airflow_provider_signalwire.api.paging import Listing

        # The plan is built now, so that a bad filter fails at the call, before any request.
        return self._pages(Listing(build(self.settings.defaults)))

    def _pages(self, listing: Listing) -> Iterator[dict[str, Any]]:
        for page in self.pages(listing):
            yield from page

    def listing(
        self, resource: Resource, *, page_size: int | None = None, limit: int | None = None, **filters: Any
    ) -> Listing:
        """
        A walk through the items of ``resource`` matching ``filters``, for :meth:`pages`; built (and every
        filter checked) now, before any request. It counts the pages and items, and says whether ``limit`` cut it.
        """
        from airflow_provider_signalwire.api.paging import Listing

        plan = resource.list_plan(self.settings.defaults, page_size=page_size, limit=limit, filters=filters)
        return Listing(plan)

    def pages(self, listing: Listing) -> Iterator[list[dict[str, Any]]]:
        """The items of a :meth:`listing`, one list per page, fetched as they are asked for."""
        while listing.request is not None:
            yield listing.take(self._call(listing.request))

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap read (a single message of the Project) and report how it went."""
        from airflow_provider_signalwire.api.resources.messages import MESSAGES

        try:
            plan = MESSAGES.list_plan(self.settings.defaults, page_size=1, filters={})
        except Exception as error:  # the connection itself is unusable: say why, nothing was sent
            return False, f"Connection {self.signalwire_conn_id!r}: {error}"
        request = plan.first_request
        url = self.settings.base_url + request.path
        try:
            self._send_once(request)
        except SignalWireApiError as error:
            detail = f"HTTP {error.status}" + (f", error {error.code}" if error.code is not None else "")
            return False, f"GET {url} failed: {detail}: {error.message or 'no message'}"
        except Exception as error:
            return False, f"GET {url} failed: {error}"
        return True, f"Connected to SignalWire at {self.settings.base_url} as project {self.settings.project_id}."


def _was_sent(error: Exception) -> bool:
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
