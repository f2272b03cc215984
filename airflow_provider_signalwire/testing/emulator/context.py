"""What every resource shares: the project, the emulator's settings, its clock and the insertion order."""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass

from airflow_provider_signalwire.testing.emulator.clock import Clock
from airflow_provider_signalwire.testing.emulator.records import SortKey
from airflow_provider_signalwire.testing.emulator.routing import COMPAT_PREFIX

DEFAULT_PROJECT_ID = "5f1c2a3b-7d4e-4f60-8a9b-0c1d2e3f4a5b"
DEFAULT_API_TOKEN = "PTtest-token"  # noqa: S105 - a fake token for a local fake server
DEFAULT_PHONE_NUMBERS = ("+15550000001", "+15550000002")
# A version 4 UUID's variant digit is 8, 9, a or b: the random digit's two low bits pick one.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


@dataclass
class Settings:
    """The constructor options that change answers; read at each request, so they may change in between."""

    status_step_seconds: float = 0.2
    require_owned_from: bool = False
    messages_by_date_sent: bool = False
    #: Segments a second each sender sends; what exceeds it waits queued. ``None``: no limit.
    message_rate: float | None = None
    #: Segments a sender's queue holds before a new message fails with 30001 (queue overflow).
    backlog_limit: int = 10_000
    #: Seconds the emulator's clock is ahead of this machine's (negative: behind): its dates and ``Date`` headers.
    clock_skew_seconds: float = 0.0


class Context:
    def __init__(self, project_id: str, settings: Settings) -> None:
        self.project_id = project_id
        self.settings = settings
        self.clock = Clock(settings.clock_skew_seconds)
        self.account_path = f"{COMPAT_PREFIX}/Accounts/{project_id}"
        self._insertions = itertools.count()

    def key(self, created: float) -> SortKey:
        """The sort key of a record created at ``created``: later insertions sort after on equal times."""
        return (created, next(self._insertions))

    @staticmethod
    def new_sid() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def new_sids(n: int) -> list[str]:
        """``n`` random (version 4) UUIDs, formatted from one read of random bytes: seeding makes 100,000."""
        digits = os.urandom(16 * n).hex()
        return [
            f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
            for h in (digits[i : i + 32] for i in range(0, len(digits), 32))
        ]
