"""
Lists page by page: the plan of a listing (first request, exact window, limit) and what a walk has seen so far.

Both hooks walk a :class:`Listing` the same way (the sync one with ``requests``, the async one with ``httpx``)::

    listing = Listing(plan)
    while listing.request is not None:
        yield from listing.take(send(listing.request))
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_signalwire.api.dates import parse_api_datetime
from airflow_provider_signalwire.api.request import ApiRequest, check_relative_path
from airflow_provider_signalwire.exceptions import SignalWireApiError

if TYPE_CHECKING:
    from airflow_provider_signalwire.api.resource import Paging

MAX_PAGE_SIZE = 1000
#: A listing that still links to a next page after this many is stopped with an error: a server that keeps
#: making up pages (10 million items at the largest page size) cannot keep a task or a trigger busy for ever.
MAX_PAGES = 10_000


class ListPlan:
    """
    How to list a resource: the first request, how pages link, the exact time window, and the limit.

    SignalWire's date filters take whole UTC days. A bound asks for the days that cover it and :meth:`accept`
    keeps exactly the items inside ``[after, before)``, so consecutive windows (one per DAG run, in any
    timezone) see each item once.
    """

    __slots__ = ("first_request", "limit", "paging", "stop_below", "window")

    def __init__(
        self,
        paging: Paging,
        first_request: ApiRequest,
        limit: int | None = None,
        window: list[tuple[str, str, datetime]] | None = None,
        stop_below: tuple[tuple[str, ...], datetime] | None = None,
    ) -> None:
        self.paging = paging
        self.first_request = first_request
        self.limit = limit
        self.window = window or []  # (item field, "after" | "before", bound)
        self.stop_below = stop_below  # (the fields the list is ordered by, the bound)

    def passed_bound(self, items: list[dict[str, Any]]) -> bool:
        """Whether ``items`` (one page) hold an item older than the stop bound by every field the list is ordered by."""
        if self.stop_below is None:
            return False
        fields, bound = self.stop_below
        for item in items:
            dates = [parse_api_datetime(item.get(name)) for name in fields]
            if all(moment is not None and moment < bound for moment in dates):
                return True
        return False

    def accept(self, item: Mapping[str, Any]) -> bool:
        for item_field, side, bound in self.window:
            moment = parse_api_datetime(item.get(item_field))
            if moment is None:
                return False
            if side == "after" and moment < bound:
                return False
            if side == "before" and moment >= bound:
                return False
        return True

    def items(self, page: Any) -> list[dict[str, Any]]:
        """Every item of ``page``, inside the window or not."""
        found = page.get(self.paging.list_key) if isinstance(page, Mapping) else None
        if not isinstance(found, list):
            raise self._malformed(f"the list page has no {self.paging.list_key!r} list")
        return [item for item in found if isinstance(item, dict)]

    def next_request(self, page: Any, fetched: set[str]) -> ApiRequest | None:
        """
        The request for the page after ``page``, or ``None`` on the last page and when the link points back at a
        page already in ``fetched`` (a server repeating itself cannot make the listing loop forever).

        The link is a path on the Space: of an absolute URI only the path and query are taken, so the token
        never goes to another host.
        """
        link = self.paging.link(page)
        if not link:
            return None
        if not isinstance(link, str):
            raise self._malformed("the next-page link is not a string")
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            link = parts.path + (f"?{parts.query}" if parts.query else "")
        if link in fetched:
            return None
        return ApiRequest("GET", check_relative_path(link))

    def _malformed(self, what: str) -> SignalWireApiError:
        return SignalWireApiError(status=200, method="GET", path=self.first_request.path, message=what)

    def too_many_pages(self) -> SignalWireApiError:
        return self._malformed(
            f"the listing still linked to a next page after {MAX_PAGES} pages; give 'limit' or narrower filters"
        )


def page_fingerprint(items: list[dict[str, Any]]) -> int:
    """What a page holds, by its items' SIDs (or ids): a page served again under another link has the same."""
    import json

    return hash(
        tuple(item.get("sid") or item.get("id") or json.dumps(item, sort_keys=True, default=str) for item in items)
    )


class Listing:
    """
    Where a walk through a plan's pages is: the next request to send, the pages fetched and the items handed out.

    A server repeating itself cannot make the walk loop: it ends at a link already followed, and at a page whose
    items were all served before (under a new ``page_token``, say); it fails after :data:`MAX_PAGES` pages.

    :param plan: what to list.
    """

    __slots__ = ("contents", "count", "fetched", "pages", "plan", "request", "truncated")

    def __init__(self, plan: ListPlan) -> None:
        self.plan = plan
        self.request: ApiRequest | None = plan.first_request
        self.fetched: set[str] = set()
        self.contents: set[int] = set()
        self.count = 0
        self.pages = 0
        #: Whether the limit ended the walk while more items matched (or another page could have held some).
        self.truncated = False

    def take(self, page: Any) -> list[dict[str, Any]]:
        """The items of ``page`` (the answer to :attr:`request`) to hand out; moves :attr:`request` on."""
        assert self.request is not None
        self.fetched.add(self.request.path)
        self.pages += 1
        items = self.plan.items(page)
        content = page_fingerprint(items)
        if content in self.contents:
            self.request = None
            return []
        self.contents.add(content)
        passed_bound = self.plan.passed_bound(items)
        if self.plan.window:
            items = [item for item in items if self.plan.accept(item)]
        limit = self.plan.limit
        if limit is not None and self.count + len(items) >= limit:
            self.truncated = self.count + len(items) > limit or self.plan.next_request(page, self.fetched) is not None
            items = items[: limit - self.count]
            self.request = None
        elif passed_bound:
            self.request = None
        else:
            self.request = self.plan.next_request(page, self.fetched)
            if self.request is not None and len(self.contents) >= MAX_PAGES:
                raise self.plan.too_many_pages()
        self.count += len(items)
        return items
