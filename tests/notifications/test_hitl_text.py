"""The pure parts of approve-by-text: the responders' mapping, reading a reply, and the default SMS."""

from __future__ import annotations

import pytest

from airflow_provider_signalwire.hitl import (
    choose_options,
    code_marker,
    new_code,
    options_text,
    outcome_word,
    parse_reply,
    parse_responders,
)
from airflow_provider_signalwire.notifications.hitl import SignalWireHITLNotifier, default_hitl_body


def test_responders_map_user_ids_to_numbers_and_names():
    found = parse_responders('{"alice": "+15551230000", "7": {"phone": "+15551230001", "name": "Bob B"}}', "sw")
    assert [(r.user_id, r.name, r.phone) for r in found.values()] == [
        ("alice", "alice", "+15551230000"),
        ("7", "Bob B", "+15551230001"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"alice": "5551230000"}, "user 'alice' must map to an E.164 number such as '+15551230000'"),
        ({"alice": "+15551230000", "bob": "+15551230000"}, "users 'alice' and 'bob' share one number"),
        (["alice"], "must be a JSON object of Airflow user id to phone number; got list"),
        ("{not json", "got text that is not JSON"),
    ],
)
def test_a_bad_responders_mapping_is_named_with_what_is_allowed(value, expected):
    with pytest.raises(ValueError, match="connection 'sw' extra 'hitl_responders'") as error:
        parse_responders(value, "sw")
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("APPROVE 48213377", ("APPROVE", "48213377")),
        ("  reject 48213377. ", ("reject", "48213377")),
        ("Load anyway 00482133", ("Load anyway", "00482133")),
        ("2 48213377", ("2", "48213377")),
        ("48213377", None),
        ("APPROVE", None),
        ("call me at 12", None),
    ],
)
def test_a_reply_reads_as_an_answer_and_a_code(body, expected):
    assert parse_reply(body) == expected


def test_options_are_chosen_by_name_in_any_case_or_by_number():
    options = ["Approve", "Reject"]
    assert choose_options("APPROVE", options, False) == ["Approve"]
    assert choose_options("2", options, False) == ["Reject"]
    assert choose_options("maybe", options, False) is None
    assert choose_options("3", options, False) is None
    assert choose_options("1,reject", options, False) is None  # one option only
    assert choose_options("1, reject", ["Approve", "Reject", "Hold"], True) == ["Approve", "Reject"]


def test_codes_are_random_digits_and_markers_never_hold_the_code():
    codes = {new_code(4) for _ in range(200)}
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert len(codes) > 150
    assert "4821" not in code_marker("4821")


def test_default_sms_fits_one_segment_when_the_link_leaves_room():
    facts = {
        "subject": "Load orders?",
        "options": options_text(["Approve", "Reject"]),
        "code": "4821",
        "deadline": "Jul 01 14:30 UTC",
        "link": "https://af.example.com/dags/d/runs/r/tasks/t/required_actions?map_index=-1",
    }
    text = default_hitl_body(facts)
    assert text == (
        "Load orders? - reply Approve/Reject + code 4821 by Jul 01 14:30 UTC: "
        "https://af.example.com/dags/d/runs/r/tasks/t/required_actions?map_index=-1"
    )
    assert len(text) <= 160
    # A long subject is cut to fit; never below 60 characters, where a long link leaves no room.
    assert default_hitl_body({**facts, "subject": "x" * 200}).startswith("x" * 57 + "... - reply")
    assert len(default_hitl_body({**facts, "subject": "x" * 200, "link": "https://af.example.com/l"})) == 160


def test_many_options_are_numbered_and_outcomes_read_naturally():
    assert options_text(["a", "b", "c", "d"]) == "1 a, 2 b, 3 c, 4 d"
    assert outcome_word(["Approve"]) == "Approved"
    assert outcome_word(["Reject"]) == "Rejected"
    assert outcome_word(["Hold", "Ask"]) == "Chose Hold, Ask"


def test_code_digits_are_checked_when_the_notifier_is_built():
    with pytest.raises(ValueError, match="code_digits must be a whole number from 4 to 8; got 3"):
        SignalWireHITLNotifier(code_digits=3)
