"""Rules across the arguments of one operation: what is required, what defaults, what excludes what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_signalwire.exceptions import SignalWireInputError


def present(params: Mapping[str, Any], name: str) -> bool:
    """Whether an argument was given: not ``None`` and not empty."""
    value = params.get(name)
    if value is None:
        return False
    return not (isinstance(value, (str, list, tuple)) and len(value) == 0)


class Rule:
    """A check across the arguments of one operation; it may fill in a default before the values are checked."""

    __slots__ = ()

    def apply(self, action: str, params: dict[str, Any], defaults: Mapping[str, Any]) -> None:
        raise NotImplementedError


class Required(Rule):
    """
    ``name`` must be given, unless one of ``unless`` is; when neither is, the connection's ``default`` is used.

    :param name: the argument.
    :param unless: arguments that stand in for it (a Messaging Service for a From number).
    :param default: the connection setting used when it is not given (``default_from``).
    :param empty: an empty value counts as given (a body cleared on purpose).
    """

    __slots__ = ("default", "empty", "name", "unless")

    def __init__(
        self, name: str, *, unless: tuple[str, ...] = (), default: str | None = None, empty: bool = False
    ) -> None:
        self.name = name
        self.unless = unless
        self.default = default
        self.empty = empty

    def apply(self, action: str, params: dict[str, Any], defaults: Mapping[str, Any]) -> None:
        if self.empty and params.get(self.name) is not None:
            return
        if present(params, self.name) or any(present(params, other) for other in self.unless):
            return
        if self.default and defaults.get(self.default):
            params[self.name] = defaults[self.default]
            return
        alternatives = [repr(other) for other in self.unless]
        if self.default:
            alternatives.append(f"set {self.default!r} on the connection")
        hint = f" (or {', or '.join(alternatives)})" if alternatives else ""
        raise SignalWireInputError(f"SignalWire {action}: {self.name!r} is required{hint}.")


class OneOf(Rule):
    """
    Of ``names``, exactly one must be given (``exactly``), or at least one.

    :param names: the arguments.
    :param why: what they are for, for the error.
    :param exactly: refuse more than one.
    """

    __slots__ = ("exactly", "names", "why")

    def __init__(self, *names: str, why: str = "", exactly: bool = True) -> None:
        self.names = names
        self.why = why
        self.exactly = exactly

    def apply(self, action: str, params: dict[str, Any], defaults: Mapping[str, Any]) -> None:
        given = [name for name in self.names if present(params, name)]
        if len(given) == 1 or (given and not self.exactly):
            return
        names = " or ".join(repr(name) for name in self.names)
        why = f" ({self.why})" if self.why else ""
        if self.exactly:
            got = "several" if given else "neither"
            got = "both" if len(given) == 2 and len(self.names) == 2 else got
            raise SignalWireInputError(f"SignalWire {action}: give exactly one of {names}{why}; got {got}.")
        if len(self.names) == 2:
            first, second = self.names
            raise SignalWireInputError(f"SignalWire {action}: give {first!r}, {second!r} or both{why}; got neither.")
        raise SignalWireInputError(f"SignalWire {action}: give at least one of {', '.join(sorted(self.names))}{why}.")


class Implies(Rule):
    """Giving ``name`` also sets ``target`` to ``value`` (a number's webhook URL switches its handler to webhooks)."""

    __slots__ = ("name", "target", "value")

    def __init__(self, name: str, target: str, value: str) -> None:
        self.name = name
        self.target = target
        self.value = value

    def apply(self, action: str, params: dict[str, Any], defaults: Mapping[str, Any]) -> None:
        if present(params, self.name):
            params.setdefault(self.target, self.value)
