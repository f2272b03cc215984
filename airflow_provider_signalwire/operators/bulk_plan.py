"""
The pass over every recipient that a bulk send makes before it texts anyone: render each text, count its segments,
check the limits and the arguments, and find who is skipped without a request (suppressed, repeated, invalid).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_signalwire.api.params import E164_PATTERN
from airflow_provider_signalwire.api.segments import SegmentCount, count_segments
from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.bulk_ledger import recipients_identity

#: SignalWire's code for an invalid ``To`` number, given locally to a number that is not E.164.
INVALID_NUMBER = 21211
_E164 = re.compile(E164_PATTERN)


NO_TEXT = SegmentCount("GSM-7", 0, 0)


@dataclass
class Worst:
    """The recipient whose text takes the most segments."""

    index: int = -1
    to: str = ""
    count: SegmentCount = NO_TEXT


@dataclass
class Plan:
    identity: dict[str, Any]
    total_segments: int = 0
    worst: Worst = field(default_factory=Worst)
    #: Recipients skipped without a request, by index: the code recorded for each.
    skipped: dict[int, str | int] = field(default_factory=dict)


def message_cost(count: SegmentCount, media: bool) -> int:
    """How many messages of the number's rate one text takes: its segments, or one MMS."""
    return 1 if media else max(1, count.segments)


def make_plan(
    recipients: Iterator[dict[str, Any]],
    render: Callable[[Mapping[str, Any]], str],
    check: Callable[[Mapping[str, Any], str], None],
    suppressed: frozenset[str],
    media: bool,
) -> Plan:
    """
    Go through every recipient once: ``render`` its text, ``check`` its arguments (raises before anything is sent),
    count segments; numbers are kept only while looking for repeats.
    """
    numbers: list[str] = []
    seen: set[str] = set()
    plan = Plan(identity={})
    for index, recipient in enumerate(recipients):
        to = recipient["to"]
        numbers.append(to)
        if to in suppressed:
            plan.skipped[index] = "suppressed"
            continue
        if to in seen:
            plan.skipped[index] = "duplicate"
            continue
        seen.add(to)
        if not _E164.fullmatch(to):
            plan.skipped[index] = INVALID_NUMBER
            continue
        body = render_for(render, recipient, index)
        try:
            check(recipient, body)
        except SignalWireInputError as error:
            raise SignalWireInputError(f"SignalWire: recipient {index} ({to}): {error}") from None
        count = count_segments(body)
        plan.total_segments += message_cost(count, media)
        if count.segments > plan.worst.count.segments:
            plan.worst = Worst(index, to, count)
    plan.identity = recipients_identity(numbers)
    return plan


def render_for(render: Callable[[Mapping[str, Any]], str], recipient: Mapping[str, Any], index: int) -> str:
    try:
        return render(recipient)
    except Exception as error:  # a template error names the field, never the text
        raise SignalWireInputError(
            f"SignalWire: body could not be rendered for recipient {index} ({recipient['to']}): "
            f"{type(error).__name__}: {error}"
        ) from None


def check_limits(plan: Plan, max_segments: int | None, max_total_segments: int | None) -> None:
    """Refuse the run, before anything is sent, when a text or the whole run takes too many segments."""
    worst = plan.worst
    described = (
        f"recipient {worst.index} ({worst.to}) takes {worst.count.segments} segments "
        f"({worst.count.encoding}, {worst.count.units} units)"
    )
    if max_segments is not None and worst.count.segments > max_segments:
        raise SignalWireInputError(
            f"SignalWire: max_segments is {max_segments} per message, but {described}; shorten the text, keep it to "
            "the GSM-7 alphabet (no emoji or curly quotes), or raise max_segments. Nothing was sent."
        )
    if max_total_segments is not None and plan.total_segments > max_total_segments:
        raise SignalWireInputError(
            f"SignalWire: max_total_segments is {max_total_segments}, but this run takes {plan.total_segments} "
            f"segments; the longest text: {described}. Nothing was sent."
        )


def whole_number_or_none(name: str, value: Any, minimum: int = 1) -> int | None:
    if value is None:
        return None
    number = int(value) if isinstance(value, str) and value.strip().isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
        raise SignalWireInputError(
            f"SignalWire: {name!r} must be a whole number of at least {minimum}, or None; got {value!r}."
        )
    return number
