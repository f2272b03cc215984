"""What the SignalWire operators share: the connection and its hook, templated values, SIDs and searches."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_signalwire import DEFAULT_CONN_ID
from airflow_provider_signalwire.exceptions import SignalWireInputError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.api.resource import Resource
    from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

DEFAULT_SEARCH_LIMIT = 1000
#: What a date filter takes: a date (whole UTC days), an aware datetime or an ISO 8601 string (as templates render).
DateLike = date | datetime | str | None


def as_bool(name: str, value: Any) -> bool:
    """A flag given as a bool or, after templating, as ``"true"`` / ``"false"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SignalWireInputError(f"SignalWire: {name!r} must be true or false; got {value!r}.")


def as_seconds(name: str, value: Any) -> float:
    """A positive number of seconds, given as a number or, after templating, a string."""
    seconds = math.nan
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError):
            seconds = float(value)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise SignalWireInputError(f"SignalWire: {name!r} must be a number of seconds above 0; got {value!r}.")
    return seconds


def as_whole_number(value: Any) -> Any:
    """Turn a templated ``"100"`` back into ``100``; anything else is left for the API layer to check."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


class ResultsWithoutSecrets:
    """
    Every result of a subclass's ``execute`` and ``execute_complete`` leaves it (for XCom) without the
    connection's secrets, whatever key or nesting they appear under: an API answer can carry them (the account
    resource's ``auth_token``), and so can a message body. Used by every operator and sensor of the provider.
    """

    hook: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("execute", "execute_complete"):
            if name in cls.__dict__:
                setattr(cls, name, _without_secrets(cls.__dict__[name]))

    def secrets_in_play(self) -> list[str]:
        """What must not leave: the API token and the Signing Key (a call adds its SIP password)."""
        return self.hook.settings.secrets


def _without_secrets(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run(self: ResultsWithoutSecrets, *args: Any, **kwargs: Any) -> Any:
        from airflow_provider_signalwire.api.secrets import scrub

        result = method(self, *args, **kwargs)
        return None if result is None else scrub(result, self.secrets_in_play())

    return run


class SignalWireBaseOperator(ResultsWithoutSecrets, BaseOperator):
    """
    Base of the SignalWire operators: the connection and its hook.

    :param signalwire_conn_id: the Airflow connection to SignalWire (templated).
    """

    template_fields: Sequence[str] = ("signalwire_conn_id",)

    def __init__(self, *, signalwire_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.signalwire_conn_id = signalwire_conn_id

    @cached_property
    def hook(self) -> SignalWireHook:
        from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

        return SignalWireHook(self.signalwire_conn_id)

    def keep_arguments(self, given: Mapping[str, Any], names: Iterable[str]) -> None:
        """Keep the constructor's API arguments (``locals()``) as attributes, where templating renders them."""
        for name in names:
            setattr(self, name, given[name])

    def present_arguments(self, names: Iterable[str]) -> dict[str, Any]:
        """The rendered values of ``names`` that were given (``None`` means: not sent)."""
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class SignalWireSidOperator(SignalWireBaseOperator):
    """
    Base of the operators that act on one call or message named by its SID.

    :param sid: the SID (templated).
    """

    template_fields: Sequence[str] = (*SignalWireBaseOperator.template_fields, "sid")

    def __init__(self, *, sid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sid = sid


class SignalWireSearchOperator(SignalWireBaseOperator):
    """
    Base of the search operators: list a resource with its filters, return a list of the API's dicts, or write
    them to object storage and return where.

    The listing logs its progress (pages, items, time) at least every 10 seconds, and warns when ``limit`` cut
    it while more items matched.

    :param limit: at most this many results (templated); ``None`` for all of them.
    :param page_size: items per page requested from SignalWire (templated); default: as large as useful.
    :param output_path: write the results here instead of XCom (templated): an ``ObjectStoragePath`` or a URL
        such as ``file:///data/{{ ds }}.jsonl`` or ``s3://bucket/messages/{{ ds }}.jsonl``; XCom then gets
        ``{"path": ..., "count": ...}``. The object is replaced at each run, once complete: it is written under a
        temporary name next to it and moved into place, and the connection's secrets are written as ``***``.
    :param output_format: ``jsonl`` (default), ``csv`` or ``parquet`` (needs pyarrow), for ``output_path``.
    :param fields: keep only these fields of each item (templated), e.g. ``["sid", "status", "date_sent"]``.
    """

    resource: ClassVar[Resource]
    search_template_fields: ClassVar[tuple[str, ...]] = ("limit", "page_size", "output_path", "output_format", "fields")

    def __init__(
        self,
        *,
        limit: int | None = DEFAULT_SEARCH_LIMIT,
        page_size: int | None = None,
        output_path: Any = None,
        output_format: str = "jsonl",
        fields: str | Sequence[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.limit = limit
        self.page_size = page_size
        # Kept as text, so that it is templated and serialized like any URL.
        self.output_path = None if output_path is None else str(output_path)
        self.output_format = output_format
        self.fields = fields

    def execute(self, context: Context) -> list[dict[str, Any]] | dict[str, Any]:
        from airflow_provider_signalwire.operators.output import (
            check_fields,
            check_format,
            keep_fields,
            storage_path,
            walk,
            write_rows,
        )

        filters = self.present_arguments(self.resource.filter_names())
        fields = check_fields(self.fields)
        path = None
        if self.output_path is not None:
            path = storage_path("output_path", self.output_path)
            output_format = check_format("output_format", self.output_format)
        # The hook checks every filter when it builds the listing, before anything is sent.
        listing = self.hook.listing(
            self.resource, limit=as_whole_number(self.limit), page_size=as_whole_number(self.page_size), **filters
        )
        pages = walk(self.hook, listing, self.log, self.resource.name)
        if path is not None:
            count = write_rows(path, output_format, pages, fields, secrets=self.secrets_in_play())
            self.log.info("Wrote %d SignalWire %s to %s", count, self.resource.name, path)
            return {"path": str(path), "count": count}
        results = [keep_fields(item, fields) for page in pages for item in page]
        self.log.info("Found %d SignalWire %s", len(results), self.resource.name)
        return results
