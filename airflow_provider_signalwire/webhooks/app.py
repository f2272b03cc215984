"""
The webhook receiver: a FastAPI app that Airflow's API server mounts at ``/signalwire`` (see :mod:`.plugin`).

``GET|POST /signalwire/webhooks/<conn_id>/<kind>`` (kinds in
:data:`~airflow_provider_signalwire.webhooks.WEBHOOK_KINDS`) checks the request's signature with the Signing Key
of connection ``conn_id`` (extra ``signing_secret``) and records the webhook as an event on the asset
``signalwire://<conn_id>/<kind>``, its ``extra`` holding the webhook's fields.

* The URL checked is ``<public base URL>/signalwire/webhooks/<conn_id>/<kind>`` plus the query string, where the
  public base URL is the connection's ``webhook_base_url`` extra, else ``[api] base_url``, else the URL the
  request arrived at. Set one of them when a proxy or a tunnel stands between SignalWire and Airflow.
* A missing or wrong signature, an unknown connection or one without a Signing Key: 403, always the same body.
  A body that cannot be read as a form or as a JSON object: 400 (415 for another content type, 413 over 1 MiB).
* A webhook already recorded (same kind, SID and status, or the same signature) is answered as usual and
  recorded no second time, for as long as its event is kept: SignalWire re-sends a webhook whose answer it did not
  get, and a signed request replayed later must not make a new event either.
* ``messages`` and ``calls`` form webhooks are answered with an empty cXML document, so the message or call is
  handled cleanly; status callbacks and JSON webhooks with 204. An inbound SMS that answers a human-in-the-loop
  request (see :mod:`.hitl_replies`) is answered with a ``<Message>`` (SignalWire texts it back to the sender) and
  recorded as no event: an approval reply, accepted or refused, starts no inbound-message DAG.

Module-level imports stay light: every process that loads plugins imports this module. The database work
runs in a worker thread with its own session.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_signalwire.webhooks import webhook_asset_uri, webhook_path
from airflow_provider_signalwire.webhooks.signature import get_signature, is_json_content_type, validate_request

log = logging.getLogger(__name__)

EMPTY_CXML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 1000
DEDUP_KEY_FIELD = "signalwire_webhook_key"
# A digest of the signature: every way of re-splitting one signed form into fields shares it, so a replay
# that changes how the fields read (and so the delivery key) is still recognised.
DEDUP_SIGNATURE_FIELD = "signalwire_webhook_signature"

_SID_FIELDS = ("MessageSid", "SmsSid", "SmsMessageSid", "CallSid")
_STATUS_FIELDS = ("MessageStatus", "SmsStatus", "CallStatus")
_FORM_TYPES = ("application/x-www-form-urlencoded", "")

app = FastAPI(
    title="SignalWire webhooks",
    description="Signature-checked SignalWire webhooks, recorded as Airflow asset events.",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


class _TooLarge(Exception):
    pass


def _plain(status: int, text: str) -> Response:
    return Response(content=text, status_code=status, media_type="text/plain")


def _forbidden() -> Response:
    # Whatever the reason (no such connection, no Signing Key, no or a wrong signature): the same answer.
    return _plain(403, "Forbidden")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _load_signing_settings(conn_id: str) -> tuple[str | None, str | None]:
    """The connection's Signing Key and public base URL; ``(None, None)`` when it cannot be used."""
    from airflow_provider_signalwire.exceptions import SignalWireInputError
    from airflow_provider_signalwire.hooks.base import read_settings

    try:
        settings = read_settings(conn_id)
    except Exception as error:
        # A refusal of the connection says what to fix and never quotes a secret; any other error only its kind.
        why = str(error) if isinstance(error, SignalWireInputError) else type(error).__name__
        log.warning("SignalWire webhook for connection %r refused: %s", conn_id, why)
        return None, None
    if not settings.signing_secret:
        log.warning(
            "SignalWire webhook for connection %r refused: the connection has no Signing Key (extra 'signing_secret').",
            conn_id,
        )
        return None, None
    return settings.signing_secret, settings.webhook_base_url


