"""Reading form and query values, and checking them against the spec's parameter schemas."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

Form = Mapping[str, list[str]]

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
SHORT_CODE = re.compile(r"[0-9]{3,8}")
SIP_URI = re.compile(r"sips?:[^@\s]+@[^@\s]+")
CLIENT_ID = re.compile(r"client:[A-Za-z0-9_.\-]+")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PRICE = re.compile(r"[0-9]+\.?[0-9]{0,4}")


def first(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class FormChecks:
    """Collects one line per value outside its parameter's schema; nothing for a parameter not given."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.problems: list[str] = []

    def enum(self, names: str | Iterable[str], allowed: Sequence[str]) -> None:
        for name in [names] if isinstance(names, str) else names:
            value = first(self.form, name)
            if value is not None and value not in allowed:
                self.problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    def each_in(self, name: str, allowed: Sequence[str]) -> None:
        """A repeated key whose every value must be one of ``allowed``."""
        for value in self.form.get(name, []):
            if value not in allowed:
                self.problems.append(f"{name} must be among {', '.join(allowed)}, got {value!r}")

    def integer(self, name: str, low: int, high: int) -> None:
        value = first(self.form, name)
        if value is not None and not (value.isdigit() and low <= int(value) <= high):
            self.problems.append(f"{name} must be an integer between {low} and {high}, got {value!r}")

    def boolean(self, names: Iterable[str]) -> None:
        for name in names:
            value = first(self.form, name)
            if value is not None and value.lower() not in ("true", "false"):
                self.problems.append(f"{name} must be true or false, got {value!r}")

    def url(self, names: Iterable[str]) -> None:
        for name in names:
            value = first(self.form, name)
            if value is not None and not is_http_url(value):
                self.problems.append(f"{name} must be an http(s) URL, got {value!r}")

    def pattern(self, names: str | Iterable[str], regex: re.Pattern[str], expected: str) -> None:
        for name in [names] if isinstance(names, str) else names:
            value = first(self.form, name)
            if value is not None and not regex.fullmatch(value):
                self.problems.append(f"{name} must be {expected}, got {value!r}")
