"""
Answer a human-in-the-loop request from a signed inbound SMS: ``APPROVE 4821``, ``reject 4821``, ``2 4821``.

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
LOCKED_OUT = "Too many wrong codes from this number: replies are refused for {minutes} minutes. Answer in Airflow."


def _where(request: Mapping[str, Any]) -> str:
    return f"{request['task_id']} in {request['dag_id']}"


def _refuse(conn_id: str, who: str, why: str, request: Mapping[str, Any] | None, text: str) -> str:
    about = f" for {request['dag_id']}.{request['task_id']} run {request['run_id']}" if request else ""
    log.warning("SignalWire HITL reply via %r from %s refused%s: %s", conn_id, who, about, why)
    return text


def _locked_out_text() -> str:
    from airflow_provider_signalwire.hitl import WRONG_CODE_WINDOW

    return LOCKED_OUT.format(minutes=max(1, round(WRONG_CODE_WINDOW / 60)))


def _wrong_code(conn_id: str, who: str, phone: str, why: str, request: Mapping[str, Any] | None, text: str) -> str:
    """Refuse a reply whose code is not the sender's to give, and count it against the sender's number."""
    from airflow_provider_signalwire.hitl import attempt_markers, count_wrong_code

    if count_wrong_code(attempt_markers(conn_id), phone):
        log.warning(
            "SignalWire HITL replies via %r from %s are refused for a while: too many wrong codes", conn_id, who
        )
        return _refuse(conn_id, who, why, request, _locked_out_text())
    return _refuse(conn_id, who, why, request, text)


def reply_to_sms(conn_id: str, fields: Mapping[str, Any]) -> str | None:
    """The SMS to send back for an inbound SMS that answers a HITL request; ``None`` when it is not one."""
    from airflow_provider_signalwire.compat import answer_hitl_request
    from airflow_provider_signalwire.hitl import (
        attempt_markers,
        choose_options,
        code_marker,
        is_locked_out,
        options_text,
        outcome_word,
        parse_reply,
        read_responders,
        request_markers,
    )

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
    answer, code = parsed
    user = next((r for r in responders.values() if r.phone == sender), None)
    if user is None:
        shown = f"an unmapped number ending {str(sender)[-4:]}" if isinstance(sender, str) else "no number"
        return _refuse(conn_id, shown, "the number is not in 'hitl_responders'", None, NOT_ALLOWED)
    who = f"user {user.user_id}"
    if is_locked_out(attempt_markers(conn_id), user.phone):
        return _refuse(conn_id, who, "too many wrong codes from this number lately", None, _locked_out_text())
    request = request_markers(conn_id).get(code_marker(code))
    if request is None or float(request.get("expires_at", 0)) < time.time():
        return _wrong_code(conn_id, who, user.phone, "no live request has the code given", None, UNKNOWN_CODE)
    where = _where(request)
    if user.user_id not in request.get("users", []):
        not_yours = f"{where} is not yours to answer."
        return _wrong_code(conn_id, who, user.phone, "the request is not assigned to this user", request, not_yours)
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
