"""Operators for SignalWire calls: place, look up, update (redirect, cancel, hang up), delete, search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.api.resources.calls import CALLS, CREATE_CALL, UPDATE_CALL
from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.base import (
    DateLike,
    SignalWireBaseOperator,
    SignalWireSearchOperator,
    SignalWireSidOperator,
)
from airflow_provider_signalwire.operators.create import SignalWireCreateOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

# Every create argument but the SIP password is templated: a rendered field is stored and shown.
_CREATE_FIELDS = tuple(name for name in CREATE_CALL.params if name not in CREATE_CALL.secret_params)


class SignalWireCreateCallOperator(SignalWireCreateOperator):
    """
    Place a call; returns the call (the API's dict) to XCom.

    Every argument but ``sip_auth_password`` is templated. Arguments left ``None`` are not sent. Give
    exactly one of ``url`` and ``application_sid``. Numbers and ranges are checked before anything is sent.

    :param to: the number, SIP URI or client to call.
    :param from_: the calling number; default: the connection's ``default_from``.
    :param url: the URL of the cXML that runs the call.
    :param application_sid: the cXML application that runs the call, instead of ``url``.
    :param method: ``GET`` or ``POST`` for ``url``.
    :param fallback_url: the cXML used when ``url`` fails; ``fallback_method``: ``GET`` or ``POST``.
    :param status_callback: the URL told of status changes; ``status_callback_event``: which ones
        (``initiated``, ``ringing``, ``answered``, ``completed``, ...); ``status_callback_method``.
    :param caller_id: the caller ID to show.
    :param send_digits: digits to press once answered: 1 to 32 of ``0-9 # * w W``.
    :param timeout: seconds to let it ring, 1 to 600.
    :param machine_detection: ``Enable``, ``DetectMessageEnd`` or ``none``; with
        ``machine_detection_timeout`` (1-120 s), ``machine_detection_speech_threshold``,
        ``machine_detection_speech_end_threshold``, ``machine_detection_silence_timeout``,
        ``machine_words_threshold``, ``async_amd``, ``async_amd_status_callback``,
        ``async_amd_status_callback_method`` and ``async_amd_partial_results``.
    :param record: record the call; with ``recording_channels`` (``mono``/``dual``), ``recording_track``,
        ``recording_status_callback``, ``recording_status_callback_event``, ``recording_status_callback_method``
        and ``trim``.
    :param sip_auth_username: the user name for a SIP destination.
    :param sip_auth_password: its password: not templated, masked in logs, never in XCom or rendered fields.
        A literal here is part of the DAG file (and of the serialized DAG for ``.partial()`` / ``.expand()``):
        prefer ``sip_auth_conn_id``.
    :param sip_auth_conn_id: an Airflow connection whose login and password are the SIP credentials, read
        when the task runs (from a secrets backend, say), so the password never sits in the DAG (templated).
    :param max_price_per_minute: the most to pay per minute, in USD.

    The waiting and retry arguments are those of
    :class:`~airflow_provider_signalwire.operators.create.SignalWireCreateOperator`.
    """

    resource = CALLS
    sip_auth_password: str | None
    sip_auth_conn_id: str | None
    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        *_CREATE_FIELDS,
        "sip_auth_conn_id",
        *SignalWireCreateOperator.wait_template_fields,
    )

    def __init__(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        url: str | None = None,
        application_sid: str | None = None,
        method: str | None = None,
        fallback_url: str | None = None,
        fallback_method: str | None = None,
        status_callback: str | None = None,
        status_callback_event: str | Sequence[str] | None = None,
        status_callback_method: str | None = None,
        caller_id: str | None = None,
        send_digits: str | None = None,
        timeout: int | str | None = None,
        machine_detection: str | None = None,
        machine_detection_timeout: int | str | None = None,
        machine_detection_speech_threshold: int | str | None = None,
        machine_detection_speech_end_threshold: int | str | None = None,
        machine_detection_silence_timeout: int | str | None = None,
        machine_words_threshold: int | str | None = None,
        async_amd: bool | str | None = None,
        async_amd_status_callback: str | None = None,
        async_amd_status_callback_method: str | None = None,
        async_amd_partial_results: bool | str | None = None,
        record: bool | str | None = None,
        recording_channels: str | None = None,
        recording_track: str | None = None,
        recording_status_callback: str | None = None,
        recording_status_callback_event: str | Sequence[str] | None = None,
        recording_status_callback_method: str | None = None,
        trim: str | None = None,
        sip_auth_username: str | None = None,
        sip_auth_password: str | None = None,
        sip_auth_conn_id: str | None = None,
        max_price_per_minute: str | float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if sip_auth_password:
            from airflow_provider_signalwire.compat import mask_secret

            mask_secret(sip_auth_password)
        self.keep_arguments(locals(), (*CREATE_CALL.params, "sip_auth_conn_id"))

    def api_arguments(self) -> dict[str, Any]:
        arguments = super().api_arguments()
        credentials = self._sip_connection_credentials()
        if credentials is not None:
            arguments.setdefault("sip_auth_username", credentials[0])
            arguments["sip_auth_password"] = credentials[1]
        return arguments

    def secrets_in_play(self) -> list[str]:
        credentials = self._sip_connection_credentials()
        sip_password = credentials[1] if credentials is not None else self.sip_auth_password
        return [*super().secrets_in_play(), *([sip_password] if isinstance(sip_password, str) else [])]

    def _sip_connection_credentials(self) -> tuple[str | None, str] | None:
        """The login and password of ``sip_auth_conn_id``, read when the task runs; ``None`` without one."""
        if not self.sip_auth_conn_id:
            return None
        if self.sip_auth_password:
            raise SignalWireInputError(
                "SignalWire create_call: give 'sip_auth_password' or 'sip_auth_conn_id', not both."
            )
        from airflow.sdk import BaseHook

        from airflow_provider_signalwire.compat import AirflowNotFoundException
        from airflow_provider_signalwire.exceptions import SignalWireConnectionNotFoundError

        try:
            # Reading the connection registers its password with Airflow's log masker.
            sip = BaseHook.get_connection(self.sip_auth_conn_id)
        except AirflowNotFoundException:
            raise SignalWireConnectionNotFoundError.for_connection(
                self.sip_auth_conn_id,
                role="SIP credentials connection ('sip_auth_conn_id')",
                conn_type="generic",
                example="generic://SIP_USER:SIP_PASSWORD@",
            ) from None
        if not sip.password:
            raise SignalWireInputError(
                f"SignalWire create_call: connection {self.sip_auth_conn_id!r} ('sip_auth_conn_id') has no password."
            )
        return sip.login, sip.password


class SignalWireGetCallOperator(SignalWireSidOperator):
    """
    Look up a call by SID; returns the call (the API's dict) to XCom.

    :param sid: the call's SID (templated).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        return self.hook.get_call(self.sid)


class SignalWireUpdateCallOperator(SignalWireSidOperator):
    """
    Update a live call: redirect it, cancel or hang it up, or change its callbacks; returns the call.

    Every argument is templated; arguments left ``None`` are not sent, and at least one must be given.

    :param sid: the call's SID.
    :param url: redirect the call to this cXML; ``method``: ``GET`` or ``POST`` for it.
    :param status: ``canceled`` (a queued or ringing call) or ``completed`` (hang up).
    :param fallback_url: the cXML used when ``url`` fails; ``fallback_method``: ``GET`` or ``POST``.
    :param status_callback: the URL told of status changes; ``status_callback_method``: ``GET`` or ``POST``.
    """

    template_fields: Sequence[str] = (*SignalWireSidOperator.template_fields, *UPDATE_CALL.params)

    def __init__(
        self,
        *,
        sid: str,
        url: str | None = None,
        method: str | None = None,
        status: str | None = None,
        fallback_url: str | None = None,
        fallback_method: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(sid=sid, **kwargs)
        self.keep_arguments(locals(), UPDATE_CALL.params)

    def execute(self, context: Context) -> dict[str, Any]:
        call = self.hook.update_call(self.sid, **self.present_arguments(UPDATE_CALL.params))
        self.log.info("Updated SignalWire call %s; its status is %r", self.sid, call.get("status"))
        return call


class SignalWireDeleteCallOperator(SignalWireSidOperator):
    """
    Delete a finished call's record; returns its SID to XCom.

    :param sid: the call's SID (templated).
    """

    def execute(self, context: Context) -> str:
        self.hook.delete_call(self.sid)
        self.log.info("Deleted SignalWire call %s", self.sid)
        return self.sid


class SignalWireSearchCallsOperator(SignalWireSearchOperator):
    """
    Search the Project's calls, newest first; returns a list of calls (the API's dicts) to XCom.

    Every argument is templated. Times are dates (a UTC day), aware datetimes or ISO 8601 strings such as
    ``"{{ data_interval_start }}"``. Bounds are exact (``_after``: on or after; ``_before``: strictly before; a
    date is its midnight UTC), so consecutive data intervals in any timezone see each call once.

    :param to: calls to this number; ``from_``: from this number.
    :param status: calls in this status (``queued``, ``ringing``, ``in-progress``, ``completed``, ...).
    :param parent_call_sid: the legs of this call.
    :param start_time: calls started on this day; ``start_time_before`` / ``start_time_after``: before /
        on or after this date or moment.
    :param end_time: the same three for the time the call ended (``end_time_before``, ``end_time_after``).
    :param limit: at most this many calls (default 1000); ``None`` for all.
    :param page_size: calls per page requested from SignalWire.
    """

    resource = CALLS
    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        *CALLS.filter_names(),
        *SignalWireSearchOperator.search_template_fields,
    )

    def __init__(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        parent_call_sid: str | None = None,
        start_time: DateLike = None,
        start_time_before: DateLike = None,
        start_time_after: DateLike = None,
        end_time: DateLike = None,
        end_time_before: DateLike = None,
        end_time_after: DateLike = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(locals(), CALLS.filter_names())
