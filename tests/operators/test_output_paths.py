"""An export or search path that cannot be written locally is refused, naming its parameter, before any request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators import SignalWireExportOperator, SignalWireSearchMessagesOperator

from .helpers import make_context

T1 = datetime(2024, 6, 10, tzinfo=UTC)
T2 = datetime(2024, 6, 11, tzinfo=UTC)


def export_context():
    return {**make_context(), "run_id": "r", "logical_date": T2, "data_interval_start": T1, "data_interval_end": T2}


def test_an_export_path_under_a_file_is_refused_naming_path_before_any_request(signalwire_conn, tmp_path):
    (tmp_path / "exports").write_text("a file, not a folder")
    given = f"file://{tmp_path}/exports/messages.jsonl"

    with pytest.raises(SignalWireInputError) as raised:
        SignalWireExportOperator(task_id="export", resource="messages", path=given).execute(export_context())

    assert "'path'" in str(raised.value) and f"{tmp_path}/exports is a file, not a folder" in str(raised.value)
    assert given in str(raised.value)
    assert signalwire_conn.requests == []


def test_an_export_path_that_is_a_folder_is_refused(signalwire_conn, tmp_path):
    with pytest.raises(SignalWireInputError, match=r"'path' is a folder; give the path of a file"):
        SignalWireExportOperator(task_id="export", resource="messages", path=f"file://{tmp_path}").execute(
            export_context()
        )

    assert signalwire_conn.requests == []


def test_a_search_output_path_under_a_file_is_refused_naming_output_path(signalwire_conn, tmp_path):
    (tmp_path / "out").write_text("a file")

    with pytest.raises(SignalWireInputError, match=r"'output_path' .* is a file, not a folder"):
        SignalWireSearchMessagesOperator(task_id="search", output_path=f"file://{tmp_path}/out/x.jsonl").execute(
            make_context()
        )

    assert signalwire_conn.requests == []
