"""The bulk send when SignalWire answers a send after the connection's timeout: looked up once it can have landed."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from airflow_compat import AirflowException

from airflow_provider_signalwire.operators import SignalWireBulkSendOperator

from .helpers import FROM_NUMBER, DictStateStore, api_requests, make_context, texts_per_number

NUMBERS = [f"+1555030{i:04d}" for i in range(3)]
TIMEOUT = 2


@pytest.fixture
def slow_conn(signalwire_emulator, monkeypatch):
    """The default connection with a 2 s timeout, so that a slower answer comes after the client gave up."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri() + f"&timeout={TIMEOUT}")
    return signalwire_emulator


def bulk(**arguments) -> SignalWireBulkSendOperator:
    return SignalWireBulkSendOperator(
        task_id="bulk", recipients=NUMBERS, body="Delivery today", from_=FROM_NUMBER, **arguments
    )


def test_a_send_answered_late_is_found_not_sent_again(slow_conn):
    # The first send lands 4 s after it left: 2 s after the client gave up on it.
    slow_conn.add_fault("slow", method="POST", path=r"/Messages$", delay=2 * TIMEOUT)

    started = time.time()
    summary = bulk(messages_per_second=2).execute(make_context())

    texts = texts_per_number(slow_conn)
    print("texts per number:", dict(texts), "summary:", summary)
    assert texts == Counter(NUMBERS), "each recipient texted exactly once"
    assert (summary["sent"], summary["unknown"], summary["failed"]) == (3, 0, 0)
    assert summary["segments"] == 3
    posts = api_requests(slow_conn, "POST", r"/Messages$")
    looks = api_requests(slow_conn, "GET", r"/Messages$")
    assert len(posts) == 3, "no send was made again"
    assert looks and looks[0]["time"] - posts[0]["time"] >= 2 * TIMEOUT, "looked for only once it could have landed"
    assert posts[-1]["time"] < looks[0]["time"], "the others were texted at the run's pace meanwhile"
    assert all(p["time"] - started >= k * 0.5 - 0.01 for k, p in enumerate(posts)), "at 2 a second, never faster"


def test_a_send_still_missing_after_its_looks_is_unknown_and_never_sent_again(slow_conn, tmp_path, capfd):
    # Given up at 2 s, looked for at 9, 16 and 23 s: it lands only at 25 s.
    slow_conn.add_fault("slow", method="POST", path=r"/Messages$", delay=25)
    store = DictStateStore()
    results = tmp_path / "results.jsonl"

    with pytest.raises(AirflowException, match=r"0 recipients failed, 1 with an unknown outcome \(fail_on=1\)"):
        bulk(messages_per_second=100, results_path=str(results)).execute(make_context(try_number=1, store=store))
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    printed = capfd.readouterr()
    # A retry texts nobody: the ledger says which outcome is unknown.
    summary = bulk(messages_per_second=100, fail_on=None).execute(make_context(try_number=2, store=store))

    texts = texts_per_number(slow_conn)
    print("texts per number:", dict(texts), "summary:", summary)
    assert texts == Counter(NUMBERS), "each recipient texted exactly once, the late one too"
    assert len(api_requests(slow_conn, "POST", r"/Messages$")) == 3, "neither the try nor its retry sent it again"
    assert len(api_requests(slow_conn, "GET", r"/Messages$")) == 3, "looked for three times"
    assert (summary["sent"], summary["unknown"], summary["failed"]) == (2, 1, 0)
    assert [(row["index"], row["outcome"]) for row in rows] == [(0, "unknown"), (1, "sent"), (2, "sent")]
    assert "1 recipients' sends got no answer in time" in printed.out + printed.err


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "drop_after"},
        {"kind": "drop_before"},
        {"kind": "status", "status": 500},
        {"kind": "429", "retry_after": 1},
    ],
    ids=["drop_after", "drop_before", "500", "429"],
)
def test_a_send_that_was_answered_or_dropped_texts_each_recipient_once(slow_conn, fault):
    slow_conn.add_fault(method="POST", path=r"/Messages$", **fault)

    summary = bulk(messages_per_second=100).execute(make_context())

    assert texts_per_number(slow_conn) == Counter(NUMBERS), "each recipient texted exactly once"
    assert (summary["sent"], summary["unknown"], summary["failed"]) == (3, 0, 0)
