"""SignalWireHook over real HTTP against the emulator on loopback."""

from __future__ import annotations

import json
import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_signalwire.api.retries import RetryPolicy
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)
from airflow_provider_signalwire.hooks import SignalWireHook

FROM = "+15550000001"
TO = "+15551234567"
MESSAGES = r"/Messages$"


def _new_message(hook, **extra):
    return hook.create_message(to=TO, from_=FROM, body="hello", **extra)


def test_create_get_redact_delete_message(hook, signalwire_conn):
    created = _new_message(hook, media_url=["https://example.com/a.png", "https://example.com/b.png"])
    assert created["to"] == TO and created["from"] == FROM and created["body"] == "hello"
    (post,) = [r for r in signalwire_conn.requests if r["method"] == "POST"]
    assert post["form"]["MediaUrl"] == ["https://example.com/a.png", "https://example.com/b.png"]
    assert hook.get_message(created["sid"])["sid"] == created["sid"]
    text = _new_message(hook)
    _wait_for(lambda: hook.get_message(text["sid"])["status"] != "queued")
    assert hook.redact_message(text["sid"])["body"] == ""
    assert hook.get_message(text["sid"])["body"] == ""
    assert hook.delete_message(text["sid"]) is None
    with pytest.raises(SignalWireApiError) as info:
        hook.get_message(text["sid"])
    assert info.value.status == 404 and info.value.code == 20404


def test_create_get_update_list_delete_call(hook, signalwire_conn):
    answering = "+15005550006"  # the emulator keeps this call in progress until it is hung up
    call = hook.create_call(
        to=answering,
        from_=FROM,
        url="https://example.com/cxml",
        status_callback_event=["initiated", "completed"],
        timeout=30,
    )
    (post,) = [r for r in signalwire_conn.requests if r["method"] == "POST"]
    assert post["form"]["StatusCallbackEvent"] == ["initiated", "completed"]
    assert post["form"]["Timeout"] == ["30"]
    assert hook.get_call(call["sid"])["to"] == answering
    _wait_for(lambda: hook.get_call(call["sid"])["status"] == "in-progress")
    assert hook.update_call(call["sid"], status="completed")["status"] == "completed"
    assert [c["sid"] for c in hook.list_calls(to=answering)] == [call["sid"]]
    hook.delete_call(call["sid"])
    assert list(hook.list_calls(to=answering)) == []


def test_deleting_an_unfinished_call_reports_signalwires_error(hook):
    call = hook.create_call(to="+15005550006", from_=FROM, url="https://example.com/cxml")
    with pytest.raises(SignalWireApiError) as info:
        hook.delete_call(call["sid"])
    assert info.value.code == 20009
    assert info.value.method == "DELETE" and info.value.path.endswith(f"/Calls/{call['sid']}")


def test_pagination_follows_next_page_uri_across_pages(hook, signalwire_conn):
    signalwire_conn.seed_messages(250, from_=TO, to=FROM)
    signalwire_conn.requests.clear()
    sids = [m["sid"] for m in hook.list_messages(page_size=100)]
    assert len(sids) == 250 == len(set(sids))
    gets = [r for r in signalwire_conn.requests if r["method"] == "GET"]
    assert len(gets) == 3
    assert gets[0]["query"]["PageSize"] == ["100"]
    assert all(g["query"]["PageToken"][0].startswith("PA") for g in gets[1:])
    assert [g["query"].get("Page") for g in gets[1:]] == [["1"], ["2"]]


def test_limit_stops_paging_early(hook, signalwire_conn):
    signalwire_conn.seed_messages(120, from_=TO, to=FROM)
    signalwire_conn.requests.clear()
    assert len(list(hook.list_messages(limit=60, page_size=50))) == 60
    assert signalwire_conn.count_requests("GET") == 2


def test_exact_datetime_window_over_whole_day_filters(hook, signalwire_conn):
    base = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)
    for hours in (0, 1, 2, 3):
        signalwire_conn.inject_inbound_message(TO, FROM, body=f"h{hours}", date_sent=base + timedelta(hours=hours))
    window = list(
        hook.list_messages(date_sent_after=base + timedelta(hours=1), date_sent_before=base + timedelta(hours=3))
    )
    assert sorted(m["body"] for m in window) == ["h1", "h2"]
    (get,) = [r for r in signalwire_conn.requests if r["method"] == "GET"]
    assert get["query"]["DateSent>"] == ["2026-11-19"] and get["query"]["DateSent<"] == ["2026-11-22"]


