"""The log of every API request the emulator received (control routes excluded), never with credentials."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

_HIDDEN_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def strip_json(path: str) -> str:
    return path[: -len(".json")] if path.endswith(".json") else path


class RequestLog:
    """
    Entries, oldest first: ``method``, ``path``, ``query`` and ``form`` (dicts of lists), ``json``,
    ``headers`` (without Authorization or cookies), ``status`` (``None`` when dropped), ``fault``,
    ``fault_id`` and ``time`` (epoch seconds).
    """

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []

    def record(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        form: Mapping[str, list[str]],
        json_body: Any,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """A new entry, logged now; the caller fills in ``status`` and ``fault`` as the request goes on."""
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": dict(query),
            "form": dict(form),
            "json": json_body,
            "headers": {k: v for k, v in headers.items() if k not in _HIDDEN_HEADERS},
            "status": None,
            "fault": None,
            "fault_id": None,
            "time": time.time(),
        }
        self._entries.append(entry)
        return entry

    def select(self, method: str | None = None, path_regex: str | None = None) -> list[dict[str, Any]]:
        """Copies of the entries that match; ``path_regex`` is searched in the path with ``.json`` stripped."""
        return json.loads(json.dumps(list(self._matching(method, path_regex))))

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        return sum(1 for _ in self._matching(method, path_regex))

    def _matching(self, method: str | None, path_regex: str | None) -> Iterator[dict[str, Any]]:
        pattern = re.compile(path_regex) if path_regex else None
        wanted = method.upper() if method else None
        for entry in self._entries:
            if (wanted is None or entry["method"] == wanted) and (
                pattern is None or pattern.search(strip_json(entry["path"]))
            ):
                yield entry

    def clear(self) -> None:
        self._entries.clear()
