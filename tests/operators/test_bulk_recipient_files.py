"""Malformed rows in a bulk send's CSV / JSON lines file fail the task before anything is sent, or are skipped."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators import SignalWireBulkSendOperator

from .helpers import FROM_NUMBER, api_requests

HEADER = "to,name,slot\n"
GOOD = "+15550300001,Ann,09:00\n+15550300002,Bob,10:00\n"
BODY = "Hi {{ name }}, slot {{ slot }}"


def bulk(recipients, **arguments):
    return SignalWireBulkSendOperator(
        task_id="bulk", from_=FROM_NUMBER, messages_per_second=1000, recipients=recipients, body=BODY, **arguments
    )


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ("+15550300004,Dan\n", r"line 4: column 'slot' is missing"),
        ("+15550300005,Eve,11:00,extra\n", r"line 4: 1 field more than the header's 3 columns"),
        (",Dan,12:00\n", r"line 4: column 'to' is empty"),
        (
            '"+15550300026,Fay,13:00\n+15550300027,Gus,14:00\n',
            r"lines 4-6: a quote is never closed: the file ends inside it",
        ),
        ('"+15550300026,Fay",13:00\n+15550300027,Gus,14:00\n', r"line 4: column 'to' holds a comma"),
        (
            '+15550300026,"Fay,13:00\n+15550300027,Gus,14:00\n+15550300028,Hal",15:00\n',
            r"lines 4-6: column 'name' holds what looks like the row on line 5",
        ),
    ],
    ids=["missing-column", "extra-column", "empty-to", "unclosed-quote", "to-with-comma", "swallowed-row"],
)
def test_a_malformed_csv_row_fails_before_anything_is_sent(signalwire_conn, context, tmp_path, rows, where):
    people = write(tmp_path, "people.csv", HEADER + GOOD + rows + "+15550300009,Ida,16:00\n")

    with pytest.raises(SignalWireInputError, match=where) as raised:
        bulk(f"file://{people}").execute(context)

    message = str(raised.value)
    assert f"file://{people}" in message and "Nothing was sent" in message and "on_bad_row='skip'" in message
    assert not any(name in message for name in ("Dan", "Eve", "Fay", "Gus", "Hal", "0300026")), "never the contents"
    assert signalwire_conn.messages == [] and api_requests(signalwire_conn, "POST") == []


def test_every_malformed_row_is_named_and_a_legitimate_multi_line_field_is_kept(signalwire_conn, context, tmp_path):
    text = HEADER + '+15550300001,"Ann\nand family",09:00\n' + "+15550300004,Dan\n" + "+15550300005,Eve,1,2,3\n"
    people = write(tmp_path, "people.csv", text)

    with pytest.raises(SignalWireInputError) as raised:
        bulk(f"file://{people}").execute(context)

    assert "2 malformed rows" in str(raised.value)
    assert "line 4: column 'slot' is missing" in str(raised.value), "the line after a two-line row is line 4"
    assert "line 5: 2 fields more than" in str(raised.value)
    assert signalwire_conn.messages == []

    write(tmp_path, "people.csv", HEADER + '+15550300001,"Ann\nand family",09:00\n')
    bulk(f"file://{people}").execute(context)
    assert [m["body"] for m in signalwire_conn.messages] == ["Hi Ann\nand family, slot 09:00"]


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        ('{"to": "+15550300004", "name": "Dan"\n', r"line 3: not valid JSON \(Expecting ',' delimiter, column 37\)"),
        ('["+15550300004", "Dan"]\n', r"line 3: must be a JSON object; got a list"),
        ('{"name": "Dan", "slot": "12:00"}\n', r"line 3: 'to' is missing"),
        ('{"to": " ", "name": "Dan", "slot": "12:00"}\n', r"line 3: 'to' is empty"),
    ],
    ids=["bad-json", "not-an-object", "missing-to", "empty-to"],
)
def test_a_malformed_json_line_fails_before_anything_is_sent(signalwire_conn, context, tmp_path, lines, where):
    good = '{"to": "+15550300001", "name": "Ann", "slot": "9"}\n{"to": "+15550300002", "name": "Bob", "slot": "10"}\n'
    people = write(tmp_path, "people.jsonl", good + lines + '{"to": "+15550300009", "name": "Ida", "slot": "16"}\n')

    with pytest.raises(SignalWireInputError, match=where) as raised:
        bulk(f"file://{people}").execute(context)

    assert "Dan" not in str(raised.value) and "Nothing was sent" in str(raised.value)
    assert api_requests(signalwire_conn, "POST") == []


def test_on_bad_row_skip_texts_the_others_and_counts_and_logs_the_skipped_rows(
    signalwire_conn, context, tmp_path, caplog, capfd
):
    rows = "+15550300004,Dan\n" + '"+15550300026,Fay,13:00\n+15550300027,Gus,14:00\n'
    people = write(tmp_path, "people.csv", HEADER + GOOD + rows)

    with caplog.at_level(logging.INFO):
        summary = bulk(f"file://{people}", on_bad_row="skip").execute(context)

    assert sorted(m["body"] for m in signalwire_conn.messages) == ["Hi Ann, slot 09:00", "Hi Bob, slot 10:00"]
    assert summary["bad_rows"] == 2 and summary["recipients"] == 2
    printed = capfd.readouterr()
    logged = caplog.text + printed.out + printed.err
    assert "Bulk send done" in logged, "the operator's logs were captured"
    assert "line 4: column 'slot' is missing" in logged and "lines 5-6: a quote is never closed" in logged
    assert not any(name in logged for name in ("Dan", "Fay", "Gus")), "line numbers, never the contents"


def test_a_malformed_suppress_row_fails_even_when_bad_recipient_rows_are_skipped(signalwire_conn, context, tmp_path):
    people = write(tmp_path, "people.csv", HEADER + GOOD)
    suppress = write(tmp_path, "stop.csv", "to\n+15550300001\n+15550300002,x\n")

    with pytest.raises(SignalWireInputError, match=r"suppress file .*line 3: 1 field more"):
        bulk(f"file://{people}", on_bad_row="skip", suppress=f"file://{suppress}").execute(context)

    assert api_requests(signalwire_conn, "POST") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,slot\nAnn,9\n", r"its header \(line 1\) has no 'to' column"),
        ("to,name,name\n+15550300001,Ann,A\n", r"column 'name' appears twice in its header"),
    ],
)
def test_a_csv_header_without_to_or_with_a_repeated_column_is_refused(
    signalwire_conn, context, tmp_path, text, message
):
    people = write(tmp_path, "people.csv", text)

    with pytest.raises(SignalWireInputError, match=message):
        bulk(f"file://{people}", on_bad_row="skip").execute(context)

    assert api_requests(signalwire_conn, "POST") == []


def test_on_bad_row_must_be_fail_or_skip(signalwire_conn, context):
    with pytest.raises(SignalWireInputError, match=r"on_bad_row must be 'fail' or 'skip'; got 'ignore'"):
        bulk(["+15550300001"], on_bad_row="ignore").execute(context)

    assert signalwire_conn.requests == []


def test_an_empty_to_in_a_list_says_it_is_empty(signalwire_conn, context):
    with pytest.raises(SignalWireInputError, match=r"recipients\[1\] has an empty 'to'"):
        bulk([{"to": "+15550300001", "name": "A", "slot": "1"}, {"to": " ", "name": "B", "slot": "2"}]).execute(context)

    assert signalwire_conn.requests == []