def test_every_error_shape_from_the_server_is_understood(hook, signalwire_conn):
    calls_path = f"/api/laml/2010-04-01/Accounts/{signalwire_conn.project_id}/Calls"
    with pytest.raises(SignalWireApiError) as missing_url:
        hook.call_api("POST", calls_path, data={"To": TO, "From": FROM})
    assert (missing_url.value.status, missing_url.value.code) == (400, 21205)
    assert missing_url.value.message
    call = hook.create_call(to=TO, from_=FROM, url="https://example.com/cxml")
    with pytest.raises(SignalWireApiError) as bad_enum:
        hook.call_api("POST", f"{calls_path}/{call['sid']}", data={"Status": "bogus"})
    assert bad_enum.value.status == 422 and bad_enum.value.message
    with pytest.raises(SignalWireApiError) as not_found:
        hook.get_call("00000000-0000-0000-0000-000000000000")
    assert (not_found.value.status, not_found.value.code) == (404, 20404)
    assert not_found.value.more_info


def test_bad_page_size_from_the_server_is_54454(hook, signalwire_conn):
    path = f"/api/laml/2010-04-01/Accounts/{signalwire_conn.project_id}/Messages"
    with pytest.raises(SignalWireApiError) as info:
        hook.call_api("GET", path, params={"PageSize": "5000"})
    assert info.value.code == 54454


def test_validation_fails_before_any_request(hook, signalwire_conn):
    with pytest.raises(SignalWireInputError, match="'send_digits'"):
        hook.create_call(to=TO, from_=FROM, url="https://x", send_digits="x")
    with pytest.raises(SignalWireInputError, match="'body', 'media_url'"):
        hook.create_message(to=TO, from_=FROM)
    with pytest.raises(SignalWireInputError, match="'path'"):
        hook.call_api("GET", "https://evil.example.com/steal")
    assert signalwire_conn.count_requests() == 0


def test_call_api_lists_the_spaces_phone_numbers(hook):
    body = hook.call_api("GET", "/api/relay/rest/phone_numbers", params={"page_size": 10})
    assert {"+15550000001", "+15550000002"} <= {n["number"] for n in body["data"]}


# Faults and retries -------------------------------------------------------------------------------


def test_reads_are_retried_on_5xx(hook, signalwire_conn):
    signalwire_conn.add_fault(method="GET", path=MESSAGES, kind="status", status=503, times=2)
    assert list(hook.list_messages()) == []
    assert signalwire_conn.count_requests("GET") == 3


def test_reads_are_retried_after_a_dropped_connection(hook, signalwire_conn):
    signalwire_conn.add_fault(method="GET", path=MESSAGES, kind="drop_before", times=1)
    assert list(hook.list_messages()) == []
    assert signalwire_conn.count_requests("GET") == 2


def test_429_is_retried_after_retry_after_even_for_a_create(hook, signalwire_conn):
    signalwire_conn.add_fault(method="POST", path=MESSAGES, kind="429", retry_after=1, times=1)
    started = datetime.now()
    _new_message(hook)
    assert (datetime.now() - started).total_seconds() >= 0.9
    assert signalwire_conn.count_requests("POST") == 2
    assert len(signalwire_conn.messages) == 1


def test_a_create_answered_with_5xx_is_not_resent(hook, signalwire_conn):
    signalwire_conn.add_fault(method="POST", path=MESSAGES, kind="status", status=500, times=1)
    with pytest.raises(SignalWireApiError) as info:
        _new_message(hook)
    assert info.value.status == 500
    assert signalwire_conn.count_requests("POST") == 1


def test_ambiguous_create_is_not_resent(hook, signalwire_conn):
    signalwire_conn.add_fault(method="POST", path=MESSAGES, kind="drop_after", times=1)
    with pytest.raises(SignalWireConnectionError) as info:
        _new_message(hook)
    assert info.value.request_may_have_been_processed
    assert "not sent again" in str(info.value)
    assert signalwire_conn.count_requests("POST") == 1
    assert len(signalwire_conn.messages) == 1


