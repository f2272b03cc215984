"""A server whose next-page link keeps coming back cannot make a listing (or an operator) loop forever."""

from __future__ import annotations

import itertools
import json

import pytest
from loopback import serve

from airflow_provider_signalwire.api import paging
from airflow_provider_signalwire.compat import AirflowFailException
from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.hooks import SignalWireHook
from airflow_provider_signalwire.operators import SignalWireSetPhoneNumberWebhooksOperator

# A regression loops: it should fail in seconds, not at the suite's timeout.
pytestmark = pytest.mark.timeout(30)
PHONE_NUMBERS = "/api/relay/rest/phone_numbers"
LISTED = [{"id": "3f6c8a4e-1b2d-4c5e-8f7a-9b0c1d2e3f40", "number": "+15550000001", "name": "Main"}]
NEXT_LINKS = {
    "the same link": lambda n: f"{PHONE_NUMBERS}?page_token=PA1",
    "a new page_token": lambda n: f"{PHONE_NUMBERS}?page_token=PA{n}",
    "another host and order": lambda n: f"https://other.example.com{PHONE_NUMBERS}?page_size=50&x={n}&page_token=PA1",
}


def repeating(next_link):
    """A Relay listing whose every page holds the same numbers and links to a 'next' one."""
    counter = itertools.count(1)

    def app(method, path, query, body):
        return 200, {"data": LISTED, "links": {"self": path, "next": next_link(next(counter))}}

    return app


@pytest.mark.parametrize("link", NEXT_LINKS)
def test_setting_webhooks_stops_when_the_phone_number_listing_repeats_its_page(monkeypatch, link):
    with serve(repeating(NEXT_LINKS[link])) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", server.connection_json())
        operator = SignalWireSetPhoneNumberWebhooksOperator(
            task_id="point", phone_number="+15557654321", message_request_url="https://airflow.example.com/hook"
        )
        with pytest.raises(AirflowFailException, match=r"\+15557654321 is not in the project"):
            operator.execute({})

    assert [r["method"] for r in server.requests] == ["GET", "GET"], "the repeated page ends the listing"


@pytest.mark.parametrize("link", NEXT_LINKS)
def test_a_repeated_page_ends_a_listing_with_each_item_once(monkeypatch, link):
    with serve(repeating(NEXT_LINKS[link])) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", server.connection_json())
        numbers = list(SignalWireHook().list_phone_numbers())

    assert numbers == LISTED
    assert len(server.requests) == 2


def test_a_listing_that_never_ends_stops_at_the_page_cap_with_a_clear_error(monkeypatch):
    counter = itertools.count(1)

    def endless(method, path, query, body):
        n = next(counter)
        item = {"id": f"00000000-0000-4000-8000-{n:012d}", "number": f"+1555{n:07d}"}
        return 200, {"data": [item], "links": {"next": f"{PHONE_NUMBERS}?page_token=PA{n}"}}

    monkeypatch.setattr(paging, "MAX_PAGES", 5)
    with serve(endless) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", server.connection_json())
        with pytest.raises(SignalWireApiError) as raised:
            list(SignalWireHook().list_phone_numbers())

    assert len(server.requests) == 5
    assert f"GET {PHONE_NUMBERS}" in str(raised.value)
    assert "still linked to a next page after 5 pages" in str(raised.value) and "'limit'" in str(raised.value)
    assert json.dumps(server.requests[-1]["query"]) == json.dumps({"page_token": ["PA4"]})
