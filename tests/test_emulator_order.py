"""The order the emulator lists messages in, over real HTTP: by creation date, or by ``date_sent`` on request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from airflow_provider_signalwire.testing import SignalWireEmulator

OWNED = "+15550000001"
CUSTOMER = "+15557654321"


@pytest.fixture
def session(signalwire_emulator: SignalWireEmulator) -> Iterator[requests.Session]:
    with requests.Session() as client:
        client.auth = (signalwire_emulator.project_id, signalwire_emulator.api_token)
        yield client


def get(emulator: SignalWireEmulator, session: requests.Session, uri: str, **params: Any) -> dict[str, Any]:
    response = session.get(emulator.base_url + uri, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.signalwire_emulator(messages_by_date_sent=True)
def test_messages_by_date_sent_list_a_message_that_sat_queued_by_when_it_was_sent(signalwire_emulator, session):
    emulator = signalwire_emulator
    waited = emulator.seed_messages(
        1, from_=OWNED, to=CUSTOMER, direction="outbound-api", status="queued", start=datetime(2024, 1, 1)
    )
    sent_at_once = emulator.seed_messages(
        2, from_=OWNED, to=CUSTOMER, direction="outbound-api", start=datetime(2024, 1, 2)
    )

    first = get(emulator, session, f"/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages.json", PageSize=2)
    second = get(emulator, session, first["next_page_uri"])

    listed = [m["sid"] for m in first["messages"] + second["messages"]]
    assert listed == [*waited, *sent_at_once[::-1]], "not sent yet: newest by date_sent, though created first"
    assert [m["status"] for m in first["messages"]] == ["queued", "delivered"]
    assert first["messages"][0]["date_sent"] is None


def test_by_default_messages_are_listed_by_creation(signalwire_emulator, session):
    emulator = signalwire_emulator
    waited = emulator.seed_messages(
        1, from_=OWNED, to=CUSTOMER, direction="outbound-api", status="queued", start=datetime(2024, 1, 1)
    )
    sent = emulator.seed_messages(1, from_=OWNED, to=CUSTOMER, direction="outbound-api", start=datetime(2024, 1, 2))

    page = get(emulator, session, f"/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages.json")

    assert [m["sid"] for m in page["messages"]] == [*sent, *waited]


def test_seeded_messages_take_a_known_status_only(signalwire_emulator):
    with pytest.raises(ValueError, match="status must be one of"):
        signalwire_emulator.seed_messages(1, from_=OWNED, to=CUSTOMER, status="lost")
