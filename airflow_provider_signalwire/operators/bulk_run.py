"""
The sending loop of a bulk send: recipients in order, one request at a time, paced, each written to the ledger
before its request leaves (see :mod:`~airflow_provider_signalwire.operators.bulk_ledger`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError
from airflow_provider_signalwire.operators.bulk_ledger import BULK_RECORD, settle, spill
from airflow_provider_signalwire.operators.bulk_pacing import TokenBucket, wait_for

if TYPE_CHECKING:
    from airflow_provider_signalwire.ledger import TaskLedger
    from airflow_provider_signalwire.operators.bulk_plan import Plan
    from airflow_provider_signalwire.operators.bulk_send import SignalWireBulkSendOperator

#: Answers that mean "do not text this number", recorded as skipped: the recipient replied STOP (21610), the number
#: is invalid (21211) or cannot receive SMS (21614).
SKIP_CODES = frozenset({21610, 21211, 21614})


#: Seconds of sending a late loop may catch up on at once.
CATCH_UP_SECONDS = 0.2
#: Recipients are written to the ledger about a second's worth at a time, before any of them is texted.
BATCH_SECONDS = 1.0
#: Slack on a batch's planned time before its window is written again (a slow request, a pause).
WINDOW_MARGIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Item:
    """A recipient to settle: its arguments and cost, or the code it is skipped with."""

    index: int
    to: str
    arguments: dict[str, Any] | None
    cost: int
    skip_code: str | int | None


def error_code(error: SignalWireApiError) -> int | str | None:
    code = error.code
    return int(code) if isinstance(code, str) and code.isdigit() else code


class Progress:
    """A line in the task log at least every ``interval`` seconds: what settled how, rate, ETA."""

    def __init__(self, log: Any, total: int, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.total, self.interval, self._clock = log, total, interval, clock
        self.started = self.last = clock()
        self.sent_here = 0

    def tick(self, state: Mapping[str, Any], force: bool = False) -> None:
        now = self._clock()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = self.sent_here / elapsed
        left = self.total - state["next"]
        eta = f"{left / rate:.0f} s" if rate > 0 else "unknown"
        counts = state["counts"]
        late = len(state["late"])
        self.log.info(
            "Bulk send: %d of %d recipients settled (sent %d, skipped %d, failed %d, unknown %d%s), "
            "%.2f messages a second, ETA %s",
            state["next"] - late,
            self.total,
            counts["sent"],
            counts["skipped"],
            counts["failed"],
            counts["unknown"],
            f"; {late} answered late, being looked for" if late else "",
            rate,
            eta,
        )


class BulkRun:
    def __init__(
        self,
        operator: SignalWireBulkSendOperator,
        ledger: TaskLedger,
        state: dict[str, Any],
        results_path: Any,
        rate: float,
        interval: float,
        plan: Plan,
    ) -> None:
        self.operator, self.hook, self.log = operator, operator.hook, operator.log
        self.ledger, self.state, self.results_path, self.plan = ledger, state, results_path, plan
        # A fifth of a second's worth of catch-up: a late wake-up (a busy machine) does not lower the rate.
        self.bucket = TokenBucket(rate, burst=rate * CATCH_UP_SECONDS)
        self.progress = Progress(operator.log, plan.identity["count"], interval)
        from airflow_provider_signalwire.operators.bulk_late import LateSends

        self.late = LateSends(self.hook, self.log, state, self._settle_late, self.write)

    def write(self) -> None:
        spill(self.state, self.results_path)
        self.ledger.set(BULK_RECORD, self.state)

    def settle(self, index: int, to: str, outcome: str, **facts: Any) -> None:
        settle(self.state, {"index": index, "to": to, "outcome": outcome, **facts}, self.results_path is not None)

    def _settle_late(self, index: int, to: str, outcome: str, **facts: Any) -> None:
        self.settle(index, to, outcome, **facts)
        if outcome == "sent":
            self.progress.sent_here += 1

    def send_all(self, recipients: Iterator[dict[str, Any]], render: Callable[[Mapping[str, Any]], str]) -> None:
        """Text every recipient from ``next`` on, a batch of about a second's worth at a time."""
        size = max(1, int(self.bucket.rate * BATCH_SECONDS))
        batch: list[Item] = []
        for item in self._items(recipients, render):
            batch.append(item)
            if len(batch) == size:
                self._send_batch(batch)
                batch = []
        if batch:
            self._send_batch(batch)
        self.late.finish(lambda: self.progress.tick(self.state))
        self.write()
        self.progress.tick(self.state, force=True)

    def _items(
        self, recipients: Iterator[dict[str, Any]], render: Callable[[Mapping[str, Any]], str]
    ) -> Iterator[Item]:
        from airflow_provider_signalwire.api.segments import count_segments
        from airflow_provider_signalwire.operators.bulk_plan import message_cost

        media = bool(self.operator.media_url)
        for index, recipient in enumerate(recipients):
            if index < self.state["next"]:
                continue
            if index in self.plan.skipped:
                yield Item(index, recipient["to"], None, 0, self.plan.skipped[index])
                continue
            body = render(recipient)
            cost = message_cost(count_segments(body), media)
            yield Item(index, recipient["to"], self.operator.message_arguments(recipient["to"], body), cost, None)

    def _send_batch(self, batch: list[Item]) -> None:
        earlier = self.state["in_flight"] or {}
        window: dict[str, Any] | None = None
        for position, item in enumerate(batch):
            if item.arguments is None:
                self.settle(item.index, item.to, "skipped", code=item.skip_code)
                continue
            if str(item.index) in earlier.get("fingerprints", {}) and self._found_earlier(item, earlier):
                continue
            # Late sends are looked for between two sends, not one after another in a row: the pace holds.
            self.late.look()
            self.late.make_room()
            for attempt in (1, 2):
                if window is None or time.time() > window["until"]:
                    window = self._open_window(batch[position:])
                wait_for(self.bucket, item.cost, lambda: self.progress.tick(self.state), time.sleep)
                if self._send(item, window, attempt):
                    break
            self.progress.tick(self.state)
        self.state["in_flight"] = None

    def _open_window(self, items: list[Item]) -> dict[str, Any]:
        """
        Write to the ledger, before any of ``items`` is sent, that they may be sent from now until the window's
        end (with what recognises each message), along with every outcome settled so far.
        """
        from datetime import UTC, datetime, timedelta

        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES

        defaults = self.hook.settings.defaults
        sending = [item for item in items if item.arguments is not None]
        seconds = sum(item.cost for item in sending) / self.bucket.rate + WINDOW_MARGIN_SECONDS
        now = datetime.now(UTC)
        self.state["next"] = items[0].index
        self.state["in_flight"] = {
            "sent_at": now.isoformat(),
            "in_flight_until": (now + timedelta(seconds=seconds) + self.operator.send_timeout()).isoformat(),
            "fingerprints": {
                str(item.index): MESSAGES.fingerprint(CREATE_MESSAGE.effective(item.arguments or {}, defaults))
                for item in sending
            },
        }
        self.write()
        return {"until": time.time() + seconds, "record": self.state["in_flight"]}

    def _found_earlier(self, item: Item, window: Mapping[str, Any], until: str | None = None) -> bool:
        """Whether SignalWire has the message that an earlier send to this recipient made (its answer was lost)."""
        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES
        from airflow_provider_signalwire.operators.create_record import find_created_in_flight

        assert item.arguments is not None
        record = {
            "sent_at": window["sent_at"],
            "in_flight_until": until or window["in_flight_until"],
            "fingerprint": window["fingerprints"][str(item.index)],
        }
        sent = CREATE_MESSAGE.effective(item.arguments, self.hook.settings.defaults)
        found = find_created_in_flight(self.hook, MESSAGES, sent, record)
        if found is None:
            self.log.info(
                "A send to recipient %d (%s) got no answer; SignalWire has no such message, so sending it.",
                item.index,
                item.to,
            )
            return False
        self.log.info(
            "A send to recipient %d (%s) got no answer, but SignalWire has its message %s: not sending it again.",
            item.index,
            item.to,
            found.get("sid"),
        )
        self.settle(item.index, item.to, "sent", sid=found.get("sid"), segments=found.get("num_segments"))
        self.progress.sent_here += 1
        return True

    def _send(self, item: Item, window: Mapping[str, Any], attempt: int) -> bool:
        """Send one text; whether its recipient is settled (``False``: send it again, once)."""
        from datetime import UTC, datetime

        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES
        from airflow_provider_signalwire.api.retries import certainly_not_processed
        from airflow_provider_signalwire.operators.create_record import answer_may_come_late

        assert item.arguments is not None
        try:
            message = self.hook.create(MESSAGES, **item.arguments)
        except (SignalWireApiError, SignalWireConnectionError) as error:
            if answer_may_come_late(error):
                # Looked for now, it would not be found yet; sent again, it could be texted twice.
                record = window["record"]
                sent = CREATE_MESSAGE.effective(item.arguments, self.hook.settings.defaults)
                fingerprint = record["fingerprints"][str(item.index)]
                self.late.add(item.index, item.to, sent, record["sent_at"], fingerprint, item.cost)
                return True
            if not certainly_not_processed(error):
                self.log.warning("Recipient %d's send got no clear answer (%s); looking for it.", item.index, error)
                if self._found_earlier(item, window["record"], until=datetime.now(UTC).isoformat()):
                    return True
                if attempt == 2:
                    raise
                return False
            if isinstance(error, SignalWireConnectionError):
                raise  # SignalWire cannot be reached: a retry goes on from here
            code = error_code(error)
            outcome = "skipped" if code in SKIP_CODES else "failed"
            if outcome == "failed":
                self.log.warning("Recipient %d (%s) failed: HTTP %s, code %s", item.index, item.to, error.status, code)
            self.settle(item.index, item.to, outcome, code=code)
            return True
        self.settle(
            item.index, item.to, "sent", sid=message.get("sid"), segments=message.get("num_segments") or item.cost
        )
        self.progress.sent_here += 1
        return True
