"""
The sending loop of a bulk send: recipients in order, one request at a time, paced, each written to the ledger
before its request leaves (see :mod:`~airflow_provider_signalwire.operators.bulk_ledger`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
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


def error_code(error: SignalWireApiError) -> int | str | None:
    code = error.code
    return int(code) if isinstance(code, str) and code.isdigit() else code


class Progress:
    """A line in the task log at least every ``interval`` seconds: settled, sent, skipped, failed, rate, ETA."""

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
        self.log.info(
            "Bulk send: %d of %d recipients settled (sent %d, skipped %d, failed %d), %.2f messages a second, ETA %s",
            state["next"],
            self.total,
            counts["sent"],
            counts["skipped"],
            counts["failed"],
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
        self.bucket = TokenBucket(rate)
        self.progress = Progress(operator.log, plan.identity["count"], interval)

    def write(self) -> None:
        spill(self.state, self.results_path)
        self.ledger.set(BULK_RECORD, self.state)

    def settle(self, index: int, to: str, outcome: str, **facts: Any) -> None:
        settle(self.state, {"index": index, "to": to, "outcome": outcome, **facts}, self.results_path is not None)

    def send_all(self, recipients: Iterator[dict[str, Any]], render: Callable[[Mapping[str, Any]], str]) -> None:
        from airflow_provider_signalwire.api.segments import count_segments
        from airflow_provider_signalwire.operators.bulk_plan import message_cost

        media = bool(self.operator.media_url)
        for index, recipient in enumerate(recipients):
            if index < self.state["next"]:
                continue
            to = recipient["to"]
            if index in self.plan.skipped:
                self.settle(index, to, "skipped", code=self.plan.skipped[index])
                continue
            body = render(recipient)
            arguments = self.operator.message_arguments(to, body)
            in_flight = self.state["in_flight"]
            if in_flight is not None and in_flight["index"] == index and self._found_earlier(arguments, in_flight):
                continue
            cost = message_cost(count_segments(body), media)
            wait_for(self.bucket, cost, lambda: self.progress.tick(self.state), time.sleep)
            self._send(index, arguments, cost)
            self.progress.tick(self.state)
        self.progress.tick(self.state, force=True)

    def _found_earlier(self, arguments: Mapping[str, Any], in_flight: Mapping[str, Any]) -> bool:
        """Whether SignalWire has the message that an earlier send to this recipient made (its answer was lost)."""
        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES
        from airflow_provider_signalwire.operators.create_record import find_created_in_flight

        index = in_flight["index"]
        sent = CREATE_MESSAGE.effective(arguments, self.hook.settings.defaults)
        found = find_created_in_flight(self.hook, MESSAGES, sent, in_flight["record"])
        if found is None:
            self.log.info(
                "The send to recipient %d (%s) at %s got no answer; SignalWire has no such message, so sending it.",
                index,
                arguments["to"],
                in_flight["record"]["sent_at"],
            )
            self.state["in_flight"] = None
            return False
        self.log.info(
            "The send to recipient %d (%s) got no answer, but SignalWire has its message %s: not sending it again.",
            index,
            arguments["to"],
            found.get("sid"),
        )
        self.settle(index, arguments["to"], "sent", sid=found.get("sid"), segments=found.get("num_segments"))
        self.progress.sent_here += 1
        return True

    def _send(self, index: int, arguments: Mapping[str, Any], cost: int) -> None:
        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE, MESSAGES
        from airflow_provider_signalwire.api.retries import certainly_not_processed
        from airflow_provider_signalwire.operators.create_record import new_record

        to = arguments["to"]
        sent = CREATE_MESSAGE.effective(arguments, self.hook.settings.defaults)
        for attempt in (1, 2):
            record = new_record(self.operator.send_timeout(), MESSAGES.fingerprint(sent))
            self.state["next"] = index
            self.state["in_flight"] = {"index": index, "record": record}
            self.write()
            try:
                message = self.hook.create(MESSAGES, **arguments)
            except SignalWireApiError as error:
                if not certainly_not_processed(error):
                    if self._resolve(index, arguments, record, error, attempt):
                        return
                    continue
                code = error_code(error)
                outcome = "skipped" if code in SKIP_CODES else "failed"
                if outcome == "failed":
                    self.log.warning("Recipient %d (%s) failed: HTTP %s, code %s", index, to, error.status, code)
                self.settle(index, to, outcome, code=code)
                return
            except SignalWireConnectionError as error:
                if not certainly_not_processed(error):
                    if self._resolve(index, arguments, record, error, attempt):
                        return
                    continue
                self.state["in_flight"] = None
                self.write()
                raise
            self.settle(index, to, "sent", sid=message.get("sid"), segments=message.get("num_segments") or cost)
            self.progress.sent_here += 1
            return
        raise AssertionError("unreachable")  # pragma: no cover

    def _resolve(
        self, index: int, arguments: Mapping[str, Any], record: dict[str, Any], error: Exception, attempt: int
    ) -> bool:
        """After an ambiguous answer: settle the recipient if SignalWire has its message, else send once more."""
        from airflow_provider_signalwire.operators.create_record import given_up

        self.state["in_flight"] = {"index": index, "record": given_up(record)}
        self.write()
        self.log.warning(
            "The send to recipient %d got no clear answer (%s); looking for it at SignalWire.", index, error
        )
        if self._found_earlier(arguments, self.state["in_flight"]):
            return True
        if attempt == 2:
            raise error
        return False
