"""
Answer a human-in-the-loop request from a signed inbound SMS: ``APPROVE 48213377``, ``48213377 reject``.

The receiver calls :func:`reply_to_sms` for each signed ``messages`` webhook of a connection that maps
responders (its ``hitl_responders`` extra). A text that does not read as an answer and a code is left alone
(``None``). Otherwise the answer is checked (a mapped sender, a live code, a request assigned to that sender,
an option of the request) and given through Airflow's own HITL answer path as the sender's Airflow user
(:func:`~airflow_provider_signalwire.compat.answer_hitl_request`); the text returned is the SMS sent back.

Only the code picks the request, and the code's marker names one task instance: nothing in an SMS names a DAG,
a run or a task. Every accepted or refused reply is logged with the user and the request, never with the code
or the text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

NOT_ALLOWED = "This number may not answer Airflow requests."
UNKNOWN_CODE = "No open Airflow request has that code. Check the code in the SMS you got."
LOCKED_OUT = "Too many wrong codes lately: replies are refused for up to {minutes} minutes. Answer in Airflow."


def _where(request: Mapping[str, Any]) -> str:
    return f"{request['task_id']} in {request['dag_id']}"


def _refuse(conn_id: str, who: str, why: str, request: Mapping[str, Any] | None, text: str) -> str:
    about = f" for {request['dag_id']}.{request['task_id']} run {request['run_id']}" if request else ""
    log.warning("SignalWire HITL reply via %r from %s refused%s: %s", conn_id, who, about, why)
    return text


def _locked_out_text() -> str:
    from airflow_provider_signalwire.hitl import WRONG_CODE_WINDOW

    return LOCKED_OUT.format(minutes=max(1, round(WRONG_CODE_WINDOW / 60)))


#: Seconds a redelivery waits for the answer of the same reply being handled at that moment.
EARLIER_ANSWER_WAIT = 25.0


def reply_to_sms(conn_id: str, fields: Mapping[str, Any]) -> str | None:
    """
    The SMS to send back for an inbound SMS that answers a HITL request (``""`` for none); ``None`` when the SMS
    is not such an answer, and is left to the user's own handling.

    A reply is handled once, by SignalWire's message SID: a redelivery of it (SignalWire re-sends a webhook whose
    answer it did not get) is answered with what the first delivery was, and counts no second time.
    """
    from airflow_provider_signalwire.hitl import parse_reply, read_responders, reply_markers

    body, sender = fields.get("Body"), fields.get("From")
    parsed = parse_reply(body) if isinstance(body, str) else None
    if parsed is None:
        return None
    try:
        responders = read_responders(conn_id)
    except ValueError as error:
        log.error("SignalWire HITL replies via %r are refused: %s", conn_id, error)
        return None
    if not responders:
        return None
    user = next((r for r in responders.values() if r.phone == sender), None)
    if user is None:
        shown = f"an unmapped number ending {str(sender)[-4:]}" if isinstance(sender, str) else "no number"
        return _refuse(conn_id, shown, "the number is not in 'hitl_responders'", None, NOT_ALLOWED)
    sid = next((fields[name] for name in ("MessageSid", "SmsSid") if isinstance(fields.get(name), str)), None)
    if not sid:
        return _answer(conn_id, user, *parsed)
    replies, name = reply_markers(conn_id), f"reply:{sid}"
    for _ in range(2):
        token = replies.claim(name)
        if token is None:
            earlier = _earlier_answer(replies, name)
            if earlier is not None:
                log.info(
                    "SignalWire HITL reply via %r from user %s delivered again: answered as before",
                    conn_id,
                    user.user_id,
                )
                return earlier
            continue  # the first delivery gave up its claim: handle this one
        try:
            text = _answer(conn_id, user, *parsed)
        except BaseException:
            replies.release(name, token)
            raise
        replies.update(name, token, {"answer": text or ""})
        return text
    return None


def _earlier_answer(replies: Any, name: str) -> str | None:
    """What the first delivery of a reply answered (``""`` for nothing), once it has; ``None`` if it gave up."""
    deadline = time.monotonic() + EARLIER_ANSWER_WAIT
    while True:
        held = replies.holder(name)
        if held is None:
            return None
        if "answer" in held[1]:
            return str(held[1]["answer"])
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.1)


def _answer(conn_id: str, user: Any, answer: str, code: str) -> str | None:
    from airflow_provider_signalwire.compat import answer_hitl_request
    from airflow_provider_signalwire.hitl import (
        attempt_markers,
        choose_options,
        code_marker,
        forgive_attempt,
        is_locked_out,
        options_text,
        outcome_word,
        request_markers,
        take_attempt,
    )

    who = f"user {user.user_id}"
    attempts = attempt_markers(conn_id)
    # A slot of the wrong-code budgets is taken before the code is looked at: a burst tries no more than they hold.
    attempt = take_attempt(attempts, user.phone)
    if attempt is None:
        return _refuse(conn_id, who, "too many wrong codes lately", None, _locked_out_text())
    try:
        request = request_markers(conn_id).get(code_marker(code))
    except BaseException:
        forgive_attempt(attempts, attempt)  # not read: a redelivery of this reply will try again
        raise
    wrong: tuple[str, Mapping[str, Any] | None, str] | None = None
    if request is None or float(request.get("expires_at", 0)) < time.time():
        wrong = ("no live request has the code given", None, UNKNOWN_CODE)
    elif user.user_id not in request.get("users", []):
        wrong = ("the request is not assigned to this user", request, f"{_where(request)} is not yours to answer.")
    if wrong is not None:
        why, about, text = wrong
        if is_locked_out(attempts, user.phone):
            log.warning(
                "SignalWire HITL replies via %r from %s are refused for a while: too many wrong codes", conn_id, who
            )
            text = _locked_out_text()
        return _refuse(conn_id, who, why, about, text)
    forgive_attempt(attempts, attempt)
    assert request is not None
    where = _where(request)
    options = list(request.get("options") or [])
    chosen = choose_options(answer, options, bool(request.get("multiple")))
    if chosen is None:
        return _refuse(
            conn_id,
            who,
            "the reply names no option of the request",
            request,
            f"Not an option of {where}. Reply {options_text(options)} + code.",
        )
    outcome = answer_hitl_request(
        ti_id=request["ti_id"],
        dag_id=request["dag_id"],
        run_id=request["run_id"],
        task_id=request["task_id"],
        map_index=int(request["map_index"]),
        chosen_options=chosen,
        user_id=user.user_id,
        user_name=user.name,
    )
    if outcome.outcome == "accepted":
        log.info(
            "SignalWire HITL reply via %r from %s accepted for %s.%s run %s: %s",
            conn_id,
            who,
            request["dag_id"],
            request["task_id"],
            request["run_id"],
            ", ".join(chosen),
        )
        return f"{outcome_word(chosen)}: {where}"
    texts = {
        "answered": f"Already answered: {where}" + (f" (by {outcome.responded_by})." if outcome.responded_by else "."),
        "not_waiting": f"Not waiting for an answer: {where}.",
        "forbidden": f"{where} is not yours to answer.",
        "invalid": f"Not an option of {where}. Reply {options_text(options)} + code.",
        "gone": UNKNOWN_CODE,
    }
    if outcome.outcome == "answered" and not outcome.responded_by:
        texts["answered"] = f"No longer waiting for an answer: {where} (timed out)."
    return _refuse(conn_id, who, f"Airflow says {outcome.outcome}", request, texts[outcome.outcome])
