"""
Records kept sorted as they are inserted, and the token pages walked over them.

Every resource lists newest first, ordered by ``(date_created, insertion)``: its :data:`SortKey`. A page
token names the key a page starts after (``PA``, "page after") or before (``PB``, the way back), so a page
is one bisect plus the page itself, whatever the size of the list, and items created while a client pages
do not shift the pages that follow.
"""

from __future__ import annotations

import base64
import binascii
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

SortKey = tuple[float, int]


class PageToken(NamedTuple):
    direction: Literal["PA", "PB"]
    key: SortKey

    def encode(self) -> str:
        raw = f"{self.key[0]!r}:{self.key[1]}".encode()
        return self.direction + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> PageToken | None:
        """The token, or ``None`` when it is not one this emulator issued."""
        direction, body = token[:2], token[2:]
        if direction not in ("PA", "PB") or not body:
            return None
        try:
            text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
            created_text, _, seq_text = text.partition(":")
            key = (float(created_text), int(seq_text))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not math.isfinite(key[0]):
            return None
        return cls("PA" if direction == "PA" else "PB", key)


class Keyed(Protocol):
    @property
    def key(self) -> SortKey: ...


class Identified(Keyed, Protocol):
    @property
    def sid(self) -> str: ...


K = TypeVar("K", bound=Keyed)
R = TypeVar("R", bound=Identified)
_by_key = attrgetter("key")


def walk_page(
    items: Sequence[K], match: Callable[[K], bool] | None, page_size: int, token: PageToken | None
) -> tuple[list[K], bool]:
    """One page of ``items`` (sorted oldest first), newest first, and whether older matching items follow."""
    if token is not None and token.direction == "PB":
        return _page_before(items, match, page_size, token.key)
    end = len(items) if token is None else bisect_left(items, token.key, key=_by_key)
    if match is None:
        start = max(0, end - page_size)
        return list(reversed(items[start:end])), start > 0
    page: list[K] = []
    for index in range(end - 1, -1, -1):
        item = items[index]
        if match(item):
            if len(page) == page_size:
                return page, True
            page.append(item)
    return page, False


def _page_before(
    items: Sequence[K], match: Callable[[K], bool] | None, page_size: int, key: SortKey
) -> tuple[list[K], bool]:
    """The page just newer than ``key``, as ``previous_page_uri`` reaches it."""
    index = bisect_right(items, key, key=_by_key)
    page: list[K] = []
    while index < len(items) and len(page) < page_size:
        if match is None or match(items[index]):
            page.append(items[index])
        index += 1
    page.reverse()
    floor = bisect_left(items, page[-1].key if page else key, key=_by_key)
    if match is None:
        return page, floor > 0
    return page, any(match(items[i]) for i in range(floor - 1, -1, -1))


def previous_anchor(page: Sequence[Keyed], token: PageToken | None) -> SortKey | None:
    """The key a ``PB`` token needs so that the previous page ends just before this one."""
    if page:
        return page[0].key
    if token is None:
        return None
    # An empty page reached by "PA" + k: the previous page still holds the item keyed k.
    return token.key if token.direction == "PB" else (token.key[0], token.key[1] - 1)


class SortedRecords(Generic[R]):
    """A resource's records by sid and in ``SortKey`` order, kept sorted as they are inserted."""

    def __init__(self) -> None:
        self._items: list[R] = []
        self._by_sid: dict[str, R] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, sid: str) -> R | None:
        return self._by_sid.get(sid)

    def newest_first(self) -> Iterator[R]:
        return reversed(self._items)

    def oldest(self) -> R | None:
        return self._items[0] if self._items else None

    def add(self, record: R) -> None:
        if not self._items or record.key >= self._items[-1].key:
            self._items.append(record)
        else:
            insort(self._items, record, key=_by_key)
        self._by_sid[record.sid] = record

    def add_many(self, records: Iterable[R]) -> None:
        batch = sorted(records, key=_by_key)
        if not batch:
            return
        if self._items and batch[0].key < self._items[-1].key:
            # One merge of two sorted runs: Python's sort finds the runs, so this stays linear.
            self._items.extend(batch)
            self._items.sort(key=_by_key)
        else:
            self._items.extend(batch)
        self._by_sid.update((record.sid, record) for record in batch)

    def remove(self, record: R) -> None:
        index = bisect_left(self._items, record.key, key=_by_key)
        if index < len(self._items) and self._items[index] is record:
            del self._items[index]
        self._by_sid.pop(record.sid, None)

    def page(self, match: Callable[[R], bool] | None, page_size: int, token: PageToken | None) -> tuple[list[R], bool]:
        return walk_page(self._items, match, page_size, token)
