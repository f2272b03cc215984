"""
Parameter kinds: each checks a value given in Python (or rendered by a template) and encodes it for the API.

A resource spec names its parameters once, with their kind: ``"timeout": WholeNumber("Timeout", 1, 600)``. The
kind's :meth:`~Param.encode` refuses a bad value with a :class:`SignalWireInputError` that names the parameter,
what is allowed and what was given, before any request is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_signalwire.exceptions import SignalWireInputError

E164_PATTERN = r"\+[1-9][0-9]{1,14}"
HTTP_METHODS = ("GET", "POST")


def invalid(action: str, name: str, allowed: str, value: Any, *, secret: bool = False) -> SignalWireInputError:
    """The error for a value that breaks its rule: the action, the parameter, what is allowed, what was given."""
    shown = "(hidden)" if secret else repr(value)
    return SignalWireInputError(f"SignalWire {action}: {name!r} must be {allowed}; got {shown}.")


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class Param:
    """
    A text parameter: its name in the API, and whether its value is a secret (never shown in an error).

    :param api_name: the name the API gives it (``To``, ``StatusCallback``, ``message_request_url``...).
    :param max_length: the longest text allowed.
    :param secret: hide the value in errors (a SIP password).
    """

    __slots__ = ("api_name", "max_length", "secret")
    allowed = "a string"

    def __init__(self, api_name: str, *, max_length: int | None = None, secret: bool = False) -> None:
        self.api_name = api_name
        self.max_length = max_length
        self.secret = secret

    def encode(self, action: str, name: str, value: Any) -> list[str]:
        """The form values of ``value`` (more than one for a repeated key); raises when it breaks the rule."""
        text = self.text(action, name, value)
        self.check(action, name, text)
        if self.max_length is not None and len(text) > self.max_length:
            raise invalid(action, name, f"at most {self.max_length} characters", f"{len(text)} characters")
        return [text]

    def text(self, action: str, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise invalid(action, name, self.allowed, value, secret=self.secret)
        return value

    def check(self, action: str, name: str, text: str) -> None:
        """Refuse text the kind does not allow; plain text allows any."""


class Url(Param):
    """An absolute http(s) URL."""

    __slots__ = ()
    allowed = "an http:// or https:// URL"

    def check(self, action: str, name: str, text: str) -> None:
        if not is_http_url(text):
            raise invalid(action, name, self.allowed, text)


class Pattern(Param):
    """Text matching a regular expression; ``hint`` says in words what it must look like."""

    __slots__ = ("hint", "pattern")

    def __init__(self, api_name: str, pattern: str, hint: str, *, secret: bool = False) -> None:
        super().__init__(api_name, secret=secret)
        self.pattern = re.compile(pattern)
        self.hint = hint

    def text(self, action: str, name: str, value: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a price given as a number
        return super().text(action, name, value)

    def check(self, action: str, name: str, text: str) -> None:
        if not self.pattern.fullmatch(text):
            raise invalid(action, name, self.hint, text, secret=self.secret)


def Price(api_name: str) -> Pattern:
    return Pattern(api_name, r"\d+\.?\d{0,4}", "a price in USD such as 0.05 (up to 4 decimals)")


def E164(api_name: str) -> Pattern:
    return Pattern(api_name, E164_PATTERN, "an E.164 number such as +15551234567")


class Choice(Param):
    """One of a fixed set of values, matched without regard to case and sent as the API spells it."""

    __slots__ = ("choices",)

    def __init__(self, api_name: str, *choices: str) -> None:
        super().__init__(api_name)
        self.choices = choices

    @property
    def allowed(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def encode(self, action: str, name: str, value: Any) -> list[str]:
        text = self.text(action, name, value)
        for choice in self.choices:
            if text.lower() == choice.lower():
                return [choice]
        raise invalid(action, name, self.allowed, value)


def Method(api_name: str) -> Choice:
    return Choice(api_name, *HTTP_METHODS)


class WholeNumber(Param):
    """A whole number from ``low`` to ``high``, given as an int or as digits (as templates render it)."""

    __slots__ = ("high", "low")

    def __init__(self, api_name: str, low: int, high: int) -> None:
        super().__init__(api_name)
        self.low = low
        self.high = high

    def encode(self, action: str, name: str, value: Any) -> list[str]:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value)
        if number is None or not self.low <= number <= self.high:
            raise invalid(action, name, f"a whole number from {self.low} to {self.high}", value)
        return [str(number)]


class Flag(Param):
    """True or false, given as a bool or as ``"true"`` / ``"false"``."""

    __slots__ = ()

    def encode(self, action: str, name: str, value: Any) -> list[str]:
        if isinstance(value, bool):
            return ["true" if value else "false"]
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return [value.lower()]
        raise invalid(action, name, "true or false", value)


class Cleared(Param):
    """Only the empty string: a message's one allowed update clears its body."""

    __slots__ = ()

    def encode(self, action: str, name: str, value: Any) -> list[str]:
        if value != "":
            raise invalid(action, name, "empty (an update can only clear it)", value)
        return [""]


class ListOf(Param):
    """
    One value or a list of them, sent as repeated keys (``MediaUrl=a&MediaUrl=b``) or, with ``joined``, as one
    space-separated value. Each value may be limited to ``choices`` or to http(s) URLs.
    """

    __slots__ = ("choices", "joined", "max_items", "urls")

    def __init__(
        self,
        api_name: str,
        *,
        choices: tuple[str, ...] = (),
        urls: bool = False,
        max_items: int | None = None,
        joined: bool = False,
    ) -> None:
        super().__init__(api_name)
        self.choices = choices
        self.urls = urls
        self.max_items = max_items
        self.joined = joined

    def encode(self, action: str, name: str, value: Any) -> list[str]:
        values = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else None
        if not values or not all(isinstance(v, str) and v for v in values):
            raise invalid(action, name, "a non-empty string or a list of non-empty strings", value)
        if self.max_items is not None and len(values) > self.max_items:
            raise invalid(action, name, f"at most {self.max_items} items", f"{len(values)} items")
        if self.joined:
            values = [word for v in values for word in v.split()]
        for v in values:
            if self.choices and v not in self.choices:
                raise invalid(action, name, "made of " + ", ".join(self.choices), value)
            if self.urls and not is_http_url(v):
                raise invalid(action, name, "http(s) URLs", v)
        return [" ".join(values)] if self.joined else values
