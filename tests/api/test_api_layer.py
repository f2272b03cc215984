"""Pure logic of the API layer: no I/O, so no emulator."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_signalwire.api.connection import ConnectionSettings, normalize_base_url, normalize_space
from airflow_provider_signalwire.api.errors import api_error, parse_retry_after
from airflow_provider_signalwire.api.paging import ListPlan
from airflow_provider_signalwire.api.request import ApiRequest, check_relative_path, raw_request
from airflow_provider_signalwire.api.resource import compatibility_paging
from airflow_provider_signalwire.api.resources.calls import CALLS, CREATE_CALL, UPDATE_CALL
from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES
from airflow_provider_signalwire.api.retries import RetryPolicy, certainly_not_processed
from airflow_provider_signalwire.exceptions import (
    SignalWireApiError,
    SignalWireConnectionError,
    SignalWireInputError,
)

PROJECT = "6bfbbe86-a901-4197-8759-2a0de1fa319d"
DEFAULTS = {"project_id": PROJECT, "default_from": None}


def create_call_form(params, default_from=None):
    return CREATE_CALL.encode(params, {**DEFAULTS, "default_from": default_from})


def create_message_form(params, default_from=None):
    return CREATE_MESSAGE.encode(params, {**DEFAULTS, "default_from": default_from})


def update_call_form(params):
    return UPDATE_CALL.encode(params, DEFAULTS)


def next_page_request(page, fetched=None):
    plan = ListPlan(compatibility_paging("messages"), ApiRequest("GET", "/first"))
    return plan.next_request(page, fetched if fetched is not None else set())


@pytest.mark.parametrize(
    "given",
    [
        "example",
        "example.signalwire.com",
        "https://example.signalwire.com",
        "https://example.signalwire.com/",
        "EXAMPLE",
    ],
)
def test_space_forms_that_are_accepted(given):
    assert normalize_space(given) == "example.signalwire.com"


@pytest.mark.parametrize(
    "given",
    [
        "",
        " example",
        "example ",
        "exa mple",
        "example.evil.com",
        "example.signalwire.com.evil.com",
        "http://example.signalwire.com",
        "https://example.signalwire.com/api",
        "https://user:pw@example.signalwire.com",
        "https://example.signalwire.com:8443",
        "example.signalwire.com:443",
        "https://example.signalwire.com?x=1",
        "evil.com/example",
        "-bad",
    ],
)
def test_space_forms_that_are_refused(given):
    with pytest.raises(SignalWireInputError, match="Space"):
        normalize_space(given)


def test_base_url_override_is_checked():
    assert normalize_base_url("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    assert normalize_base_url("https://proxy.example.com/signalwire") == "https://proxy.example.com/signalwire"
    assert normalize_base_url("http://localhost:8765") == "http://localhost:8765"
    bad_ones = ("ftp://x", "127.0.0.1:8765", "http://u:p@127.0.0.1", "http://127.0.0.1/?q=1", " http://x")
    for bad in (*bad_ones, "http://proxy.example.com", "http://10.0.0.5:8765"):
        with pytest.raises(SignalWireInputError, match="base_url"):
            normalize_base_url(bad)


def test_settings_repr_hides_secrets():
    settings = ConnectionSettings.from_connection(
        "c",
        host="example",
        login=PROJECT,
        password="PT-super-secret",
        extra={"signing_secret": "PSK_secret_key", "timeout": "12"},
    )
    assert settings.base_url == "https://example.signalwire.com"
    assert settings.timeout == 12.0
    assert "PT-super-secret" not in repr(settings)
    assert "PSK_secret_key" not in repr(settings)


@pytest.mark.parametrize(
    ("login", "password", "extra", "match"),
    [
        (None, "t", {}, "Project ID"),
        (PROJECT, None, {}, "API Token"),
        (PROJECT, "t", {"timeout": "soon"}, "timeout"),
        (PROJECT, "t", {"timeout": 0}, "timeout"),
    ],
)
def test_settings_refuse_incomplete_connections(login, password, extra, match):
    with pytest.raises(SignalWireInputError, match=match):
        ConnectionSettings.from_connection("c", host="example", login=login, password=password, extra=extra)


def test_snake_case_arguments_map_to_the_api_names():
    form = create_call_form(
        {
            "to": "+15551230000",
            "from_": "+15551239999",
            "url": "https://example.com/cxml",
            "status_callback_event": ["initiated", "completed"],
            "machine_detection_timeout": 30,
            "recording_status_callback_event": ["completed", "absent"],
            "record": True,
            "async_amd": "false",
            "max_price_per_minute": 0.05,
            "caller_id": None,
        }
    )
    assert form == [
        ("To", "+15551230000"),
        ("From", "+15551239999"),
        ("Url", "https://example.com/cxml"),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "completed"),
        ("MachineDetectionTimeout", "30"),
        ("RecordingStatusCallbackEvent", "completed absent"),
        ("Record", "true"),
        ("AsyncAmd", "false"),
        ("MaxPricePerMinute", "0.05"),
    ]


def test_media_urls_become_repeated_keys():
    form = create_message_form({"to": "+1555", "from_": "+1666", "media_url": ["https://a/1.png", "https://a/2.png"]})
    assert form.count(("MediaUrl", "https://a/1.png")) == 1
    assert [k for k, _ in form].count("MediaUrl") == 2


def test_default_from_fills_a_missing_from():
    form = create_message_form({"to": "+1555", "body": "hi"}, default_from="+1999")
    assert ("From", "+1999") in form
    form = create_message_form({"to": "+1555", "body": "hi", "messaging_service_sid": "grp"}, default_from="+1999")
    assert ("From", "+1999") not in form


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"from_": "+1", "url": "https://x"}, "'to' is required"),
        ({"to": "+1", "url": "https://x"}, "'from_' is required"),
        ({"to": "+1", "from_": "+2"}, "exactly one of 'url' or 'application_sid'.*neither"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "application_sid": "a"}, "exactly one.*both"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "send_digits": "12a"}, "'send_digits' must be 1 to 32"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "send_digits": "1" * 33}, "'send_digits'"),
        (
            {"to": "+1", "from_": "+2", "url": "https://x", "timeout": 0},
            "'timeout' must be a whole number from 1 to 600",
        ),
        ({"to": "+1", "from_": "+2", "url": "https://x", "timeout": 601}, "'timeout'"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "machine_detection_timeout": 121}, "from 1 to 120"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "method": "PUT"}, "'method' must be one of GET, POST"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "status_callback_event": ["nope"]}, "status_callback_event"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "record": "maybe"}, "'record' must be true or false"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "max_price_per_minute": "1.23456"}, "max_price_per_minute"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "colour": "red"}, "unknown parameter.*colour"),
        ({"to": "+1", "from_": "+2", "url": "not a url"}, "'url' must be an http:// or https:// URL"),
        ({"to": "+1", "from_": "+2", "url": "https://x", "fallback_url": "/relative"}, "'fallback_url'"),
    ],
)
def test_bad_call_arguments_name_the_parameter(params, match):
    with pytest.raises(SignalWireInputError, match=match):
        create_call_form(params)


def test_send_digits_accepts_the_full_pattern():
    form = create_call_form({"to": "+1", "from_": "+2", "url": "https://x", "send_digits": "1234#*wW"})
    assert ("SendDigits", "1234#*wW") in form


def test_a_bad_sip_password_is_not_echoed():
    with pytest.raises(SignalWireInputError) as info:
        create_call_form({"to": "+1", "from_": "+2", "url": "https://x", "sip_auth_password": 12345678})
    assert "12345678" not in str(info.value)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"from_": "+15550000001", "body": "x"}, "'to' is required"),
        ({"to": "+15551230000", "body": "x"}, "'from_' is required"),
        ({"to": "+15551230000", "from_": "+15550000001"}, "'body', 'media_url' or both"),
        ({"to": "+15551230000", "from_": "+15550000001", "body": "x" * 1601}, "at most 1600 characters"),
        (
            {"to": "+15551230000", "from_": "+15550000001", "media_url": [f"https://m/{i}" for i in range(9)]},
            "at most 8 items",
        ),
        ({"to": "+15551230000", "from_": "+15550000001", "body": "x", "validity_period": 172801}, "from 1 to 172800"),
        ({"to": "+15551230000", "from_": "+15550000001", "body": "x", "validity_period": 0}, "validity_period"),
        ({"to": "5551230000", "from_": "+15550000001", "body": "x"}, "'to' must be an E.164 number"),
        ({"to": "+15551230000", "from_": "+15550000001", "media_url": "ftp://x/a.png"}, "'media_url' must be http"),
        ({"to": "+15551230000", "from_": "+15550000001", "body": "x", "status_callback": "cb"}, "'status_callback'"),
    ],
)
def test_bad_message_arguments_name_the_parameter(params, match):
    with pytest.raises(SignalWireInputError, match=match):
        create_message_form(params)


def test_update_call_needs_something_to_change():
    with pytest.raises(SignalWireInputError, match="at least one of"):
        update_call_form({})
    with pytest.raises(SignalWireInputError, match="'status' must be one of canceled, completed"):
        update_call_form({"status": "ringing"})
    assert update_call_form({"status": "completed"}) == [("Status", "completed")]


@pytest.mark.parametrize("sid", ["", "   ", None, "../x", "a/b", "a?b", " a"])
def test_sids_must_be_one_path_segment(sid):
    with pytest.raises(SignalWireInputError, match="'sid'"):
        CALLS.get_request(DEFAULTS, sid)


def test_list_date_filters_use_days_and_keep_an_exact_window():
    after = datetime(2026, 11, 25, 22, 30, tzinfo=timezone(timedelta(hours=-5)))  # 03:30 UTC on the 26th
    before = datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)
    plan = MESSAGES.list_plan(DEFAULTS, filters={"date_sent_after": after, "date_sent_before": before, "to": "+1555"})
    params = dict(plan.first_request.params or [])
    assert params["DateSent>"] == "2026-11-25"  # "after the 25th" holds all of the 26th under either reading
    assert params["DateSent<"] == "2026-11-27"  # a midnight bound: nothing on the 27th is needed
    assert params["To"] == "+1555"
    assert plan.accept({"date_sent": "Thu, 26 Nov 2026 03:30:00 +0000"})
    assert not plan.accept({"date_sent": "Thu, 26 Nov 2026 03:29:59 +0000"})
    assert not plan.accept({"date_sent": "Fri, 27 Nov 2026 00:00:00 +0000"})
    assert not plan.accept({"date_sent": None})


def test_list_date_filters_take_dates_and_iso_strings():
    plan = CALLS.list_plan(
        DEFAULTS,
        filters={
            "start_time": date(2026, 1, 2),
            "end_time_after": "2026-01-01",
            "start_time_before": "2026-01-05T00:00:00+00:00",
        },
    )
    params = plan.first_request.params or []
    assert ("StartTime", "2026-01-02") in params
    assert ("EndTime>", "2025-12-31") in params
    assert ("StartTime<", "2026-01-05") in params


def test_naive_datetimes_are_refused():
    with pytest.raises(SignalWireInputError, match="has no timezone"):
        MESSAGES.list_plan(DEFAULTS, filters={"date_sent_after": datetime(2026, 1, 1)})
    with pytest.raises(SignalWireInputError, match="'date_sent_after'"):
        MESSAGES.list_plan(DEFAULTS, filters={"date_sent_after": "yesterday"})


def test_list_arguments_are_checked():
    with pytest.raises(SignalWireInputError, match="'page_size' must be a whole number from 1 to 1000"):
        CALLS.list_plan(DEFAULTS, page_size=1001, filters={})
    with pytest.raises(SignalWireInputError, match="'limit'"):
        CALLS.list_plan(DEFAULTS, limit=0, filters={})
    with pytest.raises(SignalWireInputError, match="unknown filter.*colour"):
        CALLS.list_plan(DEFAULTS, filters={"colour": "red"})
    with pytest.raises(SignalWireInputError, match="'status' must be one of"):
        MESSAGES.list_plan(DEFAULTS, filters={"status": "lost"})
    assert ("PageSize", "20") in (CALLS.list_plan(DEFAULTS, limit=20, filters={}).first_request.params or [])


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.com/x",
        "//evil.com/x",
        "api/relay",
        "/api/../../etc",
        "/api/%2e%2e/x",
        "/api/%252e%252e/x",
        "/a\\b",
        "/a b",
        "/a#frag",
    ],
)
def test_call_api_paths_must_stay_under_the_space(path):
    with pytest.raises(SignalWireInputError, match="'path'"):
        check_relative_path(path)


def test_call_api_refuses_auth_headers_and_marks_posts_as_creates():
    with pytest.raises(SignalWireInputError, match="Authorization"):
        raw_request("GET", "/api/relay/rest/phone_numbers", headers={"Authorization": "Basic x"})
    assert raw_request("POST", "/x").is_create
    assert not raw_request("PUT", "/x").is_create
    with pytest.raises(SignalWireInputError, match="'method'"):
        raw_request("BREW", "/x")


def test_next_page_keeps_only_the_path_of_an_absolute_uri():
    request = next_page_request({"next_page_uri": "https://evil.com/api/laml/2010-04-01/Accounts/a/Messages?Page=1"})
    assert request is not None
    assert request.path == "/api/laml/2010-04-01/Accounts/a/Messages?Page=1"
    assert next_page_request({"next_page_uri": None}) is None


REQUEST = ApiRequest("POST", f"/api/laml/2010-04-01/Accounts/{PROJECT}/Calls", is_create=True)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"code": 20404, "message": "Not found", "more_info": "https://d/e", "status": 404}, 20404, "Not found"),
        ({"code": "21210", "message": "From not in project", "status": 400}, 21210, "From not in project"),
        ({"errors": [{"code": "21205", "message": "No Url", "more_info": "https://d"}]}, 21205, "No Url"),
        ({"errors": ["Status is invalid", "Method is invalid"]}, None, "Status is invalid; Method is invalid"),
        ({"error": "Unauthorized"}, None, "Unauthorized"),
        ({"errors": [{"detail": "bad", "title": "Bad", "code": "x1"}]}, "x1", "bad"),
        ("<html>oops</html>", None, "<html>oops</html>"),
    ],
)
def test_every_error_body_shape_is_understood(body, code, message):
    error = api_error(REQUEST, 422, body, "2")
    assert error.status == 422
    assert error.code == code
    assert error.message == message
    assert error.retry_after == 2.0
    assert error.method == "POST" and error.path.endswith("/Calls")
    assert "HTTP 422" in str(error)


def test_api_errors_survive_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(api_error(REQUEST, 404, {"code": 20404, "message": "gone"})))
    assert isinstance(error, SignalWireApiError) and error.code == 20404 and "gone" in str(error)


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_retry_rules_never_resend_an_ambiguous_create():
    policy = RetryPolicy()
    read = ApiRequest("GET", "/x")
    dropped = SignalWireConnectionError("dropped", request_may_have_been_processed=True)
    refused = SignalWireConnectionError("refused", request_may_have_been_processed=False)
    server_error = SignalWireApiError(status=500, method="POST", path="/x")
    throttled = SignalWireApiError(status=429, method="POST", path="/x")
    bad_request = SignalWireApiError(status=400, method="GET", path="/x")
    assert not policy.should_retry(REQUEST, dropped)
    assert not policy.should_retry(REQUEST, server_error)
    assert policy.should_retry(REQUEST, refused)
    assert policy.should_retry(REQUEST, throttled)
    assert policy.should_retry(read, dropped)
    assert policy.should_retry(read, server_error)
    assert not policy.should_retry(read, bad_request)


def test_backoff_grows_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(initial_backoff=1, max_backoff=4)
    waits = [policy.wait_seconds(n, None) for n in (1, 2, 3, 4, 5)]
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 2 <= waits[2] <= 4 and waits[4] <= 4
    assert policy.wait_seconds(1, SignalWireApiError(status=429, method="GET", path="/", retry_after=7)) == 7
    with pytest.raises(SignalWireInputError):
        RetryPolicy(max_attempts=0)


def test_only_refusals_and_unsent_requests_count_as_certainly_not_processed():
    for status in (400, 401, 403, 404, 422, 429):
        assert certainly_not_processed(SignalWireApiError(status=status, method="POST", path="/x"))
    for status in (408, 409, 499, 500, 502, 503):
        assert not certainly_not_processed(SignalWireApiError(status=status, method="POST", path="/x"))
    assert certainly_not_processed(SignalWireConnectionError("refused", request_may_have_been_processed=False))
    assert not certainly_not_processed(SignalWireConnectionError("dropped", request_may_have_been_processed=True))


def test_a_next_page_uri_that_repeats_ends_the_listing():
    uri = "/api/laml/2010-04-01/Accounts/a/Messages?Page=1&PageToken=PA1"
    assert next_page_request({"next_page_uri": uri}, fetched=set()) is not None
    assert next_page_request({"next_page_uri": uri}, fetched={uri}) is None
