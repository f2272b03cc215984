"""What a user sees when a SignalWire connection cannot be used: a clear error, before any request, never a secret."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
import uuid

import pytest

from airflow_provider_signalwire.exceptions import SignalWireConnectionNotFoundError, SignalWireInputError
from airflow_provider_signalwire.hooks import SignalWireAsyncHook, SignalWireHook

PROJECT = "5f1c2a3b-7d4e-4f60-8a9b-0c1d2e3f4a5b"


def mistypes(token: str) -> list[dict]:
    """Connections where a token was typed, or pasted, somewhere it does not belong."""
    return [
        {"extra": {"base_url": f"htps://{PROJECT}:{token}@example.signalwire.com"}},
        {"extra": {"base_url": f"htps:/{PROJECT}:{token}@example.signalwire.com"}},
        {"extra": {"base_url": f"{PROJECT}:{token}@example.signalwire.com"}},
        {"extra": {"base_url": f"https://{PROJECT}:a/{token}@example.signalwire.com"}},
        {"extra": {"base_url": f"http://{PROJECT}:{token}@example.signalwire.com"}},
        {"extra": {"base_url": token}},
        {"host": f"{PROJECT}:{token}@example.signalwire.com"},
        {"host": f"{token}@example.signalwire.com"},
        {"host": f"ftp://{PROJECT}:{token}@example.signalwire.com"},
        {"extra": {"timeout": token}},
    ]


def define(monkeypatch, conn_id: str, token: str, mistype: dict) -> None:
    """A connection whose password is ``token``, with ``mistype`` over its other fields."""
    conn = {"conn_type": "signalwire", "host": "example", "login": PROJECT, "password": token, **mistype}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def shown(error: BaseException) -> str:
    return str(error) + repr(error) + "".join(traceback.format_exception(error))


@pytest.mark.parametrize("typed", ["the token", "an old token"])
@pytest.mark.parametrize("case", range(len(mistypes("x"))))
def test_a_mistyped_connection_never_shows_a_token_and_sends_nothing(
    monkeypatch, signalwire_emulator, case, typed, caplog
):
    from airflow.sdk._shared.secrets_masker import redact

    token = f"PT{uuid.uuid4().hex}"
    old_token = token if typed == "the token" else f"PT{uuid.uuid4().hex}"
    define(monkeypatch, "signalwire_typo", token, mistypes(old_token)[case])

    with caplog.at_level(logging.DEBUG), pytest.raises(SignalWireInputError) as sync_error:
        SignalWireHook("signalwire_typo").get_message("SM123")
    with pytest.raises(SignalWireInputError) as async_error:
        asyncio.run(SignalWireAsyncHook("signalwire_typo").get_message("SM123"))

    for error in (sync_error.value, async_error.value):
        assert "SignalWire" in str(error), "it still says what is wrong"
        assert token not in shown(error) and old_token not in shown(error)
    assert token not in caplog.text and old_token not in caplog.text
    assert token not in redact(f"a log line with {token}"), "the token went to Airflow's masker first"
    assert signalwire_emulator.requests == []


def test_a_mistyped_base_url_is_quoted_without_its_user_info(monkeypatch):
    old_token = f"PT{uuid.uuid4().hex}"
    define(monkeypatch, "signalwire_typo", f"PT{uuid.uuid4().hex}", mistypes(old_token)[0])

    with pytest.raises(SignalWireInputError) as raised:
        _ = SignalWireHook("signalwire_typo").settings

    assert str(raised.value) == (
        "SignalWire connection 'signalwire_typo': the SignalWire base_url override must be an http:// or https:// "
        "URL, got 'htps://***@example.signalwire.com'."
    )


def test_a_token_pasted_into_the_space_is_refused_before_any_lookup(monkeypatch):
    token = f"PT{uuid.uuid4().hex}"
    define(monkeypatch, "signalwire_typo", token, {"host": token})

    with pytest.raises(SignalWireInputError, match="has its API Token in the Space or the base_url"):
        _ = SignalWireHook("signalwire_typo").settings


def test_a_missing_connection_says_what_to_define_and_fails_without_retries(monkeypatch, signalwire_emulator):
    from airflow_compat import AirflowFailException

    from airflow_provider_signalwire.compat import AirflowNotFoundException

    monkeypatch.delenv("AIRFLOW_CONN_SIGNALWIRE_PROD", raising=False)

    with pytest.raises(SignalWireConnectionNotFoundError) as sync_error:
        SignalWireHook("signalwire_prod").get_message("SM123")
    with pytest.raises(SignalWireConnectionNotFoundError) as async_error:
        asyncio.run(SignalWireAsyncHook("signalwire_prod").get_message("SM123"))

    for error in (sync_error.value, async_error.value):
        assert isinstance(error, AirflowFailException), "retrying cannot define the connection"
        assert isinstance(error, AirflowNotFoundException), "code that caught Airflow's error still catches it"
        assert "connection 'signalwire_prod' is not defined" in str(error)
        assert "type 'signalwire'" in str(error)
        assert "AIRFLOW_CONN_SIGNALWIRE_PROD='signalwire://PROJECT_ID:API_TOKEN@example.signalwire.com'" in str(error)
    assert signalwire_emulator.requests == []
