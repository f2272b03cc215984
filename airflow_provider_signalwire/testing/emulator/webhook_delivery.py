"""
Deliver an inbound SMS to a phone number's messaging webhook, signed as SignalWire signs it, and act on the answer.

The webhook is a form POST (``MessageSid``, ``From``, ``To``, ``Body``...) to the number's ``message_request_url``,
signed with the emulator's Signing Key: base64 HMAC-SHA1 over the URL followed by each parameter's name and value,
sorted by name, in ``X-SignalWire-Signature``. Each ``<Message>`` of the cXML answer becomes an SMS the number sends
back to the sender (direction ``outbound-reply``). Written from the public description of the scheme, not from the
provider's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

SIGNATURE_HEADER = "X-SignalWire-Signature"


def sign(signing_key: str, url: str, params: Mapping[str, str]) -> str:
    text = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(signing_key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def webhook_fields(project_id: str, message: Mapping[str, Any]) -> dict[str, str]:
    return {
        "MessageSid": message["sid"],
        "SmsSid": message["sid"],
        "SmsMessageSid": message["sid"],
        "AccountSid": project_id,
        "From": message["from"],
        "To": message["to"],
        "Body": message["body"],
        "NumMedia": str(message.get("num_media") or 0),
        "SmsStatus": "received",
        "MessageStatus": "received",
    }


def post(url: str, signing_key: str, fields: Mapping[str, str], timeout: float = 30.0) -> tuple[int, str]:
    """POST the signed form; the status and the body of the answer (an error answer too)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the one a test or a user configured
        url,
        data=urlencode(fields).encode(),
        headers={SIGNATURE_HEADER: sign(signing_key, url, fields), "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def reply_texts(cxml: str) -> list[str]:
    """The text of each ``<Message>`` of a cXML answer (none when it is not cXML)."""
    try:
        root = ElementTree.fromstring(cxml)  # noqa: S314 - the emulator's own test traffic
    except ElementTree.ParseError:
        return []
    if root.tag != "Response":
        return []
    texts = []
    for element in root.iter("Message"):
        body = element.find("Body")
        text = (body.text if body is not None else element.text) or ""
        if text.strip():
            texts.append(text.strip())
    return texts