def public_url(request: Request, conn_id: str, kind: str, base_url: str | None) -> str:
    """The URL SignalWire requested, as it signed it: the public base URL, the receiver's path and the query."""
    if not base_url:
        from airflow_provider_signalwire.compat import conf

        base_url = conf.get("api", "base_url", fallback="") or None
    if not base_url:
        return str(request.url)
    query = request.url.query
    # A number configured with a trailing slash is signed with it.
    slash = "/" if request.url.path.endswith("/") else ""
    return base_url.rstrip("/") + webhook_path(conn_id, kind) + slash + (f"?{query}" if query else "")


def _form_fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    return fields


def _first_text(fields: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, (str, int)) and str(value):
            return str(value)
    return None


def delivery_key(kind: str, fields: dict[str, Any]) -> str:
    """
    What recognises a repeated delivery of one webhook: its kind, SID and status.

    Recording callbacks add the recording's SID and status; a JSON (SWML/RELAY) call webhook uses
    ``call.call_id`` and ``call.call_state``. A webhook with no SID is known by a digest of its fields.
    """
    sid = _first_text(fields, _SID_FIELDS)
    status = _first_text(fields, _STATUS_FIELDS)
    call = fields.get("call")
    if sid is None and isinstance(call, dict):
        sid = _first_text(call, ("call_id",))
        status = _first_text(call, ("call_state",))
    if sid is None:
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
        return f"{kind}:sha256:{digest}"
    key = f"{kind}:{sid}:{status or ''}"
    recording = _first_text(fields, ("RecordingSid",))
    if recording:
        key += f":{recording}:{_first_text(fields, ('RecordingStatus',)) or ''}"
    return key


def record_webhook_event(uri: str, extra: dict[str, Any]) -> bool:
    """
    Record one asset event for ``uri`` unless one with the same delivery key (or signature) is recorded, however
    long ago; True when recorded. The asset is created when no DAG declared it yet.
    """
    from sqlalchemy import JSON, or_, select, type_coerce

    from airflow_provider_signalwire.compat import record_asset_event_once

    key = extra[DEDUP_KEY_FIELD]
    signed = extra.get(DEDUP_SIGNATURE_FIELD)

    def seen(session: Any, asset_event: Any, asset_ids: list[int]) -> bool:
        # Airflow 3.1 declares the column with a JSON type that cannot be indexed in a query; 3.2+ with sa.JSON.
        extra = type_coerce(asset_event.extra, JSON)
        same = extra[DEDUP_KEY_FIELD].as_string() == key
        if signed:
            same = or_(same, extra[DEDUP_SIGNATURE_FIELD].as_string() == signed)
        # No time window: a replay is refused for as long as its event is kept. The asset's events are found
        # through Airflow's index on asset_id (idx_asset_id_timestamp); only their extras are then compared.
        found = session.scalar(select(asset_event.id).where(asset_event.asset_id.in_(asset_ids)).where(same).limit(1))
        return found is not None

    return record_asset_event_once(uri, extra, seen=seen)


