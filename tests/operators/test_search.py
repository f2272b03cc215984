"""The search operators: the hook's filters, exact datetime windows, limits, and daily runs in any timezone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from airflow.sdk import DAG
from airflow_compat import CronDataIntervalTimetable

from airflow_provider_signalwire.operators import SignalWireSearchCallsOperator, SignalWireSearchMessagesOperator

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests, task_states, xcom_value

OTHER_NUMBER = "+15557654321"


def test_search_messages_sends_the_filters_and_returns_dicts(signalwire_conn):
    day = datetime(2024, 5, 1, 12, tzinfo=UTC)
    wanted = signalwire_conn.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, "wanted", date_sent=day)
    signalwire_conn.inject_inbound_message(OTHER_NUMBER, FROM_NUMBER, "other To", date_sent=day)
    signalwire_conn.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, "other day", date_sent=day + timedelta(days=1))

    found = SignalWireSearchMessagesOperator(
        task_id="search", to=TO_NUMBER, from_=OTHER_NUMBER, status="received", date_sent=date(2024, 5, 1)
    ).execute({})

    assert [m["sid"] for m in found] == [wanted["sid"]]
    assert json.loads(json.dumps(found)) == found
    (request,) = api_requests(signalwire_conn, "GET", r"/Messages$")
    assert {k: v for k, v in request["query"].items() if k != "PageSize"} == {
        "To": [TO_NUMBER],
        "From": [OTHER_NUMBER],
        "Status": ["received"],
        "DateSent": ["2024-05-01"],
    }


def test_search_messages_keeps_exactly_a_datetime_window(signalwire_conn):
    start = datetime(2024, 5, 1, 22, 30, tzinfo=UTC)
    moments = [start - timedelta(seconds=1), start, start + timedelta(hours=2), start + timedelta(hours=4)]
    sids = [signalwire_conn.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, "m", date_sent=m)["sid"] for m in moments]

    found = SignalWireSearchMessagesOperator(
        task_id="search", date_sent_after=start.isoformat(), date_sent_before=(start + timedelta(hours=4)).isoformat()
    ).execute({})

    assert sorted(m["sid"] for m in found) == sorted(sids[1:3]), "_after is inclusive, _before exclusive"


def test_search_returns_at_most_limit_results(signalwire_conn):
    signalwire_conn.seed_messages(30, from_=OTHER_NUMBER, to=TO_NUMBER)

    found = SignalWireSearchMessagesOperator(task_id="search", limit="7").execute({})
    everything = SignalWireSearchMessagesOperator(task_id="search", limit=None, page_size=10).execute({})

    assert len(found) == 7
    assert len(everything) == 30
    assert len(api_requests(signalwire_conn, "GET", r"/Messages$")) == 1 + 3, "the second search read 3 pages of 10"


def test_search_calls_sends_the_filters_and_keeps_exact_windows(signalwire_conn):
    start = datetime(2024, 5, 1, 9, tzinfo=UTC)
    early = signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=start - timedelta(minutes=1))
    inside = signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=start, duration=60)
    signalwire_conn.inject_inbound_call(OTHER_NUMBER, TO_NUMBER, start_time=start + timedelta(hours=1))

    found = SignalWireSearchCallsOperator(
        task_id="search",
        to=TO_NUMBER,
        from_=OTHER_NUMBER,
        status="completed",
        start_time_after=start,
        start_time_before=start + timedelta(hours=1),
        end_time_after=start,
    ).execute({})

    assert [c["sid"] for c in found] == [inside["sid"]]
    assert early["sid"] not in {c["sid"] for c in found}
    (request,) = api_requests(signalwire_conn, "GET", r"/Calls$")
    assert request["query"]["StartTime>"] == ["2024-04-30"] and request["query"]["StartTime<"] == ["2024-05-02"]
    assert request["query"]["To"] == [TO_NUMBER] and request["query"]["Status"] == ["completed"]


def test_search_calls_by_day_and_parent(signalwire_conn, hook):
    parent = hook.create_call(to=TO_NUMBER, from_=FROM_NUMBER, url="https://example.com/a.xml")

    found = SignalWireSearchCallsOperator(
        task_id="search", parent_call_sid=parent["sid"], end_time="2024-05-01"
    ).execute({})

    assert found == []
    (request,) = api_requests(signalwire_conn, "GET", r"/Calls$")
    assert request["query"]["ParentCallSid"] == [parent["sid"]] and request["query"]["EndTime"] == ["2024-05-01"]


def test_consecutive_daily_runs_in_a_non_utc_timezone_each_get_exactly_their_messages(run_dag, signalwire_emulator):
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: each local day spans two UTC days
    day1, day2, day3 = (datetime(2024, 6, d, tzinfo=tokyo) for d in (10, 11, 12))
    dated = {
        "before": day1 - timedelta(seconds=1),
        "day1 start": day1,
        "day1 late": day2 - timedelta(seconds=1),
        "day2 start": day2,
        "day2 utc midnight": datetime(2024, 6, 11, 0, 0, tzinfo=UTC),
        "day2 late": day3 - timedelta(seconds=1),
        "after": day3,
    }
    sid_of = {
        name: signalwire_emulator.inject_inbound_message(OTHER_NUMBER, TO_NUMBER, name, date_sent=moment)["sid"]
        for name, moment in dated.items()
    }
    with DAG(
        "search_tokyo_days",
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="Asia/Tokyo"),
        start_date=datetime(2024, 1, 1, tzinfo=tokyo),
        catchup=False,
    ) as dag:
        SignalWireSearchMessagesOperator(
            task_id="search",
            date_sent_after="{{ data_interval_start }}",
            date_sent_before="{{ data_interval_end }}",
        )

    # A manual run at 01:00 covers the local day before it.
    first = run_dag(dag, logical_date=day2 + timedelta(hours=1))
    second = run_dag(dag, logical_date=day3 + timedelta(hours=1))

    assert first.state == second.state == "success", (task_states(first), task_states(second))
    got_first = {m["body"] for m in xcom_value(first, "search")}
    got_second = {m["body"] for m in xcom_value(second, "search")}
    assert got_first == {"day1 start", "day1 late"}
    assert got_second == {"day2 start", "day2 utc midnight", "day2 late"}
    assert {m["sid"] for m in xcom_value(second, "search")} == {
        sid_of[n] for n in ("day2 start", "day2 utc midnight", "day2 late")
    }
