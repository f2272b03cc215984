"""Searches of any size: progress logs, a warning when the limit cut them, results in object storage, fields."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from airflow_provider_signalwire.operators import SignalWireSearchCallsOperator, SignalWireSearchMessagesOperator

from .helpers import TO_NUMBER

OTHER_NUMBER = "+15557654321"


def logged(caplog, capfd) -> list[str]:
    """What the operator logged, wherever Airflow's logging sent it (the records, or the console)."""
    printed = capfd.readouterr()
    return [*(r.getMessage() for r in caplog.records), *(printed.out + printed.err).splitlines()]


def warnings_of(caplog, capfd) -> list[str]:
    return [line for line in logged(caplog, capfd) if "stopped at limit=" in line]


def test_a_search_cut_by_its_limit_says_so(signalwire_conn, caplog, capfd):
    signalwire_conn.seed_messages(30, from_=OTHER_NUMBER, to=TO_NUMBER)
    caplog.set_level(logging.INFO)

    found = SignalWireSearchMessagesOperator(task_id="search", limit=7).execute({})

    assert len(found) == 7
    (warning,) = warnings_of(caplog, capfd)
    assert "limit" in warning.lower() and "stopped at limit=7, and more messages match the filters" in warning


@pytest.mark.parametrize(("limit", "page_size"), [(30, None), (30, 10), (None, 10)])
def test_a_search_that_got_everything_does_not_warn(signalwire_conn, caplog, capfd, limit, page_size):
    signalwire_conn.seed_messages(30, from_=OTHER_NUMBER, to=TO_NUMBER)
    caplog.set_level(logging.INFO)

    found = SignalWireSearchMessagesOperator(task_id="search", limit=limit, page_size=page_size).execute({})

    assert len(found) == 30
    assert warnings_of(caplog, capfd) == []


def test_a_limit_at_the_end_of_a_page_with_more_pages_says_so(signalwire_conn, caplog, capfd):
    signalwire_conn.seed_messages(30, from_=OTHER_NUMBER, to=TO_NUMBER)

    found = SignalWireSearchMessagesOperator(task_id="search", limit=20, page_size=10).execute({})

    assert len(found) == 20
    assert len(warnings_of(caplog, capfd)) == 1


def test_a_long_search_logs_its_progress(signalwire_conn, caplog, capfd, monkeypatch):
    from airflow_provider_signalwire.operators import output

    signalwire_conn.seed_messages(50, from_=OTHER_NUMBER, to=TO_NUMBER)
    monkeypatch.setattr(output, "PROGRESS_EVERY", 0.0)  # every page counts as 10 seconds later
    caplog.set_level(logging.INFO)

    SignalWireSearchMessagesOperator(task_id="search", limit=None, page_size=10).execute({})

    lines = logged(caplog, capfd)
    progress = [line for line in lines if "Listing SignalWire messages:" in line]
    assert "Listing SignalWire messages: 1 pages, 10 items so far" in progress[0]
    assert "Listing SignalWire messages: 5 pages, 50 items so far" in progress[4]
    assert any("Listed SignalWire messages: 5 pages, 50 items" in line for line in lines)


def test_output_path_writes_the_results_and_returns_only_where_and_how_many(signalwire_conn, tmp_path):
    sids = set(signalwire_conn.seed_messages(25, from_=OTHER_NUMBER, to=TO_NUMBER, body="private {i}"))
    target = tmp_path / "out" / "messages.jsonl"

    result = SignalWireSearchMessagesOperator(
        task_id="search", limit=None, page_size=10, output_path=f"file://{target}"
    ).execute({})

    assert result == {"path": f"file://{target}", "count": 25}
    assert len(json.dumps(result)) < 200, "XCom stays small however many messages"
    written = [json.loads(line) for line in Path(target).read_text().splitlines()]
    assert {m["sid"] for m in written} == sids


def test_fields_keep_only_the_named_fields(signalwire_conn):
    signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER)

    found = SignalWireSearchCallsOperator(task_id="search", fields=["sid", "status"]).execute({})

    assert [set(c) for c in found] == [{"sid", "status"}]
