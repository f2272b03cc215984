"""Every error about a connection's fields names the connection, so that a user with several knows which to fix."""

from __future__ import annotations

import json

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.hooks import SignalWireHook

PROJECT = "5f1c2a3b-7d4e-4f60-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("fields", "what"),
    [
        ({"host": "my_space!"}, r"the SignalWire Space \(the Host field\) 'my_space!' is not a signalwire.com Space"),
        ({"host": ""}, r"the SignalWire Space \(the Host field\) is missing"),
        ({"extra": {"base_url": "ftp://proxy"}}, "the SignalWire base_url override must be an http"),
        ({"extra": {"timeout": "soon"}}, "the 'timeout' extra must be a number of seconds"),
    ],
    ids=["bad-space", "no-space", "bad-base-url", "bad-timeout"],
)
def test_an_error_in_a_connections_field_names_the_connection(monkeypatch, signalwire_emulator, fields, what):
    conn = {"conn_type": "signalwire", "host": "example", "login": PROJECT, "password": "PT" + "x" * 30, **fields}
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_PROD", json.dumps(conn))

    with pytest.raises(SignalWireInputError, match=rf"^SignalWire connection 'signalwire_prod': {what}"):
        SignalWireHook("signalwire_prod").get_message("SM123")

    assert signalwire_emulator.requests == []