def test_a_create_that_times_out_is_not_resent(signalwire_emulator, monkeypatch, fast_retries):
    uri = signalwire_emulator.connection_uri() + "&timeout=0.5"
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_SLOW", uri)
    hook = SignalWireHook("signalwire_slow", retry_policy=fast_retries)
    signalwire_emulator.add_fault(method="POST", path=r"/Calls$", kind="slow", delay=1.5, times=1)
    with pytest.raises(SignalWireConnectionError, match="ReadTimeout"):
        hook.create_call(to=TO, from_=FROM, url="https://example.com/cxml")
    assert signalwire_emulator.count_requests("POST") == 1


def test_a_read_that_times_out_is_retried(signalwire_emulator, monkeypatch, fast_retries):
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_SLOW", signalwire_emulator.connection_uri() + "&timeout=0.5")
    hook = SignalWireHook("signalwire_slow", retry_policy=fast_retries)
    signalwire_emulator.add_fault(method="GET", path=MESSAGES, kind="slow", delay=1.5, times=1)
    assert list(hook.list_messages()) == []
    assert signalwire_emulator.count_requests("GET") == 2


def test_drop_before_a_create_is_not_resent_either(hook, signalwire_conn):
    # From the client's side a dropped connection looks the same before or after processing.
    signalwire_conn.add_fault(method="POST", path=MESSAGES, kind="drop_before", times=1)
    with pytest.raises(SignalWireConnectionError):
        _new_message(hook)
    assert len(signalwire_conn.messages) == 0
    assert signalwire_conn.count_requests("POST") == 1


def test_refused_connections_are_retried_then_reported(monkeypatch, capfd):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGNALWIRE_DOWN", f"signalwire://p:t@example?base_url=http%3A%2F%2F127.0.0.1%3A{port}"
    )
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.02)
    hook = SignalWireHook("signalwire_down", retry_policy=policy)
    with pytest.raises(SignalWireConnectionError, match="refused") as info:
        hook.create_message(to=TO, from_=FROM, body="x")
    assert not info.value.request_may_have_been_processed
    logged = capfd.readouterr()
    assert (logged.out + logged.err).count("retrying in") == 2


def test_a_retry_after_longer_than_the_budget_fails_at_once(signalwire_conn, monkeypatch):
    hook = SignalWireHook(retry_policy=RetryPolicy(max_attempts=5, total_timeout=5))
    signalwire_conn.add_fault(method="GET", path=MESSAGES, kind="429", retry_after=60, times=5)
    started = datetime.now()
    with pytest.raises(SignalWireApiError) as info:
        list(hook.list_messages())
    assert info.value.status == 429 and info.value.retry_after == 60
    # Waiting for the Retry-After would take 60 s: half of that is slack for a loaded machine, not a target.
    assert (datetime.now() - started).total_seconds() < 30
    assert signalwire_conn.count_requests("GET") == 1


# The connection -----------------------------------------------------------------------------------


