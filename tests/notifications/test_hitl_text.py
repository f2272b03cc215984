"""The pure parts of approve-by-text: the responders' mapping, reading a reply, and the default SMS."""

from __future__ import annotations

import pytest

from airflow_provider_signalwire.api.segments import count_segments
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


FACTS = {
    "subject": "Load orders?",
    "options": options_text(["Approve", "Reject"]),
    "code": "48213377",
    "deadline": "Jul 01 14:30 UTC",
    "link": "https://af.example.com/dags/d/runs/r/tasks/t/required_actions?map_index=-1",
}
#: What generate_link_to_ui gives for a manual run: longer than the rest of the text leaves room for.
RUN_LINK = (
    "https://airflow.example.com/dags/load_orders/runs/manual__2026-07-01T14:30:00.123456+00:00"
    "/tasks/approve_load/required_actions?map_index=-1"
)


def test_default_sms_keeps_the_whole_subject_and_the_link_when_they_fit():
    text = default_hitl_body(FACTS)
    assert text == (
        "Load orders? - reply Approve/Reject + code 48213377 by Jul 01 14:30 UTC: "
        "https://af.example.com/dags/d/runs/r/tasks/t/required_actions?map_index=-1"
    )
    assert count_segments(text) == ("GSM-7", 147, 1)


def test_a_curly_apostrophe_keeps_the_default_sms_one_gsm7_segment():
    # Before: the same text with a curly apostrophe (U+2019) was cut by length only and took 3 UCS-2 segments.
    straight = default_hitl_body({**FACTS, "subject": "Load today's orders?"})
    curly = default_hitl_body({**FACTS, "subject": "Load today\u2019s orders?"})
    assert curly == straight
    assert count_segments(curly) == ("GSM-7", 155, 1)
    quoted = default_hitl_body({**FACTS, "subject": "\u201cNightly\u201d load \u2013 today\u2019s orders\u2026"})
    assert quoted.startswith('"Nightly" load - today\'s orders... - reply')
    assert count_segments(quoted).segments == 1
    # An accent GSM-7 lacks (u with circumflex) loses it; one it has (e acute) is kept.
    accented = default_hitl_body({**FACTS, "subject": "Cr\u00e8me br\u00fbl\u00e9e?"})
    assert accented.startswith("Cr\u00e8me brul\u00e9e? - reply") and count_segments(accented).encoding == "GSM-7"


def test_an_emoji_in_the_subject_is_left_out_rather_than_make_the_sms_ucs2():
    text = default_hitl_body(
        {**FACTS, "subject": "\U0001f69a Load today\u2019s orders? \u2705\ufe0f", "link": RUN_LINK}
    )
    assert text == (
        "Load today's orders? - reply Approve/Reject + code 48213377 by Jul 01 14:30 UTC: "
        "https://airflow.example.com/required_actions"
    )
    assert count_segments(text) == ("GSM-7", len(text), 1)


def test_a_long_link_gives_way_to_the_required_actions_page_and_a_long_subject_is_cut():
    text = default_hitl_body(
        {**FACTS, "subject": "Load today's orders into the warehouse, then rebuild the marts?", "link": RUN_LINK}
    )
    assert text == (
        "Load today's orders into the warehouse, then rebuild... - reply Approve/Reject + code 48213377 "
        "by Jul 01 14:30 UTC: https://airflow.example.com/required_actions"
    )
    assert count_segments(text) == ("GSM-7", 160, 1)
    # A link that leaves 40 characters of the subject is kept, the subject cut.
    link = "https://af.example.com/dags/d/runs/r/tasks/t"
    kept = default_hitl_body({**FACTS, "subject": "x" * 200, "link": link, "code": "482133"})
    assert kept == "x" * 54 + "... - reply Approve/Reject + code 482133 by Jul 01 14:30 UTC: " + link
    assert count_segments(kept) == ("GSM-7", 160, 1)


#: "Load today's orders?" in Russian: letters GSM-7 lacks, so the text is UCS-2 (70 characters a segment).
CYRILLIC = (
    "\u0417\u0430\u0433\u0440\u0443\u0437\u0438\u0442\u044c \u0437\u0430\u043a\u0430\u0437\u044b"
    " \u0437\u0430 \u0441\u0435\u0433\u043e\u0434\u043d\u044f?"
)


def test_a_subject_in_a_script_gsm7_lacks_is_kept_in_one_ucs2_segment_without_the_link():
    text = default_hitl_body({**FACTS, "subject": CYRILLIC, "link": RUN_LINK})
    assert text == CYRILLIC + " - reply Approve/Reject + code 48213377"
    assert count_segments(text) == ("UCS-2", 67, 1)


@pytest.mark.parametrize("code", ["482133", "4821337700"])
@pytest.mark.parametrize("options", [["Approve", "Reject"], ["Load", "Skip", "Hold", "Ask"]])
@pytest.mark.parametrize(
    "subject",
    [
        "",
        "Load orders?",
        "Load today\u2019s orders \U0001f69a" * 5,
        "Cr\u00e8me br\u00fbl\u00e9e \u20ac50 [batch] ~ok",
        "\u03b1\u03b2\u03b3 " * 30,
    ],
    ids=["no-subject", "short", "long-curly-emoji", "accents-and-gsm7-extension", "long-greek"],
)
@pytest.mark.parametrize(
    "link",
    [FACTS["link"], RUN_LINK, "https://airflow.example.com/" + "x" * 300],
    ids=["short-link", "run-link", "300-character-link"],
)
def test_the_default_sms_is_one_segment_with_the_code_and_the_options_whole(code, options, subject, link):
    listed = options_text(options)
    text = default_hitl_body({**FACTS, "subject": subject, "options": listed, "code": code, "link": link})
    assert count_segments(text).segments == 1, text
    assert f" - reply {listed} + code {code}" in text


def test_options_too_long_for_one_segment_keep_everything_and_are_logged(caplog, capsys):
    options = options_text([f"Rebuild mart number {n}" for n in range(1, 9)])
    facts = {**FACTS, "options": options, "link": RUN_LINK}
    text = SignalWireHITLNotifier()._body({}, facts)
    assert text.endswith(f" - reply {options} + code 48213377 by Jul 01 14:30 UTC: {RUN_LINK}")
    assert count_segments(text).segments == 3
    # Airflow's structured log lines go to stdout, the standard library's records to caplog.
    assert "takes 3 SMS segments" in caplog.text + capsys.readouterr().out


def test_a_request_without_a_code_keeps_a_link_to_answer_in_airflow():
    text = default_hitl_body({**FACTS, "code": None, "subject": "Fill in the load form", "link": RUN_LINK})
    assert (
        text
        == "Fill in the load form - answer in Airflow by Jul 01 14:30 UTC: https://airflow.example.com/required_actions"
    )


def test_many_options_are_numbered_and_outcomes_read_naturally():
    assert options_text(["a", "b", "c", "d"]) == "1 a, 2 b, 3 c, 4 d"
    assert outcome_word(["Approve"]) == "Approved"
    assert outcome_word(["Reject"]) == "Rejected"
    assert outcome_word(["Hold", "Ask"]) == "Chose Hold, Ask"


def test_code_digits_are_checked_when_the_notifier_is_built():
    with pytest.raises(ValueError, match="code_digits must be a whole number from 6 to 10; got 4"):
        SignalWireHITLNotifier(code_digits=4)
    assert SignalWireHITLNotifier().code_digits == 8
