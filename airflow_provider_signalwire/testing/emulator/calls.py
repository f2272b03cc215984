"""
Compatibility API calls: ``.../Accounts/{AccountSid}/Calls[/{Sid}]``.

Operations ``list_all_calls``, ``create_a_call``, ``retrieve_a_call``, ``update_a_call`` (cancel, hang up,
redirect) and ``delete_a_call``. A created call goes ``queued`` → ``ringing`` → ``in-progress`` →
``completed``, one ``status_step_seconds`` apart, unless its ``To`` is a magic number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_signalwire.testing.emulator.clock import rfc2822
from airflow_provider_signalwire.testing.emulator.context import Context
from airflow_provider_signalwire.testing.emulator.magic_numbers import (
    CALL_BUSY_NUMBER,
    CALL_FAILED_NUMBER,
    CALL_LONG_NUMBER,
    CALL_NO_ANSWER_NUMBER,
    STAYS_QUEUED_NUMBER,
)
from airflow_provider_signalwire.testing.emulator.paging import (
    DateWindow,
    Paging,
    check_choice,
    envelope,
    given_filters,
    with_operators,
)
from airflow_provider_signalwire.testing.emulator.phone_numbers import PhoneNumbers
from airflow_provider_signalwire.testing.emulator.records import SortedRecords, SortKey
from airflow_provider_signalwire.testing.emulator.replies import (
    Reply,
    errors_array,
    invalid_arguments,
    not_found,
    plain_error,
)
from airflow_provider_signalwire.testing.emulator.routing import ApiRequest, Route
from airflow_provider_signalwire.testing.emulator.timeline import Plan, change, settle
from airflow_provider_signalwire.testing.emulator.validation import (
    CLIENT_ID,
    E164,
    PRICE,
    SIP_URI,
    UUID,
    Form,
    FormChecks,
    first,
)

CALL_STATUSES = ("queued", "ringing", "in-progress", "canceled", "completed", "busy", "failed", "no-answer")
FINAL_STATUSES = frozenset({"canceled", "completed", "busy", "failed", "no-answer"})
STATUS_CALLBACK_EVENTS = ("initiated", "ringing", "answered", "completed", "ringing_forwarded", "ringing_queued")
_METHODS = ("GET", "POST")
_SEND_DIGITS = re.compile(r"[0-9#*wW]{1,32}")
_RECORDING_EVENTS = frozenset({"completed", "in-progress", "absent"})


@dataclass(slots=True, eq=False)
class CallRecord:
    sid: str
    key: SortKey
    updated: float
    from_: str
    to: str
    direction: str
    status: str
    phone_number_sid: str | None
    parent_call_sid: str | None = None
    start: float | None = None
    end: float | None = None
    duration: int = 0
    price: float | None = None
    answered_by: str | None = None
    sip_result_code: str | None = None
    audio_stats: bool = False
    url: str | None = None
    method: str = "POST"
    pending: Plan = field(default_factory=list)
    rendered: dict[str, Any] | None = None


def format_number(number: str) -> str:
    """``(555) 000-0001`` for a North American number, the address unchanged otherwise."""
    if len(number) == 12 and number.startswith("+1") and number[1:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def _completed(start: float, end: float) -> dict[str, Any]:
    duration = math.ceil(end - start)
    return {
        "status": "completed",
        "end": end,
        "duration": duration,
        "price": round(0.0065 * max(1, math.ceil(duration / 60)), 4),
        "audio_stats": True,
    }


def _canceled(now: float) -> dict[str, Any]:
    return {"status": "canceled", "end": now, "sip_result_code": "487"}


class Calls:
    def __init__(self, context: Context, phone_numbers: PhoneNumbers) -> None:
        self._context = context
        self._phone_numbers = phone_numbers
        self._records: SortedRecords[CallRecord] = SortedRecords()

    def routes(self) -> list[Route]:
        return [
            Route("compat", "GET", "Calls", self._list),
            Route("compat", "POST", "Calls", self._create),
            Route("compat", "GET", "Calls/{Sid}", self._retrieve),
            Route("compat", "POST", "Calls/{Sid}", self._update),
            Route("compat", "DELETE", "Calls/{Sid}", self._delete),
        ]

    def views(self, now: float) -> list[dict[str, Any]]:
        """Every call as ``GET`` returns it, newest first."""
        return [self.view(call, now) for call in self._records.newest_first()]

    def get(self, sid: str) -> CallRecord | None:
        return self._records.get(sid)

    def inject_inbound(
        self, from_: str, to: str, status: str, start: float | None, duration: int, now: float
    ) -> CallRecord:
        """
        A call received by the project; it keeps ``status``. It starts at ``start`` (by default
        ``duration`` seconds ago for a completed call, else now) and a completed one ends ``duration`` later.
        """
        if status not in CALL_STATUSES:
            raise ValueError(f"Unknown call status {status!r}: use one of {', '.join(CALL_STATUSES)}")
        if duration < 0:
            raise ValueError("duration must not be negative")
        if start is None:
            start = now - duration if status == "completed" else now
        call = CallRecord(
            sid=self._context.new_sid(),
            key=self._context.key(start),
            updated=start,
            from_=from_,
            to=to,
            direction="inbound",
            status=status,
            phone_number_sid=self._phone_numbers.id_of(to),
        )
        if status in ("in-progress", "completed"):
            call.start, call.sip_result_code = start, "200"
        if status == "completed":
            change(call, start + duration, **{**_completed(start, start + duration), "duration": duration})
        elif status in FINAL_STATUSES:
            call.end = start
        self._records.add(call)
        return call

    def view(self, call: CallRecord, now: float) -> dict[str, Any]:
        """
        The spec's ``Call``. ``direction`` is ``outbound-api`` for a call made through the API: follows a
        recorded real answer, differs from the spec (whose enum is ``inbound``/``outbound``).
        """
        settle(call, now)
        if call.rendered is None:
            base = f"{self._context.account_path}/Calls/{call.sid}"
            stats = call.audio_stats
            call.rendered = {
                "sid": call.sid,
                "account_sid": self._context.project_id,
                "date_created": rfc2822(call.key[0]),
                "date_updated": rfc2822(call.updated),
                "parent_call_sid": call.parent_call_sid,
                "to": call.to,
                "formatted_to": format_number(call.to),
                "to_formatted": format_number(call.to),
                "from": call.from_,
                "formatted_from": format_number(call.from_),
                "from_formatted": format_number(call.from_),
                "phone_number_sid": call.phone_number_sid,
                "status": call.status,
                "start_time": rfc2822(call.start),
                "end_time": rfc2822(call.end),
                "duration": call.duration,
                "price": call.price,
                "price_unit": "USD",
                "direction": call.direction,
                "answered_by": call.answered_by,
                "api_version": "2010-04-01",
                "forwarded_from": None,
                "caller_name": None,
                "uri": f"{base}.json",
                "subresource_uris": {"notifications": None, "recordings": f"{base}/Recordings.json"},
                "annotation": None,
                "group_sid": None,
                "audio_in_mos": 4.4 if stats else None,
                "sip_result_code": call.sip_result_code,
                "audio_rtt_avg": 42 if stats else None,
                "audio_rtt_min": 20 if stats else None,
                "audio_rtt_max": 90 if stats else None,
                "audio_out_jitter_min": 1 if stats else None,
                "audio_out_jitter_max": 9 if stats else None,
                "audio_out_jitter_avg": 3 if stats else None,
                "audio_out_lost": 0 if stats else None,
            }
        return call.rendered

    def _plan(self, t0: float, to: str, answered_by: str | None) -> Plan:
        step = self._context.settings.status_step_seconds
        if to == STAYS_QUEUED_NUMBER:
            return []
        if to == CALL_FAILED_NUMBER:
            return [(t0 + step, {"status": "failed", "end": t0 + step, "sip_result_code": "404"})]
        plan: Plan = [(t0 + step, {"status": "ringing"})]
        if to == CALL_BUSY_NUMBER:
            return [*plan, (t0 + 2 * step, {"status": "busy", "end": t0 + 2 * step, "sip_result_code": "486"})]
        if to == CALL_NO_ANSWER_NUMBER:
            return [*plan, (t0 + 3 * step, {"status": "no-answer", "end": t0 + 3 * step, "sip_result_code": "487"})]
        answered = {
            "status": "in-progress",
            "start": t0 + 2 * step,
            "sip_result_code": "200",
            "answered_by": answered_by,
        }
        plan.append((t0 + 2 * step, answered))
        if to != CALL_LONG_NUMBER:
            plan.append((t0 + 3 * step, _completed(t0 + 2 * step, t0 + 3 * step)))
        return plan

    # ------------------------------------------------------------------ routes

    def _create(self, request: ApiRequest) -> Reply:
        """``create_a_call``: 200 and the call; a 400 here is the errors-array body the spec documents for it."""
        form, now = request.form, request.now
        to = first(form, "To")
        if not to or not (E164.fullmatch(to) or SIP_URI.fullmatch(to) or CLIENT_ID.fullmatch(to)):
            raise errors_array(400, 21211, f"Invalid 'To' Phone Number: {to or '(missing)'}")
        from_ = first(form, "From")
        if not from_ or not (E164.fullmatch(from_) or SIP_URI.fullmatch(from_)):
            raise errors_array(400, 21212, f"Invalid 'From' Phone Number: {from_ or '(missing)'}")
        owned = self._phone_numbers.id_of(from_)
        if self._context.settings.require_owned_from and E164.fullmatch(from_) and owned is None:
            raise errors_array(400, 21210, f"'From' phone number {from_} is not a number in this project")
        url, application = first(form, "Url"), first(form, "ApplicationSid")
        if bool(url) == bool(application):
            raise errors_array(
                400, 21205, "A phone call was attempted without a CXML URL or ApplicationSid (give exactly one)"
            )
        problems = _create_problems(form)
        if problems:
            raise invalid_arguments(problems)
        call = CallRecord(
            sid=self._context.new_sid(),
            key=self._context.key(now),
            updated=now,
            from_=from_,
            to=to,
            direction="outbound-api",
            status="queued",
            phone_number_sid=owned,
            url=url,
            method=first(form, "Method") or "POST",
        )
        detection = first(form, "MachineDetection") or "none"
        call.pending = self._plan(now, to, "human" if detection != "none" else None)
        self._records.add(call)
        return Reply(200, self.view(call, now))

    def _retrieve(self, request: ApiRequest) -> Reply:
        return Reply(200, self.view(self._find(request), request.now))

    def _update(self, request: ApiRequest) -> Reply:
        """``update_a_call``: ``Status=canceled`` cancels, ``Status=completed`` hangs up, ``Url`` redirects."""
        call, form, now = self._find(request), request.form, request.now
        checks = _common_checks(form)
        checks.enum("Status", ("canceled", "completed"))
        if checks.problems:
            raise invalid_arguments(checks.problems)
        if call.status in FINAL_STATUSES:
            raise plain_error(400, 10000, f"An attempt was made to update a completed call (status {call.status})")
        status, url = first(form, "Status"), first(form, "Url")
        if status == "canceled":
            if call.status == "in-progress":
                raise plain_error(400, 10000, "An attempt was made to cancel an in-progress call")
            call.pending.clear()
            change(call, now, **_canceled(now))
        elif status == "completed":
            call.pending.clear()
            if call.status == "in-progress" and call.start is not None:
                change(call, now, **_completed(call.start, now))
            else:
                change(call, now, **_canceled(now))
        elif url is not None:
            if call.status != "in-progress":
                raise plain_error(400, 21220, "The call cannot be redirected if it is not in-progress")
            change(call, now, url=url, method=first(form, "Method") or "POST")
        elif form:
            change(call, now)
        return Reply(200, self.view(call, now))

    def _delete(self, request: ApiRequest) -> Reply:
        call = self._find(request)
        if call.status not in FINAL_STATUSES:
            raise plain_error(400, 20009, "An attempt was made to delete a call that is not finished")
        self._records.remove(call)
        return Reply(204)

    def _list(self, request: ApiRequest) -> Reply:
        query, now = request.query, request.now
        paging = Paging.from_query(query)
        to, from_ = first(query, "To"), first(query, "From")
        status = check_choice(query, "Status", CALL_STATUSES)
        parent = first(query, "ParentCallSid")
        if parent and not UUID.fullmatch(parent):
            raise invalid_arguments([f"ParentCallSid must be a UUID, got {parent!r}"])
        started, ended = DateWindow.from_query(query, "StartTime"), DateWindow.from_query(query, "EndTime")

        def match(call: CallRecord) -> bool:
            if call.pending:
                settle(call, now)
            return (
                (not to or call.to == to)
                and (not from_ or call.from_ == from_)
                and (not status or call.status == status)
                and (not parent or call.parent_call_sid == parent)
                and (started is None or started.contains(call.start))
                and (ended is None or ended.contains(call.end))
            )

        filtering = any((to, from_, status, parent, started, ended))
        items, more = self._records.page(match if filtering else None, paging.page_size, paging.token)
        names = ["To", "From", "Status", "ParentCallSid", *with_operators("StartTime", "EndTime")]
        path = f"{self._context.account_path}/Calls{request.suffix}"
        body = envelope(path, given_filters(query, names), paging, items, more)
        body["calls"] = [self.view(c, now) for c in items]
        return Reply(200, body)

    def _find(self, request: ApiRequest) -> CallRecord:
        call = self._records.get(request.params["Sid"])
        if call is None:
            raise not_found(request.path)
        settle(call, request.now)
        return call


def _common_checks(form: Form) -> FormChecks:
    """The parameters create and update share."""
    checks = FormChecks(form)
    checks.enum(("Method", "FallbackMethod", "StatusCallbackMethod"), _METHODS)
    checks.url(("Url", "FallbackUrl", "StatusCallback"))
    return checks


def _create_problems(form: Form) -> list[str]:
    """The values outside ``CreateCallRequest``'s schemas."""
    checks = _common_checks(form)
    checks.enum(("AsyncAmdStatusCallbackMethod", "RecordingStatusCallbackMethod"), _METHODS)
    checks.url(("AsyncAmdStatusCallback", "RecordingStatusCallback"))
    checks.each_in("StatusCallbackEvent", STATUS_CALLBACK_EVENTS)
    recording_events = first(form, "RecordingStatusCallbackEvent")
    if recording_events is not None and not set(recording_events.split()) <= _RECORDING_EVENTS:
        checks.problems.append(
            "RecordingStatusCallbackEvent must be a space-separated list of completed, in-progress, absent"
        )
    checks.pattern("SendDigits", _SEND_DIGITS, "up to 32 of 0-9 # * w W (^[\\d#*wW]{1,32}$)")
    checks.integer("Timeout", 1, 600)
    checks.integer("MachineDetectionTimeout", 1, 120)
    checks.integer("MachineDetectionSpeechThreshold", 1000, 6000)
    checks.integer("MachineDetectionSpeechEndThreshold", 500, 5000)
    checks.integer("MachineDetectionSilenceTimeout", 2000, 10000)
    checks.integer("MachineWordsThreshold", 1, 100)
    checks.enum("MachineDetection", ("Enable", "DetectMessageEnd", "none"))
    checks.enum("RecordingChannels", ("mono", "dual"))
    checks.enum("RecordingTrack", ("inbound", "outbound", "both"))
    checks.enum("Trim", ("trim-silence", "do-not-trim"))
    checks.boolean(("AsyncAmd", "AsyncAmdPartialResults", "Record"))
    checks.pattern("MaxPricePerMinute", PRICE, "a decimal with at most 4 decimal places")
    checks.pattern("ApplicationSid", UUID, "a UUID")
    return checks.problems
