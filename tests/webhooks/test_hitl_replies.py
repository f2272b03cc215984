"""
Replies to human-in-the-loop SMS, as the receiver handles them, against Airflow's metadata database (SQLite): the
wrong-code budgets per mapped number and per connection, held against bursts of concurrent replies, and a
redelivered reply counted once. The whole loop over HTTP is ``test_hitl_end_to_end.py``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from airflow_provider_signalwire import hitl
from airflow_provider_signalwire.webhooks.hitl_replies import LOCKED_OUT, UNKNOWN_CODE, reply_to_sms

ALICE, BOB, CAROL = "+15550000002", "+15550000003", "+15550000004"
LOCKED = LOCKED_OUT.format(minutes=15)
LOCKOUT_TEXT_FOR_ONE_MINUTE = LOCKED_OUT.format(minutes=1)
RIGHT, OTHER = "40821337", "73001234"


@pytest.fixture
def conn_id(monkeypatch, airflow_db):
    conn_id = f"sw_hitl_{uuid.uuid4().hex[:10]}"
    connection = {"conn_type": "signalwire", "host": "example", "login": "project", "password": "token"}
    connection["extra"] = {"hitl_responders": {"alice": ALICE, "bob": BOB, "carol": CAROL}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def sms(sender: str, body: str, sid: str | None = None) -> dict[str, str]:
    return {"From": sender, "To": "+15550000001", "Body": body, "MessageSid": sid or f"SM{uuid.uuid4().hex}"}


def wrong(index: int) -> str:
    return f"{11110000 + index:08d}"


def live_code(conn_id: str, code: str, users: list[str]) -> None:
    """A code given to a request whose task instance is gone: Airflow would answer ``gone`` if it were asked."""
    request = {"dag_id": "daily_etl", "run_id": "manual_1", "task_id": "approve", "map_index": -1}
    request |= {"ti_id": str(uuid.uuid4()), "options": ["Approve", "Reject"], "users": users}
    request["expires_at"] = time.time() + 600
    assert hitl.request_markers(conn_id).claim(hitl.code_marker(code), request)


def at_once(messages: list[tuple[str, dict]]) -> list[str | None]:
    """Each ``(conn_id, fields)`` handled in its own thread, all released together, as API-server workers do."""
    replies: list[str | None] = [None] * len(messages)
    start = threading.Barrier(len(messages))

    def handle(index: int) -> None:
        start.wait()
        replies[index] = reply_to_sms(*messages[index])

    threads = [threading.Thread(target=handle, args=(index,)) for index in range(len(messages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return replies


def test_five_wrong_codes_lock_the_number_out_even_for_a_right_code_and_other_numbers_stay_free(conn_id):
    live_code(conn_id, RIGHT, ["alice"])
    live_code(conn_id, OTHER, ["bob"])

    refusals = [reply_to_sms(conn_id, sms(ALICE, f"approve {wrong(n)}")) for n in range(4)]
    assert refusals == [UNKNOWN_CODE] * 4
    # A live code of a request sent to someone else is a wrong code too: the fifth spends the budget.
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {OTHER}")) == LOCKED

    # Locked out: the right code is refused before any request is looked at (it would be "gone" otherwise).
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {RIGHT}")) == LOCKED
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {wrong(9)}")) == LOCKED
    # Another mapped number is not locked by alice's guesses.
    assert reply_to_sms(conn_id, sms(BOB, f"approve {wrong(1)}")) == UNKNOWN_CODE
    assert reply_to_sms(conn_id, sms(BOB, f"approve {OTHER}")) == UNKNOWN_CODE  # its request is gone


def test_a_burst_of_wrong_codes_from_one_number_tries_no_more_than_the_budget(conn_id):
    # Failed before: of 40 concurrent replies (39 wrong, 1 right), 24 were checked as codes, 12 failed with
    # MarkerUnavailable and 3 were locked out.
    live_code(conn_id, RIGHT, ["alice"])
    bodies = [f"approve {wrong(n)}" for n in range(39)] + [f"approve {RIGHT}"]

    replies = at_once([(conn_id, sms(ALICE, body)) for body in bodies])

    checked = [reply for reply in replies if reply != LOCKED]
    assert len(checked) <= hitl.WRONG_CODE_LIMIT, checked
    assert set(replies) <= {UNKNOWN_CODE, LOCKED}, set(replies)  # nothing failed ("Sorry, ...")
    markers = hitl.attempt_markers(conn_id)
    assert hitl.is_locked_out(markers, ALICE)
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {RIGHT}")) == LOCKED


def test_wrong_codes_from_many_numbers_spend_the_connections_budget(conn_id):
    # Each number has 5 tries; together they have 10 in a window, however many numbers guess.
    first = [(conn_id, sms(ALICE, f"approve {wrong(n)}")) for n in range(5)]
    second = [(conn_id, sms(BOB, f"approve {wrong(n)}")) for n in range(5, 10)]
    at_once(first + second)

    assert reply_to_sms(conn_id, sms(CAROL, f"approve {wrong(20)}")) == LOCKED, "carol guessed nothing yet"


def test_a_redelivered_wrong_code_counts_once_and_gets_the_same_answer(conn_id):
    # Failed before: the 5th delivery of one typo answered "Too many wrong codes" and the right code was refused.
    live_code(conn_id, RIGHT, ["alice"])
    typo = sms(ALICE, f"approve {wrong(0)}")

    first = reply_to_sms(conn_id, typo)
    again = [reply_to_sms(conn_id, dict(typo)) for _ in range(4)] + at_once([(conn_id, dict(typo))] * 4)

    assert first == UNKNOWN_CODE
    assert again == [UNKNOWN_CODE] * 8
    assert hitl.attempt_markers(conn_id).live_slots(f"wrong:{hitl_digest(ALICE)}", hitl.WRONG_CODE_LIMIT) == 1
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {RIGHT}")) == UNKNOWN_CODE, "read, not locked (its TI is gone)"


def hitl_digest(phone: str) -> str:
    from airflow_provider_signalwire.ledger import digest

    return digest(phone)


def test_a_right_code_does_not_spend_the_budget(conn_id):
    live_code(conn_id, RIGHT, ["alice"])
    for _ in range(hitl.WRONG_CODE_LIMIT + 2):
        assert reply_to_sms(conn_id, sms(ALICE, f"approve {RIGHT}")) == UNKNOWN_CODE  # gone, but the right code
    assert not hitl.is_locked_out(hitl.attempt_markers(conn_id), ALICE)


def test_a_lock_and_the_wrong_codes_expire_after_the_window(conn_id, monkeypatch):
    monkeypatch.setattr(hitl, "WRONG_CODE_WINDOW", 4.0)
    monkeypatch.setattr(hitl, "WRONG_CODE_LIMIT", 2)
    live_code(conn_id, RIGHT, ["alice"])

    assert reply_to_sms(conn_id, sms(ALICE, f"approve {wrong(1)}")) == UNKNOWN_CODE
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {wrong(2)}")) == LOCKOUT_TEXT_FOR_ONE_MINUTE
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {RIGHT}")) == LOCKOUT_TEXT_FOR_ONE_MINUTE
    time.sleep(4.5)

    assert reply_to_sms(conn_id, sms(ALICE, f"approve {RIGHT}")) == UNKNOWN_CODE, "the lock is over: the code is read"
    assert reply_to_sms(conn_id, sms(ALICE, f"approve {wrong(3)}")) == UNKNOWN_CODE, "old wrong codes count no more"


def test_wrong_codes_are_kept_in_the_metadata_database_by_digest(conn_id):
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    reply_to_sms(conn_id, sms(ALICE, f"approve {wrong(1)}"))

    with create_session() as session:
        prefix = hitl.attempt_markers(conn_id).prefix
        rows = session.scalars(select(Variable).where(Variable.key.startswith(prefix))).all()
        stored = {row.key: row.val for row in rows}
    assert len(stored) == 2, "a slot of the number's budget and one of the connection's"
    assert ALICE not in json.dumps(stored) and wrong(1) not in json.dumps(stored)


def test_a_reply_whose_handling_failed_gives_its_slots_back_for_the_redelivery(conn_id, monkeypatch):
    live_code(conn_id, RIGHT, ["alice"])
    typo = sms(ALICE, f"approve {wrong(0)}")
    real = hitl.request_markers

    def unreachable(conn):
        raise RuntimeError("the metadata database is out of reach")

    monkeypatch.setattr(hitl, "request_markers", unreachable)
    with pytest.raises(RuntimeError):
        reply_to_sms(conn_id, typo)
    monkeypatch.setattr(hitl, "request_markers", real)

    assert reply_to_sms(conn_id, dict(typo)) == UNKNOWN_CODE
    attempts = hitl.attempt_markers(conn_id)
    assert attempts.live_slots(f"wrong:{hitl_digest(ALICE)}", hitl.WRONG_CODE_LIMIT) == 1, "counted once"
