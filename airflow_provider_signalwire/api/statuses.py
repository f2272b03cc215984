"""A resource's statuses: which exist, after which it changes no more, and which of those count as a failure."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from airflow_provider_signalwire.exceptions import SignalWireInputError


class Statuses:
    """
    :param singular: the resource in words (``call``), for errors.
    :param known: every status the API gives.
    :param final: the statuses after which an item changes no more.
    :param failed: the final statuses that fail a task by default.
    :param final_without_report: statuses also final for items that get no delivery report (an MMS: ``sent``).
    :param gets_no_report: whether an item gets no delivery report.
    :param created_without_report: whether a create with these arguments makes an item with no delivery report.
    """

    __slots__ = (
        "created_without_report",
        "failed",
        "final",
        "final_without_report",
        "gets_no_report",
        "known",
        "singular",
    )

    def __init__(
        self,
        singular: str,
        *,
        known: tuple[str, ...],
        final: frozenset[str],
        failed: frozenset[str],
        final_without_report: frozenset[str] = frozenset(),
        gets_no_report: Callable[[Mapping[str, Any]], bool] | None = None,
        created_without_report: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        self.singular = singular
        self.known = known
        self.final = final
        self.failed = failed
        self.final_without_report = final_without_report
        self.gets_no_report = gets_no_report or (lambda item: False)
        self.created_without_report = created_without_report or (lambda arguments: False)

    def check_failed(self, statuses: Any) -> frozenset[str]:
        """Read ``failed_statuses``: ``None`` for the defaults, else a status or a collection of known ones."""
        if statuses is None:
            return self.failed
        values = [statuses] if isinstance(statuses, str) else statuses
        if not isinstance(values, Collection) or not all(isinstance(v, str) for v in values):
            raise SignalWireInputError(
                f"SignalWire {self.singular}: 'failed_statuses' must be a list of {self.singular} statuses; "
                f"got {statuses!r}."
            )
        unknown = sorted(set(values) - set(self.known))
        if unknown:
            raise SignalWireInputError(
                f"SignalWire {self.singular}: 'failed_statuses' has unknown status(es) {', '.join(unknown)}; "
                f"allowed: {', '.join(self.known)}."
            )
        return frozenset(values)

    def final_for(self, item: Mapping[str, Any], no_report: bool = False) -> frozenset[str]:
        """
        The statuses after which ``item`` changes no more; ``no_report`` says it gets no delivery report even
        when the item does not show it (a message sent with ``send_as_mms``).
        """
        if no_report or self.gets_no_report(item):
            return self.final | self.final_without_report
        return self.final

    def outcome(self, item: Mapping[str, Any], failed: Collection[str], no_report: bool = False) -> str | None:
        """``None`` while the item can still change, else ``"success"`` or ``"failed"``."""
        status = item.get("status")
        if status in failed:
            return "failed"
        if status in self.final_for(item, no_report):
            return "success"
        return None

    def failure_text(self, item: Mapping[str, Any]) -> str:
        """Say how an item failed, with SignalWire's error code and message (and SIP code) when it gives them."""
        text = f"SignalWire {self.singular} {item.get('sid')} ended with status {item.get('status')!r}"
        code, message = item.get("error_code"), item.get("error_message")
        if code:
            text += f": error {code}"
        if message:
            text += f": {message}"
        sip = item.get("sip_result_code")
        if sip:
            text += f" (SIP {sip})"
        return text + "."
