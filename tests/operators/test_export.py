"""The export operator in real DAG runs on Airflow 3's default timetables, against the emulator over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG

from airflow_provider_signalwire.operators import SignalWireExportOperator

from .helpers import TO_NUMBER, task_states, xcom_value

OTHER_NUMBER = "+15557654321"
DAY1 = datetime(2024, 6, 10, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def export_dag(dag_id: str, folder: Path, **arguments) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False) as dag:
        SignalWireExportOperator(
            task_id="export", resource="messages", path=f"file://{folder}/{{{{ ds }}}}.jsonl", **arguments
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
    assert two["window"] == {"start": DAY1.isoformat(), "end": DAY2.isoformat()}, "from the end of the last run's"
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
