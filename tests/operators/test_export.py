"""The export operator in real DAG runs on Airflow 3's default timetables, against the emulator over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import DAG

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators import SignalWireExportOperator

from .helpers import FROM_NUMBER, TO_NUMBER, task_states, xcom_value

OTHER_NUMBER = "+15557654321"
DAY1 = datetime(2024, 6, 10, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def export_dag(dag_id: str, folder: Path, name: str = "{{ ds }}", schedule="@daily", **arguments) -> DAG:
    with DAG(dag_id, schedule=schedule, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False) as dag:
        SignalWireExportOperator(
            task_id="export", resource="messages", path=f"file://{folder}/{name}.jsonl", **arguments
        )
    return dag


def lines(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path.removeprefix("file://")).read_text().splitlines()]


def test_daily_exports_write_exactly_each_window_once_and_a_rerun_rewrites_the_same_object(
    run_dag, signalwire_emulator, tmp_path
):
    dated = {
        "before": DAY1 - timedelta(days=1, seconds=1),
        "run1 first": DAY1 - timedelta(days=1),
        "run1 last": DAY1 - timedelta(seconds=1),
        "run2 first": DAY1,
        "run2 last": DAY2 - timedelta(seconds=1),
        "after": DAY2,
    }
    for name, moment in dated.items():
        signalwire_emulator.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, name, date_sent=moment)
    dag = export_dag("export_daily", tmp_path)

    first = run_dag(dag, logical_date=DAY1)
    second = run_dag(dag, logical_date=DAY2)

    assert first.state == second.state == "success", (task_states(first), task_states(second))
    one, two = xcom_value(first, "export"), xcom_value(second, "export")
    assert set(one) == {"path", "count", "window"}, "XCom holds where, how many and which window: no items"
    assert one["window"] == {"start": (DAY1 - timedelta(days=1)).isoformat(), "end": DAY1.isoformat()}
    assert two["window"] == {"start": DAY1.isoformat(), "end": DAY2.isoformat()}, "from the previous fire time"
    assert sorted(m["body"] for m in lines(one["path"])) == ["run1 first", "run1 last"]
    assert sorted(m["body"] for m in lines(two["path"])) == ["run2 first", "run2 last"]
    assert (one["count"], two["count"]) == (2, 2)
    assert one["path"] == f"file://{tmp_path}/2024-06-10.jsonl"

    # Running the first run again rewrites its own object with its own window, not the latest one.
    Path(one["path"].removeprefix("file://")).write_text("stale\n")
    again = run_dag(dag, logical_date=DAY1)
    assert again.state == "success"
    assert xcom_value(again, "export") == one
    assert sorted(m["body"] for m in lines(one["path"])) == ["run1 first", "run1 last"]


def test_a_lookback_exports_again_a_message_whose_status_moved_on(run_dag, signalwire_emulator, hook, tmp_path):
    signalwire_emulator.status_step_seconds = 600
    sent = hook.create_message(to=TO_NUMBER, from_=FROM_NUMBER, body="status moves on")
    signalwire_emulator.advance_clock(900)  # sent (after 600 s), not yet delivered (after 1200 s)
    created = datetime.fromtimestamp(signalwire_emulator.now(), UTC).replace(microsecond=0)
    # Every half hour: each run writes the half hour before it.
    first_date, second_date = created + timedelta(minutes=5), created + timedelta(minutes=35)
    every = timedelta(minutes=30)
    dag = export_dag("export_lookback", tmp_path, "{{ ts_nodash }}", every, lookback=timedelta(hours=1))
    plain = export_dag("export_no_lookback", tmp_path / "plain", "{{ ts_nodash }}", every)

    first, plain_first = run_dag(dag, logical_date=first_date), run_dag(plain, logical_date=first_date)
    signalwire_emulator.advance_clock(600)  # delivered now
    second, plain_second = run_dag(dag, logical_date=second_date), run_dag(plain, logical_date=second_date)

    assert {r.state for r in (first, second, plain_first, plain_second)} == {"success"}
    assert [(m["sid"], m["status"]) for m in lines(xcom_value(first, "export")["path"])] == [(sent["sid"], "sent")]
    assert [(m["sid"], m["status"]) for m in lines(xcom_value(second, "export")["path"])] == [
        (sent["sid"], "delivered")
    ]
    assert xcom_value(second, "export")["window"]["start"] == (first_date - timedelta(hours=1)).isoformat()
    assert lines(xcom_value(plain_second, "export")["path"]) == [], "without a lookback, each message once"


@pytest.mark.parametrize("output_format", ["csv", "parquet"])
def test_csv_and_parquet_hold_the_chosen_fields_of_every_item(run_dag, signalwire_emulator, tmp_path, output_format):
    sids = {
        signalwire_emulator.inject_inbound_message(
            OTHER_NUMBER, TO_NUMBER, f"m{i}", date_sent=DAY1 - timedelta(hours=i)
        )["sid"]
        for i in range(1, 4)
    }
    with DAG(f"export_{output_format}", schedule="@daily", start_date=DAY1, catchup=False) as dag:
        SignalWireExportOperator(
            task_id="export",
            resource="messages",
            path=f"file://{tmp_path}/{{{{ ds }}}}.{output_format}",
            format=output_format,
            fields=["sid", "status", "num_media"],
            page_size=2,
        )

    dag_run = run_dag(dag, logical_date=DAY1)

    assert dag_run.state == "success", task_states(dag_run)
    result = xcom_value(dag_run, "export")
    local = result["path"].removeprefix("file://")
    if output_format == "csv":
        import csv

        with open(local, newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(local).to_pylist()
    assert result["count"] == 3
    assert {row["sid"] for row in rows} == sids
    assert all(set(row) == {"sid", "status", "num_media"} and row["status"] == "received" for row in rows)
    assert {row["num_media"] for row in rows} == {"0"}


def test_calls_export_by_start_time(signalwire_conn, airflow_db, tmp_path):
    from .helpers import make_context

    inside = signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=DAY1 - timedelta(hours=2))
    signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=DAY1)
    context = {
        **make_context(),
        "run_id": "r",
        "logical_date": DAY1,
        "data_interval_start": DAY1 - timedelta(days=1),
        "data_interval_end": DAY1,
    }
    target = f"file://{tmp_path}/calls.jsonl"

    result = SignalWireExportOperator(task_id="export", resource="calls", path=target).execute(context)

    assert result["count"] == 1 and [c["sid"] for c in lines(result["path"])] == [inside["sid"]]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"resource": "recordings"}, "'resource' must be one of messages, calls; got 'recordings'"),
        ({"format": "xml"}, "'format' must be one of jsonl, csv, parquet; got 'xml'"),
        ({"path": "exports/no-scheme.jsonl"}, "'path' must be an ObjectStoragePath or a URL"),
        ({"lookback": "an hour"}, "'lookback' must be a timedelta or a number of seconds"),
        ({"fields": []}, "'fields' must be a field name or a list of field names"),
        ({"parent_call_sid": "CA1"}, "unknown filter(s) parent_call_sid"),
        ({"lookback": -1}, "'lookback' must be a timedelta or a number of seconds, 0 or more; got -1"),
    ],
)
def test_bad_arguments_are_named_before_any_request(signalwire_conn, airflow_db, arguments, named):
    from .helpers import api_requests, make_context

    given = {"resource": "messages", "path": "file:///nowhere/x.jsonl", **arguments}
    context = {**make_context(), "run_id": "r", "data_interval_start": DAY1, "data_interval_end": DAY2}
    with pytest.raises(SignalWireInputError) as raised:
        SignalWireExportOperator(task_id="export", **given).execute(context)
    assert named in str(raised.value)
    assert api_requests(signalwire_conn) == []
