from __future__ import annotations

import base64
import hashlib
import hmac

# The reference's algorithms, written here again with hmac/hashlib so that the tests never sign with the code
# they test.


def sign_form(key: str, url: str, params: dict[str, str] | list[tuple[str, str]]) -> str:
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    text = url + "".join(name + value for name, value in sorted(pairs, key=lambda pair: pair[0]))
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def sign_json(key: str, url: str, body: bytes) -> str:
    return hmac.new(key.encode(), url.encode() + body, hashlib.sha1).hexdigest()
