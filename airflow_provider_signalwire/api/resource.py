"""
The shape of a resource spec: a resource (calls, messages, phone numbers...) is declared once, in
``api/resources/<name>.py``, as a :class:`Resource` with its paths, operations, list filters, statuses and the
date a watcher follows. Hooks send what it builds; operators, sensors and triggers read what they need from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from airflow_provider_signalwire.exceptions import SignalWireInputError

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.paging import ListPlan
    from airflow_provider_signalwire.api.params import Param
    from airflow_provider_signalwire.api.request import ApiRequest
    from airflow_provider_signalwire.api.rules import Rule
    from airflow_provider_signalwire.api.statuses import Statuses

# Specs are built when DAG files import the operators: what requests are made of loads when one is built.

#: The context a request is built in: the Project ID and the connection's default From number.
Defaults = Mapping[str, Any]


def encode_params(action: str, table: Mapping[str, Param], params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """
    Check snake_case keyword arguments against ``table`` and return the API's pairs.

    ``None`` values are left out (not sent). Unknown names are refused with the list of allowed ones.
    """
    unknown = sorted(set(params) - set(table))
    if unknown:
        raise SignalWireInputError(
            f"SignalWire {action}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(table))}."
        )
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is not None:
            spec = table[name]
            pairs.extend((spec.api_name, v) for v in spec.encode(action, name, value))
    return pairs


class Operation:
    """
    A create or an update: its parameters, the rules across them, and how the body is sent.

    :param action: the hooks' method name, for errors (``create_call``).
    :param params: snake_case name -> parameter kind.
    :param rules: checks across parameters (required ones, one of two...), applied in order.
    :param method: the HTTP method.
    :param json: send a JSON object instead of a form.
    :param is_create: sending it twice could create two things: never re-sent when unsure.
    """

    __slots__ = ("action", "is_create", "json", "method", "params", "rules")

    def __init__(
        self,
        action: str,
        params: dict[str, Param],
        *,
        rules: tuple[Rule, ...] = (),
        method: str = "POST",
        json: bool = False,
        is_create: bool = False,
    ) -> None:
        self.action = action
        self.params = params
        self.rules = rules
        self.method = method
        self.json = json
        self.is_create = is_create

    @property
    def secret_params(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.params.items() if spec.secret)

    def effective(self, params: Mapping[str, Any], defaults: Defaults) -> dict[str, Any]:
        """The arguments as sent: the rules applied, defaults (a From number) filled in."""
        params = dict(params)
        for rule in self.rules:
            rule.apply(self.action, params, defaults)
        return params

    def encode(self, params: Mapping[str, Any], defaults: Defaults) -> list[tuple[str, str]]:
        """Check the arguments (rules first, then each value) and return the API's pairs."""
        return encode_params(self.action, self.params, self.effective(params, defaults))

    def request(self, path: str, params: Mapping[str, Any], defaults: Defaults) -> ApiRequest:
        from airflow_provider_signalwire.api.request import ApiRequest

        pairs = self.encode(params, defaults)
        if self.json:
            return ApiRequest(self.method, path, json=dict(pairs), is_create=self.is_create)
        return ApiRequest(self.method, path, data=pairs, is_create=self.is_create)


class Paging:
    """
    How a resource's pages are linked: ``next_page_uri`` (Compatibility API) or ``links.next`` (Relay REST).

    :param list_key: the key of the items in a page (``messages``, ``calls``, ``data``...).
    :param next_link: the path of keys to the next page's URI in a page.
    :param page_size: the query parameter that sets the page size.
    """

    __slots__ = ("list_key", "next_link", "page_size")

    def __init__(self, list_key: str, next_link: tuple[str, ...], page_size: str) -> None:
        self.list_key = list_key
        self.next_link = next_link
        self.page_size = page_size

    def link(self, page: Any) -> Any:
        for key in self.next_link:
            page = page.get(key) if isinstance(page, Mapping) else None
        return page


def compatibility_paging(list_key: str) -> Paging:
    return Paging(list_key, ("next_page_uri",), "PageSize")


def relay_paging(list_key: str = "data") -> Paging:
    return Paging(list_key, ("links", "next"), "page_size")


