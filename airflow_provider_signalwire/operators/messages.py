"""Operators for SignalWire messages: send an SMS or MMS, look up, redact, delete, search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES
from airflow_provider_signalwire.operators.base import (
    DateLike,
    SignalWireBaseOperator,
    SignalWireSearchOperator,
    SignalWireSidOperator,
)
from airflow_provider_signalwire.operators.create import SignalWireCreateOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class SignalWireSendMessageOperator(SignalWireCreateOperator):
    """
    Send an SMS or MMS; returns the message (the API's dict) to XCom.

    Every argument is templated. Arguments left ``None`` are not sent. Give ``body``, ``media_url`` or
    both; the rules (1600 characters, 8 media, ranges) are checked before anything is sent.

    :param to: the destination number.
    :param from_: the sending number; default: ``messaging_service_sid``, else the connection's
        ``default_from``.
    :param body: the text, up to 1600 characters.
    :param media_url: a media URL or a list of up to 8 (makes it an MMS).
    :param application_sid: the cXML application whose status callback is used.
    :param max_price: the most to pay, in USD.
    :param status_callback: the URL told of status changes.
    :param validity_period: seconds the message may wait in the queue, 1 to 172800.
    :param messaging_service_sid: the number group to send from, instead of ``from_``.
    :param send_as_mms: send as MMS even without media.

    The waiting and retry arguments are those of
    :class:`~airflow_provider_signalwire.operators.create.SignalWireCreateOperator`; an MMS is done when
    ``sent``, as it gets no delivery report.
    """

    resource = MESSAGES
    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        *CREATE_MESSAGE.params,
        *SignalWireCreateOperator.wait_template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"body": "txt"}

    def __init__(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        body: str | None = None,
        media_url: str | Sequence[str] | None = None,
        application_sid: str | None = None,
        max_price: str | float | None = None,
        status_callback: str | None = None,
        validity_period: int | str | None = None,
        messaging_service_sid: str | None = None,
        send_as_mms: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(locals(), CREATE_MESSAGE.params)


class SignalWireGetMessageOperator(SignalWireSidOperator):
    """
    Look up a message by SID; returns the message (the API's dict) to XCom.

    :param sid: the message's SID (templated).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        return self.hook.get_message(self.sid)


class SignalWireRedactMessageOperator(SignalWireSidOperator):
    """
    Clear a sent or received message's body; returns the message (the API's dict) to XCom.

    :param sid: the message's SID (templated).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        message = self.hook.redact_message(self.sid)
        self.log.info("Redacted SignalWire message %s", self.sid)
        return message


class SignalWireDeleteMessageOperator(SignalWireSidOperator):
    """
    Delete a message that is no longer queued; returns its SID to XCom.

    :param sid: the message's SID (templated).
    """

    def execute(self, context: Context) -> str:
        self.hook.delete_message(self.sid)
        self.log.info("Deleted SignalWire message %s", self.sid)
        return self.sid


class SignalWireSearchMessagesOperator(SignalWireSearchOperator):
    """
    Search the Project's messages, newest first; returns a list of messages (the API's dicts) to XCom.

    Every argument is templated. ``date_sent`` filters are dates (a UTC day), aware datetimes or ISO 8601
    strings such as ``"{{ data_interval_start }}"``. SignalWire filters whole UTC days, so a window asks for
    the days that cover it and keeps exactly the messages inside (``_after``: on or after; ``_before``:
    strictly before; a date is its midnight UTC): a daily run over any timezone's data interval gets each
    message once.

    :param to: messages to this number; ``from_``: from this number.
    :param status: messages in this status (``queued``, ``sent``, ``delivered``, ``received``, ...).
    :param date_sent: messages sent on this day; ``date_sent_before`` / ``date_sent_after``: before / on
        or after this date or moment.
    :param limit: at most this many messages (default 1000); ``None`` for all.
    :param page_size: messages per page requested from SignalWire.
    """

    resource = MESSAGES
    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        *MESSAGES.filter_names(),
        *SignalWireSearchOperator.search_template_fields,
    )

    def __init__(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        date_sent: DateLike = None,
        date_sent_before: DateLike = None,
        date_sent_after: DateLike = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(locals(), MESSAGES.filter_names())
