"""Segment counting: GSM-7 and UCS-2, concatenation, escapes and surrogate pairs kept whole."""

from __future__ import annotations

import pytest

from airflow_provider_signalwire.api.segments import count_segments

CYRILLIC = "ж"
EMOJI = "😀"


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("é@£ñ" * 40, "GSM-7", 1),  # accents of the GSM alphabet stay 7-bit
        ("€" * 80, "GSM-7", 1),  # extension characters take two septets: 160
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€" * 77, "GSM-7", 3),  # 306 septets, but no escape pair is split across segments
        (CYRILLIC * 70, "UCS-2", 1),
        (CYRILLIC * 71, "UCS-2", 2),
        (CYRILLIC * 134, "UCS-2", 2),
        (CYRILLIC * 135, "UCS-2", 3),
        (EMOJI * 35, "UCS-2", 1),  # each emoji is two UTF-16 units
        (EMOJI * 36, "UCS-2", 2),
        (CYRILLIC * 66 + EMOJI * 34, "UCS-2", 3),  # 134 units, but no surrogate pair is split
        ("Your parcel arrives today " + EMOJI, "UCS-2", 1),
        ("a" * 69 + EMOJI, "UCS-2", 2),  # one emoji makes a 69-character text two segments
        ("Curly “quotes” are not GSM", "UCS-2", 1),
    ],
)
def test_segments_as_carriers_count_them(text, encoding, segments):
    counted = count_segments(text)

    assert (counted.encoding, counted.segments) == (encoding, segments)


def test_units_count_escapes_and_surrogate_pairs_twice():
    assert count_segments("a€").units == 3
    assert count_segments("a" + EMOJI).units == 3
