"""Reading an SMS reply to a HITL request: which texts are answers, and which options an answer names."""

from __future__ import annotations

import pytest

from airflow_provider_signalwire.hitl import choose_options, options_text, parse_reply
from airflow_provider_signalwire.hitl_answers import MAX_ANSWER_LENGTH, is_numbered


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("APPROVE 48213377", ("APPROVE", "48213377")),
        ("  reject 48213377. ", ("reject", "48213377")),
        ("Load anyway 00482133", ("Load anyway", "00482133")),
        ("2 482133", ("2", "482133")),
        ("1, 3 4821337700", ("1, 3", "4821337700")),
        # The code first, a '#' before the code, no space at all, punctuation: each form people type.
        ("48213377 approve", ("approve", "48213377")),
        ("#48213377 Approve!", ("Approve", "48213377")),
        ("approve #48213377", ("approve", "48213377")),
        ("approve#48213377", ("approve", "48213377")),
        ("APPROVE48213377", ("APPROVE", "48213377")),
        ("Approve: 48213377!", ("Approve", "48213377")),
        ("approve, 48213377", ("approve", "48213377")),
        ("Approve.\n48213377", ("Approve", "48213377")),
        # Unicode: full-width letters and digits, superscripts, another script's digits read as ASCII.
        (
            "\uff21\uff30\uff30\uff32\uff2f\uff36\uff25 \uff14\uff18\uff12\uff11\uff13\uff13\uff17\uff17",
            ("APPROVE", "48213377"),
        ),  # full-width
        ("² 48213377", ("2", "48213377")),
        ("approve \u0664\u0668\u0662\u0661\u0663\u0663\u0667\u0667", ("approve", "48213377")),  # Arabic-Indic digits
    ],
)
def test_a_reply_reads_as_an_answer_and_a_code_in_the_forms_people_type(body, expected):
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "My order number is 48213377",
        "call me back at 5551234",
        "Yes please go ahead with 48213377",
        "48213377 is my order, where is it",
        "48213377",
        "#48213377",
        "APPROVE",
        "approve 4821",  # too short a code
        "approve 48213377123",  # too long a code
        "248213377",  # only digits: a number, not an answer
        "approve 48213377 thanks",
        "?? 48213377",
        "x" * (MAX_ANSWER_LENGTH + 1) + " 48213377",
        "",
    ],
)
def test_a_text_that_is_not_unmistakably_an_answer_is_not_one(body):
    assert parse_reply(body) is None


def test_a_superscript_answer_chooses_by_its_digit_and_never_crashes():
    assert choose_options("²", ["Approve", "Reject"], False) == ["Reject"]
    assert choose_options("²,¹", ["Approve", "Reject"], True) == ["Reject", "Approve"]


def test_a_numbered_list_picks_by_position_before_a_name_that_is_a_number():
    options = ["2", "Skip", "Hold", "Ask"]
    assert options_text(options) == "1 2, 2 Skip, 3 Hold, 4 Ask"
    assert choose_options("2", options, False) == ["Skip"]
    assert choose_options("1", options, False) == ["2"]
    assert choose_options("5", options, False) is None
    assert choose_options("hold", options, False) == ["Hold"]


def test_a_list_that_is_not_numbered_reads_a_number_as_the_name_it_shows():
    options = ["2", "Skip"]
    assert options_text(options) == "2/Skip"
    assert choose_options("2", options, False) == ["2"]
    assert choose_options("1", options, False) is None  # the text showed no numbers, and "1" is no name
    # With no option named by a number, a number still picks by position.
    assert choose_options("2", ["Approve", "Reject"], False) == ["Reject"]


def test_an_option_whose_name_has_a_comma_is_chosen_by_its_name():
    options = ["Red, large", "Blue", "Red"]
    assert choose_options("red,large", options, True) == ["Red, large"]
    assert choose_options("Red, large, blue", options, True) == ["Red, large", "Blue"]
    assert choose_options("blue, red", options, True) == ["Blue", "Red"]
    assert choose_options("Red, large", options, False) == ["Red, large"]
    assert choose_options("Red, Blue", options, False) is None  # one option only


def test_empty_parts_and_repeats_of_a_several_option_answer():
    options = ["Approve", "Reject", "Hold"]
    assert choose_options("1,,3,", options, True) == ["Approve", "Hold"]
    assert choose_options("1, approve, 1", options, True) == ["Approve"]
    assert choose_options(",", options, True) is None
    assert choose_options("1, maybe", options, True) is None
    # Two options that read alike: the first listed is the one a name chooses.
    assert choose_options("YES", ["Yes", "yes"], False) == ["Yes"]


def test_options_a_reply_could_not_name_all_at_once_are_listed_numbered():
    long_name = "Run the full backfill"  # more words than an answer may have
    assert options_text(["Approve", long_name]) == f"1 Approve, 2 {long_name}"
    assert parse_reply(f"{long_name} 48213377") is None
    assert choose_options("2", ["Approve", long_name], False) == [long_name]
    # Four words in all: "Approve, Load anyway, Reject" would read as a sentence, so the text numbers them.
    assert options_text(["Approve", "Load anyway", "Reject"]) == "1 Approve, 2 Load anyway, 3 Reject"
    assert choose_options("load ANYWAY", ["Approve", "Load anyway", "Reject"], False) == ["Load anyway"]
    assert not is_numbered(["Load anyway", "Skip"])
    assert options_text(["Approve", "Reject", "Hold"]) == "Approve/Reject/Hold"
