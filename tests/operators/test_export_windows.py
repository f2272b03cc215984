"""
Which window an export run writes: decided once from the run itself, so that runs executing at the same time
write adjacent windows and every item once; kept for the run's retries; given bounds for a one-off export.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import DAG
from airflow_compat import run_cleared_task, task_ledger_entry
from dateutil.relativedelta import relativedelta

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators import SignalWireExportOperator

from .export_dags import RESULT, hourly_export_dag
from .helpers import START, TO_NUMBER, api_requests, make_context, task_states, xcom_value

OTHER_NUMBER = "+15557654321"
HOUR = timedelta(hours=1)
T21 = datetime(2024, 6, 10, 21, tzinfo=UTC)
T22, T23 = T21 + HOUR, T21 + 2 * HOUR


def sids_in(path: str) -> list[str]:
    local = Path(path.removeprefix("file://"))
    return [json.loads(line)["sid"] for line in local.read_text().splitlines()]


def run_in_processes(dag_id: str, folder: Path, logical_dates: list[datetime]) -> list[dict]:
    """``dag.test()`` of each logical date, all at once, each in its own process, on the session's database."""
    from airflow.configuration import conf

    here = str(Path(__file__).parent)
    # One Fernet key for every process: what one process stores encrypted (Variables), the others can read.
    env = {**os.environ, "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key")}
    code = f"import sys; sys.path.insert(0, {here!r}); import export_dags; export_dags.main(*sys.argv[1:])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, dag_id, str(folder), moment.isoformat()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for moment in logical_dates
    ]
    results = []
    for process in processes:
        output, _ = process.communicate(timeout=120)
        found = [line[len(RESULT) :] for line in output.splitlines() if line.startswith(RESULT)]
        assert process.returncode == 0 and found, output[-3000:]
        results.append(json.loads(found[0]))
    return results


def dag_run_of(dag_id: str, run_id: str):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        session.expunge(dag_run)
        return dag_run


def task_times(dag_run) -> tuple[datetime, datetime]:
    (ti,) = dag_run.get_task_instances()
    return ti.start_date, ti.end_date


def test_overlapping_hourly_runs_write_adjacent_windows_and_every_item_once(run_dag, signalwire_emulator, tmp_path):
    sent = {
        minute: signalwire_emulator.inject_inbound_message(
            OTHER_NUMBER, TO_NUMBER, f"at {minute}", date_sent=T21 + timedelta(minutes=minute - 60)
        )["sid"]
        for minute in (30, 70, 90, 110, 130, 150, 170, 190)
    }
    dag = hourly_export_dag("export_overlapping", str(tmp_path))
    first = run_dag(dag, logical_date=T21)  # the 21:00 run, done before the two others start
    assert first.state == "success", task_states(first)
    # Every list request takes a second: each of the two runs lists for several seconds, as with a slow API.
    signalwire_emulator.add_fault("slow", method="GET", path="/Messages$", times=100, delay=1.0)

    results = run_in_processes("export_overlapping", tmp_path, [T22, T23])

    assert [r["state"] for r in results] == ["success", "success"], results
    runs = [dag_run_of("export_overlapping", r["run_id"]) for r in results]
    (start22, end22), (start23, end23) = task_times(runs[0]), task_times(runs[1])
    assert start22 < end23 and start23 < end22, "the two export tasks ran at the same time"
    files = [sids_in(xcom_value(run, "export")["path"]) for run in (first, *runs)]
    written = [sid for file in files for sid in file]
    assert len(written) == len(set(written)), f"{len(written) - len(set(written))} items are in two files"
    windows = [xcom_value(run, "export")["window"] for run in runs]
    assert windows == [
        {"start": T21.isoformat(), "end": T22.isoformat()},
        {"start": T22.isoformat(), "end": T23.isoformat()},
    ], "adjacent, and neither overlaps the other"
    assert sorted(files[1]) == sorted(sent[m] for m in (70, 90, 110))
    assert sorted(files[2]) == sorted(sent[m] for m in (130, 150, 170))

    # The 22:00 run made again (cleared, after the 23:00 run finished) writes its own window again.
    signalwire_emulator.clear_faults()
    assert run_cleared_task(dag, runs[0], "export") == "success"
    assert xcom_value(runs[0], "export")["window"] == windows[0]
    assert sorted(sids_in(xcom_value(runs[0], "export")["path"])) == sorted(files[1])


