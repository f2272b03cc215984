"""
Replies to human-in-the-loop SMS, as the receiver handles them, against Airflow's metadata database (SQLite): the
wrong-code limit per mapped number. The whole loop over HTTP is ``test_hitl_end_to_end.py``.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from airflow_provider_signalwire import hitl
from airflow_provider_signalwire.webhooks.hitl_replies import LOCKED_OUT, UNKNOWN_CODE, reply_to_sms

ALICE, BOB = "+15550000002", "+15550000003"
LOCKED = LOCKED_OUT.format(minutes=15)
LOCKOUT_TEXT_FOR_ONE_MINUTE = LOCKED_OUT.format(minutes=1)


@pytest.fixture
def conn_id(monkeypatch, airflow_db):
    conn_id = f"sw_hitl_{uuid.uuid4().hex[:10]}"
    connection = {"conn_type": "signalwire", "host": "example", "login": "project", "password": "token"}
    connection["extra"] = {"hitl_responders": {"alice": ALICE, "bob": BOB}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def sms(sender: str, body: str) -> dict[str, str]:
    return {"From": sender, "To": "+15550000001", "Body": body, "MessageSid": str(uuid.uuid4())}


def live_code(conn_id: str, code: str, users: list[str]) -> None:
    """A code given to a request whose task instance is gone: Airflow would answer ``gone`` if it were asked."""
    request = {"dag_id": "daily_etl", "run_id": "manual_1", "task_id": "approve", "map_index": -1}
    request |= {"ti_id": str(uuid.uuid4()), "options": ["Approve", "Reject"], "users": users}
    request["expires_at"] = time.time() + 600
    assert hitl.request_markers(conn_id).claim(hitl.code_marker(code), request)


def test_five_wrong_codes_lock_the_number_out_even_for_a_right_code_and_other_numbers_stay_free(conn_id):
    live_code(conn_id, "4821", ["alice"])
    live_code(conn_id, "7300", ["bob"])

    refusals = [reply_to_sms(conn_id, sms(ALICE, f"approve {code}")) for code in ("1111", "2222", "3333", "4444")]
    assert refusals == [UNKNOWN_CODE] * 4
    # A live code of a request sent to someone else is a wrong code too: the fifth.
    assert reply_to_sms(conn_id, sms(ALICE, "approve 7300")) == LOCKED

    # Locked out: the right code is refused before any request is looked at (it would be "gone" otherwise).
    assert reply_to_sms(conn_id, sms(ALICE, "approve 4821")) == LOCKED
    assert reply_to_sms(conn_id, sms(ALICE, "approve 9999")) == LOCKED
    # Another mapped number is not locked by alice's guesses.
    assert reply_to_sms(conn_id, sms(BOB, "approve 1111")) == UNKNOWN_CODE
    assert reply_to_sms(conn_id, sms(BOB, "approve 7300")) == UNKNOWN_CODE  # its request is gone


def test_a_lock_and_the_wrong_codes_expire_after_the_window(conn_id, monkeypatch):
    monkeypatch.setattr(hitl, "WRONG_CODE_WINDOW", 4.0)
    monkeypatch.setattr(hitl, "WRONG_CODE_LIMIT", 2)
    live_code(conn_id, "4821", ["alice"])

    assert reply_to_sms(conn_id, sms(ALICE, "approve 1111")) == UNKNOWN_CODE
    assert reply_to_sms(conn_id, sms(ALICE, "approve 2222")) == LOCKOUT_TEXT_FOR_ONE_MINUTE
    assert reply_to_sms(conn_id, sms(ALICE, "approve 4821")) == LOCKOUT_TEXT_FOR_ONE_MINUTE
    time.sleep(4.5)

    assert reply_to_sms(conn_id, sms(ALICE, "approve 4821")) == UNKNOWN_CODE, "the lock is over: the code is read"
    assert reply_to_sms(conn_id, sms(ALICE, "approve 3333")) == UNKNOWN_CODE, "the old wrong codes count no more"


def test_wrong_codes_are_kept_in_the_metadata_database_by_digest(conn_id):
    from airflow.models.variable import Variable

    reply_to_sms(conn_id, sms(ALICE, "approve 1111"))

    stored = Variable.get(hitl.attempt_markers(conn_id).key, deserialize_json=True)
    (name,) = stored
    assert name.startswith("wrong:") and ALICE not in name and "1111" not in json.dumps(stored)
