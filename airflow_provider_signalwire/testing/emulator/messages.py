"""
Compatibility API messages and their media: ``.../Accounts/{AccountSid}/Messages[/{Sid}[/Media[/{Sid}]]]``.

Operations ``list_messages``, ``create_message``, ``retrieve_message``, ``update_message`` (redaction),
``delete_message``, and for a message's media ``list_media``, ``retrieve_media`` and
``delete_message_media``; a media ``uri`` without ``.json`` serves the content. An outbound message goes
``queued`` → ``sent`` → ``delivered`` one ``status_step_seconds`` apart; an MMS stops at ``sent`` (no
delivery report), and magic ``To`` numbers fail. What exceeds a sender's rate waits ``queued`` (see
:mod:`.sending`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_signalwire.testing.emulator.clock import rfc2822
from airflow_provider_signalwire.testing.emulator.context import DEFAULT_PHONE_NUMBERS, Context
from airflow_provider_signalwire.testing.emulator.magic_numbers import (
    MESSAGE_FAILED_NUMBER,
    MESSAGE_UNDELIVERED_NUMBER,
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
from airflow_provider_signalwire.testing.emulator.records import SortedRecords, SortKey, walk_page
from airflow_provider_signalwire.testing.emulator.replies import Reply, invalid_arguments, not_found, plain_error
from airflow_provider_signalwire.testing.emulator.routing import ApiRequest, Route
from airflow_provider_signalwire.testing.emulator.sending import QUEUE_OVERFLOW, SenderQueues, segments
from airflow_provider_signalwire.testing.emulator.timeline import Plan, change, settle
from airflow_provider_signalwire.testing.emulator.validation import (
    E164,
    PRICE,
    SHORT_CODE,
    UUID,
    FormChecks,
    first,
    is_http_url,
)

# The spec's MessageStatus: what a message shows and what the Status filter takes.
MESSAGE_STATUSES = ("queued", "initiated", "sent", "failed", "delivered", "undelivered", "received")
IN_PROGRESS = frozenset({"queued", "initiated"})
MAX_BODY_LENGTH = 1600
MAX_MEDIA = 8
_CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif"}


@dataclass(slots=True, eq=False)
class MediaRecord:
    sid: str
    key: SortKey
    url: str
    content_type: str


#: Where a message with no ``date_sent`` yet sorts in a list by ``date_sent``: after every date (a finite float, so
#: that page tokens can carry it).
NOT_SENT_YET = float(2**53)


@dataclass(slots=True, eq=False)
class MessageRecord:
    sid: str
    key: SortKey
    updated: float
    from_: str
    to: str
    body: str
    direction: str
    status: str
    num_media: int = 0
    sent: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    price: float | None = None
    messaging_service_sid: str | None = None
    media: list[MediaRecord] = field(default_factory=list)
    pending: Plan = field(default_factory=list)
    rendered: dict[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class _PlacedBySent:
    """A message at its place in a list by ``date_sent``: ``key`` is ``(date sent, insertion)``."""

    key: SortKey
    message: MessageRecord


def content_type_of(url: str) -> str:
    """The media type a media URL names by its extension (the emulator never fetches it)."""
    path = urlsplit(url).path.lower()
    extension = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
    return _CONTENT_TYPES.get(extension) or mimetypes.guess_type(path)[0] or "application/octet-stream"


class Messages:
    def __init__(self, context: Context, phone_numbers: PhoneNumbers) -> None:
        self._context = context
        self._phone_numbers = phone_numbers
        self._records: SortedRecords[MessageRecord] = SortedRecords()
        self.queues = SenderQueues()

    def routes(self) -> list[Route]:
        return [
            Route("compat", "GET", "Messages", self._list),
            Route("compat", "POST", "Messages", self._create),
            Route("compat", "GET", "Messages/{Sid}", self._retrieve),
            Route("compat", "POST", "Messages/{Sid}", self._redact),
            Route("compat", "DELETE", "Messages/{Sid}", self._delete),
            Route("compat", "GET", "Messages/{MessageSid}/Media", self._list_media),
            Route("compat", "GET", "Messages/{MessageSid}/Media/{Sid}", self._retrieve_media),
            Route("compat", "DELETE", "Messages/{MessageSid}/Media/{Sid}", self._delete_media),
        ]

    def views(self, now: float) -> list[dict[str, Any]]:
        """Every message as ``GET`` returns it, newest first."""
        return [self.view(message, now) for message in self._records.newest_first()]

    def get(self, sid: str) -> MessageRecord | None:
        return self._records.get(sid)

    def inject_inbound(self, from_: str, to: str, body: str, media_urls: Sequence[str], when: float) -> MessageRecord:
        """A message received by the project at ``when`` (``inbound``, ``received``), with a media item per URL."""
        message = self._new(from_, to, body, media_urls, "inbound", "received", when)
        message.sent, message.price = when, 0.01 if media_urls else 0.00415
        self._records.add(message)
        return message

    def add_reply(self, from_: str, to: str, body: str, when: float) -> MessageRecord:
        """A message the number ``from_`` sends back because a webhook answered with ``<Message>``."""
        message = self._new(from_, to, body, (), "outbound-reply", "delivered", when)
        message.sent, message.price = when, round(0.00415 * max(1, segments(body)), 5)
        self._records.add(message)
        return message

    def seed(
        self,
        n: int,
        from_: str,
        to: str,
        body: str,
        direction: str,
        first_at: float,
        spacing: float,
        status: str | None = None,
    ) -> list[str]:
        """
        ``n`` settled messages, message ``i`` dated ``first_at + i * spacing``; the sids, oldest first.

        A ``status`` still in progress (``queued``) leaves them unsent, with no plan to move on.
        """
        status = status or ("received" if direction == "inbound" else "delivered")
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(MESSAGE_STATUSES)}, got {status!r}")
        batch = []
        for i, sid in enumerate(self._context.new_sids(n)):
            when = first_at + i * spacing
            text = body.replace("{i}", str(i))
            message = MessageRecord(sid, self._context.key(when), when, from_, to, text, direction, status)
            if status not in IN_PROGRESS:
                message.sent, message.price = when, round(0.00415 * max(1, segments(text)), 5)
            batch.append(message)
        self._records.add_many(batch)
        return [message.sid for message in batch]

    def view(self, message: MessageRecord, now: float) -> dict[str, Any]:
        """The spec's ``Message``."""
        settle(message, now)
        if message.rendered is None:
            base = f"{self._context.account_path}/Messages/{message.sid}"
            created = rfc2822(message.key[0])
            message.rendered = {
                "account_sid": self._context.project_id,
                "api_version": "2010-04-01",
                "body": message.body,
                "num_segments": segments(message.body),
                "num_media": message.num_media,
                "date_created": created,
                "date_sent": created if message.sent == message.key[0] else rfc2822(message.sent),
                "date_updated": created if message.updated == message.key[0] else rfc2822(message.updated),
                "direction": message.direction,
                "error_code": message.error_code,
                "error_message": message.error_message,
                "from": message.from_,
                "price": message.price,
                "price_unit": "USD",
                "sid": message.sid,
                "status": message.status,
                "to": message.to,
                "messaging_service_sid": message.messaging_service_sid,
                "uri": f"{base}.json",
                "subresource_uris": {"media": f"{base}/Media.json"},
            }
        return message.rendered

    def _media_view(self, message: MessageRecord, media: MediaRecord) -> dict[str, Any]:
        """The spec's ``MessageMedia``."""
        created = rfc2822(media.key[0])
        return {
            "account_sid": self._context.project_id,
            "content_type": media.content_type,
            "date_created": created,
            "date_updated": created,
            "parent_sid": message.sid,
            "sid": media.sid,
            "uri": f"{self._context.account_path}/Messages/{message.sid}/Media/{media.sid}.json",
        }

    def _new(
        self, from_: str, to: str, body: str, media_urls: Sequence[str], direction: str, status: str, when: float
    ) -> MessageRecord:
        message = MessageRecord(
            self._context.new_sid(), self._context.key(when), when, from_, to, body, direction, status
        )
        message.num_media = len(media_urls)
        # Created last to first, so that the list (newest first) shows them in the order they were given.
        message.media = [
            MediaRecord(self._context.new_sid(), self._context.key(when), url, content_type_of(url))
            for url in reversed(media_urls)
        ]
        return message

    def _plan(self, t0: float, to: str, mms: bool, price: float) -> Plan:
        step = self._context.settings.status_step_seconds
        sent = {"status": "sent", "sent": t0 + step, "price": price}
        if to == STAYS_QUEUED_NUMBER:
            return []
        if to == MESSAGE_FAILED_NUMBER:
            failure = {"status": "failed", "error_code": "30007", "error_message": "Message filtered by the carrier"}
            return [(t0 + step, failure)]
        if to == MESSAGE_UNDELIVERED_NUMBER:
            unreachable = "Unreachable destination handset"
            undelivered = {"status": "undelivered", "error_code": "30003", "error_message": unreachable}
            return [(t0 + step, sent), (t0 + 2 * step, undelivered)]
        if mms:
            return [(t0 + step, sent)]
        return [(t0 + step, sent), (t0 + 2 * step, {"status": "delivered"})]

    # ------------------------------------------------------------------ routes: messages

    def _create(self, request: ApiRequest) -> Reply:
        """
        ``create_message``: 201 and the message.

        A ``From`` outside the project (only checked with ``require_owned_from``) is answered HTTP 422 with
        ``"code": "21210"`` (a string) and a body ``"status": 400``: follows a recorded real answer, differs
        from the spec (an integer code, the HTTP status in the body).
        """
        form, now = request.form, request.now
        to = first(form, "To")
        if not to or not E164.fullmatch(to):
            raise plain_error(400, 21211, f"Invalid 'To' Phone Number: {to or '(missing)'}")
        if to in self.queues.opted_out:
            raise plain_error(400, 21610, f"Attempt to send to unsubscribed recipient {to}")
        from_, service = first(form, "From"), first(form, "MessagingServiceSid")
        if from_ is None and not service:
            raise plain_error(400, 21212, "A 'From' phone number or a MessagingServiceSid is required")
        if from_ is not None and not (E164.fullmatch(from_) or SHORT_CODE.fullmatch(from_)):
            raise plain_error(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        if from_ is not None and self._context.settings.require_owned_from and not self._phone_numbers.id_of(from_):
            raise plain_error(422, "21210", f"'From' phone number {from_} is not a number in this project", 400)
        body, media = first(form, "Body") or "", form.get("MediaUrl", [])
        if not body and not media:
            raise plain_error(400, 21602, "Message body is required: give Body or MediaUrl")
        if len(body) > MAX_BODY_LENGTH:
            raise plain_error(400, 21617, f"The message body exceeds the {MAX_BODY_LENGTH} character limit")
        if len(media) > MAX_MEDIA:
            raise plain_error(400, 21623, f"Too many media URLs: {len(media)} given, at most {MAX_MEDIA} allowed")
        bad_media = [url for url in media if not is_http_url(url)]
        if bad_media:
            raise plain_error(400, 21620, f"Invalid media URL(s): {', '.join(bad_media)}")
        validity = first(form, "ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 172800):
            raise plain_error(400, 21624, f"Invalid ValidityPeriod {validity!r}: give seconds between 1 and 172800")
        checks = FormChecks(form)
        checks.boolean(["SendAsMms"])
        checks.pattern("MaxPrice", PRICE, "a decimal with at most 4 decimal places")
        checks.pattern(("ApplicationSid", "MessagingServiceSid"), UUID, "a UUID")
        checks.url(["StatusCallback"])
        if checks.problems:
            raise invalid_arguments(checks.problems)

        mms = bool(media) or (first(form, "SendAsMms") or "").lower() == "true"
        sender = from_ or self._phone_numbers.oldest_number() or DEFAULT_PHONE_NUMBERS[0]
        message = self._new(sender, to, body, media, "outbound-api", "queued", now)
        message.messaging_service_sid = service or None
        price = round(0.01 if mms else 0.00415 * max(1, segments(body)), 5)
        settings = self._context.settings
        cost = 1 if mms else segments(body)
        leaves_at = self.queues.admit(service or sender, cost, now, settings.message_rate, settings.backlog_limit)
        if leaves_at is None:
            message.status, (message.error_code, message.error_message) = "failed", QUEUE_OVERFLOW
        else:
            message.pending = self._plan(leaves_at, to, mms, price)
        self._records.add(message)
        return Reply(201, self.view(message, now))

    def _retrieve(self, request: ApiRequest) -> Reply:
        return Reply(200, self.view(self._find(request, "Sid"), request.now))

    def _redact(self, request: ApiRequest) -> Reply:
        """``update_message``: an empty ``Body`` redacts a message that is no longer in progress."""
        message = self._find(request, "Sid")
        body = first(request.form, "Body")
        if body is None:
            raise invalid_arguments(["Body is required: give an empty Body to redact the message"])
        if body != "":
            raise plain_error(422, 50509, "The redacted message body must be empty")
        if message.status in IN_PROGRESS:
            raise plain_error(400, 10000, "An attempt was made to redact a message that is still in-progress")
        change(message, request.now, body="")
        return Reply(200, self.view(message, request.now))

    def _delete(self, request: ApiRequest) -> Reply:
        message = self._find(request, "Sid")
        if message.status in IN_PROGRESS:
            raise plain_error(400, 20009, "Cannot delete a message that is still queued")
        self._records.remove(message)
        return Reply(204)

    def _list(self, request: ApiRequest) -> Reply:
        query, now = request.query, request.now
        paging = Paging.from_query(query)
        to, from_ = first(query, "To"), first(query, "From")
        status = check_choice(query, "Status", MESSAGE_STATUSES)
        sent_window = DateWindow.from_query(query, "DateSent")

        def match(message: MessageRecord) -> bool:
            if message.pending:
                settle(message, now)
            return (
                (not to or message.to == to)
                and (not from_ or message.from_ == from_)
                and (not status or message.status == status)
                and (sent_window is None or sent_window.contains(message.sent))
            )

        filtering = any((to, from_, status, sent_window))
        filters = given_filters(query, ["To", "From", "Status", *with_operators("DateSent")])
        path = f"{self._context.account_path}/Messages{request.suffix}"
        if self._context.settings.messages_by_date_sent:
            by_sent = self._by_date_sent(now)
            placed, more = walk_page(by_sent, lambda p: match(p.message), paging.page_size, paging.token)
            body, items = envelope(path, filters, paging, placed, more), [p.message for p in placed]
        else:
            items, more = self._records.page(match if filtering else None, paging.page_size, paging.token)
            body = envelope(path, filters, paging, items, more)
        body["messages"] = [self.view(m, now) for m in items]
        return Reply(200, body)

    def _by_date_sent(self, now: float) -> list[_PlacedBySent]:
        """Every message placed by its ``date_sent``, oldest first; those not sent yet come last (newest)."""
        placed = []
        for message in self._records.newest_first():
            settle(message, now)
            sent = NOT_SENT_YET if message.sent is None else message.sent
            placed.append(_PlacedBySent((sent, message.key[1]), message))
        placed.sort(key=lambda p: p.key)
        return placed

    # ------------------------------------------------------------------ routes: media

    def _list_media(self, request: ApiRequest) -> Reply:
        """``list_media``, newest first; an unknown message is the 404 every other Messages operation documents."""
        message, query = self._find(request, "MessageSid"), request.query
        paging = Paging.from_query(query)
        created = DateWindow.from_query(query, "DateCreated")
        match = None if created is None else (lambda media: created.contains(media.key[0]))
        items, more = walk_page(message.media, match, paging.page_size, paging.token)
        path = f"{self._context.account_path}/Messages/{message.sid}/Media{request.suffix}"
        body = envelope(path, given_filters(query, with_operators("DateCreated")), paging, items, more)
        body["media_list"] = [self._media_view(message, media) for media in items]
        return Reply(200, body)

    def _retrieve_media(self, request: ApiRequest) -> Reply:
        """
        ``retrieve_media``: the ``MessageMedia`` at its ``uri``. Without ``.json`` the same path serves the
        media content itself (placeholder bytes of its ``content_type``): the Compatibility API's convention,
        which the spec (whose paths carry no ``.json``) does not describe.
        """
        message, media = self._find_media(request)
        if request.suffix:
            return Reply(200, self._media_view(message, media))
        content = f"Media {media.sid} of message {message.sid}, from {media.url}\n".encode()
        return Reply(200, content_type=media.content_type, raw=content)

    def _delete_media(self, request: ApiRequest) -> Reply:
        message, media = self._find_media(request)
        message.media.remove(media)
        return Reply(204)

    def _find(self, request: ApiRequest, parameter: str) -> MessageRecord:
        message = self._records.get(request.params[parameter])
        if message is None:
            raise not_found(request.path)
        settle(message, request.now)
        return message

    def _find_media(self, request: ApiRequest) -> tuple[MessageRecord, MediaRecord]:
        message = self._find(request, "MessageSid")
        for media in message.media:
            if media.sid == request.params["Sid"]:
                return message, media
        raise not_found(request.path)
