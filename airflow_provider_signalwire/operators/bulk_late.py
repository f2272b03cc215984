"""
Sends of a bulk send whose answer did not come in time: SignalWire may still be texting the recipient, so the send
is never made again. It is looked for at SignalWire once it can have landed, more than once (see
:func:`~.create_record.late_looks`), while the other recipients are texted at the run's pace; found, it settles
as sent, else as ``unknown``. The sends waiting to be looked for are kept in the ledger (``late``), so a retry
looks for them too and texts none of them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

#: At most this many sends wait to be looked for; the next send waits for the first of them to settle.
MAX_LATE = 10


class LateSends:
    """
    The late sends of a run, in its ledger state; ``settle(index, to, outcome, **facts)`` counts an outcome and
    ``write()`` keeps the state.
    """

    def __init__(
        self, hook: Any, log: Any, state: dict[str, Any], settle: Callable[..., None], write: Callable[[], None]
    ) -> None:
        self.hook, self.log, self.state, self._settle, self._write = hook, log, state, settle, write

    @property
    def waiting(self) -> list[dict[str, Any]]:
        return self.state["late"]

    def add(
        self, index: int, to: str, sent: Mapping[str, Any], sent_at: str, fingerprint: Mapping[str, Any], cost: int
    ) -> None:
        """
        Keep a send answered too late (``sent``: its arguments as sent; ``cost``: its segments), to be looked for;
        it is never sent again.
        """
        from airflow_provider_signalwire.operators.create_record import late_looks

        looks = late_looks(self.hook.settings.timeout)
        self.waiting.append(
            {
                "index": index,
                "to": to,
                "from_": sent.get("from_"),
                "sent_at": sent_at,
                "fingerprint": dict(fingerprint),
                "cost": cost,
                "looks": looks,
            }
        )
        self.state["next"] = max(self.state["next"], index + 1)
        self._write()  # before anything else is sent: a retry must know not to text this recipient again
        self.log.warning(
            "Recipient %d's send got no answer in time; SignalWire may still text them, so it is not sent again: "
            "looking for it at %s, while the others go on.",
            index,
            ", ".join(looks),
        )

    def look(self, wait: bool = False) -> int:
        """Look for each late send whose time has come (``wait``: first wait for the next one's); how many settled."""
        from airflow_provider_signalwire.operators.create_record import seconds_until

        if not self.waiting:
            return 0
        if wait:
            time.sleep(min(seconds_until(late["looks"][0]) for late in self.waiting))
        settled = 0
        for late in list(self.waiting):
            if seconds_until(late["looks"][0]) > 0:
                continue
            late["looks"].pop(0)
            if self._found(late) or not late["looks"]:
                self.waiting.remove(late)
                settled += 1
        return settled

    def make_room(self) -> None:
        """Wait, looking, until fewer than :data:`MAX_LATE` sends wait to be looked for."""
        while len(self.waiting) >= MAX_LATE:
            self.look(wait=True)

    def finish(self, tick: Callable[[], None]) -> None:
        """Look for every late send until each has settled."""
        while self.waiting:
            self.look(wait=True)
            tick()

    def _found(self, late: Mapping[str, Any]) -> bool:
        """Settle ``late`` as sent if SignalWire has its message; at its last look, settle it as unknown."""
        from airflow_provider_signalwire.api.resources.messages import MESSAGES
        from airflow_provider_signalwire.operators.create_record import find_created_in_flight

        sent = {name: late[name] for name in ("to", "from_") if late.get(name)}
        record = {**late, "in_flight_until": datetime.now(UTC).isoformat()}
        found = find_created_in_flight(self.hook, MESSAGES, sent, record)
        if found is not None:
            self.log.info(
                "Recipient %d's send, answered too late, did go through: SignalWire has its message %s.",
                late["index"],
                found.get("sid"),
            )
            segments = found.get("num_segments")
            segments = int(segments) if str(segments).isdigit() else late["cost"]
            self._settle(late["index"], late["to"], "sent", sid=found.get("sid"), segments=segments)
            return True
        if not late["looks"]:
            self.log.warning(
                "Recipient %d's send got no answer in time and SignalWire has no such message: its outcome is "
                "unknown, and it is not sent again.",
                late["index"],
            )
            self._settle(late["index"], late["to"], "unknown")
        return False
