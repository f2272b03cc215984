"""
What exports and searches leave in object storage: a complete object or none at the final path (never a partial
one that looks complete), and no secret of the connection, in any format.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_signalwire.api.errors import SignalWireApiError
from airflow_provider_signalwire.operators import SignalWireExportOperator, SignalWireSearchMessagesOperator

from .helpers import TO_NUMBER, make_context

OTHER_NUMBER = "+15557654321"
DAY1 = datetime(2024, 6, 10, tzinfo=UTC)
# Quotes, a backslash and a non-ASCII letter: JSON and CSV escape them, so the raw key is not what gets written.
SIGNING_KEY = 'PSK_signing"key\\ü_31f'


def export_context() -> dict:
    return {
        **make_context(),
        "run_id": "r",
        "logical_date": DAY1,
        "data_interval_start": DAY1 - timedelta(days=1),
        "data_interval_end": DAY1,
    }


def fail_after(emulator, pages: int) -> None:
    """The next ``pages`` message list requests are answered; the one after gets a 400."""
    emulator.add_fault("slow", method="GET", path="/Messages$", times=pages, delay=0)
    emulator.add_fault("status", method="GET", path="/Messages$", status=400, message="PageToken expired")


def folder_contents(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("output_format", ["jsonl", "csv"])
def test_a_failed_export_leaves_no_object_at_its_path_and_no_temporary_one(
    signalwire_conn, airflow_db, tmp_path, output_format
):
    for i in range(120):
        signalwire_conn.inject_inbound_message(
            OTHER_NUMBER, TO_NUMBER, f"m{i}", date_sent=DAY1 - timedelta(minutes=i + 1)
        )
    fail_after(signalwire_conn, 6)
    target = tmp_path / "out" / f"messages.{output_format}"
    operator = SignalWireExportOperator(
        task_id="export", resource="messages", path=f"file://{target}", format=output_format, page_size=10
    )

    with pytest.raises(SignalWireApiError):
        operator.execute(export_context())

    written = target.read_text().count("\n") if target.exists() else 0
    assert not target.exists(), f"a partial export of {written} lines was left at the final path"
    assert folder_contents(target.parent) == [], "the temporary object is removed too"


def test_a_failed_export_keeps_the_complete_object_of_an_earlier_try(signalwire_conn, airflow_db, tmp_path):
    for i in range(30):
        signalwire_conn.inject_inbound_message(
            OTHER_NUMBER, TO_NUMBER, f"m{i}", date_sent=DAY1 - timedelta(minutes=i + 1)
        )
    target = tmp_path / "messages.jsonl"
    arguments = {"task_id": "export", "resource": "messages", "path": f"file://{target}", "page_size": 10}
    assert SignalWireExportOperator(**arguments).execute(export_context())["count"] == 30
    complete = target.read_text()
    fail_after(signalwire_conn, 1)

    with pytest.raises(SignalWireApiError):
        SignalWireExportOperator(**arguments).execute(export_context())

    left = target.read_text()
    assert left == complete, f"the complete 30 lines were replaced by {left.count(chr(10))}"
    assert folder_contents(tmp_path) == ["messages.jsonl"]


def test_a_failed_search_to_output_path_leaves_nothing_there(signalwire_conn, tmp_path):
    signalwire_conn.seed_messages(60, from_=OTHER_NUMBER, to=TO_NUMBER)
    fail_after(signalwire_conn, 3)
    target = tmp_path / "found" / "messages.jsonl"

    with pytest.raises(SignalWireApiError):
        SignalWireSearchMessagesOperator(
            task_id="search", limit=None, page_size=10, output_path=f"file://{target}"
        ).execute({})

    written = target.read_text().count("\n") if target.exists() else 0
    assert not target.exists(), f"a partial search of {written} lines was left at output_path"
    assert folder_contents(target.parent) == []


@pytest.fixture
def conn_with_signing_key(signalwire_emulator, monkeypatch):
    connection = json.loads(signalwire_emulator.connection_json())
    connection["extra"]["signing_secret"] = SIGNING_KEY
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", json.dumps(connection))
    token = signalwire_emulator.api_token
    body = f"my token is {token} and key {SIGNING_KEY}"
    signalwire_emulator.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, body, date_sent=DAY1 - timedelta(hours=1))
    signalwire_emulator.inject_inbound_message(
        OTHER_NUMBER, TO_NUMBER, "nothing to hide", date_sent=DAY1 - timedelta(hours=2)
    )
    return token


def secrets_in(path: Path, token: str) -> dict[str, int]:
    """How often each secret appears in a written object, raw or as its format writes it (decoded)."""
    raw = path.read_bytes().decode(errors="replace")
    if path.suffix == ".jsonl":
        decoded = json.dumps([json.loads(line) for line in raw.splitlines()], ensure_ascii=False)
    elif path.suffix == ".csv":
        with path.open(newline="") as f:
            decoded = json.dumps(list(csv.reader(f)), ensure_ascii=False)
    else:
        import pyarrow.parquet as pq

        decoded = json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False)
    texts = f"{raw}\n{decoded}"
    return {
        "token": texts.count(token),
        "signing key": texts.count(SIGNING_KEY) + decoded.count(json.dumps(SIGNING_KEY, ensure_ascii=False)[1:-1]),
    }


def bodies(path: Path) -> list[str]:
    if path.suffix == ".jsonl":
        return sorted(json.loads(line)["body"] for line in path.read_text().splitlines())
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return sorted(row["body"] for row in csv.DictReader(f))
    import pyarrow.parquet as pq

    return sorted(row["body"] for row in pq.read_table(path).to_pylist())


@pytest.mark.parametrize("output_format", ["jsonl", "csv", "parquet"])
def test_exported_files_hold_no_secret_of_the_connection(conn_with_signing_key, airflow_db, tmp_path, output_format):
    target = tmp_path / f"messages.{output_format}"

    result = SignalWireExportOperator(
        task_id="export", resource="messages", path=f"file://{target}", format=output_format
    ).execute(export_context())

    assert result["count"] == 2
    assert secrets_in(target, conn_with_signing_key) == {"token": 0, "signing key": 0}
    assert bodies(target) == ["my token is *** and key ***", "nothing to hide"], "as XCom reads it"


@pytest.mark.parametrize("output_format", ["jsonl", "csv"])
def test_search_output_files_hold_no_secret_of_the_connection(conn_with_signing_key, tmp_path, output_format):
    target = tmp_path / f"found.{output_format}"

    result = SignalWireSearchMessagesOperator(
        task_id="search", output_path=f"file://{target}", output_format=output_format, fields=["sid", "body"]
    ).execute({})

    assert result["count"] == 2
    assert secrets_in(target, conn_with_signing_key) == {"token": 0, "signing key": 0}
    assert bodies(target) == ["my token is *** and key ***", "nothing to hide"]
