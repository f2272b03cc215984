"""``python -m airflow_provider_signalwire.testing.emulator``: serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from airflow_provider_signalwire.testing.emulator import local_env
from airflow_provider_signalwire.testing.emulator.context import DEFAULT_API_TOKEN, DEFAULT_PROJECT_ID
from airflow_provider_signalwire.testing.emulator.signalwire_emulator import SignalWireEmulator


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """
    Print ``signalwire-emulator base_url=<url> conn_uri=<airflow connection uri>``, then serve; exit 0.

    With ``--print-env`` it prints shell ``export`` lines instead (the banner as a comment), with ``--env-file``
    it writes them to that file (removed when it stops): ``AIRFLOW_CONN_SIGNALWIRE_DEFAULT`` with the emulator's
    project, token, Signing Key and a number it owns, and ``SIGNALWIRE_EMULATOR_URL``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_signalwire.testing.emulator",
        description="Serve an in-memory SignalWire API (Calls, Messages, phone numbers) for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback unless --allow-remote)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one")
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID)
    parser.add_argument("--token", default=DEFAULT_API_TOKEN)
    parser.add_argument("--status-step-seconds", type=float, default=0.2)
    parser.add_argument("--require-owned-from", action="store_true", help="refuse a From outside the project")
    parser.add_argument("--message-rate", type=float, default=None, help="segments a second per sender")
    parser.add_argument("--backlog-limit", type=int, default=10_000, help="segments a sender's queue holds")
    parser.add_argument("--signing-key", default=None, help="Signing Key that signs the webhooks it delivers")
    parser.add_argument(
        "--clock-skew-seconds", type=float, default=0.0, help="its clock ahead of this machine's (negative: behind)"
    )
    parser.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    parser.add_argument("--print-env", action="store_true", help="print the connection as shell export lines")
    parser.add_argument("--env-file", type=Path, default=None, help="write the export lines to this file")
    parser.add_argument(
        "--hitl-responders", default=None, help='the connection\'s hitl_responders, JSON: {"alice": "+15550000002"}'
    )
    parser.add_argument(
        "--message-request-url",
        default=None,
        help=f"where {local_env.DEFAULT_FROM}'s inbound SMS are posted (its 'message comes in' webhook)",
    )
    args = parser.parse_args(argv)
    try:
        responders = None if args.hitl_responders is None else local_env.parse_responders(args.hitl_responders)
    except ValueError as err:
        parser.error(str(err))
    # A fake server with a known token must not be reachable from other machines by accident.
    if not _is_loopback(args.host) and not args.allow_remote:
        parser.error(f"refusing to serve on non-loopback host {args.host!r} without --allow-remote")

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    emulator = SignalWireEmulator(
        project_id=args.project_id,
        api_token=args.token,
        host=args.host,
        port=args.port,
        status_step_seconds=args.status_step_seconds,
        require_owned_from=args.require_owned_from,
        message_rate=args.message_rate,
        backlog_limit=args.backlog_limit,
        signing_key=args.signing_key,
        clock_skew_seconds=args.clock_skew_seconds,
    ).start()
    try:
        if args.message_request_url:
            local_env.point_number(emulator, local_env.DEFAULT_FROM, args.message_request_url)
        banner = f"signalwire-emulator base_url={emulator.base_url} conn_uri={emulator.connection_uri()}"
        exports = local_env.export_lines(emulator, responders)
        print(f"# {banner}\n{exports}" if args.print_env else banner, flush=True)
        if args.env_file is not None:
            local_env.write_env_file(args.env_file, exports)
        while not stop.wait(0.5):
            pass
    finally:
        if args.env_file is not None:
            args.env_file.unlink(missing_ok=True)
        emulator.stop()
    return 0
