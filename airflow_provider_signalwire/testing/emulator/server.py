"""
The HTTP plumbing: a threaded HTTP/1.1 server whose every handler thread is known, so stopping waits for them.

:class:`BackgroundServer` serves from a daemon thread. ``stop()`` stops accepting, wakes slow faults, shuts
down every open connection (idle keep-alive ones included) and joins every handler thread, for at most
``STOP_TIMEOUT_SECONDS``: after it returns, no handler of that server is still running.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow_provider_signalwire.testing.emulator.clock import http_date
from airflow_provider_signalwire.testing.emulator.replies import Reply, plain_error

STOP_TIMEOUT_SECONDS = 5.0

# method, target, headers (lower-case names), body, the server's "stopping" event -> the answer, or None
# to close the connection without one.
App = Callable[[str, str, Mapping[str, str], bytes, threading.Event], Reply | None]


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], app: App, family: socket.AddressFamily, clock: Callable[[], float]
    ) -> None:
        self.address_family = family
        self.app = app
        self.clock = clock
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._tracking = threading.Lock()
        super().__init__(address, _RequestHandler)

    @property
    def thread_name(self) -> str:
        return f"signalwire-emulator:{self.server_address[1]}"

    def process_request(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn's own thread list is only joined without a bound; this one is joined with one.
        handler = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"{self.thread_name}:handler",
            daemon=True,
        )
        with self._tracking:
            self._open.add(request)
            self._handlers.add(handler)
        handler.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._tracking:
                self._handlers.discard(threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        with self._tracking:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a timeout test, a cancelled poll) or a connection shut by stop() is normal
        # here, not an error to print.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError) or (self.stopping.is_set() and isinstance(error, OSError)):
            return
        super().handle_error(request, client_address)

    def close_open_connections(self) -> None:
        with self._tracking:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def running_handlers(self) -> list[threading.Thread]:
        with self._tracking:
            return list(self._handlers)


class BackgroundServer:
    """
    Serves ``app`` on ``host:port`` (0 picks a free port) from a daemon thread until :meth:`stop`; every answer's
    ``Date`` header reads ``clock`` (epoch seconds; the wall clock by default).
    """

    def __init__(self, host: str, port: int, app: App, clock: Callable[[], float] = time.time) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = _HttpServer((host, port), app, family, clock)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=self._server.thread_name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        server = self._server
        server.stopping.set()
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for thread in [self._thread, *server.running_handlers()]:
            thread.join(max(0.0, deadline - time.monotonic()))


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SignalWireEmulator/1.0"
    timeout = 300
    # Headers and body leave in two writes; with Nagle on, the client's delayed ACK costs 40 ms a request.
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the emulator's record."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header tells the emulated Space's time (its clock may be skewed or advanced), as a Space's does.
        return http_date(self.server.clock() if timestamp is None else timestamp)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._write(Reply(400, {"error": "Bad Request"}))
            return
        if self.server.stopping.is_set():  # the body may have been cut short by stop(): answer nothing
            self.close_connection = True
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = self.server.app(self.command, self.path, headers, body, self.server.stopping)
        except Exception as err:  # an emulator bug must still answer, and say what broke
            traceback.print_exc(file=sys.stderr)
            reply = plain_error(500, 20500, f"Internal emulator error: {type(err).__name__}: {err}").reply
        if reply is None:
            self.close_connection = True
            return
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        payload = reply.payload()
        self.send_response(reply.status)
        self.send_header("X-Request-Id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if payload and reply.status != 204:
            self.wfile.write(payload)
