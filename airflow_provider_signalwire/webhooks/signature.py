"""
Check that a webhook request really comes from SignalWire.

SignalWire signs each webhook with the project's Signing Key (``PSK_...``, Dashboard > API Credentials), in
the ``X-SignalWire-Signature`` header (``X-Twilio-Signature`` is read when it is absent). Two schemes exist:

* Compatibility (cXML) webhooks, sent as a form or a query string: base64 HMAC-SHA1 over the full URL
  followed by every form parameter's name and value, sorted by name. When the URL carries
  ``bodySHA256=<hex>``, the body is checked against that digest instead and no parameters are signed.
* SWML and RELAY webhooks, sent as JSON: hex HMAC-SHA1 over the full URL followed by the raw body.

The URL is the one SignalWire requested (the public one, not what a proxy forwarded), tried both with and
without its default port. Signatures are compared in constant time. Nothing here performs I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

SIGNATURE_HEADER = "X-SignalWire-Signature"
FALLBACK_SIGNATURE_HEADER = "X-Twilio-Signature"

_DEFAULT_PORTS = {"https": 443, "http": 80}

FormParams = Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]


def _pairs(params: FormParams | None) -> list[tuple[str, str]]:
    """The parameters as (name, value) pairs in submission order; a mapping may hold a list of values."""
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for name, value in items:
        if isinstance(value, (list, tuple)):
            pairs.extend((str(name), str(v)) for v in value)
        else:
            pairs.append((str(name), str(value)))
    return pairs


def _hmac_sha1(signing_key: str, payload: bytes) -> bytes:
    return hmac.new(signing_key.encode(), payload, hashlib.sha1).digest()


def _form_payloads(url: str, params: FormParams | None) -> list[bytes]:
    """
    The strings a form webhook may have been signed over.

    Parameters are sorted by name; a repeated name keeps its values in submission order, and, as some
    signers do, in sorted order too.
    """
    pairs = _pairs(params)
    in_order = sorted(pairs, key=lambda pair: pair[0])
    fully_sorted = sorted(pairs)
    payloads = [url + "".join(name + value for name, value in in_order)]
    if fully_sorted != in_order:
        payloads.append(url + "".join(name + value for name, value in fully_sorted))
    return [payload.encode() for payload in payloads]


def compute_form_signature(signing_key: str, url: str, params: FormParams | None = None) -> str:
    """
    The Compatibility (cXML) signature: base64 HMAC-SHA1 over ``url`` and the sorted form parameters.

    :param signing_key: the project's Signing Key.
    :param url: the full URL SignalWire requested, query string included.
    :param params: the form parameters (a mapping, a mapping of lists, or (name, value) pairs).
    """
    return base64.b64encode(_hmac_sha1(signing_key, _form_payloads(url, params)[0])).decode()


def compute_json_signature(signing_key: str, url: str, body: bytes | str) -> str:
    """
    The SWML/RELAY JSON signature: hex HMAC-SHA1 over ``url`` followed by the raw body.

    :param signing_key: the project's Signing Key.
    :param url: the full URL SignalWire requested.
    :param body: the request body exactly as received.
    """
    raw = body.encode() if isinstance(body, str) else body
    return _hmac_sha1(signing_key, url.encode() + raw).hex()


def candidate_urls(url: str) -> list[str]:
    """``url`` as given, and the same URL with its default port added or removed (``:443``, ``:80``)."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or not parts.hostname:
        return [url]
    userinfo, _, _ = parts.netloc.rpartition("@")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    prefix = f"{userinfo}@" if userinfo else ""
    if port is None:
        other = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))
    elif port == default:
        other = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    else:
        return [url]
    return [url, other]


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def _body_sha256(url: str) -> str | None:
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name == "bodySHA256":
            return value
    return None


def validate_form_signature(
    signing_key: str,
    url: str,
    params: FormParams | None,
    signature: str | None,
    *,
    body: bytes | str | None = None,
) -> bool:
    """
    Check a Compatibility (cXML) webhook: form or query-string parameters, base64 signature.

    When the URL carries ``bodySHA256``, ``body`` must be given: its SHA-256 must match, and the signature
    covers the URL alone.

    :param signing_key: the project's Signing Key.
    :param url: the full public URL SignalWire requested, query string included.
    :param params: the form parameters of the body (none for a GET).
    :param signature: the signature header's value.
    :param body: the raw body, needed only for the ``bodySHA256`` variant.
    :return: True when the signature is valid for one of the URL's forms.
    """
    if not signing_key or not signature:
        return False
    expected_digest = _body_sha256(url)
    if expected_digest is not None:
        if body is None:
            return False
        raw = body.encode() if isinstance(body, str) else body
        if not _equal(hashlib.sha256(raw).hexdigest(), expected_digest.lower()):
            return False
        params = None
    valid = False
    for candidate in candidate_urls(url):
        for payload in _form_payloads(candidate, params):
            expected = base64.b64encode(_hmac_sha1(signing_key, payload)).decode()
            # Every candidate is compared, so the time taken does not tell which one matched.
            valid |= _equal(expected, signature)
    return valid


def validate_json_signature(signing_key: str, url: str, body: bytes | str, signature: str | None) -> bool:
    """
    Check a SWML/RELAY JSON webhook: hex HMAC-SHA1 over the URL and the raw body.

    :param signing_key: the project's Signing Key.
    :param url: the full public URL SignalWire requested.
    :param body: the request body exactly as received (not re-serialised).
    :param signature: the signature header's value.
    :return: True when the signature is valid for one of the URL's forms.
    """
    if not signing_key or not signature:
        return False
    valid = False
    for candidate in candidate_urls(url):
        valid |= _equal(compute_json_signature(signing_key, candidate, body), signature.strip().lower())
    return valid


def get_signature(headers: Mapping[str, str]) -> str | None:
    """The signature header's value: ``X-SignalWire-Signature``, else ``X-Twilio-Signature``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in (SIGNATURE_HEADER, FALLBACK_SIGNATURE_HEADER):
        value = lowered.get(name.lower())
        if value:
            return value.strip()
    return None


def is_json_content_type(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (``application/json``, ``application/x+json``...)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def validate_request(
    signing_key: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    form: FormParams | None = None,
) -> bool:
    """
    Check a webhook request as received, choosing the scheme from its Content-Type.

    A URL with ``bodySHA256`` is checked with the form scheme and no parameters, and the body against that
    digest. Otherwise a JSON body is checked with the hex scheme over the raw body, and anything else with the
    form scheme over ``form`` (the parsed body; give none for a GET, whose parameters are in ``url``). An
    empty body is accepted under either scheme.

    :param signing_key: the project's Signing Key.
    :param url: the full public URL SignalWire requested, query string included.
    :param headers: the request headers (the signature is read from them).
    :param body: the raw request body.
    :param form: the parsed form parameters of the body, in submission order.
    :return: True when the request carries a valid signature.
    """
    signature = get_signature(headers)
    if not signature or not signing_key:
        return False
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    if _body_sha256(url) is not None:
        # The body's digest is in the signed URL: the form scheme with no parameters, whatever the body is.
        return validate_form_signature(signing_key, url, None, signature, body=body)
    if is_json_content_type(content_type):
        return validate_json_signature(signing_key, url, body, signature)
    valid = validate_form_signature(signing_key, url, form, signature, body=body)
    if not body:
        valid |= validate_json_signature(signing_key, url, body, signature)
    return valid
