"""The async hook's pooled clients: closed when their event loop ends, and when the connection's token changes."""

from __future__ import annotations

import asyncio
import json
import os
import socket

import pytest

from airflow_provider_signalwire.exceptions import SignalWireApiError
from airflow_provider_signalwire.hooks import SignalWireAsyncHook

REVOKED_TOKEN = "PTrevoked-before-rotation"


def open_sockets_to(port: int) -> int:
    """This process's open TCP sockets whose peer is ``port`` (the client ends of connections to it)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            copy = os.dup(int(fd))
        except OSError:  # closed meanwhile
            continue
        with socket.socket(fileno=copy) as sock:
            try:
                peer = sock.getpeername() if sock.family in (socket.AF_INET, socket.AF_INET6) else None
            except OSError:  # listening or not connected
                peer = None
        count += peer is not None and peer[1] == port
    return count


def use_token(monkeypatch, emulator, token: str) -> None:
    conn = json.loads(emulator.connection_json())
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", json.dumps({**conn, "password": token}))


async def read_one(hook: SignalWireAsyncHook) -> list[dict]:
    return [message async for message in hook.list_messages(limit=1)]


def test_each_finished_event_loop_leaves_no_socket_open(signalwire_emulator, monkeypatch):
    use_token(monkeypatch, signalwire_emulator, signalwire_emulator.api_token)
    signalwire_emulator.inject_inbound_message("+15557654321", "+15550000001", body="hi")

    for _ in range(3):
        assert len(asyncio.run(read_one(SignalWireAsyncHook()))) == 1

    assert signalwire_emulator.count_requests("GET") == 3
    assert open_sockets_to(signalwire_emulator.port) == 0


def test_a_rotated_token_closes_the_old_client_and_every_hook_moves_to_the_new_one(signalwire_emulator, monkeypatch):
    emulator = signalwire_emulator
    use_token(monkeypatch, emulator, REVOKED_TOKEN)

    async def rotate() -> tuple[int, int, list[dict]]:
        before = SignalWireAsyncHook()
        with pytest.raises(SignalWireApiError) as refused:
            await read_one(before)
        assert refused.value.status == 401
        use_token(monkeypatch, emulator, emulator.api_token)  # the connection now holds the new token
        await read_one(SignalWireAsyncHook())
        open_after_rotation = open_sockets_to(emulator.port)
        read_by_the_earlier_hook = await read_one(before)
        return open_after_rotation, open_sockets_to(emulator.port), read_by_the_earlier_hook

    after_rotation, after_earlier_hook, read = asyncio.run(rotate())

    assert after_rotation == 1, "the old token's client was closed"
    assert after_earlier_hook == 1 and read == [], "the earlier hook moved to the new token's client"
    assert [r["status"] for r in emulator.requests] == [401, 200, 200]
    assert open_sockets_to(emulator.port) == 0
