from __future__ import annotations

import hashlib

import pytest

from airflow_provider_signalwire.webhooks import signature
from airflow_provider_signalwire.webhooks.signature import (
    candidate_urls,
    compute_form_signature,
    compute_json_signature,
    get_signature,
    validate_form_signature,
    validate_json_signature,
    validate_request,
)

from ._signing import sign_form, sign_json

# The reference's three test vectors (signalwire-api.md §6.4).
VECTOR_1_KEY = "PSK_V3bF8oyeRNpJWGoRWHNYQMUU"
VECTOR_1_URL = "https://675d-189-71-169-171.ngrok-free.app/voice"
VECTOR_1_PARAMS = {
    "CallSid": "a97d4e8a-6047-4e2b-be48-fb96b33b5642",
    "AccountSid": "6bfbbe86-a901-4197-8759-2a0de1fa319d",
    "ApiVersion": "2010-04-01",
    "Direction": "outbound-api",
    "From": "sip:+17063958228@sip.swire.io",
    "To": "sip:jpsantos@joaosantos-2a0de1fa319d.sip.swire.io",
    "Timestamp": "Thu, 09 Nov 2023 14:40:55 +0000",
    "CallStatus": "no-answer",
    "CallbackSource": "call-progress-events",
    "HangupDirection": "outbound",
    "HangupBy": "sip:+17063958228@sip.swire.io",
    "SipResultCode": "487",
}
VECTOR_1_SIGNATURE = "muUMpldcBHlzuXGZ5gbw1ETZCYA="

VECTOR_2_KEY = "12345"
VECTOR_2_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_2_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
VECTOR_2_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

VECTOR_3_KEY = "PSK_7TruNcSNTxp4zNrykMj4EPzF"
VECTOR_3_URL = "https://81f2-2-45-18-191.ngrok-free.app/"
VECTOR_3_BODY = (
    b'{"call":{"call_id":"b5d63b2e-f75b-4dc8-b6d4-269b635f96c0","node_id":"fa3570ae-f8bd-42c2-83f4-9950d906c91b'
    b'@us-west","segment_id":"b5d63b2e-f75b-4dc8-b6d4-269b635f96c0","call_state":"created","direction":"inbound",'
    b'"type":"phone","from":"+12135877632","to":"+12089806814","from_number":"+12135877632","to_number":'
    b'"+12089806814","project_id":"4b7ae78a-d02e-4889-a63b-08b156d5916e","space_id":'
    b'"62615f44-2a34-4235-b38b-76b5a1de6ef8"},"vars":{}}'
)
VECTOR_3_SIGNATURE = "b18500437ebb010220ddd770cbe6fd531ea0ba0d"


def test_vector_1_cxml_callback_signature_matches_reference():
    assert compute_form_signature(VECTOR_1_KEY, VECTOR_1_URL, VECTOR_1_PARAMS) == VECTOR_1_SIGNATURE
    assert validate_form_signature(VECTOR_1_KEY, VECTOR_1_URL, VECTOR_1_PARAMS, VECTOR_1_SIGNATURE)


def test_vector_2_classic_signature_with_query_string_matches_reference():
    assert compute_form_signature(VECTOR_2_KEY, VECTOR_2_URL, VECTOR_2_PARAMS) == VECTOR_2_SIGNATURE
    assert validate_form_signature(VECTOR_2_KEY, VECTOR_2_URL, VECTOR_2_PARAMS, VECTOR_2_SIGNATURE)


def test_vector_3_json_webhook_hex_signature_matches_reference():
    assert compute_json_signature(VECTOR_3_KEY, VECTOR_3_URL, VECTOR_3_BODY) == VECTOR_3_SIGNATURE
    assert validate_json_signature(VECTOR_3_KEY, VECTOR_3_URL, VECTOR_3_BODY, VECTOR_3_SIGNATURE)


def test_test_signers_agree_with_reference_vectors():
    # The tests' own signers (used against the receiver) are checked against the reference too.
    assert sign_form(VECTOR_1_KEY, VECTOR_1_URL, VECTOR_1_PARAMS) == VECTOR_1_SIGNATURE
    assert sign_json(VECTOR_3_KEY, VECTOR_3_URL, VECTOR_3_BODY) == VECTOR_3_SIGNATURE


@pytest.mark.parametrize(
    ("key", "url", "params", "given"),
    [
        ("PSK_other", VECTOR_1_URL, VECTOR_1_PARAMS, VECTOR_1_SIGNATURE),  # another project's key
        (VECTOR_1_KEY, VECTOR_1_URL + "x", VECTOR_1_PARAMS, VECTOR_1_SIGNATURE),  # another URL
        (VECTOR_1_KEY, VECTOR_1_URL, {**VECTOR_1_PARAMS, "CallStatus": "completed"}, VECTOR_1_SIGNATURE),
        (VECTOR_1_KEY, VECTOR_1_URL, {**VECTOR_1_PARAMS, "Extra": ""}, VECTOR_1_SIGNATURE),  # a field added
        (VECTOR_1_KEY, VECTOR_1_URL, VECTOR_1_PARAMS, ""),
        (VECTOR_1_KEY, VECTOR_1_URL, VECTOR_1_PARAMS, None),
        ("", VECTOR_1_URL, VECTOR_1_PARAMS, VECTOR_1_SIGNATURE),
    ],
)
def test_tampered_form_webhook_is_refused(key, url, params, given):
    assert not validate_form_signature(key, url, params, given)