@app.api_route("/webhooks/{conn_id}/{kind:path}", methods=["GET", "POST"], include_in_schema=False)
async def receive_webhook(conn_id: str, kind: str, request: Request) -> Response:
    """Check one webhook, record it as an asset event, and answer SignalWire."""
    kind = kind.strip("/")
    try:
        uri = webhook_asset_uri(conn_id, kind)
    except ValueError:
        return _plain(404, "Not Found")
    try:
        body = await _read_body(request)
    except _TooLarge:
        return _plain(413, "Payload Too Large")

    signing_key, base_url = await run_in_threadpool(_load_signing_settings, conn_id)
    if not signing_key or not get_signature(request.headers):
        return _forbidden()

    # The signature is checked before anything about the body is said: without a valid one, every request
    # gets the same 403, whatever its content type or body.
    content_type = request.headers.get("content-type", "")
    is_json = is_json_content_type(content_type)
    is_form = not is_json and content_type.split(";", 1)[0].strip().lower() in _FORM_TYPES
    form: list[tuple[str, str]] | None = None
    if is_form and request.method != "GET":
        try:
            form = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=MAX_FORM_FIELDS
            )
        except ValueError:  # also UnicodeDecodeError: such a body cannot have been signed as a form
            form = None
    url = public_url(request, conn_id, kind, base_url)
    if not validate_request(signing_key, url, request.headers, body, form=form):
        log.warning("SignalWire webhook for %s refused: the signature does not match %s", uri, url)
        return _forbidden()

    payload: Any
    try:
        if is_json:
            payload = json.loads(body)
        elif not is_form:
            return _plain(415, "Unsupported Media Type")
        elif request.method == "GET":
            payload = _form_fields(parse_qsl(request.url.query, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
        elif form is None:
            return _plain(400, "Bad Request")
        else:
            payload = _form_fields(form)
    except (ValueError, RecursionError):  # also json.JSONDecodeError; RecursionError for absurd nesting
        return _plain(400, "Bad Request")
    if not isinstance(payload, dict):
        return _plain(400, "Bad Request")

    payload.pop("bodySHA256", None)
    key = delivery_key(kind, payload)
    if kind == "messages" and not is_json:
        # An answer to an approval request (accepted or refused) is no ordinary inbound message: it is answered
        # here, and neither its code nor its text becomes an event that starts inbound-message DAGs.
        reply = await _hitl_reply(conn_id, payload)
        if reply is not None:
            log.info("SignalWire webhook %s answered as an approval reply, not recorded (%s)", key, uri)
            content = cxml_message(reply) if reply else EMPTY_CXML
            return Response(content=content, media_type="application/xml")
    signature = get_signature(request.headers) or ""
    extra = {
        **payload,
        DEDUP_KEY_FIELD: key,
        DEDUP_SIGNATURE_FIELD: hashlib.sha256(signature.encode()).hexdigest()[:32],
    }
    try:
        recorded = await run_in_threadpool(record_webhook_event, uri, extra)
    except Exception:
        # A 5xx makes SignalWire deliver the webhook again later.
        log.exception("SignalWire webhook for %s could not be recorded", uri)
        return _plain(500, "Internal Server Error")
    log.info("SignalWire webhook %s %s (%s)", key, "recorded" if recorded else "already recorded", uri)

    if is_json or kind.endswith("/status"):
        return Response(status_code=204)
    return Response(content=EMPTY_CXML, media_type="application/xml")


@app.post("/claims/{conn_id}", include_in_schema=False)
async def claim_marker(conn_id: str, request: Request) -> Response:
    """A once-only marker read or swap for a task or a trigger (see :mod:`.ledger_stores` of the provider)."""
    from airflow_provider_signalwire.ledger_stores import serve_claim_request

    try:
        body = await _read_body(request)
    except _TooLarge:
        return _plain(413, "Payload Too Large")
    try:
        status, answer = await run_in_threadpool(serve_claim_request, conn_id, dict(request.headers), body)
    except Exception:
        log.exception("SignalWire claim via %r could not be handled", conn_id)
        return _plain(500, "Internal Server Error")
    return Response(content=json.dumps(answer), status_code=status, media_type="application/json")


def cxml_message(text: str) -> str:
    """A cXML answer that makes SignalWire send ``text`` back to the sender, from the number written to."""
    from xml.sax.saxutils import escape

    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'


async def _hitl_reply(conn_id: str, payload: dict[str, Any]) -> str | None:
    # An answer to a human-in-the-loop request gets its reply in this answer, so a redelivery sends it once.
    from airflow_provider_signalwire.webhooks.hitl_replies import reply_to_sms

    try:
        return await run_in_threadpool(reply_to_sms, conn_id, payload)
    except Exception as error:
        log.error("SignalWire HITL reply via %r could not be handled: %s", conn_id, type(error).__name__)
        return "Sorry, that answer could not be recorded. Try again, or answer in Airflow."