class DateFilter(NamedTuple):
    """A date list filter: the API's parameter, and the item field it filters on (for exact windows)."""

    api_name: str
    item_field: str


class Resource:
    """
    One API resource, declared once.

    :param name: its plural name (``messages``), as users and payloads say it.
    :param singular: one of them in words (``message``).
    :param path: the collection's path; ``{project_id}`` is replaced by the connection's Project ID.
    :param paging: how list pages keep items and link to the next.
    :param create: the create operation, if any.
    :param update: the update operation, if any.
    :param filters: the plain list filters (snake_case name -> kind).
    :param date_filters: the date list filters (snake_case name -> :class:`DateFilter`); each also exists with
        ``_before`` and ``_after``.
    :param statuses: the statuses, which are final and which count as a failure.
    :param watch_date: the date filter a watcher follows to find new items.
    :param watch_date_final: the date filter a watcher of final statuses follows (a call ends after it starts).
    :param list_order: the item fields (dates) lists are ordered by, newest first, under any documented reading
        (a message list by its creation or by ``date_sent``): a listing may stop at an item older than a bound in
        all of them.
    :param fingerprint: what a retry keeps of a create's arguments to recognise the item it made (in Airflow's
        database: never personal data such as a message's text); default: nothing.
    :param same_item: whether an item listed later (between the same numbers) is the one a create with this
        ``fingerprint`` made, for a retry whose answer was lost; default: any is.
    """

    def __init__(
        self,
        name: str,
        *,
        singular: str,
        path: str,
        paging: Paging,
        create: Operation | None = None,
        update: Operation | None = None,
        filters: dict[str, Param] | None = None,
        date_filters: dict[str, DateFilter] | None = None,
        statuses: Statuses | None = None,
        watch_date: str | None = None,
        watch_date_final: str | None = None,
        list_order: tuple[str, ...] = (),
        fingerprint: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
        same_item: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = None,
    ) -> None:
        self.name = name
        self.singular = singular
        self.collection_path = path
        self.paging = paging
        self.create = create
        self.update = update
        self.filters = filters or {}
        self.date_filters = date_filters or {}
        self.statuses = statuses
        self.watch_date = watch_date
        self.watch_date_final = watch_date_final
        self.list_order = list_order
        self.fingerprint = fingerprint or (lambda arguments: {})
        self.same_item = same_item or (lambda fingerprint, item: True)

    def __repr__(self) -> str:
        return f"Resource({self.name!r})"

    @property
    def list_key(self) -> str:
        return self.paging.list_key

    def filter_names(self) -> tuple[str, ...]:
        """The hooks' list filters: the plain ones, then each date with ``_before`` / ``_after``."""
        dates = (f"{base}{suffix}" for base in self.date_filters for suffix in ("", "_before", "_after"))
        return (*self.filters, *dates)

    def path(self, project_id: str, parent_sid: str | None = None) -> str:
        """The collection's path; ``parent_sid`` names the item a sub-collection (a message's media) belongs to."""
        from airflow_provider_signalwire.api.request import check_sid

        path = self.collection_path.replace("{project_id}", quote(project_id, safe=""))
        if "{parent_sid}" in path:
            path = path.replace(
                "{parent_sid}", quote(check_sid(f"list_{self.name}", parent_sid, "parent_sid"), safe="")
            )
        return path

    def action(self, verb: str) -> str:
        """The hooks' name for an operation on one item, for errors: ``get_call``, ``delete_phone_number``."""
        return f"{verb}_{self.singular.replace(' ', '_')}"

    def item_path(self, project_id: str, sid: Any, action: str) -> str:
        """An item's path; the SID must stay one path segment."""
        from airflow_provider_signalwire.api.request import check_sid

        return f"{self.path(project_id)}/{quote(check_sid(action, sid), safe='')}"

    # Requests ----------------------------------------------------------------------------------------

    def create_request(self, defaults: Defaults, params: Mapping[str, Any]) -> ApiRequest:
        operation = self._operation(self.create, "create")
        return operation.request(self.path(defaults["project_id"]), params, defaults)

    def update_request(self, defaults: Defaults, sid: str, params: Mapping[str, Any]) -> ApiRequest:
        operation = self._operation(self.update, "update")
        return operation.request(self.item_path(defaults["project_id"], sid, operation.action), params, defaults)

    def get_request(self, defaults: Defaults, sid: str) -> ApiRequest:
        from airflow_provider_signalwire.api.request import ApiRequest

        return ApiRequest("GET", self.item_path(defaults["project_id"], sid, self.action("get")))

    def delete_request(self, defaults: Defaults, sid: str) -> ApiRequest:
        from airflow_provider_signalwire.api.request import ApiRequest

        return ApiRequest("DELETE", self.item_path(defaults["project_id"], sid, self.action("delete")))

    def _operation(self, operation: Operation | None, what: str) -> Operation:
        if operation is None:
            raise SignalWireInputError(f"SignalWire {self.name} cannot be {what}d through this provider.")
        return operation

    def list_plan(
        self,
        defaults: Defaults,
        *,
        page_size: int | None = None,
        limit: int | None = None,
        filters: Mapping[str, Any],
        parent_sid: str | None = None,
        stop_below: datetime | None = None,
    ) -> ListPlan:
        """
        The plan to list items matching ``filters``. SignalWire filters whole UTC days: a bound (an aware datetime,
        or a date as its midnight UTC) asks for the days that cover it and the plan keeps exactly
        ``_after <= date < _before``. A date without a suffix is SignalWire's "on that day".

        ``stop_below`` (an aware datetime) ends the listing after the page holding an item dated before it in every
        :attr:`list_order` field: what comes after it is older still (a watcher's poll reads what is new, not the
        whole day). Ignored for a resource without a list order.
        """
        from airflow_provider_signalwire.api.dates import read_dates
        from airflow_provider_signalwire.api.paging import MAX_PAGE_SIZE, ListPlan
        from airflow_provider_signalwire.api.request import ApiRequest

        action = f"list_{self.name}"
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise SignalWireInputError(
                f"SignalWire {action}: 'limit' must be a whole number of 1 or more; got {limit!r}."
            )
        if page_size is None:
            page_size = min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SignalWireInputError(
                f"SignalWire {action}: 'page_size' must be a whole number from 1 to {MAX_PAGE_SIZE}; got {page_size!r}."
            )
        date_names = {
            f"{base}{suffix}": (date_filter, suffix)
            for base, date_filter in self.date_filters.items()
            for suffix in ("", "_before", "_after")
        }
        plain = {k: v for k, v in filters.items() if k not in date_names}
        unknown = sorted(set(plain) - set(self.filters))
        if unknown:
            allowed = sorted([*self.filters, *date_names, "limit", "page_size"])
            raise SignalWireInputError(
                f"SignalWire {action}: unknown filter(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}."
            )
        query = encode_params(action, self.filters, plain)
        window: list[tuple[str, str, datetime]] = []
        given = {name: value for name, value in filters.items() if name in date_names and value is not None}
        for name, moment in read_dates(given).items():
            query.append(_date_query(moment, *date_names[name], window))
        query.append((self.paging.page_size, str(page_size)))
        first = ApiRequest("GET", self.path(defaults["project_id"], parent_sid), params=query)
        stop = (self.list_order, stop_below) if stop_below is not None and self.list_order else None
        return ListPlan(self.paging, first, limit=limit, window=window, stop_below=stop)


def _date_query(
    moment: date | datetime, date_filter: DateFilter, suffix: str, window: list[tuple[str, str, datetime]]
) -> tuple[str, str]:
    from airflow_provider_signalwire.api.dates import as_moment

    if suffix == "":
        return (date_filter.api_name, (moment.date() if isinstance(moment, datetime) else moment).isoformat())
    # A bound is a moment (a date: its midnight UTC), kept exactly by the plan's window. The spec words ``X>`` and
    # ``X<`` as "after" and "before" a day, some read them as "on or after" and "on or before": the day asked for
    # holds every item of the window under either reading.
    bound = as_moment(moment)
    if suffix == "_after":
        window.append((date_filter.item_field, "after", bound))
        return (date_filter.api_name + ">", (bound.date() - timedelta(days=1)).isoformat())
    window.append((date_filter.item_field, "before", bound))
    last_day = (bound - timedelta(microseconds=1)).date()
    return (date_filter.api_name + "<", (last_day + timedelta(days=1)).isoformat())