def test_json_form_of_the_connection_works(signalwire_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_JSON", signalwire_emulator.connection_json())
    assert SignalWireHook("signalwire_json").test_connection()[0]


def test_uri_form_carries_space_and_extras(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGNALWIRE_URI",
        "signalwire://project-id:PT-token@example.signalwire.com?default_from=%2B15550000001&timeout=9",
    )
    settings = SignalWireHook("signalwire_uri").settings
    assert settings.base_url == "https://example.signalwire.com"
    assert (settings.project_id, settings.default_from, settings.timeout) == ("project-id", "+15550000001", 9.0)


def test_a_space_on_another_domain_is_refused_before_sending(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_EVIL", "signalwire://p:PT-token@example.evil.com")
    with pytest.raises(SignalWireInputError, match="Space"):
        SignalWireHook("signalwire_evil").get_call("abc")
    ok, message = SignalWireHook("signalwire_evil").test_connection()
    assert not ok and "Space" in message and "PT-token" not in message


def test_test_connection_reports_success_and_failure(signalwire_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri())
    ok, message = SignalWireHook().test_connection()
    assert ok, message
    bad = signalwire_emulator.connection_uri().replace(signalwire_emulator.api_token, "PT-wrong")
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", bad)
    ok, message = SignalWireHook().test_connection()
    assert not ok
    assert signalwire_emulator.base_url in message and "/Messages" in message
    assert "20003" in message and "401" in message
    assert signalwire_emulator.count_requests() == 2


def test_default_from_comes_from_the_connection(signalwire_emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri() + "&default_from=%2B15550000002"
    )
    message = SignalWireHook().create_message(to=TO, body="x")
    assert message["from"] == "+15550000002"


def test_the_token_appears_nowhere(signalwire_emulator, monkeypatch, caplog, capfd, fast_retries):
    token = signalwire_emulator.api_token
    monkeypatch.setenv("AIRFLOW_CONN_SIGNALWIRE_DEFAULT", signalwire_emulator.connection_uri())
    hook = SignalWireHook(retry_policy=fast_retries)
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        _new_message(hook)
        signalwire_emulator.add_fault(method="GET", path=MESSAGES, kind="status", status=503, times=5)
        with pytest.raises(SignalWireApiError) as api_failure:
            list(hook.list_messages())
        seen += [str(api_failure.value), repr(api_failure.value)]
        signalwire_emulator.add_fault(method="POST", path=MESSAGES, kind="drop_after", times=1)
        with pytest.raises(SignalWireConnectionError) as dropped:
            _new_message(hook)
        seen += [str(dropped.value), repr(dropped.value)]
        create = hook.create_call(
            to="sip:alice@example.com", from_=FROM, url="https://x", sip_auth_password="sip-pw-42"
        )
        seen.append(json.dumps(create))
    printed = capfd.readouterr()
    assert "retrying in" in printed.out + printed.err, "the hook's own log lines were captured"
    seen += [repr(hook), repr(hook.settings), caplog.text, printed.out, printed.err]
    assert any("urllib3" in r.name for r in caplog.records), "DEBUG logs of the HTTP library were captured"
    for text in seen:
        assert token not in text
        assert "sip-pw-42" not in text


def _wait_for(condition, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_a_delete_whose_answer_was_lost_is_not_reported_as_a_failure(hook, signalwire_conn):
    message = signalwire_conn.inject_inbound_message("+15557654321", FROM, body="old")
    signalwire_conn.add_fault(method="DELETE", path=r"/Messages/", kind="drop_after", times=1)
    assert hook.delete_message(message["sid"]) is None
    assert signalwire_conn.count_requests("DELETE") == 2  # the retry found it gone: the first one had worked
    assert signalwire_conn.get_message(message["sid"]) is None


def test_a_delete_of_an_unknown_sid_still_fails(hook):
    with pytest.raises(SignalWireApiError) as info:
        hook.delete_message("00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404


@pytest.mark.parametrize("httpx_has_transport_routing", [True, False])
def test_async_hook_reads_with_or_without_httpx_transport_routing(
    signalwire_conn, monkeypatch, httpx_has_transport_routing
):
    import asyncio

    import httpx

    from airflow_provider_signalwire import compat
    from airflow_provider_signalwire.hooks.asynchronous import SignalWireAsyncHook, close_shared_clients

    sent_through_transport: list[bool] = []
    real_transport_for = compat.httpx_transport_for

    def transport_for(client: httpx.AsyncClient, request: httpx.Request):
        transport = real_transport_for(client, request) if httpx_has_transport_routing else None
        sent_through_transport.append(transport is not None)
        return transport

    monkeypatch.setattr(compat, "httpx_transport_for", transport_for)
    message = signalwire_conn.inject_inbound_message("+15557654321", FROM, body="hi")
    signalwire_conn.add_fault(method="GET", path=r"/Messages/", kind="status", status=503, times=1)

    async def read() -> tuple[dict, list]:
        hook = SignalWireAsyncHook(retry_policy=RetryPolicy(max_attempts=2, initial_backoff=0.01))
        try:
            found = await hook.get_message(message["sid"])
            with pytest.raises(SignalWireApiError) as missing:
                await hook.get_message("00000000-0000-0000-0000-000000000000")
            return found, [missing.value.status, missing.value.code]
        finally:
            await close_shared_clients()

    found, missing = asyncio.run(read())
    assert found["sid"] == message["sid"] and found["body"] == "hi"
    assert missing == [404, 20404]
    assert signalwire_conn.count_requests("GET") == 3  # the 503 was retried once
    assert sent_through_transport == [httpx_has_transport_routing] * 3
