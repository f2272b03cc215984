"""Every example DAG of the operators, run with dag.test() on real Airflow against the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests, load_example_dag, task_states, try_numbers, xcom_value

FAST = {"poll_interval": 0.05}


@pytest.mark.signalwire_emulator(status_step_seconds=0)  # as in make demo: the live call is answered at once
def test_calls_example_places_waits_redirects_hangs_up_and_looks_up(run_dag, signalwire_emulator):
    dag = load_example_dag("example_signalwire_calls")

    dag_run = run_dag(dag, run_conf=FAST)

    assert dag_run.state == "success", task_states(dag_run)
    assert set(try_numbers(dag_run).values()) == {1}, try_numbers(dag_run)
    creates = api_requests(signalwire_emulator, "POST", r"/Calls$")
    forms = {c["form"]["To"][0]: c["form"] for c in creates}
    assert len(creates) == 2 and set(forms) == {TO_NUMBER, "+15005550006"}, "two calls placed, once each"
    assert forms[TO_NUMBER]["Timeout"] == ["30"] and forms[TO_NUMBER]["MachineDetection"] == ["Enable"]
    assert forms["+15005550006"]["StatusCallbackEvent"] == ["initiated", "answered", "completed"]

    live_sid = xcom_value(dag_run, "start_live_call")["sid"]
    updates = [r["form"] for r in api_requests(signalwire_emulator, "POST", rf"/Calls/{live_sid}")]
    assert updates == [
        {"Url": ["https://example.com/cxml/goodbye.xml"], "Method": ["GET"]},
        {"Status": ["completed"]},
    ]
    assert xcom_value(dag_run, "place_call_and_wait")["status"] == "completed"
    assert xcom_value(dag_run, "look_up_call")["sid"] == xcom_value(dag_run, "place_call_and_wait")["sid"]
    assert xcom_value(dag_run, "look_up_live_call")["status"] == "completed"


def test_messages_example_sends_waits_and_searches_its_data_interval(run_dag, signalwire_emulator):
    new_york = ZoneInfo("America/New_York")
    # The manual run at 01:00 on 11 March covers 10 March, New York time (a 23-hour day: DST starts).
    start, end = datetime(2024, 3, 10, tzinfo=new_york), datetime(2024, 3, 11, tzinfo=new_york)
    inside = [
        signalwire_emulator.inject_inbound_message(TO_NUMBER, FROM_NUMBER, f"in {i}", date_sent=moment)["sid"]
        for i, moment in enumerate([start, start + timedelta(hours=12), end - timedelta(seconds=1)])
    ]
    for moment in (start - timedelta(seconds=1), end):
        signalwire_emulator.inject_inbound_message(TO_NUMBER, FROM_NUMBER, "outside", date_sent=moment)
    dag = load_example_dag("example_signalwire_messages")

    dag_run = run_dag(dag, logical_date=datetime(2024, 3, 11, 1, tzinfo=new_york), run_conf=FAST)

    assert dag_run.state == "success", task_states(dag_run)
    sms, mms = xcom_value(dag_run, "send_sms"), xcom_value(dag_run, "send_mms")
    assert sms["status"] == "delivered" and sms["body"] == "The report for 2024-03-11 is ready."
    assert mms["status"] == "sent" and mms["num_media"] == 1
    found = xcom_value(dag_run, "search_data_interval")
    assert sorted(m["sid"] for m in found) == sorted(inside)
    assert xcom_value(dag_run, "count_by_status") == {"received": 3}
    search = api_requests(signalwire_emulator, "GET", r"/Messages$")[-1]
    # The interval is 05:00 UTC on the 10th to 04:00 UTC on the 11th: the days that cover it whether SignalWire
    # reads ">" and "<" as strict or inclusive are asked for.
    assert search["query"]["DateSent>"] == ["2024-03-09"] and search["query"]["DateSent<"] == ["2024-03-12"]


def test_retention_example_deletes_only_old_messages_in_one_task(run_dag, signalwire_emulator):
    now = datetime.now(UTC)
    old = [
        signalwire_emulator.inject_inbound_message(TO_NUMBER, FROM_NUMBER, "secret", date_sent=now - timedelta(days=d))
        for d in (200, 120)
    ]
    recent = signalwire_emulator.inject_inbound_message(TO_NUMBER, FROM_NUMBER, "keep", date_sent=now)
    dag = load_example_dag("example_signalwire_retention")

    dag_run = run_dag(dag)

    assert dag_run.state == "success", task_states(dag_run)
    deletes = api_requests(signalwire_emulator, "DELETE", r"/Messages/")
    assert {r["path"].rsplit("/", 1)[-1].removesuffix(".json") for r in deletes} == {m["sid"] for m in old}
    assert [m["sid"] for m in signalwire_emulator.messages] == [recent["sid"]]
    counts = xcom_value(dag_run, "delete_old_messages")
    assert (counts["matched"], counts["deleted"], counts["redacted"], counts["skipped"]) == (2, 2, 0, {})


def test_api_call_example_lists_the_spaces_phone_numbers(run_dag, signalwire_emulator):
    dag = load_example_dag("example_signalwire_api_call")

    dag_run = run_dag(dag)

    assert dag_run.state == "success", task_states(dag_run)
    (request,) = api_requests(signalwire_emulator, "GET", r"/api/relay/rest/phone_numbers")
    assert request["query"]["page_size"] == ["50"]
    expected = sorted(n["number"] for n in signalwire_emulator.phone_numbers)
    assert sorted(xcom_value(dag_run, "numbers_of")) == expected == ["+15550000001", "+15550000002"]


def test_bulk_send_example_texts_everyone_in_the_csv_once(run_dag, signalwire_emulator, tmp_path):
    import json

    conf = {"recipients_csv": f"file://{tmp_path}/people.csv", "results": f"file://{tmp_path}/results.jsonl"}
    dag = load_example_dag("example_signalwire_bulk_send")

    dag_run = run_dag(dag, run_conf=conf)

    assert dag_run.state == "success", task_states(dag_run)
    bodies = sorted(m["body"] for m in signalwire_emulator.messages)
    assert len(bodies) == 3 and bodies[2].startswith("Hi Zoë, your appointment is at 14:15 on ")
    assert xcom_value(dag_run, "send_reminders")["sent"] == 3
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["outcome"] for r in rows] == ["sent"] * 3
