"""
Date filters over real HTTP, under both readings of SignalWire's ``X>`` / ``X<`` day filters.

The official spec says "after" and "before" a day (strict); the emulator, like some clients, reads them as "on or
after" and "on or before" (inclusive). A search must find exactly the same items under either reading.
"""

from __future__ import annotations

import email.utils
import operator
from datetime import UTC, date, datetime

import pytest
from loopback import serve

from airflow_provider_signalwire.api.resources import resource
from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.hooks import SignalWireHook

CUSTOMER = "+15557654321"
OWN = "+15550000001"
MOMENTS = {
    "19th 23:59": datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC),
    "20th 21:00": datetime(2026, 11, 20, 21, 0, tzinfo=UTC),
    "20th 22:30": datetime(2026, 11, 20, 22, 30, tzinfo=UTC),
    "21st 01:00": datetime(2026, 11, 21, 1, 0, tzinfo=UTC),
    "21st 03:00": datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
    "22nd 00:00": datetime(2026, 11, 22, 0, 0, tzinfo=UTC),
}
# (filters, the items they find): a window across two UTC days, whole days as dates, ISO strings as templates give.
SEARCHES = [
    (
        {"_after": datetime(2026, 11, 20, 22, 0, tzinfo=UTC), "_before": datetime(2026, 11, 21, 2, 0, tzinfo=UTC)},
        {"20th 22:30", "21st 01:00"},
    ),
    ({"_after": date(2026, 11, 21), "_before": date(2026, 11, 22)}, {"21st 01:00", "21st 03:00"}),
    ({"_after": date(2026, 11, 20)}, {"20th 21:00", "20th 22:30", "21st 01:00", "21st 03:00", "22nd 00:00"}),
    ({"_before": date(2026, 11, 20)}, {"19th 23:59"}),
    (
        {"_after": "2026-11-20T22:30:00Z", "_before": "2026-11-22T00:00:00+00:00"},
        {"20th 22:30", "21st 01:00", "21st 03:00"},
    ),
]
# The hooks' date filters, the API's name for each, and the list that carries them.
DATE_FILTERS = [
    ("messages", "date_sent", "DateSent"),
    ("calls", "start_time", "StartTime"),
    ("calls", "end_time", "EndTime"),
]
_STRICT = {">": operator.gt, "<": operator.lt, "": operator.eq}


def strict_listing(method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, object]:
    """A Compatibility list that reads ``X>`` as after that day and ``X<`` as before it, as the spec words them."""
    key = "messages" if path.endswith("/Messages") else "calls"
    items = [
        {"sid": label, **{field: email.utils.format_datetime(moment) for _, field, _ in DATE_FILTERS}}
        for label, moment in MOMENTS.items()
    ]
    for _, field, api_name in DATE_FILTERS:
        for suffix, keep in _STRICT.items():
            if api_name + suffix in query:
                day = date.fromisoformat(query[api_name + suffix][0])
                items = [i for i in items if keep(email.utils.parsedate_to_datetime(i[field]).date(), day)]
    return 200, {key: items, "next_page_uri": None}


def search(name: str, base: str, bounds: dict[str, object]) -> set[str]:
    filters = {base + suffix: value for suffix, value in bounds.items()}
    return {item["sid"] for item in SignalWireHook().list(resource(name), **filters)}


@pytest.mark.parametrize(("name", "base", "api_name"), DATE_FILTERS)
@pytest.mark.parametrize(("bounds", "expected"), SEARCHES)
def test_date_filters_find_exactly_the_window_when_signalwire_reads_after_and_before_strictly(
    monkeypatch, name, base, api_name, bounds, expected
):
    with serve(strict_listing) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", server.connection_json())
        found = search(name, base, bounds)

    assert found == expected
    (request,) = server.requests
    assert {name for name in request["query"] if name.startswith(api_name)} <= {api_name + ">", api_name + "<"}


@pytest.mark.parametrize(("bounds", "expected"), SEARCHES)
def test_date_filters_find_exactly_the_window_when_signalwire_reads_after_and_before_inclusively(
    signalwire_conn, bounds, expected
):
    sids = {}
    for label, moment in MOMENTS.items():
        message = signalwire_conn.inject_inbound_message(CUSTOMER, OWN, body=label, date_sent=moment)
        call = signalwire_conn.inject_inbound_call(CUSTOMER, OWN, start_time=moment, duration=0)
        sids[message["sid"]] = sids[call["sid"]] = label

    for name, base, _ in DATE_FILTERS:
        assert {sids[sid] for sid in search(name, base, bounds)} == expected, (name, base)


def test_a_naive_iso_string_is_told_to_add_its_offset_or_z_before_any_request(hook, signalwire_conn):
    with pytest.raises(SignalWireInputError) as raised:
        hook.list_messages(date_sent_after="2026-11-20T22:00:00")

    assert str(raised.value) == (
        "SignalWire filter 'date_sent_after' ('2026-11-20T22:00:00') has no timezone, so the moment would be a "
        "guess: give a string its UTC offset or Z, for example '2026-11-20T22:00:00Z' or "
        "'2026-11-20T22:00:00+02:00'."
    )
    assert signalwire_conn.requests == []


def test_every_naive_date_filter_is_named_in_one_error_before_any_request(hook, signalwire_conn):
    with pytest.raises(SignalWireInputError) as raised:
        hook.list_calls(start_time_after="2026-11-20T22:00:00", end_time_before=datetime(2026, 11, 21))

    text = str(raised.value)
    assert "filters 'start_time_after' ('2026-11-20T22:00:00'), 'end_time_before' ('2026-11-21T00:00:00') have" in text
    assert "'2026-11-20T22:00:00Z'" in text and "datetime(..., tzinfo=timezone.utc)" in text
    assert signalwire_conn.requests == []