def test_tampered_json_body_is_refused():
    tampered = VECTOR_3_BODY.replace(b'"created"', b'"ended"')
    assert not validate_json_signature(VECTOR_3_KEY, VECTOR_3_URL, tampered, VECTOR_3_SIGNATURE)
    # The same digest in the other scheme's encoding does not pass either.
    assert not validate_form_signature(VECTOR_3_KEY, VECTOR_3_URL, None, VECTOR_3_SIGNATURE, body=VECTOR_3_BODY)


def test_json_signature_is_case_insensitive_hex():
    assert validate_json_signature(VECTOR_3_KEY, VECTOR_3_URL, VECTOR_3_BODY, VECTOR_3_SIGNATURE.upper())


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        ("https://hooks.example.com:443/sms", "https://hooks.example.com/sms"),
        ("https://hooks.example.com/sms", "https://hooks.example.com:443/sms"),
        ("http://hooks.example.com:80/sms?a=1", "http://hooks.example.com/sms?a=1"),
        ("http://hooks.example.com/sms", "http://hooks.example.com:80/sms"),
    ],
)
def test_url_is_tried_with_and_without_default_port(signed_url, checked_url):
    params = {"MessageSid": "abc", "Body": "hi"}
    given = sign_form("PSK_port", signed_url, params)
    assert validate_form_signature("PSK_port", checked_url, params, given)
    json_given = sign_json("PSK_port", signed_url, b"{}")
    assert validate_json_signature("PSK_port", checked_url, b"{}", json_given)


def test_non_default_port_is_not_dropped():
    assert candidate_urls("https://hooks.example.com:8443/sms") == ["https://hooks.example.com:8443/sms"]
    given = sign_form("PSK_port", "https://hooks.example.com/sms", {"A": "1"})
    assert not validate_form_signature("PSK_port", "https://hooks.example.com:8443/sms", {"A": "1"}, given)


def test_repeated_form_keys_keep_submission_order():
    pairs = [("MediaUrl", "https://b.example/2.png"), ("Body", "x"), ("MediaUrl", "https://a.example/1.png")]
    url = "https://hooks.example.com/sms"
    given = sign_form("PSK_repeat", url, pairs)  # a stable sort by name
    assert validate_form_signature("PSK_repeat", url, pairs, given)
    assert validate_form_signature("PSK_repeat", url, {"Body": "x", "MediaUrl": [p[1] for p in pairs[::2]]}, given)


def test_body_sha256_variant_checks_the_body_and_signs_the_url_alone():
    body = b'{"MessageSid":"abc"}'
    url = f"https://hooks.example.com/sms?bodySHA256={hashlib.sha256(body).hexdigest()}"
    given = sign_form("PSK_sha", url, {})
    assert validate_form_signature("PSK_sha", url, None, given, body=body)
    assert not validate_form_signature("PSK_sha", url, None, given, body=body + b" ")
    assert not validate_form_signature("PSK_sha", url, None, given)  # no body to check


def test_signalwire_header_is_read_first_then_twilio_alias():
    assert get_signature({"X-SignalWire-Signature": "a", "X-Twilio-Signature": "b"}) == "a"
    assert get_signature({"x-twilio-signature": "b"}) == "b"
    assert get_signature({"X-Signalwire-Signature": " c "}) == "c"
    assert get_signature({"Content-Type": "text/plain"}) is None


def test_validate_request_picks_the_scheme_from_content_type():
    url = VECTOR_1_URL
    form = list(VECTOR_1_PARAMS.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": VECTOR_1_SIGNATURE}
    assert validate_request(VECTOR_1_KEY, url, headers, b"ignored-for-form", form=form)
    json_headers = {"Content-Type": "application/json; charset=utf-8", "X-SignalWire-Signature": VECTOR_3_SIGNATURE}
    assert validate_request(VECTOR_3_KEY, VECTOR_3_URL, json_headers, VECTOR_3_BODY)
    # A JSON signature presented on a form request is not accepted, nor the reverse.
    as_text = {**json_headers, "Content-Type": "text/plain"}
    assert not validate_request(VECTOR_3_KEY, VECTOR_3_URL, as_text, VECTOR_3_BODY)
    assert not validate_request(VECTOR_1_KEY, url, {**headers, "Content-Type": "application/json"}, b"{}", form=form)
    assert not validate_request(VECTOR_1_KEY, url, {"Content-Type": "application/json"}, b"{}", form=form)


def test_signatures_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = signature.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    assert validate_form_signature(VECTOR_1_KEY, VECTOR_1_URL, VECTOR_1_PARAMS, VECTOR_1_SIGNATURE)
    assert not validate_json_signature(VECTOR_3_KEY, VECTOR_3_URL, VECTOR_3_BODY, "0" * 40)
    # Every candidate URL is compared (no early exit that would tell which one matched).
    assert len(calls) == 4
