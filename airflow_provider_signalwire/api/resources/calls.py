"""Calls: the Compatibility API's ``/Accounts/{ProjectId}/Calls``."""

from __future__ import annotations

from airflow_provider_signalwire.api.params import (
    Choice,
    Flag,
    ListOf,
    Method,
    Param,
    Pattern,
    Price,
    Url,
    WholeNumber,
)
from airflow_provider_signalwire.api.resource import DateFilter, Operation, Resource, compatibility_paging
from airflow_provider_signalwire.api.resources import COMPATIBILITY_ACCOUNT
from airflow_provider_signalwire.api.rules import OneOf, Required
from airflow_provider_signalwire.api.statuses import Statuses

CALL_STATUSES = ("queued", "ringing", "in-progress", "canceled", "completed", "busy", "failed", "no-answer")

CREATE_CALL = Operation(
    "create_call",
    {
        # Calls may also go to SIP URIs and clients, so To is left open.
        "to": Param("To"),
        "from_": Param("From"),
        "url": Url("Url"),
        "application_sid": Param("ApplicationSid"),
        "method": Method("Method"),
        "fallback_url": Url("FallbackUrl"),
        "fallback_method": Method("FallbackMethod"),
        "status_callback": Url("StatusCallback"),
        "status_callback_event": ListOf(
            "StatusCallbackEvent",
            choices=("initiated", "ringing", "answered", "completed", "ringing_forwarded", "ringing_queued"),
        ),
        "status_callback_method": Method("StatusCallbackMethod"),
        "caller_id": Param("CallerId"),
        "send_digits": Pattern("SendDigits", r"[0-9#*wW]{1,32}", "1 to 32 of the characters 0-9 # * w W"),
        "timeout": WholeNumber("Timeout", 1, 600),
        "machine_detection": Choice("MachineDetection", "Enable", "DetectMessageEnd", "none"),
        "machine_detection_timeout": WholeNumber("MachineDetectionTimeout", 1, 120),
        "machine_detection_speech_threshold": WholeNumber("MachineDetectionSpeechThreshold", 1000, 6000),
        "machine_detection_speech_end_threshold": WholeNumber("MachineDetectionSpeechEndThreshold", 500, 5000),
        "machine_detection_silence_timeout": WholeNumber("MachineDetectionSilenceTimeout", 2000, 10000),
        "machine_words_threshold": WholeNumber("MachineWordsThreshold", 1, 100),
        "async_amd": Flag("AsyncAmd"),
        "async_amd_status_callback": Url("AsyncAmdStatusCallback"),
        "async_amd_status_callback_method": Method("AsyncAmdStatusCallbackMethod"),
        "async_amd_partial_results": Flag("AsyncAmdPartialResults"),
        "record": Flag("Record"),
        "recording_channels": Choice("RecordingChannels", "mono", "dual"),
        "recording_track": Choice("RecordingTrack", "inbound", "outbound", "both"),
        "recording_status_callback": Url("RecordingStatusCallback"),
        # The API takes these events as one space-separated string, not repeated keys.
        "recording_status_callback_event": ListOf(
            "RecordingStatusCallbackEvent", choices=("completed", "in-progress", "absent"), joined=True
        ),
        "recording_status_callback_method": Method("RecordingStatusCallbackMethod"),
        "trim": Choice("Trim", "trim-silence", "do-not-trim"),
        "sip_auth_username": Param("SipAuthUsername"),
        "sip_auth_password": Param("SipAuthPassword", secret=True),
        "max_price_per_minute": Price("MaxPricePerMinute"),
    },
    rules=(
        Required("to"),
        Required("from_", default="default_from"),
        OneOf("url", "application_sid", why="where the call's cXML comes from"),
    ),
    is_create=True,
)

_UPDATE_PARAMS = {
    "url": Url("Url"),
    "method": Method("Method"),
    "status": Choice("Status", "canceled", "completed"),
    "fallback_url": Url("FallbackUrl"),
    "fallback_method": Method("FallbackMethod"),
    "status_callback": Url("StatusCallback"),
    "status_callback_method": Method("StatusCallbackMethod"),
}
UPDATE_CALL = Operation("update_call", _UPDATE_PARAMS, rules=(OneOf(*_UPDATE_PARAMS, exactly=False),))

CALLS = Resource(
    "calls",
    singular="call",
    path=f"{COMPATIBILITY_ACCOUNT}/Calls",
    paging=compatibility_paging("calls"),
    create=CREATE_CALL,
    update=UPDATE_CALL,
    filters={
        "to": Param("To"),
        "from_": Param("From"),
        "status": Choice("Status", *CALL_STATUSES),
        "parent_call_sid": Param("ParentCallSid"),
    },
    date_filters={"start_time": DateFilter("StartTime", "start_time"), "end_time": DateFilter("EndTime", "end_time")},
    statuses=Statuses(
        "call",
        known=CALL_STATUSES,
        final=frozenset({"completed", "busy", "failed", "no-answer", "canceled"}),
        failed=frozenset({"busy", "failed", "no-answer", "canceled"}),
    ),
    # A call counts from its start (a queued one is seen once it starts)... unless it is watched for a final
    # status: it reaches one at its end, possibly after a later-started call was already seen.
    watch_date="start_time",
    watch_date_final="end_time",
    list_order=("date_created", "start_time"),
)
