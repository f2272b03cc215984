"""The bulk send against the emulator over HTTP: templated texts, skips, limits, pacing, files and never twice."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from airflow_compat import AirflowException

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.hooks import SignalWireHook
from airflow_provider_signalwire.operators import SignalWireBulkSendOperator

from .helpers import FROM_NUMBER, DictStateStore, api_requests, make_context

PEOPLE = [{"to": f"+1555010{i:04d}", "name": f"Person {i}"} for i in range(5)]
NUMBERS = [p["to"] for p in PEOPLE]


def bulk(**arguments):
    arguments.setdefault("messages_per_second", 1000)
    return SignalWireBulkSendOperator(task_id="bulk", from_=FROM_NUMBER, **arguments)


def texts_per_number(emulator) -> Counter:
    return Counter(m["to"] for m in emulator.messages)


def test_each_recipient_gets_its_own_text(signalwire_conn, context):
    operator = bulk(recipients=PEOPLE, body="Hi {{ name }}, your slot is {{ recipient.to[-4:] }}")

    summary = operator.execute(context)

    bodies = {m["to"]: m["body"] for m in signalwire_conn.messages}
    assert bodies == {p["to"]: f"Hi {p['name']}, your slot is {p['to'][-4:]}" for p in PEOPLE}
    assert summary["sent"] == 5 and summary["skipped"] == summary["failed"] == 0
    assert summary["segments"] == 5
    assert summary["first_sid"] == signalwire_conn.messages[-1]["sid"]
    assert summary["last_sid"] == signalwire_conn.messages[0]["sid"]
    assert "Hi" not in json.dumps(summary), "no text in XCom"


def test_opt_outs_invalid_suppressed_and_repeated_numbers_are_skipped_not_failed(signalwire_conn, context):
    signalwire_conn.opt_out(NUMBERS[1])
    recipients = [*NUMBERS, "555-0100", NUMBERS[0]]

    summary = bulk(recipients=recipients, body="Outage notice", suppress=[NUMBERS[2]]).execute(context)

    assert set(texts_per_number(signalwire_conn)) == {NUMBERS[0], NUMBERS[3], NUMBERS[4]}
    assert (summary["sent"], summary["skipped"], summary["failed"]) == (3, 4, 0)
    assert summary["error_codes"] == {"21610": 1, "21211": 1, "suppressed": 1, "duplicate": 1}
    assert len(api_requests(signalwire_conn, "POST", r"/Messages$")) == 4, "the suppressed, bad, repeated: no request"


def test_a_failed_recipient_fails_the_task_after_the_others_are_texted(signalwire_conn, context):
    signalwire_conn.add_fault("status", method="POST", path=r"/Messages$", status=400, code=21606)

    with pytest.raises(AirflowException, match=r"1 recipients failed \(fail_on=1\).*21606"):
        bulk(recipients=NUMBERS, body="Reminder").execute(context)

    assert set(texts_per_number(signalwire_conn)) == set(NUMBERS[1:])


def test_fail_on_none_ends_well_with_failures(signalwire_conn, context):
    signalwire_conn.add_fault("status", method="POST", path=r"/Messages$", status=400, code=21606)

    summary = bulk(recipients=NUMBERS, body="Reminder", fail_on=None).execute(context)

    assert (summary["sent"], summary["failed"], summary["error_codes"]) == (4, 1, {"21606": 1})


def test_max_segments_names_the_worst_recipient_before_anything_is_sent(signalwire_conn, context):
    people = [*PEOPLE, {"to": "+15550109999", "name": "Zoë 😀" * 20}]

    with pytest.raises(SignalWireInputError) as raised:
        bulk(recipients=people, body="Hi {{ name }}, see you soon", max_segments=2).execute(context)

    assert "recipient 5 (+15550109999) takes 3 segments (UCS-2" in str(raised.value)
    assert "max_segments" in str(raised.value) and "Zoë" not in str(raised.value), "never the text"
    assert api_requests(signalwire_conn, "POST") == []


def test_max_total_segments_counts_the_whole_run_before_anything_is_sent(signalwire_conn, context):
    with pytest.raises(SignalWireInputError, match="max_total_segments is 9, but this run takes 10 segments"):
        bulk(recipients=NUMBERS, body="a" * 200, max_total_segments=9).execute(context)

    assert api_requests(signalwire_conn, "POST") == []


def test_a_field_the_text_needs_but_a_recipient_lacks_fails_before_sending(signalwire_conn, context):
    people = [*PEOPLE, {"to": "+15550109999"}]

    with pytest.raises(SignalWireInputError, match=r"recipient 5 \(\+15550109999\).*'name' is undefined"):
        bulk(recipients=people, body="Hi {{ name }}").execute(context)

    assert api_requests(signalwire_conn, "POST") == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"recipients": "+15550100000"}, "recipients must be a list of numbers"),
        ({"recipients": [{"name": "x"}]}, r"recipients\[0\] must be a number or a dict with a 'to' number"),
        ({"recipients": NUMBERS, "number_type": "landline", "messages_per_second": None}, "number_type must be"),
        ({"recipients": NUMBERS, "messages_per_second": 0}, "'messages_per_second' must be a number"),
        ({"recipients": NUMBERS, "max_segments": 0}, "'max_segments' must be a whole number of at least 1"),
        ({"recipients": "file:///tmp/people.xlsx"}, "cannot tell the format of recipients file"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(signalwire_conn, context, arguments, message):
    with pytest.raises(SignalWireInputError, match=message):
        bulk(body="Hello", **arguments).execute(context)

    assert signalwire_conn.requests == []


def test_recipients_from_a_csv_file_and_outcomes_to_a_results_file(signalwire_conn, context, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("to,name\n" + "".join(f"{p['to']},{p['name']}\n" for p in PEOPLE))
    signalwire_conn.opt_out(NUMBERS[4])
    results = tmp_path / "out" / "results.jsonl"
    results.parent.mkdir()

    summary = bulk(recipients=f"file://{people}", body="Hi {{ name }}", results_path=f"file://{results}").execute(
        context
    )

    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["index"], r["to"], r["outcome"]) for r in rows] == [
        *((i, NUMBERS[i], "sent") for i in range(4)),
        (4, NUMBERS[4], "skipped"),
    ]
    assert rows[4]["code"] == 21610 and rows[0]["sid"] == signalwire_conn.messages[-1]["sid"]
    assert "Hi" not in results.read_text(), "outcomes, never the text"
    assert summary["results_path"] == f"file://{results}"
    assert list(results.parent.iterdir()) == [results], "no part files left"


def test_recipients_from_a_json_lines_file_through_object_storage(signalwire_conn, context, tmp_path):
    from airflow.sdk import ObjectStoragePath

    people = tmp_path / "people.jsonl"
    people.write_text("".join(json.dumps(p) + "\n" for p in PEOPLE))

    bulk(recipients=ObjectStoragePath(f"file://{people}"), body="Hi {{ name }}").execute(context)

    assert sorted(m["body"] for m in signalwire_conn.messages) == [f"Hi {p['name']}" for p in PEOPLE]


def test_sends_are_paced_by_segments(signalwire_conn, context):
    # Two segments each at 10 segments a second: one text every 0.2 s.
    started = time.time()
    summary = bulk(recipients=NUMBERS, body="b" * 200, messages_per_second=10).execute(context)

    assert summary["segments"] == 2 * len(NUMBERS), "two segments counted for each text"
    # Text k leaves once the k before it had their 0.2 s: never earlier, however slow the machine. (A gap between
    # two arrivals is no bound: a slow first request arrives just before the next; test_bulk_pacing times the gaps.)
    since_start = [r["time"] - started for r in api_requests(signalwire_conn, "POST", r"/Messages$")]
    assert len(since_start) == len(NUMBERS)
    assert all(at >= k * 0.2 - 0.01 for k, at in enumerate(since_start)), since_start


def test_a_lost_answer_is_looked_for_not_resent(signalwire_conn, context):
    signalwire_conn.add_fault("drop_after", method="POST", path=r"/Messages$")

    summary = bulk(recipients=NUMBERS, body="Delivery today").execute(context)

    assert texts_per_number(signalwire_conn) == Counter(NUMBERS), "each recipient texted once"
    assert summary["sent"] == 5


class WorkerDies(BaseException):
    """Stands in for the worker's death: nothing after it runs in that try."""


