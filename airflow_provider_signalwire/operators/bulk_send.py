"""
:class:`SignalWireBulkSendOperator`: a personalised SMS to each of many recipients, at the number's rate,
resumable after a retry or a lost worker, and never twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.compat import AirflowException
from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.base import SignalWireBaseOperator, as_seconds
from airflow_provider_signalwire.operators.bulk_ledger import BULK_RECORD, forget_bulk_record
from airflow_provider_signalwire.operators.bulk_pacing import RATE_BY_NUMBER_TYPE

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_PROGRESS_INTERVAL = 10.0


class SignalWireBulkSendOperator(SignalWireBaseOperator):
    """
    Text each of many recipients a personalised SMS (or MMS), paced at the sending number's rate; returns a summary.

    Before anything is sent every text is rendered and checked: a template error, a text over ``max_segments`` or a
    run over ``max_total_segments`` fails the task naming the recipient. Then recipients are texted in order, one
    at a time; a retry (or a new worker after one was lost) goes on after the last confirmed send, and a send whose
    answer was lost is looked for at SignalWire before its recipient is texted again. A send answered too late
    (after the connection's ``timeout``) is never sent again: it is looked for once SignalWire can have acted on
    it, while the others go on, and settles as sent, or as ``unknown`` when SignalWire still has no such message.

    :param recipients: a list of numbers; a list of dicts, each with ``to`` and the fields its text uses; an
        upstream task's ``.output`` giving either; or an ``ObjectStoragePath`` or URL (``file://``, ``s3://``...)
        of a CSV file (header row, a ``to`` column) or a JSON lines file (templated).
    :param body: a Jinja template rendered for each recipient with its fields (also as ``recipient``) and the
        task's context, e.g. ``"Hi {{ name }}, see you {{ ds }}"``.
    :param recipients_format: ``"csv"`` or ``"jsonl"`` when the file's name does not end so (templated).
    :param on_bad_row: what a malformed row of a recipients file does (a missing or extra column, an empty ``to``,
        a quote left open, a line that is not a JSON object): ``"fail"`` (default) fails the task before anything
        is sent, naming the file and every such row's line and column; ``"skip"`` texts the other rows, logs the
        skipped rows' lines and counts them as ``bad_rows`` in the summary. Never their contents (templated).
    :param media_url: a media URL or a list of up to 8, sent to everyone (makes each an MMS) (templated).
    :param from_: the sending number; default: ``messaging_service_sid``, else the connection's ``default_from``
        (templated).
    :param messaging_service_sid: the number group to send from, instead of ``from_`` (templated).
    :param number_type: the kind of sending number, which sets the default rate: ``long_code`` (1 message a
        second), ``10dlc`` (4), ``toll_free`` (3), ``short_code`` (10) (templated).
    :param messages_per_second: the rate to send at, in segments per second (templated); default from
        ``number_type``, divided among the mapped instances that run at once (``max_active_tis_per_dagrun``).
    :param max_segments: the most segments one text may take (templated); ``None`` for no limit.
    :param max_total_segments: the most segments the whole run may take (templated); ``None`` for no limit.
    :param suppress: numbers never texted: a list, or a CSV / JSON lines file like ``recipients`` (templated).
    :param suppress_format: ``"csv"`` or ``"jsonl"`` when the suppress file's name does not end so (templated).
    :param results_path: where to write each recipient's outcome (``index``, ``to``, ``outcome``, ``sid``,
        ``code``, ``segments``) as JSON lines: an ``ObjectStoragePath`` or URL (templated). Never the text.
    :param fail_on: fail the task at the end when at least this many recipients failed or have an unknown
        outcome (templated); opt-outs and invalid numbers are skipped, not failed. ``None`` never fails for them.
    :param progress_interval: seconds between two progress lines in the log, at most 10 (templated).
    """

    template_fields: Sequence[str] = (
        *SignalWireBaseOperator.template_fields,
        "recipients",
        "recipients_format",
        "on_bad_row",
        "media_url",
        "from_",
        "messaging_service_sid",
        "number_type",
        "messages_per_second",
        "max_segments",
        "max_total_segments",
        "suppress",
        "suppress_format",
        "results_path",
        "fail_on",
        "progress_interval",
    )

    def __init__(
        self,
        *,
        recipients: Any,
        body: str | None = None,
        recipients_format: str | None = None,
        on_bad_row: str = "fail",
        media_url: str | Sequence[str] | None = None,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        number_type: str = "long_code",
        messages_per_second: float | str | None = None,
        max_segments: int | str | None = None,
        max_total_segments: int | str | None = None,
        suppress: Any = None,
        suppress_format: str | None = None,
        results_path: Any = None,
        fail_on: int | str | None = 1,
        progress_interval: float | str = DEFAULT_PROGRESS_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recipients = recipients
        self.body = body
        self.recipients_format = recipients_format
        self.on_bad_row = on_bad_row
        self.media_url = media_url
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid
        self.number_type = number_type
        self.messages_per_second = messages_per_second
        self.max_segments = max_segments
        self.max_total_segments = max_total_segments
        self.suppress = suppress
        self.suppress_format = suppress_format
        self.results_path = results_path
        self.fail_on = fail_on
        self.progress_interval = progress_interval
        callbacks = self.on_success_callback
        self.on_success_callback = [
            *(callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []),
            forget_bulk_record,
        ]

    # Arguments --------------------------------------------------------------------------------------

    def rate(self, context: Mapping[str, Any]) -> float:
        """Segments per second for this task instance."""
        if self.messages_per_second is not None:
            return as_seconds("messages_per_second", self.messages_per_second)
        if self.number_type not in RATE_BY_NUMBER_TYPE:
            raise SignalWireInputError(
                f"SignalWire: number_type must be one of {', '.join(RATE_BY_NUMBER_TYPE)}; got {self.number_type!r}."
            )
        rate = RATE_BY_NUMBER_TYPE[self.number_type]
        at_once = getattr(self, "max_active_tis_per_dagrun", None)
        if getattr(context["ti"], "map_index", -1) >= 0 and at_once:
            self.log.info("Mapped: sending at %s / %d instances at once, per instance", rate, at_once)
            return rate / at_once
        return rate

    def message_arguments(self, to: str, body: str) -> dict[str, Any]:
        arguments = {
            "to": to,
            "from_": self.from_,
            "body": body or None,
            "media_url": self.media_url,
            "messaging_service_sid": self.messaging_service_sid,
        }
        return {name: value for name, value in arguments.items() if value is not None}

    # The flow -------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE
        from airflow_provider_signalwire.ledger import TaskLedger
        from airflow_provider_signalwire.operators.bulk_ledger import fresh_state, summary, upgrade, write_results
        from airflow_provider_signalwire.operators.bulk_plan import check_limits, make_plan, whole_number_or_none
        from airflow_provider_signalwire.operators.bulk_recipients import (
            check_on_bad_row,
            described,
            recipient_source,
            storage_path,
            suppressed_numbers,
        )

        rate = self.rate(context)
        interval = min(as_seconds("progress_interval", self.progress_interval), DEFAULT_PROGRESS_INTERVAL)
        max_segments = whole_number_or_none("max_segments", self.max_segments)
        max_total = whole_number_or_none("max_total_segments", self.max_total_segments)
        fail_on = whole_number_or_none("fail_on", self.fail_on)
        results_path = None if self.results_path is None else storage_path(self.results_path)
        source = recipient_source(self.recipients, self.recipients_format, check_on_bad_row(self.on_bad_row))
        suppressed = suppressed_numbers(self.suppress, self.suppress_format)
        render = self._renderer(context)
        defaults = self.hook.settings.defaults

        def check(recipient: Mapping[str, Any], body: str) -> None:
            CREATE_MESSAGE.encode(self.message_arguments(recipient["to"], body), defaults)

        plan = make_plan(source(), render, check, suppressed, media=bool(self.media_url))
        check_limits(plan, max_segments, max_total)
        if source.bad_row_count:
            self.log.warning(
                "Skipping %d malformed rows of the recipients file (on_bad_row='skip'), texting the others: %s",
                source.bad_row_count,
                described(source.bad_rows, source.bad_row_count),
            )
        self.log.info(
            "Bulk send to %d recipients: %d segments in all, at %g segments a second",
            plan.identity["count"],
            plan.total_segments,
            rate,
        )

        ledger = TaskLedger(context)
        state = ledger.get(BULK_RECORD)
        if state is not None and state.get("recipients") != plan.identity:
            raise AirflowException(
                "An earlier try of this task texted a different recipient list (another length or other numbers); "
                "not going on with this one. Clear the task to start the new list afresh."
            )
        state = fresh_state(plan.identity) if state is None else upgrade(state)
        if state["next"]:
            self.log.info("An earlier try settled the first %d recipients; going on after them.", state["next"])
        from airflow_provider_signalwire.operators.bulk_run import BulkRun

        run = BulkRun(self, ledger, state, results_path, rate, interval, plan)
        run.send_all(source(), render)
        if results_path is not None and not state.get("results_written"):
            write_results(state, results_path)
            state.update(results_written=True, pending=[], parts=0)
        ledger.set(BULK_RECORD, state)
        result = {**summary(state, results_path), "bad_rows": source.bad_row_count}
        self.log.info("Bulk send done: %s", {k: v for k, v in result.items() if k not in ("first_sid", "last_sid")})
        failed, unknown = state["counts"]["failed"], state["counts"]["unknown"]
        if unknown:
            self.log.warning(
                "%d recipients' sends got no answer in time and SignalWire had no such message after looking "
                "more than once: whether they were texted is unknown (outcome 'unknown' in the results); none of "
                "them is texted again, by this try or a retry.",
                unknown,
            )
        if fail_on is not None and failed + unknown >= fail_on:
            problems = f"{failed} recipients failed" + (f", {unknown} with an unknown outcome" if unknown else "")
            raise AirflowException(
                f"{problems} (fail_on={fail_on}); sent {state['counts']['sent']}, skipped "
                f"{state['counts']['skipped']}; error codes: {result['error_codes']}. A retry does not text "
                "anyone again."
            )
        return result

    def _renderer(self, context: Mapping[str, Any]) -> Any:
        import jinja2

        env = self.get_template_env(dag=self.dag if self.has_dag() else None)
        if not self.has_dag():
            env.undefined = jinja2.StrictUndefined
        template = env.from_string(self.body or "")
        base = dict(context)
        return lambda recipient: template.render({**base, **recipient, "recipient": recipient})

    def send_timeout(self) -> timedelta:
        """The longest a create can be on its way: the hook retries until total_timeout, then one more read."""
        return timedelta(seconds=self.hook.retry_policy.total_timeout + self.hook.settings.timeout)
