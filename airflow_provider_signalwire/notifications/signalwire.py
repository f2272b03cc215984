"""
Send an SMS when a task or a DAG run fails (or succeeds, retries, misses a deadline...).

Once only: before each SMS the notifier claims a marker for the event it reports (the task instance and try, the
DAG run for a DAG-level callback, or the deadline) and the recipient. A repeated or retried callback for the same
event finds the marker and sends nothing more, on whichever machine it runs: the markers live in Airflow's metadata
database (:class:`~airflow_provider_signalwire.ledger.SharedMarkers`, one Airflow Variable per alert and recipient,
taken atomically) and expire after ``marker_ttl`` seconds (default one day).

A failure to send is logged and never raised: a callback must not mask the task's own error. A marker is
released only when SignalWire certainly did not send the SMS (it refused the request, or the request never left),
so a repeated callback tries again; it is kept when the SMS may have gone out. When the database cannot be
reached, the SMS is sent without a marker and a warning says so: an alert that might repeat beats none.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import warnings
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_signalwire.api.resources.messages import MAX_BODY_LENGTH

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.hooks.signalwire import SignalWireHook
    from airflow_provider_signalwire.ledger import SharedMarkers

DEFAULT_CONN_ID = "signalwire_default"
DEFAULT_MARKER_TTL = 24 * 3600.0


def _recipients(to: Any) -> list[str]:
    values = [to] if isinstance(to, str) else list(to or [])
    found: list[str] = []
    for value in values:
        for number in re.split(r"[,;\s]+", str(value)):
            if number and number not in found:
                found.append(number)
    return found


class SignalWireNotifier(BaseNotifier):
    """
    Send an SMS with SignalWire from a callback: ``on_failure_callback`` and friends, on tasks and DAGs.

    One SMS per recipient, once per event (see the module's documentation for the marker): a repeated or
    retried callback for the same task instance and try, DAG run or deadline sends nothing more, whichever
    machine runs it. A failure to send is logged, never raised. Use it in the triggerer (deadline alerts) too:
    ``async_notify`` sends from a worker thread, without blocking the event loop.

    :param to: the recipient's number, or several (a list, or one string separated by commas) (templated).
    :param body: the text (templated, up to 1600 characters, longer is cut). Default: names the DAG, the
        task, the run and the try, with a link to the log (for a DAG-level callback: the DAG run and the task
        that failed, in one SMS segment where it fits; for a deadline: the DAG run).
    :param from_: the sending number (templated); default: the connection's ``default_from``.
    :param signalwire_conn_id: the Airflow connection to SignalWire.
    :param marker_ttl: seconds a marker lasts; default one day.
    :param marker_dir: ignored, with a ``DeprecationWarning``: the markers live in Airflow's metadata database.
    """

    template_fields: tuple[str, ...] = ("to", "body", "from_")

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        body: str | None = None,
        from_: str | None = None,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        marker_ttl: float = DEFAULT_MARKER_TTL,
        marker_dir: str | None = None,
        context: Context | None = None,
    ) -> None:
        super().__init__(context=context)
        if marker_dir is not None:
            warnings.warn(
                "SignalWireNotifier: marker_dir is ignored: its once-only markers live in Airflow's metadata "
                "database, which every machine shares.",
                DeprecationWarning,
                stacklevel=2,
            )
        self.to = to
        self.body = body
        self.from_ = from_
        self.signalwire_conn_id = signalwire_conn_id
        self.marker_ttl = marker_ttl
        # Taken before templating: a repeated callback is recognised even if its rendering differs.
        self._fingerprint = hashlib.sha256(
            json.dumps([signalwire_conn_id, body, from_, to], default=str).encode()
        ).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signalwire_conn_id={self.signalwire_conn_id!r}, to={self.to!r})"

    def __call__(self, *args: Any) -> None:
        # Rendering writes the rendered values onto the instance: work on a copy, so that one notifier
        # attached to several tasks renders each time from its templates. And never raise.
        try:
            copy.copy(self)._render_and_notify(*args)
        except Exception:
            self.log.exception("SignalWire notification failed")

    def _render_and_notify(self, *args: Any) -> None:
        super().__call__(*args)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        # Airflow before 3.3 keeps a field's template when it renders empty ("{{ '' }}" would stay as written).
        if not jinja_env:
            jinja_env = self.get_template_env(dag=context.get("dag"))
        for name in self.template_fields:
            setattr(self, name, self.render_template(getattr(self, name), context, jinja_env))

    def get_template_env(self, dag: Any = None) -> Any:
        # A DAG-level callback run by ``dag.test()`` gets a serialized DAG, which has no template environment.
        return super().get_template_env(dag=dag if hasattr(dag, "get_template_env") else None)

    def __await__(self) -> Generator[Any, None, None]:
        return self._guarded_async_notify().__await__()

    async def _guarded_async_notify(self) -> None:
        try:
            notifier = copy.copy(self)
            context = notifier.context
            notifier._update_context(context)
            notifier.render_template_fields(context)
            await notifier.async_notify(context)
        except Exception:
            self.log.exception("SignalWire notification failed")

    def notify(self, context: Context) -> None:
        """Send the SMS to each recipient not yet told of this event; log, never raise, a failure."""
        try:
            self._send_all(context)
        except Exception:
            self.log.exception("SignalWire notification failed")

    async def async_notify(self, context: Context) -> None:
        """As :meth:`notify`, from a worker thread so that the triggerer's event loop is not blocked."""
        await asyncio.to_thread(self.notify, context)

    def _send_all(self, context: Mapping[str, Any]) -> None:
        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE
        from airflow_provider_signalwire.exceptions import SignalWireInputError
        from airflow_provider_signalwire.hooks.signalwire import SignalWireHook
        from airflow_provider_signalwire.ledger import SharedMarkers
        from airflow_provider_signalwire.notifications.events import default_body, describe

        recipients = _recipients(self.to)
        if not recipients:
            self.log.error("SignalWire notification not sent: 'to' names no recipient.")
            return
        identity, facts = describe(context)
        body = str(self.body) if self.body else default_body(facts)
        if len(body) > MAX_BODY_LENGTH:
            self.log.warning("SignalWire notification text cut to %d characters.", MAX_BODY_LENGTH)
            body = body[: MAX_BODY_LENGTH - 3] + "..."
        hook = SignalWireHook(self.signalwire_conn_id)
        defaults = hook.settings.defaults  # a missing or broken connection fails here, before any marker is taken
        markers = None
        if identity is None:
            self.log.warning("SignalWire notification: the context names no task, run or deadline; sending anyway.")
        else:
            markers = SharedMarkers(
                f"notifier_{self._fingerprint}", float(self.marker_ttl), conn_id=self.signalwire_conn_id
            )
        for recipient in recipients:
            arguments = {"to": recipient, "from_": self.from_ or None, "body": body}
            try:
                CREATE_MESSAGE.encode(arguments, defaults)  # what SignalWire would refuse, before the marker
            except SignalWireInputError as error:
                self.log.error("SignalWire notification to %s not sent: %s", recipient, error)
                continue
            self._send_once(hook, markers, identity, arguments)

    def _send_once(
        self, hook: SignalWireHook, markers: SharedMarkers | None, identity: str | None, arguments: dict[str, Any]
    ) -> bool:
        """Send one SMS unless its marker says it went out already; whether it is out (now or before)."""
        from airflow_provider_signalwire.api.retries import certainly_not_processed
        from airflow_provider_signalwire.ledger import digest

        recipient, name, token = arguments["to"], digest(identity, arguments["to"]), None
        if markers is not None and identity is not None:
            try:
                token = markers.claim(name, {"event": identity.replace("\n", " ")})
            except Exception as error:
                self.log.warning(
                    "SignalWire notifier cannot tell whether this alert went out already (its markers in Airflow's "
                    "metadata database are out of reach: %s); sending it anyway.",
                    error,
                )
            else:
                if token is None:
                    self.log.info("SignalWire notification to %s already sent for this event.", recipient)
                    return True
        try:
            message = hook.create_message(**arguments)
        except Exception as error:
            self.log.error("SignalWire notification to %s failed: %s", recipient, error)
            if markers is not None and token is not None and certainly_not_processed(error):
                try:
                    markers.release(name, token)  # SignalWire sent nothing: a repeated callback may try again
                except Exception as release_error:
                    self.log.warning("SignalWire notifier could not release its marker: %s", release_error)
            return False
        self.log.info("SignalWire notification sent to %s (message %s).", recipient, message.get("sid"))
        return True


send_signalwire_notification = SignalWireNotifier