def test_a_retry_writes_the_window_its_first_try_kept(run_dag, signalwire_emulator, tmp_path):
    for day, hour in ((9, 12), (10, 9), (10, 12), (10, 15), (11, 12)):
        signalwire_emulator.inject_inbound_message(
            OTHER_NUMBER, TO_NUMBER, f"day {day}", date_sent=datetime(2024, 6, day, hour, tzinfo=UTC)
        )
    with DAG("export_retried", schedule="@daily", start_date=START, catchup=False) as dag:
        SignalWireExportOperator(
            task_id="export",
            resource="messages",
            path=f"file://{tmp_path}/{{{{ ds }}}}.jsonl",
            page_size=1,
            retries=1,
            retry_delay=timedelta(0),
            # Renders differently on each try: only the window the first try kept gives the retry 2024-06-11.
            date_sent_after="2024-06-10",
            date_sent_before="2024-06-1{{ ti.try_number }}",
        )
    # The first try's second page is refused (a 400 is not retried within the try): the task fails once.
    signalwire_emulator.add_fault("slow", method="GET", path="/Messages$", times=1, delay=0)
    signalwire_emulator.add_fault("status", method="GET", path="/Messages$", status=400)

    dag_run = run_dag(dag, logical_date=datetime(2024, 6, 12, tzinfo=UTC))

    assert dag_run.state == "success", task_states(dag_run)
    (ti,) = dag_run.get_task_instances()
    assert ti.try_number == 2, "the first try failed"
    result = xcom_value(dag_run, "export")
    window = {"start": "2024-06-10T00:00:00+00:00", "end": "2024-06-11T00:00:00+00:00"}
    assert result["window"] == window, "the first try's window, not 2024-06-10 to 2024-06-12"
    kept = task_ledger_entry(dag_run.dag_id, dag_run.run_id, "export", "export_window")
    assert {k: kept["value"][k] for k in ("start", "end")} == window
    assert result["count"] == 3


def test_a_given_window_exports_exactly_that_range(run_dag, signalwire_emulator, tmp_path):
    bodies = {
        "april": datetime(2024, 4, 30, 23, 59, tzinfo=UTC),
        "may first": datetime(2024, 5, 1, tzinfo=UTC),
        "may last": datetime(2024, 5, 31, 23, 59, tzinfo=UTC),
        "june": datetime(2024, 6, 1, tzinfo=UTC),
    }
    for body, moment in bodies.items():
        signalwire_emulator.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, body, date_sent=moment)
    with DAG("export_last_month", schedule="@daily", start_date=START, catchup=False) as dag:
        SignalWireExportOperator(
            task_id="export",
            resource="messages",
            path=f"file://{tmp_path}/may.jsonl",
            lookback=timedelta(days=3),  # not applied to a given start
            date_sent_after="{{ macros.ds_add(ds, -41) }}",
            date_sent_before="2024-06-01T00:00:00Z",
        )

    dag_run = run_dag(dag, logical_date=datetime(2024, 6, 11, tzinfo=UTC))

    assert dag_run.state == "success", task_states(dag_run)
    result = xcom_value(dag_run, "export")
    assert result["window"] == {"start": "2024-05-01T00:00:00+00:00", "end": "2024-06-01T00:00:00+00:00"}
    written = [json.loads(line)["body"] for line in Path(result["path"][7:]).read_text().splitlines()]
    assert sorted(written) == ["may first", "may last"]


def test_a_calls_export_takes_start_time_bounds(signalwire_conn, airflow_db, tmp_path):
    inside = signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=T21 + timedelta(minutes=5))
    signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=T22 + timedelta(minutes=5))
    context = {
        **make_context(),
        "run_id": "r",
        "logical_date": T23,
        "data_interval_start": T23,
        "data_interval_end": T23,
    }

    result = SignalWireExportOperator(
        task_id="export",
        resource="calls",
        path=f"file://{tmp_path}/calls.jsonl",
        start_time_after=T21,
        start_time_before=T22.isoformat(),
    ).execute(context)

    assert result["window"] == {"start": T21.isoformat(), "end": T22.isoformat()}
    assert sids_in(result["path"]) == [inside["sid"]]


