"""
How many SMS segments a text takes, as carriers count them (and bill them: each segment is a message).

A text that fits the GSM 03.38 alphabet travels in 7-bit septets: 160 in one segment, 153 per segment once it is
split (the concatenation header takes the rest), and the extension characters (``€``, ``[``, ``{``...) take two
septets each, an escape and the character, never split across segments. Any other character (an accent outside
the alphabet, Cyrillic, an emoji) makes the whole text UCS-2: 70 UTF-16 code units in one segment, 67 once split;
an emoji outside the Basic Multilingual Plane is a surrogate pair, two units that stay in one segment.
"""

from __future__ import annotations

from typing import NamedTuple

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
#: (units in a lone segment, units per segment of a split text), per encoding.
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


class SegmentCount(NamedTuple):
    """What a text costs: its encoding, its length in that encoding's units, and its segments."""

    encoding: str
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _unit_sizes(text: str) -> tuple[str, list[int]]:
    """The encoding of ``text`` and the units each character takes (kept together in one segment)."""
    if is_gsm7(text):
        return "GSM-7", [2 if char in GSM7_EXTENSION else 1 for char in text]
    return "UCS-2", [2 if ord(char) > 0xFFFF else 1 for char in text]


def count_segments(text: str) -> SegmentCount:
    """The segments that carry ``text``; an empty text takes none."""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    single, split = LIMITS[encoding]
    if units <= single:
        return SegmentCount(encoding, units, 1 if units else 0)
    segments, room = 1, split
    for size in sizes:
        if size > room:  # the character (an escape pair, a surrogate pair) starts the next segment whole
            segments, room = segments + 1, split
        room -= size
    return SegmentCount(encoding, units, segments)