def die_at_send(operator, number: int, after_request: bool) -> None:
    """Make the ``number``-th send of ``operator`` kill its try, just after (or before) its request left."""
    hook = SignalWireHook()
    sends = 0

    def create(resource, **params):
        nonlocal sends
        sends += 1
        if sends == number:
            if after_request:
                hook.create(resource, **params)
            raise WorkerDies
        return hook.create(resource, **params)

    operator.hook.create = create


@pytest.mark.parametrize("after_request", [True, False])
def test_a_retry_goes_on_after_the_last_confirmed_send_and_texts_nobody_twice(signalwire_conn, after_request):
    store = DictStateStore()
    first = bulk(recipients=PEOPLE, body="Hi {{ name }}")
    die_at_send(first, 3, after_request)
    with pytest.raises(WorkerDies):
        first.execute(make_context(try_number=1, store=store))
    assert len(signalwire_conn.messages) == (3 if after_request else 2)

    summary = bulk(recipients=PEOPLE, body="Hi {{ name }}").execute(make_context(try_number=2, store=store))

    assert texts_per_number(signalwire_conn) == Counter(NUMBERS), "each recipient texted exactly once"
    assert summary["sent"] == 5
    assert len(api_requests(signalwire_conn, "POST", r"/Messages$")) == 5


def test_a_retry_with_another_recipient_list_is_refused(signalwire_conn):
    store = DictStateStore()
    first = bulk(recipients=PEOPLE, body="Hi")
    die_at_send(first, 2, after_request=True)
    with pytest.raises(WorkerDies):
        first.execute(make_context(try_number=1, store=store))

    with pytest.raises(AirflowException, match="different recipient list"):
        bulk(recipients=NUMBERS[::-1], body="Hi").execute(make_context(try_number=2, store=store))
    assert len(signalwire_conn.messages) == 2
