"""HTTP Basic auth: user = project id, password = API token."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping


def has_credentials(headers: Mapping[str, str], project_id: str, api_token: str) -> bool:
    """Whether the (lower-cased) ``headers`` carry this project's Basic credentials."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, colon, password = decoded.partition(":")
    user_ok = hmac.compare_digest(user.encode(), project_id.encode())
    password_ok = hmac.compare_digest(password.encode(), api_token.encode())
    return bool(colon) and user_ok and password_ok
