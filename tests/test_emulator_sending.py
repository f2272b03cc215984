"""The emulator's sending: opt-outs (21610), each sender's rate and backlog, and segments as carriers count them."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_signalwire.testing import SignalWireEmulator

OWNED = "+15550000001"
CUSTOMER = "+15557654321"


@pytest.fixture
def emulator():
    with SignalWireEmulator(status_step_seconds=0.0) as emulator:
        yield emulator


def send(emulator: SignalWireEmulator, to: str = CUSTOMER, body: str = "Hello", **form: str) -> requests.Response:
    return requests.post(
        f"{emulator.base_url}/api/laml/2010-04-01/Accounts/{emulator.project_id}/Messages.json",
        data={"To": to, "From": OWNED, "Body": body, **form},
        auth=(emulator.project_id, emulator.api_token),
        timeout=10,
    )


def test_a_number_that_replied_stop_is_refused_with_21610(emulator):
    requests.post(f"{emulator.base_url}/__emulator__/opt_outs", json={"numbers": [CUSTOMER]}, timeout=10)

    answer = send(emulator)

    assert answer.status_code == 400 and answer.json()["code"] == 21610
    assert emulator.messages == []
    assert send(emulator, to="+15557654322").status_code == 201, "other numbers still get texts"


def test_what_exceeds_a_senders_rate_waits_queued(emulator):
    emulator.message_rate = 2  # segments a second
    emulator.status_step_seconds = 0.001
    sids = [send(emulator).json()["sid"] for _ in range(4)]
    other_sender = send(emulator, From="+15550000002").json()["sid"]

    emulator.advance_clock(0.6)

    statuses = [emulator.get_message(sid)["status"] for sid in sids]
    assert statuses[:2] != ["queued", "queued"] and statuses[2:] == ["queued", "queued"]
    assert emulator.get_message(other_sender)["status"] != "queued", "each sender has its own rate"
    emulator.advance_clock(1.5)
    assert all(emulator.get_message(sid)["status"] != "queued" for sid in sids)


def test_a_long_text_counts_each_segment_against_the_rate(emulator):
    emulator.message_rate = 1
    emulator.status_step_seconds = 0.001
    first = send(emulator, body="ж" * 135).json()  # three UCS-2 segments
    second = send(emulator).json()

    emulator.advance_clock(2.5)

    assert first["num_segments"] == 3
    assert emulator.get_message(second["sid"])["status"] == "queued", "it waits for the three segments before it"
    emulator.advance_clock(1)
    assert emulator.get_message(second["sid"])["status"] != "queued"


def test_a_full_backlog_fails_the_message_with_30001():
    with SignalWireEmulator(message_rate=1, backlog_limit=2) as emulator:
        answers = [send(emulator).json() for _ in range(3)]

    assert [a["status"] for a in answers] == ["queued", "queued", "failed"]
    assert answers[2]["error_code"] == "30001"


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("€" * 81, 2),
        ("a" * 152 + "€" * 77, 3),
        ("😀" * 36, 2),
        ("ж" * 66 + "😀" * 34, 3),
    ],
)
def test_segments_as_the_service_counts_them(emulator, body, segments):
    assert send(emulator, body=body).json()["num_segments"] == segments
