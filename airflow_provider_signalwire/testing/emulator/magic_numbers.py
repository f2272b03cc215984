"""Destination numbers (the ``To`` of an outbound call or message) whose call or message goes wrong on purpose."""

from __future__ import annotations

MESSAGE_UNDELIVERED_NUMBER = "+15005550001"  # message: sent, then undelivered (30003, unreachable handset)
MESSAGE_FAILED_NUMBER = "+15005550002"  # message: failed (30007, filtered), never sent
CALL_BUSY_NUMBER = "+15005550003"  # call: ringing, then busy
CALL_NO_ANSWER_NUMBER = "+15005550004"  # call: ringing, then no-answer
CALL_FAILED_NUMBER = "+15005550005"  # call: failed at once
CALL_LONG_NUMBER = "+15005550006"  # call: answered, in-progress until hung up
STAYS_QUEUED_NUMBER = "+15005550007"  # call or message: queued forever (a full backlog)
