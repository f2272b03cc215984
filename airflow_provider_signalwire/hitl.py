"""
What the human-in-the-loop notifier and the reply receiver share: responders, request codes and reply wording.

* **Responders** are Airflow users mapped to phone numbers, in the SignalWire connection's ``hitl_responders``
  extra: a JSON object from an Airflow user id to a number (``{"alice": "+15551230000"}``), or to
  ``{"phone": "+1...", "name": "Alice Example"}`` where the user's display name differs from its id.
* **Request codes** are random (``secrets``), one per HITL request, kept as once-only markers in Airflow's
  metadata database (:class:`~airflow_provider_signalwire.ledger.SharedMarkers`, one Variable per marker), each
  live only as long as its request.
  A code's marker names the request (DAG, run, task, map index, task instance id) and the users it was sent to;
  the request's own answer state in Airflow says whether the code is still good.

* **Wrong codes** are budgets of once-only slots that live :data:`WRONG_CODE_WINDOW` seconds: a reply takes a
  slot of its number's budget (:data:`WRONG_CODE_LIMIT`) and of the connection's (:data:`WRONG_CODE_LIMIT_ALL`)
  before its code is looked at, and gives them back only when the code was right. However many replies arrive at
  once, from however many numbers, no more codes are tried in any window than the budgets hold.

Nothing here sends a request; only :func:`read_responders` and the markers' functions reach Airflow.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

# Reading a reply is pure text work, kept in its own module; the receiver and the notifier import it from here.
from airflow_provider_signalwire.hitl_answers import choose_options as choose_options
from airflow_provider_signalwire.hitl_answers import options_text as options_text
from airflow_provider_signalwire.hitl_answers import parse_reply as parse_reply

if TYPE_CHECKING:
    from airflow_provider_signalwire.ledger import SharedMarkers

RESPONDERS_EXTRA = "hitl_responders"
#: How long a code stays good after its request's deadline (to answer "no longer waiting"), and after it was sent
#: when the request has no deadline: a code lives only as long as its request can use it.
CODE_GRACE = 3600.0
NO_DEADLINE_TTL = 3 * 24 * 3600.0
#: How long a code's marker is kept at most (each one lives until its own ``expires_at``).
MARKER_TTL = NO_DEADLINE_TTL
#: How long a reply's answer is kept for a redelivery of the same message.
REPLY_TTL = 2 * 24 * 3600.0

#: Wrong codes one mapped number may send within any :data:`WRONG_CODE_WINDOW` seconds.
WRONG_CODE_LIMIT = 5
#: Wrong codes all the connection's numbers together may send within any :data:`WRONG_CODE_WINDOW` seconds.
WRONG_CODE_LIMIT_ALL = 10
#: Seconds a wrong code counts.
WRONG_CODE_WINDOW = 15 * 60.0

_E164 = re.compile(r"\+[1-9]\d{6,14}")


class Responder(NamedTuple):
    user_id: str
    name: str
    phone: str


def response_timeout(wait: timedelta) -> dict[str, timedelta]:
    """
    The keyword that bounds a HITL operator's wait for an answer, for the installed standard provider:
    ``response_timeout`` (1.13+, Airflow 3.2+), ``execution_timeout`` before it (1.12, Airflow 3.1).
    Use it as ``ApprovalOperator(..., **response_timeout(timedelta(hours=4)))``.
    """
    import inspect

    from airflow.providers.standard.operators.hitl import HITLOperator

    accepted = inspect.signature(HITLOperator.__init__).parameters
    return {"response_timeout" if "response_timeout" in accepted else "execution_timeout": wait}


def parse_responders(value: Any, conn_id: str) -> dict[str, Responder]:
    """
    The ``hitl_responders`` extra of connection ``conn_id``, checked: responders by Airflow user id.

    :raises ValueError: naming the extra, what is allowed and what was given (never a whole number list).
    """
    where = f"The SignalWire connection {conn_id!r} extra {RESPONDERS_EXTRA!r}"
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError(
                f"{where} must be a JSON object of Airflow user id to phone number; got text that is not JSON."
            ) from None
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{where} must be a JSON object of Airflow user id to phone number; got {type(value).__name__}."
        )
    found: dict[str, Responder] = {}
    owners: dict[str, str] = {}
    for user_id, entry in value.items():
        phone, name = (
            (entry.get("phone"), entry.get("name") or user_id) if isinstance(entry, Mapping) else (entry, user_id)
        )
        if not isinstance(phone, str) or not _E164.fullmatch(phone):
            raise ValueError(
                f"{where}: user {user_id!r} must map to an E.164 number such as '+15551230000' "
                f"(or {{'phone': ..., 'name': ...}}); got {phone!r}."
            )
        if phone in owners:
            raise ValueError(f"{where}: users {owners[phone]!r} and {user_id!r} share one number; give each its own.")
        owners[phone] = str(user_id)
        found[str(user_id)] = Responder(str(user_id), str(name), phone)
    return found


def read_responders(conn_id: str) -> dict[str, Responder]:
    """The responders of connection ``conn_id`` (empty when it maps none)."""
    from airflow.sdk import BaseHook

    return parse_responders(BaseHook.get_connection(conn_id).extra_dejson.get(RESPONDERS_EXTRA) or {}, conn_id)


def maps_responders(extra: Mapping[str, Any]) -> bool:
    """Whether a connection's extra maps HITL responders: then its numbers take approval replies."""
    return bool(extra.get(RESPONDERS_EXTRA))


