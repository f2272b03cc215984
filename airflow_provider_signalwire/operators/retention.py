"""Retention in one task: find the messages older than a duration, redact or delete them, paced and resumable."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireInputError
from airflow_provider_signalwire.operators.base import SignalWireBaseOperator, as_bool, as_seconds, as_whole_number
from airflow_provider_signalwire.operators.export import as_timedelta

if TYPE_CHECKING:
    from airflow.sdk import Context

ACTIONS = ("redact", "delete")
#: The ledger key of a retention task's progress (kept across its tries).
PROGRESS = "retention"
#: Messages SignalWire refused to delete that a retry need not try again, at most this many.
KEPT_REFUSALS = 1000


class SignalWireMessageRetentionOperator(SignalWireBaseOperator):
    """
    Redact or delete the messages sent more than ``older_than`` ago, in one task; returns counts to XCom:
    ``{"matched", "redacted", "deleted", "skipped": {reason: n}, "cutoff", "dry_run"}``.

    No message body reaches XCom, a log line or a rendered field. Requests are paced (``max_per_second``).
    Progress is kept in the task's ledger (the task state store on Airflow 3.3, a Variable before): a retry
    goes on where the failed try stopped, checks the messages it was acting on when it failed, and acts on none
    of them twice.

    :param older_than: how old a message must be (by ``date_sent``): a timedelta or seconds (templated).
    :param action: ``"redact"`` (clear the body; messages already without one are left alone) or ``"delete"``
        (where SignalWire refuses to delete a message, its body is cleared instead).
    :param dry_run: only count what would be done (templated).
    :param to: messages to this number; ``from_``: from this number; ``status``: in this status (templated).
    :param max_per_second: at most this many redactions or deletions a second (templated; default 10).
    :param page_size: messages per page read, and per step kept in the ledger (default 200).
    """

    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        "older_than",
        "action",
        "only_count",
        "to",
        "from_",
        "status",
        "max_per_second",
    )

    def __init__(
        self,
        *,
        older_than: timedelta | float | str,
        action: str = "redact",
        dry_run: bool | str = False,
        to: str | None = None,
        from_: str | None = None,
        status: str | None = None,
        max_per_second: float | str = 10,
        page_size: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.older_than = older_than
        self.action = action
        # BaseOperator has a dry_run() method of its own.
        self.only_count = dry_run
        self.to = to
        self.from_ = from_
        self.status = status
        self.max_per_second = max_per_second
        self.page_size = page_size

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_signalwire.api.resources.messages import MESSAGES
        from airflow_provider_signalwire.ledger import TaskLedger
        from airflow_provider_signalwire.operators.output import walk

        if self.action not in ACTIONS:
            raise SignalWireInputError(
                f"SignalWire retention: 'action' must be one of {', '.join(ACTIONS)}; got {self.action!r}."
            )
        older_than = as_timedelta("older_than", self.older_than)
        dry_run = as_bool("dry_run", self.only_count)
        self.interval = 1 / as_seconds("max_per_second", self.max_per_second)
        self.next_at = 0.0
        ledger = None if dry_run else TaskLedger(context)
        kept = (ledger.get(PROGRESS) if ledger else None) or {}
        cutoff = datetime.fromisoformat(kept["cutoff"]) if "cutoff" in kept else datetime.now(UTC) - older_than
        self.counts: Counter[str] = Counter(kept.get("counts", {}))
        self.skipped: Counter[str] = Counter(kept.get("skipped", {}))
        refused: list[str] = kept.get("refused", [])
        filters = {name: getattr(self, name) for name in ("to", "from_", "status")}
        listing = self.hook.listing(
            MESSAGES,
            page_size=as_whole_number(self.page_size),
            date_sent_before=cutoff,
            **{name: value for name, value in filters.items() if value is not None},
        )
        self.log.info(
            "SignalWire retention: %s messages sent before %s%s%s",
            self.action,
            cutoff.isoformat(),
            " (dry run: nothing is changed)" if dry_run else "",
            f", going on from an earlier try ({self.summary()})" if kept else "",
        )
        # What the earlier try was doing comes from its record: the messages in hand, and what it did to them.
        settled = self.settle(kept.get("pending", []), kept.get("action", self.action))
        done = set(settled) | set(refused)
        started = last = time.monotonic()
        # Each page is read after the one before was acted on, so that deletions cannot shift what is read.
        for page in walk(self.hook, listing, self.log, MESSAGES.name, prefetch=False):
            wanted = [m for m in page if m["sid"] not in done and (self.action == "delete" or m.get("body"))]
            if dry_run:
                self.counts["matched"] += len(wanted)
                self.skipped["dry run"] += len(wanted)
                continue
            assert ledger is not None
            # Kept before acting: a retry counts what the page's messages show then, without counting them twice.
            ledger.set(PROGRESS, self.progress(cutoff, refused, pending=[m["sid"] for m in wanted]))
            self.counts["matched"] += len(wanted)
            for message in wanted:
                if self.act(message) == "refused" and len(refused) < KEPT_REFUSALS:
                    refused.append(message["sid"])
                if time.monotonic() - last >= 10:
                    last = time.monotonic()
                    self.log.info("SignalWire retention: %s, %.0f s", self.summary(), last - started)
            ledger.set(PROGRESS, self.progress(cutoff, refused, pending=[]))
        if ledger is not None:
            ledger.delete(PROGRESS)
        self.log.info("SignalWire retention done: %s", self.summary())
        return {
            "matched": self.counts["matched"],
            "redacted": self.counts["redacted"],
            "deleted": self.counts["deleted"],
            "skipped": dict(self.skipped),
            "cutoff": cutoff.isoformat(),
            "dry_run": dry_run,
        }

    def progress(self, cutoff: datetime, refused: list[str], pending: list[str]) -> dict[str, Any]:
        """What a retry needs to go on: the cutoff, the counts so far, and the messages in hand."""
        return {
            "cutoff": cutoff.isoformat(),
            "action": self.action,
            "counts": dict(self.counts),
            "skipped": dict(self.skipped),
            "refused": refused,
            "pending": pending,
        }

    def summary(self) -> str:
        counts = ", ".join(f"{self.counts[name]} {name}" for name in ("matched", "redacted", "deleted"))
        return counts + "".join(f", {n} skipped ({reason})" for reason, n in sorted(self.skipped.items()))

    def settle(self, pending: list[str], action: str) -> list[str]:
        """
        The messages an earlier try was acting on (``action``) when it stopped: each one it did is counted now
        and not acted on again; the others are listed again.

        Done means gone, for a delete; for a redaction, a body cleared: it took in hand only messages with one.
        A delete that has not happened is done again, whatever the message looks like: an MMS has no body.
        """
        settled = []
        for sid in pending:
            try:
                body = self.hook.get_message(sid).get("body")
            except SignalWireApiError as error:
                if error.status != 404:
                    raise
                settled.append(sid)
                self.counts.update(("matched", "deleted"))
                continue
            if action == "redact" and not body:
                settled.append(sid)
                self.counts.update(("matched", "redacted"))
        if pending:
            self.log.info(
                "SignalWire retention: %d of the %d messages in hand at the last stop were done",
                len(settled),
                len(pending),
            )
        return settled

    def paced(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval

    def act(self, message: dict[str, Any]) -> str:
        """Redact or delete one message; what happened (``redacted``, ``deleted``, ``refused``, ``gone``)."""
        sid = message["sid"]
        if self.action == "delete":
            self.paced()
            refusal = self.refusal(lambda: self.hook.delete_message(sid))
            if refusal is None:
                self.counts["deleted"] += 1
                return "deleted"
            if refusal == "gone":
                self.skipped["already gone"] += 1
                return "gone"
            self.skipped[f"delete refused ({refusal})"] += 1
            if not message.get("body"):
                return "refused"
        self.paced()
        refusal = self.refusal(lambda: self.hook.redact_message(sid))
        if refusal is None:
            self.counts["redacted"] += 1
            return "redacted" if self.action == "redact" else "refused"
        self.skipped["already gone" if refusal == "gone" else f"redact refused ({refusal})"] += 1
        return "refused"

    @staticmethod
    def refusal(request: Any) -> str | None:
        """Send ``request``; ``None`` when it went through, else why SignalWire refused (``gone`` for a 404)."""
        try:
            request()
        except SignalWireApiError as error:
            if error.status == 404:
                return "gone"
            if 400 <= error.status < 500 and error.status != 429:
                return f"error {error.code}" if error.code is not None else f"HTTP {error.status}"
            raise
        return None
