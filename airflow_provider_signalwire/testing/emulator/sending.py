"""
How outbound messages leave: segments as carriers count them, each sender's rate and backlog, and opt-outs.

* Segments: a body in the GSM 03.38 alphabet is 7-bit, 160 septets alone or 153 per part once concatenated
  (characters of the extension table cost two septets and are not split across parts); any other character
  makes it UCS-2, 70 UTF-16 code units alone or 67 per part (a surrogate pair is not split).
* Rate: with ``message_rate`` set, each sender (its ``From``, else its messaging service) sends that many
  segments a second; what exceeds it waits ``queued`` in the sender's queue, as SignalWire queues it. A message
  that would take the queue over ``backlog_limit`` segments fails at once with ``30001`` (queue overflow).
* Opt-outs: a ``To`` that replied STOP (``opt_out``) is refused with ``21610``.
"""

from __future__ import annotations

_GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = "^{}\\[~]|€\f"
QUEUE_OVERFLOW = ("30001", "Queue overflow")


def segments(body: str) -> int:
    """How many segments carry ``body`` (0 for an empty one)."""
    if not body:
        return 0
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        costs = [2 if c in _GSM_EXTENDED else 1 for c in body]
        alone, part = 160, 153
    else:
        costs = [len(c.encode("utf-16-le")) // 2 for c in body]
        alone, part = 70, 67
    if sum(costs) <= alone:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts


class SenderQueues:
    """When each sender's next segment may leave, at ``rate`` segments a second per sender."""

    def __init__(self) -> None:
        self._free_at: dict[str, float] = {}
        self.opted_out: set[str] = set()

    def admit(self, sender: str, cost: int, now: float, rate: float | None, backlog_limit: int) -> float | None:
        """When a message of ``cost`` segments leaves (``now`` without a rate); ``None`` when the queue is full."""
        if not rate:
            return now
        start, cost = max(now, self._free_at.get(sender, now)), max(1, cost)
        if (start - now) * rate + cost > backlog_limit:  # what the queue holds, and this one
            return None
        self._free_at[sender] = start + cost / rate
        return start
