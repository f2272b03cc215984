"""An operator for any request to the SignalWire Space, for what the other operators do not cover."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_signalwire.operators.base import SignalWireBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class SignalWireApiCallOperator(SignalWireBaseOperator):
    """
    Send any authorised request to a path under the Space; returns the parsed body to XCom.

    The connection's credentials are added; the path must stay under the Space (absolute URLs, ``..``
    and the ``Authorization``/``Host``/``Cookie`` headers are refused before anything is sent). A POST or
    PATCH is never re-sent after an unclear failure, since it may have created something. Every argument
    is templated.

    :param path: the path under the Space, starting with ``/``, e.g. ``/api/relay/rest/phone_numbers``.
    :param method: ``GET``, ``POST``, ``PUT``, ``PATCH``, ``DELETE`` or ``HEAD``.
    :param query: query parameters, a dict or a list of pairs.
    :param headers: extra request headers.
    :param data: a form body (a dict or a list of pairs), sent form-encoded.
    :param json: a JSON body, instead of ``data``.
    """

    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        "method",
        "path",
        "query",
        "headers",
        "data",
        "json",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "query": "json",
        "headers": "json",
        "data": "json",
        "json": "json",
    }

    def __init__(
        self,
        *,
        path: str,
        method: str = "GET",
        query: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        json: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.method = method
        self.query = query
        self.headers = headers
        self.data = data
        self.json = json

    def execute(self, context: Context) -> Any:
        return self.hook.call_api(
            self.method, self.path, params=self.query, data=self.data, json=self.json, headers=self.headers
        )
