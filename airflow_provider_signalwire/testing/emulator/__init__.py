"""
A local, in-memory SignalWire server for tests, demos and benchmarks.

What it emulates
================
* The Compatibility ("LaML" / cXML) REST API for **Calls**, **Messages** and a message's **Media**, under
  ``/api/laml/2010-04-01/Accounts/{ProjectId}`` (also without ``/api/laml``, as the twilio-based SDK calls it,
  and with or without a ``.json`` suffix): list (filters, token pagination), create, retrieve, update (call
  cancel / hang-up / redirect, message redaction) and delete; ``GET .../Messages/{Sid}/Media``,
  ``GET|DELETE .../Media/{MediaSid}``, and the media content at a media ``uri`` without ``.json``. Request
  bodies are form-encoded; answers are the spec's resources, UUID sids and RFC 2822 dates.
* **Relay REST phone numbers**: ``GET /api/relay/rest/phone_numbers`` (``filter_name``, ``filter_number``,
  ``page_size``, ``page_number`` + ``page_token``), ``GET`` and ``PUT /api/relay/rest/phone_numbers/{id}``
  (JSON). Two numbers exist from the start: ``+15550000001`` and ``+15550000002``.
* HTTP Basic auth: user = project id, password = API token. Control routes (below) need none.

Every answer is shaped as the official OpenAPI specs document it for that operation and status
(``tests/test_emulator_spec.py`` checks it), except where a recorded real answer differs; those places say
"follows a recorded real answer, differs from the spec".

Statuses move on with elapsed time, computed when a resource is read (no background thread), one
``status_step_seconds`` apart:

* message: ``queued`` → ``sent`` (``date_sent`` and ``price`` set) → ``delivered``; an MMS (``MediaUrl`` given or
  ``SendAsMms=true``) stops at ``sent``, as MMS gets no delivery report. Each ``MediaUrl`` (and each
  ``media_urls`` entry of an injected message) becomes a media item.
* call: ``queued`` → ``ringing`` → ``in-progress`` (``start_time``) → ``completed`` (``end_time``, ``duration``).

With ``message_rate`` (``--message-rate``) each sender sends that many segments a second and the rest waits
``queued``; beyond ``backlog_limit`` segments a new message fails with ``30001``. ``opt_out(number)`` makes a
message to that number a 400 ``21610``. ``num_segments`` counts GSM-7 / UCS-2 segments as carriers do.

``advance_clock(seconds)`` moves the emulator's clock on, so tests can step statuses without sleeping;
``clock_skew_seconds`` (``--clock-skew-seconds``) sets it ahead of this machine's clock (negative: behind), as a
real Space's clock may differ from its caller's. Every answer's ``Date`` header reads the emulator's clock.
Outbound ``From`` numbers are not checked against the project unless ``require_owned_from=True``
(``--require-owned-from``). No webhooks or status callbacks are sent.

Magic destination numbers (the ``To`` of an outbound call or message)
=====================================================================
===================  ===========================================================================
``+15005550001``     message ends ``undelivered``, ``error_code`` ``"30003"`` (unreachable handset)
``+15005550002``     message ends ``failed``, ``error_code`` ``"30007"`` (filtered), never sent
``+15005550003``     call: ringing, then ``busy``
``+15005550004``     call: ringing, then ``no-answer``
``+15005550005``     call: ``failed`` at once
``+15005550006``     call is answered and stays ``in-progress`` until hung up (``Status=completed``)
``+15005550007``     call or message stays ``queued`` forever (a full backlog)
===================  ===========================================================================

Errors
======
Compatibility bodies are the plain ``{"code": int, "message", "more_info", "status"}``, except a call
create's 400: ``{"errors": [{"code": "21205", "message", "more_info"}]}`` (code a string). Relay REST errors
are ``{"error": "Not Found"}`` (400/401/404/405) or, for a phone-number update, a 422
``{"errors": [{"detail", "status", "title", "code"}]}``.

=======  ======  ==============  ============================================================================
code     HTTP    shape           when
=======  ======  ==============  ============================================================================
20003    401     plain           missing or wrong credentials, or a path AccountSid that is not the project
20004    405     plain           method not allowed on the route
20404    404     plain           unknown sid or path
20009    400     plain           delete a call that is not finished, or a message still queued
21205    400     errors array    call create without ``Url`` and ``ApplicationSid``, or with both
21211    400     plain / array   bad or missing ``To`` (array shape on call create)
21212    400     plain / array   bad or missing ``From`` (and no ``MessagingServiceSid`` on a message)
21610    400     plain           message to a number marked with ``opt_out`` (the recipient replied STOP)
21210    422     plain           ``From`` not a project number, only with ``require_owned_from=True``; on
                                 messages reproduces a recorded exchange: ``"code": "21210"`` (a string) and
                                 body ``"status": 400`` on an HTTP 422 (400 errors array on calls)
21602    400     plain           message with neither ``Body`` nor ``MediaUrl``
21617    400     plain           ``Body`` over 1600 characters
21620    400     plain           a ``MediaUrl`` that is not an http(s) URL
21623    400     plain           more than 8 ``MediaUrl``
21624    400     plain           ``ValidityPeriod`` not an integer in 1..172800
54454    400     plain           ``PageSize`` not an integer in 1..1000
54453    400     plain           ``Page`` > 0 without a valid ``PageToken`` (or an invalid token)
50509    422     plain           redact with a non-empty ``Body``
10000    400     plain           redact a message still queued; cancel an in-progress call; update a finished call
21220    400     plain           redirect (``Url``) a call that is not in progress
10000    422     plain           a value outside its parameter's schema: ``Status=bogus``, ``Method=PUT``,
                                 ``Timeout`` outside 1..600, a bad ``SendDigits``, a malformed date filter...
=======  ======  ==============  ============================================================================

Fault injection
===============
``add_fault(kind=..., method=..., path=<regex>, times=N, ...)``: ``path`` is searched in the request path with
any ``.json`` stripped; the fault fires for the next ``times`` matching API requests that pass authentication
(as at SignalWire, a request without valid credentials gets its 401 first and consumes no fault), then is
gone. Kinds:

* ``"status"``: answer ``status`` (default 500) with an error body; ``body_shape`` picks it: ``"plain"``,
  ``"errors_array"``, ``"string_array"``, ``"relay"``, ``"html"`` (a proxy's page) or ``"empty"``.
* ``"429"``: answer 429 with the 20429 body and ``Retry-After: <retry_after>`` (seconds; ``None`` omits it).
* ``"slow"``: sleep ``delay`` seconds, then answer normally (``stop()`` cuts the sleep short and drops it).
* ``"drop_before"``: close the connection without an answer and without processing the request.
* ``"drop_after"``: process the request fully (a message is really created), then close without an answer.

Every API request, faulted or not, lands in the request log with the kind of fault that fired (or ``None``).
The Authorization header is never logged.

Control API (no auth, never faulted or logged)
==============================================
``GET /__emulator__/health``, ``GET /__emulator__/state`` (messages, calls, phone numbers, faults),
``GET /__emulator__/requests`` (``?method=&path_regex=``), ``POST /__emulator__/reset``,
``POST /__emulator__/inbound/messages`` and ``/inbound/calls`` (JSON like the Python methods),
``GET|POST|DELETE /__emulator__/faults``, ``POST /__emulator__/seed/messages``,
``POST /__emulator__/phone_numbers``, ``POST /__emulator__/clock`` (``{"advance_seconds": n}``),
``POST /__emulator__/opt_outs`` (``{"numbers": [...]}``).

Command line
============
``python -m airflow_provider_signalwire.testing.emulator --host 127.0.0.1 --port 8765`` prints one line,
``signalwire-emulator base_url=<url> conn_uri=<airflow connection uri>``, then serves until SIGINT or SIGTERM
and exits 0. A non-loopback ``--host`` is refused unless ``--allow-remote`` is given.

The package imports only the standard library, and nothing of the provider: it is the test oracle, and DAG
authors' tests import it.
"""