def test_one_given_bound_keeps_the_other_side_of_the_runs_window(signalwire_conn, airflow_db, tmp_path):
    context = {
        **make_context(),
        "run_id": "r",
        "logical_date": T23,
        "data_interval_start": T21,
        "data_interval_end": T23,
    }

    result = SignalWireExportOperator(
        task_id="export", resource="messages", path=f"file://{tmp_path}/m.jsonl", date_sent_after=T22
    ).execute(context)

    assert result["window"] == {"start": T22.isoformat(), "end": T23.isoformat()}


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (
            {"start_time_after": T21},
            "the window's bounds are date_sent_after and date_sent_before; got start_time_after",
        ),
        (
            {"resource": "calls", "date_sent_before": T21},
            "are start_time_after and start_time_before; got date_sent_before",
        ),
        ({"date_sent_after": "2024-06-10T21:00"}, "'date_sent_after' ('2024-06-10T21:00') has no timezone"),
        ({"date_sent_after": "last month"}, "'date_sent_after' must be a date (YYYY-MM-DD) or an ISO 8601 datetime"),
        ({"date_sent_after": T22, "date_sent_before": T21}, "the window must end after it starts"),
    ],
)
def test_bad_bounds_are_named_before_any_request(signalwire_conn, airflow_db, arguments, named):
    given = {"resource": "messages", "path": "file:///nowhere/x.jsonl", **arguments}
    context = {
        **make_context(),
        "run_id": "r",
        "logical_date": T23,
        "data_interval_start": T21,
        "data_interval_end": T23,
    }

    with pytest.raises(SignalWireInputError) as raised:
        SignalWireExportOperator(task_id="export", **given).execute(context)

    assert named in str(raised.value)
    assert api_requests(signalwire_conn) == []


def window_of(schedule, moment: datetime, start_date: datetime = START) -> tuple[str, str, str]:
    with DAG("windows", schedule=schedule, start_date=start_date, catchup=False) as dag:
        pass
    from airflow_provider_signalwire.operators.export_window import own_window

    context = {"dag": dag, "logical_date": moment, "data_interval_start": moment, "data_interval_end": moment}
    window = own_window(context, timedelta(days=1))
    return window.start.isoformat(), window.end.isoformat(), window.how


@pytest.mark.parametrize(
    ("schedule", "moment", "expected"),
    [
        ("@hourly", T22, (T21, T22, "schedule")),
        ("@hourly", T22 + timedelta(minutes=17), (T21, T22, "schedule")),  # a manual run: the last complete hour
        ("*/20 * * * *", T22, (T22 - timedelta(minutes=20), T22, "schedule")),
        (timedelta(hours=2), T23, (T21, T23, "schedule")),
        (relativedelta(months=1), T23, (T23 - relativedelta(months=1), T23, "schedule")),
        (None, T23, (T23 - timedelta(days=1), T23, "first_window")),
    ],
)
def test_a_run_without_a_data_interval_writes_the_last_complete_interval_of_its_schedule(schedule, moment, expected):
    assert window_of(schedule, moment) == (expected[0].isoformat(), expected[1].isoformat(), expected[2])


def test_a_cron_schedule_counts_in_its_timezone():
    paris = pendulum.datetime(2024, 1, 1, tz="Europe/Paris")
    midnight_in_paris = datetime(2024, 6, 10, 22, tzinfo=UTC)

    assert window_of("0 0 * * *", midnight_in_paris + timedelta(hours=3), paris) == (
        (midnight_in_paris - timedelta(days=1)).isoformat(),
        midnight_in_paris.isoformat(),
        "schedule",
    )


def test_a_data_interval_with_a_length_is_the_window():
    from airflow_provider_signalwire.operators.export_window import own_window

    context = {"dag": None, "logical_date": T23, "data_interval_start": T21, "data_interval_end": T23}

    assert own_window(context, timedelta(days=1))[:2] == (T21, T23)
