"""The receiver app in this process (mounted as the API server mounts it) on the session's SQLite database."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from ._signing import sign_form, sign_json
from .conftest import SIGNING_KEY, connection_json, inbound_sms

EMPTY_CXML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SERVER = "http://testserver"


@pytest.fixture
def client(airflow_db):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_signalwire.webhooks import MOUNT_PREFIX
    from airflow_provider_signalwire.webhooks.app import app

    root = FastAPI()
    root.mount(MOUNT_PREFIX, app)
    with TestClient(root, base_url=SERVER) as test_client:
        yield test_client


def events(uri: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
            .order_by(AssetEvent.id)
        )
        return [dict(row.extra) for row in rows]


def post_form(client, conn_id, kind, params, *, key=SIGNING_KEY, url=None, header="X-SignalWire-Signature"):
    path = f"/signalwire/webhooks/{conn_id}/{kind}"
    signature = sign_form(key, url or SERVER + path, params)
    return client.post(path, data=params, headers={header: signature})


def test_signed_inbound_sms_becomes_one_asset_event_with_its_fields(client, webhook_conn_id):
    params = inbound_sms(Body="Order 66")
    response = post_form(client, webhook_conn_id, "messages", params)

    assert response.status_code == 200
    assert response.text == EMPTY_CXML
    assert response.headers["content-type"].startswith("application/xml")
    recorded = events(f"signalwire://{webhook_conn_id}/messages")
    assert len(recorded) == 1
    assert recorded[0]["Body"] == "Order 66"
    assert recorded[0]["From"] == params["From"]
    assert recorded[0]["signalwire_webhook_key"] == f"messages:{params['MessageSid']}:received"


def test_redelivered_webhook_creates_no_second_event(client, webhook_conn_id):
    params = inbound_sms()
    first = post_form(client, webhook_conn_id, "messages", params)
    again = post_form(client, webhook_conn_id, "messages", params)

    assert first.status_code == again.status_code == 200
    assert again.text == EMPTY_CXML  # SignalWire still gets its answer
    assert len(events(f"signalwire://{webhook_conn_id}/messages")) == 1


def test_twilio_signature_header_is_accepted(client, webhook_conn_id):
    response = post_form(client, webhook_conn_id, "messages", inbound_sms(), header="X-Twilio-Signature")
    assert response.status_code == 200
    assert len(events(f"signalwire://{webhook_conn_id}/messages")) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-SignalWire-Signature": ""},
        {"X-SignalWire-Signature": "bm90IGEgc2lnbmF0dXJl"},
    ],
    ids=["missing", "empty", "wrong"],
)
def test_missing_or_wrong_signature_gets_403_and_no_event(client, webhook_conn_id, headers):
    path = f"/signalwire/webhooks/{webhook_conn_id}/messages"
    response = client.post(path, data=inbound_sms(), headers=headers)

    assert response.status_code == 403
    assert response.text == "Forbidden"
    assert events(f"signalwire://{webhook_conn_id}/messages") == []


def test_signature_with_another_key_or_a_changed_field_is_refused(client, webhook_conn_id):
    params = inbound_sms()
    path = f"/signalwire/webhooks/{webhook_conn_id}/messages"
    signed = sign_form(SIGNING_KEY, SERVER + path, params)
    tampered = client.post(path, data={**params, "Body": "changed"}, headers={"X-SignalWire-Signature": signed})
    other_key = post_form(client, webhook_conn_id, "messages", params, key="PSK_someone_else")

    assert tampered.status_code == other_key.status_code == 403
    assert events(f"signalwire://{webhook_conn_id}/messages") == []


def test_unknown_connection_and_connection_without_key_answer_like_a_bad_signature(client, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_SW_WEBHOOKS_NO_KEY", connection_json(signing_key=None))
    with caplog.at_level("WARNING"):
        unknown = post_form(client, "sw_webhooks_nowhere", "messages", inbound_sms())
    # Signed with some key: the receiver must not accept a request for a connection that has none.
    no_key = post_form(client, "sw_webhooks_no_key", "messages", inbound_sms())

    assert unknown.status_code == no_key.status_code == 403
    assert unknown.text == no_key.text == "Forbidden"
    assert events("signalwire://sw_webhooks_no_key/messages") == []
    assert "AIRFLOW_CONN_SW_WEBHOOKS_NOWHERE=" in caplog.text, "the API server's log says what to define"


def test_secret_never_appears_in_answers_or_logs(client, webhook_conn_id, caplog):
    caplog.set_level("DEBUG")
    bad = client.post(
        f"/signalwire/webhooks/{webhook_conn_id}/messages",
        data=inbound_sms(),
        headers={"X-SignalWire-Signature": "x"},
    )
    good = post_form(client, webhook_conn_id, "messages", inbound_sms())

    assert bad.status_code == 403 and good.status_code == 200
    for text in (bad.text, good.text, caplog.text):
        assert SIGNING_KEY not in text


def test_without_a_valid_signature_every_body_gets_the_same_403(client, webhook_conn_id):
    # Nothing about the body (its type, whether it parses) is told to a request that is not signed.
    path = f"/signalwire/webhooks/{webhook_conn_id}/messages"
    form = {"X-SignalWire-Signature": "anything", "Content-Type": "application/x-www-form-urlencoded"}
    answers = [
        client.post(path, content=b"Body=\xff\xfe", headers=form),
        client.post(path, content=b"just text without fields", headers=form),
        client.post(
            path, content=b"{not json", headers={"X-SignalWire-Signature": "x", "Content-Type": "application/json"}
        ),
        client.post(
            path, content=b"[" * 200_000, headers={"X-SignalWire-Signature": "x", "Content-Type": "application/json"}
        ),
        client.post(path, content=b"<xml/>", headers={"X-SignalWire-Signature": "x", "Content-Type": "text/xml"}),
    ]
    assert [(a.status_code, a.text) for a in answers] == [(403, "Forbidden")] * len(answers)
    assert events(f"signalwire://{webhook_conn_id}/messages") == []


def test_signed_but_malformed_bodies_get_400_or_415_and_no_event(client, webhook_conn_id):
    path = f"/signalwire/webhooks/{webhook_conn_id}/messages"
    url = SERVER + path

    def signed_json(body: bytes, content_type: str = "application/json"):
        headers = {"X-SignalWire-Signature": sign_json(SIGNING_KEY, url, body), "Content-Type": content_type}
        return client.post(path, content=body, headers=headers)

    bad_json = signed_json(b"{not json")
    deeply_nested = signed_json(b"[" * 200_000)
    a_list = signed_json(b"[1, 2]")  # valid JSON, but a webhook is an object
    other_type = client.post(
        path,
        content=b"",
        headers={"X-SignalWire-Signature": sign_form(SIGNING_KEY, url, {}), "Content-Type": "text/xml"},
    )

    assert [bad_json.status_code, deeply_nested.status_code, a_list.status_code] == [400, 400, 400]
    assert other_type.status_code == 415
    assert events(f"signalwire://{webhook_conn_id}/messages") == []


def test_a_replay_with_its_fields_re_split_is_recognised(client, webhook_conn_id):
    # The form signature covers name+value concatenated: moving the boundary between fields keeps it valid.
    path = f"/signalwire/webhooks/{webhook_conn_id}/messages/status"
    sid = str(uuid.uuid4())
    original = [("MessageSid", sid), ("MessageStatus", "delivered"), ("To", "+15550000001")]
    resplit = [("MessageSid", sid + "MessageStatusdelivered"), ("To", "+15550000001")]
    signature = sign_form(SIGNING_KEY, SERVER + path, original)
    assert sign_form(SIGNING_KEY, SERVER + path, resplit) == signature

    first = client.post(path, data=dict(original), headers={"X-SignalWire-Signature": signature})
    replay = client.post(path, data=dict(resplit), headers={"X-SignalWire-Signature": signature})

    assert first.status_code == replay.status_code == 204
    assert len(events(f"signalwire://{webhook_conn_id}/messages/status")) == 1


def test_oversized_body_is_refused(client, webhook_conn_id):
    response = client.post(
        f"/signalwire/webhooks/{webhook_conn_id}/messages",
        content=b"Body=" + b"x" * (1024 * 1024),
        headers={"X-SignalWire-Signature": "x", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_unknown_kind_is_404(client, webhook_conn_id):
    assert post_form(client, webhook_conn_id, "faxes", inbound_sms()).status_code == 404


def test_signed_json_webhook_is_recorded_and_answered_204(client, webhook_conn_id):
    path = f"/signalwire/webhooks/{webhook_conn_id}/calls"
    call_id = str(uuid.uuid4())
    body = json.dumps({"call": {"call_id": call_id, "call_state": "created", "from": "+15551230000"}}).encode()
    signature = sign_json(SIGNING_KEY, SERVER + path, body)
    headers = {"X-SignalWire-Signature": signature, "Content-Type": "application/json"}
    first = client.post(path, content=body, headers=headers)
    again = client.post(path, content=body, headers=headers)

    assert first.status_code == again.status_code == 204
    recorded = events(f"signalwire://{webhook_conn_id}/calls")
    assert len(recorded) == 1
    assert recorded[0]["call"]["call_id"] == call_id
    assert recorded[0]["signalwire_webhook_key"] == f"calls:{call_id}:created"


def test_call_status_callbacks_make_one_event_per_status(client, webhook_conn_id):
    call_sid = str(uuid.uuid4())
    base = {"CallSid": call_sid, "AccountSid": "acc", "From": "+15551230000", "To": "+15550000001"}
    answers = [
        post_form(client, webhook_conn_id, "calls/status", {**base, "CallStatus": status})
        for status in ("ringing", "in-progress", "in-progress", "completed")
    ]

    assert [answer.status_code for answer in answers] == [204] * 4
    recorded = events(f"signalwire://{webhook_conn_id}/calls/status")
    assert [event["CallStatus"] for event in recorded] == ["ringing", "in-progress", "completed"]


def test_inbound_call_is_answered_with_empty_cxml(client, webhook_conn_id):
    params = {"CallSid": str(uuid.uuid4()), "CallStatus": "ringing", "Direction": "inbound", "From": "+1", "To": "+2"}
    response = post_form(client, webhook_conn_id, "calls", params)

    assert response.status_code == 200
    assert response.text == EMPTY_CXML
    assert events(f"signalwire://{webhook_conn_id}/calls")[0]["CallSid"] == params["CallSid"]


def test_message_status_callbacks_go_to_their_own_asset(client, webhook_conn_id):
    sid = str(uuid.uuid4())
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "acc", "To": "+1", "From": "+2"}
    response = post_form(client, webhook_conn_id, "messages/status", params)

    assert response.status_code == 204
    assert events(f"signalwire://{webhook_conn_id}/messages/status")[0]["MessageStatus"] == "delivered"
    assert events(f"signalwire://{webhook_conn_id}/messages") == []


def test_get_webhook_is_signed_over_its_query_string(client, webhook_conn_id):
    params = inbound_sms()
    from urllib.parse import urlencode

    path = f"/signalwire/webhooks/{webhook_conn_id}/messages?{urlencode(params)}"
    signature = sign_form(SIGNING_KEY, SERVER + path, {})
    response = client.get(path, headers={"X-SignalWire-Signature": signature})

    assert response.status_code == 200
    assert events(f"signalwire://{webhook_conn_id}/messages")[0]["MessageSid"] == params["MessageSid"]


def test_body_sha256_webhook_is_checked_by_the_digest_in_its_signed_url(client, webhook_conn_id):
    sid = str(uuid.uuid4())
    body = json.dumps({"MessageSid": sid, "MessageStatus": "sent"}).encode()
    path = f"/signalwire/webhooks/{webhook_conn_id}/messages/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    # The URL alone is signed (form scheme, no parameters); the body is checked against its digest.
    headers = {"X-SignalWire-Signature": sign_form(SIGNING_KEY, SERVER + path, {}), "Content-Type": "application/json"}
    tampered = client.post(path, content=body.replace(b"sent", b"read"), headers=headers)
    accepted = client.post(path, content=body, headers=headers)

    assert tampered.status_code == 403
    assert accepted.status_code == 204
    assert [event["MessageSid"] for event in events(f"signalwire://{webhook_conn_id}/messages/status")] == [sid]


def test_public_url_comes_from_the_connection_extra(client, monkeypatch):
    conn_id = f"sw_webhooks_{uuid.uuid4().hex[:10]}"
    public = "https://abc123.tunnel.example/airflow"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(webhook_base_url=public))
    params = inbound_sms()
    signed_public = post_form(
        client, conn_id, "messages", params, url=f"{public}/signalwire/webhooks/{conn_id}/messages"
    )
    signed_local = post_form(client, conn_id, "messages", inbound_sms())  # what the server itself sees

    assert signed_public.status_code == 200
    assert signed_local.status_code == 403
    assert len(events(f"signalwire://{conn_id}/messages")) == 1


def test_a_number_configured_with_a_trailing_slash_is_checked_with_it(client, monkeypatch):
    conn_id = f"sw_webhooks_{uuid.uuid4().hex[:10]}"
    public = "https://abc123.tunnel.example"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(webhook_base_url=public))
    params = inbound_sms()
    path = f"/signalwire/webhooks/{conn_id}/messages/"
    signature = sign_form(SIGNING_KEY, public + path, params)

    answer = client.post(path, data=params, headers={"X-SignalWire-Signature": signature})

    assert answer.status_code == 200
    assert len(events(f"signalwire://{conn_id}/messages")) == 1


def test_public_url_falls_back_to_api_base_url(client, webhook_conn_id, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org")
    url = f"https://airflow.example.org/signalwire/webhooks/{webhook_conn_id}/messages"
    # Signed for the default port too: SignalWire may or may not show it.
    response = post_form(client, webhook_conn_id, "messages", inbound_sms(), url=url.replace(".org/", ".org:443/"))

    assert response.status_code == 200
    assert len(events(f"signalwire://{webhook_conn_id}/messages")) == 1


def test_event_is_recorded_on_an_asset_already_declared_under_another_name(client, webhook_conn_id):
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    uri = f"signalwire://{webhook_conn_id}/messages"
    with create_session() as session:
        session.add(AssetModel(name="inbound texts", uri=uri, group="asset"))
    response = post_form(client, webhook_conn_id, "messages", inbound_sms())

    assert response.status_code == 200
    assert len(events(uri)) == 1  # recorded on the declared asset, no second asset made
    with create_session() as session:
        from sqlalchemy import func, select

        assert session.scalar(select(func.count()).select_from(AssetModel).where(AssetModel.uri == uri)) == 1


def test_asset_helpers_and_uri_check():
    from urllib.parse import urlsplit

    from airflow_provider_signalwire.webhooks import (
        normalize_asset_uri,
        webhook_asset,
        webhook_asset_uri,
        webhook_url,
    )

    assert webhook_asset_uri("sw", "calls/status") == "signalwire://sw/calls/status"
    assert webhook_asset("sw").uri == "signalwire://sw/messages"
    assert webhook_url("https://af.example/", "sw", "calls") == "https://af.example/signalwire/webhooks/sw/calls"
    assert normalize_asset_uri(urlsplit("signalwire://sw/calls/")).geturl() == "signalwire://sw/calls"
    for bad in ("signalwire://sw/faxes", "signalwire:///messages", "signalwire://sw/messages?x=1"):
        with pytest.raises(ValueError, match="signalwire://<conn_id>/<kind>"):
            normalize_asset_uri(urlsplit(bad))
    with pytest.raises(ValueError, match="kind"):
        webhook_asset_uri("sw", "message")


def test_approval_replies_are_answered_and_become_no_inbound_event(client, monkeypatch):
    # Failed before: "APPROVE <code>" from a mapped and from an unmapped number were stored, code and all, as
    # inbound-SMS events that started the user's inbound-message DAGs.
    conn_id = f"sw_webhooks_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(hitl_responders=json.dumps({"alice": "+15550000002"}))
    )
    uri = f"signalwire://{conn_id}/messages"

    mapped = post_form(client, conn_id, "messages", inbound_sms(From="+15550000002", Body="APPROVE 40821337"))
    stranger = post_form(client, conn_id, "messages", inbound_sms(From="+15559990000", Body="approve 78901234"))
    ordinary = post_form(client, conn_id, "messages", inbound_sms(From="+15550000002", Body="Running late, sorry"))

    assert [r.status_code for r in (mapped, stranger, ordinary)] == [200, 200, 200]
    assert "<Message>" in mapped.text and "<Message>" in stranger.text
    assert ordinary.text == EMPTY_CXML
    assert [event["Body"] for event in events(uri)] == ["Running late, sorry"]