from __future__ import annotations

from airflow_provider_signalwire.testing.emulator.cli import main
from airflow_provider_signalwire.testing.emulator.context import (
    DEFAULT_API_TOKEN,
    DEFAULT_PHONE_NUMBERS,
    DEFAULT_PROJECT_ID,
)
from airflow_provider_signalwire.testing.emulator.faults import Fault
from airflow_provider_signalwire.testing.emulator.magic_numbers import (
    CALL_BUSY_NUMBER,
    CALL_FAILED_NUMBER,
    CALL_LONG_NUMBER,
    CALL_NO_ANSWER_NUMBER,
    MESSAGE_FAILED_NUMBER,
    MESSAGE_UNDELIVERED_NUMBER,
    STAYS_QUEUED_NUMBER,
)
from airflow_provider_signalwire.testing.emulator.signalwire_emulator import SignalWireEmulator

__all__ = [
    "CALL_BUSY_NUMBER",
    "CALL_FAILED_NUMBER",
    "CALL_LONG_NUMBER",
    "CALL_NO_ANSWER_NUMBER",
    "DEFAULT_API_TOKEN",
    "DEFAULT_PHONE_NUMBERS",
    "DEFAULT_PROJECT_ID",
    "MESSAGE_FAILED_NUMBER",
    "MESSAGE_UNDELIVERED_NUMBER",
    "STAYS_QUEUED_NUMBER",
    "Fault",
    "SignalWireEmulator",
    "main",
]