def is_approval_reply(item: Mapping[str, Any]) -> bool:
    """
    Whether a listed inbound message reads as an approval reply (see :func:`parse_reply`): on a connection that maps
    responders, the webhook receiver answers it, and watchers do not take it for an ordinary inbound message.
    """
    body = item.get("body")
    return str(item.get("direction") or "") == "inbound" and isinstance(body, str) and parse_reply(body) is not None


def request_markers(conn_id: str) -> SharedMarkers:
    """The markers of the connection's HITL requests: their codes and the SMS already sent."""
    from airflow_provider_signalwire.ledger import SharedMarkers

    return SharedMarkers("hitl", MARKER_TTL, conn_id=conn_id, purpose="an approval request's code or SMS")


def attempt_markers(conn_id: str) -> SharedMarkers:
    """The markers of the connection's recent wrong codes: budgets per mapped number and for the connection."""
    from airflow_provider_signalwire.ledger import SharedMarkers

    return SharedMarkers("hitl_attempts", WRONG_CODE_WINDOW, conn_id=conn_id, purpose="a recent wrong approval code")


def reply_markers(conn_id: str) -> SharedMarkers:
    """The markers of the replies answered, by SignalWire's message SID: a redelivery gets the same answer."""
    from airflow_provider_signalwire.ledger import SharedMarkers

    return SharedMarkers("hitl_replies", REPLY_TTL, conn_id=conn_id, purpose="an approval reply already answered")


def _budgets(phone: str) -> list[tuple[str, int]]:
    from airflow_provider_signalwire.ledger import digest

    return [(f"wrong:{digest(phone)}", WRONG_CODE_LIMIT), ("wrong:any", WRONG_CODE_LIMIT_ALL)]


def take_attempt(markers: SharedMarkers, phone: str) -> list[tuple[str, str]] | None:
    """
    Take a wrong-code slot of ``phone``'s budget and of the connection's, before a code is looked at: the slots
    taken, for :func:`forgive_attempt`; ``None`` when either budget is spent (the number is locked out).
    However many replies arrive at once, no more codes are tried than the budgets hold.
    """
    taken: list[tuple[str, str]] = []
    for name, slots in _budgets(phone):
        slot = markers.claim_slot(name, slots)
        if slot is None:
            forgive_attempt(markers, taken)
            return None
        taken.append(slot)
    return taken


def forgive_attempt(markers: SharedMarkers, taken: Sequence[tuple[str, str]]) -> None:
    """Give back the slots of a reply whose code was right: only wrong codes count."""
    for marker, token in taken:
        markers.release(marker, token)


def is_locked_out(markers: SharedMarkers, phone: str) -> bool:
    """Whether ``phone``'s budget or the connection's is spent: its next replies are refused until slots expire."""
    return any(markers.live_slots(name, slots) >= slots for name, slots in _budgets(phone))


def new_code(digits: int) -> str:
    """A random code of ``digits`` digits; knowing other codes tells nothing about it."""
    return str(secrets.randbelow(10**digits)).zfill(digits)


def code_sealer(api_token: str) -> Any:
    """
    What seals a request's code in its marker (Fernet, keyed from the connection's API token): a user who may read
    Airflow Variables reads no code there.
    """
    import base64
    import hmac

    from cryptography.fernet import Fernet

    key = hmac.new(api_token.encode(), b"airflow-provider-signalwire hitl codes", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def code_marker(code: str) -> str:
    """The marker naming the request that ``code`` answers (a digest: the code itself is not a key)."""
    return "code:" + hashlib.sha256(code.encode()).hexdigest()[:24]


def request_marker(ti_id: str) -> str:
    return f"request:{ti_id}"


def outcome_word(chosen: Sequence[str]) -> str:
    """``Approved``, ``Rejected``, or ``Chose <options>``."""
    words = {"approve": "Approved", "reject": "Rejected"}
    if len(chosen) == 1 and chosen[0].casefold() in words:
        return words[chosen[0].casefold()]
    return "Chose " + ", ".join(chosen)
