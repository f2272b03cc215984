"""
A tiny HTTP server on loopback for the answers the emulator does not give: a stricter reading of the spec, a
resource it does not serve, a server that misbehaves.

``app(method, path, query, body)`` returns ``(status, json_body)``; every request is kept in ``server.requests``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROJECT_ID = "0b5d6f4e-52a1-4c3e-9d1f-7a8b9c0d1e2f"
API_TOKEN = "PTloopback-token-7c1d"

App = Callable[[str, str, dict[str, list[str]], bytes], tuple[int, Any]]


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def connection_json(self, **extra: Any) -> str:
        """An Airflow connection (JSON form) whose requests come here."""
        return json.dumps(
            {
                "conn_type": "signalwire",
                "host": "example",
                "login": PROJECT_ID,
                "password": API_TOKEN,
                "extra": {"base_url": self.base_url, **extra},
            }
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackServer

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        self.server.requests.append({"method": self.command, "path": parts.path, "query": query, "body": body})
        status, answer = self.server.app(self.command, parts.path, query, body)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def serve(app: App) -> Iterator[LoopbackServer]:
    server = LoopbackServer(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
