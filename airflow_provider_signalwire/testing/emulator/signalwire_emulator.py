"""The public face of the emulator: start and stop it, point Airflow at it, and read or change what it holds."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Self
from urllib.parse import quote

from airflow_provider_signalwire.testing.emulator.clock import to_timestamp
from airflow_provider_signalwire.testing.emulator.context import DEFAULT_API_TOKEN, DEFAULT_PROJECT_ID, Settings
from airflow_provider_signalwire.testing.emulator.control import ControlApi
from airflow_provider_signalwire.testing.emulator.dispatch import Dispatcher
from airflow_provider_signalwire.testing.emulator.faults import BodyShape, Fault, FaultKind
from airflow_provider_signalwire.testing.emulator.server import BackgroundServer
from airflow_provider_signalwire.testing.emulator.state import EmulatorState
from airflow_provider_signalwire.testing.emulator.timeline import view_copy


class SignalWireEmulator:
    """
    An in-memory SignalWire Compatibility API (Calls, Messages) and Relay REST phone numbers server.

    :param project_id: the project id (AccountSid, Basic auth user).
    :param api_token: the API token (Basic auth password).
    :param host: the address to bind; loopback by default.
    :param port: the port to bind; 0 picks a free one.
    :param status_step_seconds: the time between two status changes of a call or message.
    :param require_owned_from: refuse a ``From`` that is not one of the project's numbers (21210).
    :param messages_by_date_sent: list messages newest first by ``date_sent`` (not yet sent ones first, as
        ``ORDER BY date_sent DESC`` puts NULLs on PostgreSQL), instead of by ``date_created``. SignalWire only
        says "most recent first" and Twilio, whose API it follows, sorts by ``DateSent``: code that must not
        rely on either order is tested with both.
    :param message_rate: segments a second each sender sends; what exceeds it waits ``queued``, as SignalWire
        queues it (``None``: no limit).
    :param backlog_limit: segments a sender's queue holds before a new message fails with 30001.
    :param signing_key: the project's Signing Key, which signs the webhooks the emulator delivers
        (:meth:`deliver_inbound_message`).
    :param clock_skew_seconds: how far the emulator's clock is ahead of this machine's (negative: behind): the
        dates it gives calls and messages and the ``Date`` header of its answers follow it, as a real Space's
        clock may differ from the caller's.
    """

    def __init__(
        self,
        project_id: str = DEFAULT_PROJECT_ID,
        api_token: str = DEFAULT_API_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        status_step_seconds: float = 0.2,
        *,
        require_owned_from: bool = False,
        messages_by_date_sent: bool = False,
        message_rate: float | None = None,
        backlog_limit: int = 10_000,
        signing_key: str | None = None,
        clock_skew_seconds: float = 0.0,
    ) -> None:
        if status_step_seconds < 0:
            raise ValueError("status_step_seconds must not be negative")
        self._project_id = project_id
        self._api_token = api_token
        self._host = host
        self._requested_port = port
        self._settings = Settings(
            float(status_step_seconds),
            require_owned_from,
            messages_by_date_sent,
            message_rate,
            backlog_limit,
            float(clock_skew_seconds),
        )
        self._lock = threading.RLock()
        self._state = EmulatorState(project_id, self._settings)
        self._dispatcher = Dispatcher(project_id, api_token, self._lock, lambda: self._state, ControlApi(self).handle)
        self._server: BackgroundServer | None = None
        self.signing_key = signing_key

    @property
    def status_step_seconds(self) -> float:
        return self._settings.status_step_seconds

    @status_step_seconds.setter
    def status_step_seconds(self, seconds: float) -> None:
        self._settings.status_step_seconds = float(seconds)

    @property
    def require_owned_from(self) -> bool:
        return self._settings.require_owned_from

    @require_owned_from.setter
    def require_owned_from(self, required: bool) -> None:
        self._settings.require_owned_from = required

    @property
    def message_rate(self) -> float | None:
        return self._settings.message_rate

    @message_rate.setter
    def message_rate(self, rate: float | None) -> None:
        self._settings.message_rate = None if rate is None else float(rate)

    def opt_out(self, *numbers: str) -> None:
        """Mark numbers as having replied STOP: a message to them is refused with 21610."""
        with self._lock:
            self._state.messages.queues.opted_out.update(numbers)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind the port and serve in a background daemon thread."""
        if self._server is None:
            self._server = BackgroundServer(self._host, self._requested_port, self._dispatcher.handle, self.now)
        return self

    def stop(self) -> None:
        """Stop serving: close the listening socket and every open connection, and wait for every handler."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The emulator is not started")
        return self._server.port

    @property
    def host(self) -> str:
        return self._host

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def project_id(self) -> str:
        return self._project_id

    @property
    def api_token(self) -> str:
        return self._api_token

    def connection_uri(self) -> str:
        """An Airflow connection URI (``AIRFLOW_CONN_...``) pointing at this emulator."""
        return (
            f"signalwire://{quote(self._project_id, safe='')}:{quote(self._api_token, safe='')}"
            f"@example.signalwire.com?base_url={quote(self.base_url, safe='')}"
        )

    def connection_json(self) -> str:
        """The JSON form of :meth:`connection_uri`."""
        return json.dumps(
            {
                "conn_type": "signalwire",
                "host": "example.signalwire.com",
                "login": self._project_id,
                "password": self._api_token,
                "extra": {"base_url": self.base_url},
            }
        )

    @property
    def operations(self) -> list[tuple[str, str]]:
        """What it serves: ``(method, path)`` pairs, paths as the official specs write them (``.../{Sid}``)."""
        with self._lock:
            return sorted((route.method, route.path) for route in self._state.router.routes)

    def reset(self) -> None:
        """Forget every call, message, fault, logged request and added phone number; rewind the clock."""
        with self._lock:
            self._state = EmulatorState(self._project_id, self._settings)

    # ------------------------------------------------------------------ clock

    def now(self) -> float:
        """The emulator's time in epoch seconds: the wall clock plus its skew and every :meth:`advance_clock`."""
        with self._lock:
            return self._state.now()

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, so statuses progress without sleeping."""
        with self._lock:
            self._state.context.clock.advance(seconds)

    # ------------------------------------------------------------------ what it holds

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message as ``GET`` returns it, newest first."""
        with self._lock:
            return [view_copy(view) for view in self._state.messages.views(self._state.now())]

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call as ``GET`` returns it, newest first."""
        with self._lock:
            return [view_copy(view) for view in self._state.calls.views(self._state.now())]

    @property
    def phone_numbers(self) -> list[dict[str, Any]]:
        """Every phone number as ``GET`` returns it, newest first."""
        with self._lock:
            return self._state.phone_numbers.views()

    def get_message(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            message = self._state.messages.get(sid)
            return None if message is None else view_copy(self._state.messages.view(message, self._state.now()))

    def get_call(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            call = self._state.calls.get(sid)
            return None if call is None else view_copy(self._state.calls.view(call, self._state.now()))

    def add_phone_number(
        self,
        number: str,
        *,
        name: str | None = None,
        capabilities: Sequence[str] = ("voice", "sms", "mms", "fax"),
        number_type: str = "longcode",
        **fields: Any,
    ) -> dict[str, Any]:
        """Add a phone number to the project; ``fields`` set any PhoneNumber field (e.g. ``call_request_url``)."""
        with self._lock:
            return self._state.phone_numbers.add(number, name, capabilities, number_type, fields)

    # ------------------------------------------------------------------ inbound traffic and seeding

    def inject_inbound_message(
        self,
        from_: str,
        to: str,
        body: str = "",
        media_urls: Sequence[str] = (),
        date_sent: datetime | None = None,
    ) -> dict[str, Any]:
        """
        Record a message received by the project (direction ``inbound``, status ``received``), with a media
        item per ``media_urls`` entry (``.../Messages/{Sid}/Media``).

        ``date_sent`` (naive means UTC) also dates its creation, so it sorts among older messages.
        """
        with self._lock:
            now = self._state.now()
            when = now if date_sent is None else to_timestamp(date_sent)
            message = self._state.messages.inject_inbound(from_, to, body, list(media_urls), when)
            return view_copy(self._state.messages.view(message, now))

    def deliver_inbound_message(self, from_: str, to: str, body: str) -> dict[str, Any]:
        """
        Receive an SMS on the project's number ``to`` and deliver it, signed with :attr:`signing_key`, to the
        number's messaging webhook (its ``message_request_url``), as SignalWire does. Each ``<Message>`` of the
        webhook's cXML answer is sent back to ``from_`` from ``to``.

        :return: ``{"message": <the inbound message>, "webhook_status": <HTTP status>, "replies": [<messages>]}``.
        """
        from airflow_provider_signalwire.testing.emulator import webhook_delivery

        with self._lock:
            number = self._state.phone_numbers.record_of(to)
            url = None if number is None else number.data.get("message_request_url")
        if not url or not self.signing_key:
            raise ValueError(f"{to} needs a message_request_url and the emulator a signing_key to deliver a webhook")
        message = self.inject_inbound_message(from_, to, body)
        status, answer = webhook_delivery.post(
            url, self.signing_key, webhook_delivery.webhook_fields(self._project_id, message)
        )
        replies = []
        with self._lock:
            now = self._state.now()
            for text in webhook_delivery.reply_texts(answer) if status == 200 else []:
                reply = self._state.messages.add_reply(to, from_, text, now)
                replies.append(view_copy(self._state.messages.view(reply, now)))
        return {"message": message, "webhook_status": status, "replies": replies}

    def inject_inbound_call(
        self,
        from_: str,
        to: str,
        status: str = "completed",
        start_time: datetime | None = None,
        duration: int = 30,
    ) -> dict[str, Any]:
        """
        Record a call received by the project (direction ``inbound``); it keeps the given status.

        ``start_time`` (naive means UTC; by default ``duration`` seconds ago for a completed call, else now)
        dates its creation and start; a completed call ends ``duration`` seconds later.
        """
        with self._lock:
            now = self._state.now()
            start = None if start_time is None else to_timestamp(start_time)
            call = self._state.calls.inject_inbound(from_, to, status, start, duration, now)
            return view_copy(self._state.calls.view(call, now))

    def seed_messages(
        self,
        n: int,
        *,
        from_: str,
        to: str,
        body: str = "Seeded message {i}",
        direction: str = "inbound",
        start: datetime | None = None,
        spacing_seconds: float = 1.0,
        status: str | None = None,
    ) -> list[str]:
        """
        Add ``n`` settled messages quickly (benchmarks): message ``i`` is dated ``start + i * spacing_seconds``.

        ``{i}`` in ``body`` becomes the index. Inbound messages are ``received``, others ``delivered``, unless
        ``status`` says otherwise: ``"queued"`` leaves outbound messages waiting, never sent. By default the last
        one is dated now. Returns the sids, oldest first.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        with self._lock:
            first = self._state.now() - (n - 1) * spacing_seconds if start is None else to_timestamp(start)
            return self._state.messages.seed(n, from_, to, body, direction, first, spacing_seconds, status)

    # ------------------------------------------------------------------ request log

    @property
    def requests(self) -> list[dict[str, Any]]:
        """
        Every API request, oldest first: ``method``, ``path``, ``query`` and ``form`` (dicts of lists), ``json``,
        ``headers`` (without Authorization or cookies), ``status`` (``None`` when dropped), ``fault``,
        ``fault_id`` and ``time`` (epoch seconds).
        """
        return self.find_requests()

    def find_requests(self, method: str | None = None, path_regex: str | None = None) -> list[dict[str, Any]]:
        """The logged requests that match; ``path_regex`` is searched in the path with ``.json`` stripped."""
        with self._lock:
            return self._state.log.select(method, path_regex)

    def count_requests(self, method: str | None = None, path_regex: str | None = None) -> int:
        """How many logged requests match; ``path_regex`` is searched in the path with ``.json`` stripped."""
        with self._lock:
            return self._state.log.count(method, path_regex)

    def clear_requests(self) -> None:
        with self._lock:
            self._state.log.clear()

    # ------------------------------------------------------------------ faults

    def add_fault(
        self,
        kind: FaultKind,
        *,
        method: str | None = None,
        path: str = "",
        times: int = 1,
        status: int | None = None,
        retry_after: float | None = 1,
        delay: float = 1.0,
        body_shape: BodyShape | None = None,
        code: int | str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Arm a :class:`Fault` for the next ``times`` authenticated API requests whose method and path match."""
        fault = Fault(
            kind=kind,
            method=method,
            path=path,
            times=times,
            status=status,
            retry_after=retry_after,
            delay=delay,
            body_shape=body_shape,
            code=code,
            message=message,
        )
        with self._lock:
            return self._state.faults.add(fault)

    @property
    def faults(self) -> list[Fault]:
        """The faults that have not fired all their times yet."""
        with self._lock:
            return self._state.faults.armed()

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()
