"""
Send an SMS when a task or a DAG run fails (or succeeds, retries, misses a deadline...).

Once only: before each SMS the notifier claims a marker file for the event it reports (the task instance and
try, the DAG run for a DAG-level callback, or the deadline) and the recipient. A repeated or retried callback
for the same event finds the marker and sends nothing more. The markers live in
``[signalwire] notifier_marker_dir`` (default ``$AIRFLOW_HOME/signalwire/notifier-markers``) and expire after
``marker_ttl`` seconds (default one day); expired ones are removed as the notifier runs. When the callbacks of one
DAG may run on several machines, point that directory at storage they share.

A failure to send is logged and never raised: a callback must not mask the task's own error. A marker is
released when SignalWire certainly did not send the SMS (it refused the request, or the request never left), so
a repeated callback tries again; it is kept when the SMS may have gone out. When the directory cannot be
written, the SMS is sent without a marker (a warning says so): an alert that might repeat beats none.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import os
import re
import time
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_signalwire.api.resources.messages import MAX_BODY_LENGTH
from airflow_provider_signalwire.exceptions import SignalWireApiError, SignalWireConnectionError

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_CONN_ID = "signalwire_default"
DEFAULT_MARKER_TTL = 24 * 3600.0
MARKER_DIR_OPTION = ("signalwire", "notifier_marker_dir")


def default_marker_dir() -> str:
    """``[signalwire] notifier_marker_dir``, else ``$AIRFLOW_HOME/signalwire/notifier-markers``."""
    from airflow_provider_signalwire.compat import conf

    configured = conf.get(*MARKER_DIR_OPTION, fallback="") or ""
    if configured:
        return os.path.expanduser(configured)
    home = os.path.expanduser(os.environ.get("AIRFLOW_HOME") or "~/airflow")
    return os.path.join(home, "signalwire", "notifier-markers")


class MarkerStore:
    """
    Once-only markers: one file per (event, recipient), created atomically, expiring after ``ttl`` seconds.

    :param directory: where the marker files are kept (created when missing).
    :param ttl: seconds after which a marker no longer counts and is removed.
    """

    def __init__(self, directory: str, ttl: float) -> None:
        self.directory = Path(directory)
        self.ttl = ttl

    def _path(self, identity: str) -> Path:
        return self.directory / f"{hashlib.sha256(identity.encode()).hexdigest()}.json"

    def claim(self, identity: str, description: Mapping[str, Any]) -> Path | None:
        """Create the marker of ``identity``; ``None`` when a live one exists (already sent)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(identity)
        for _ in range(2):
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                if not self._expired(path):
                    return None
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w") as marker:
                json.dump({**description, "claimed_at": time.time()}, marker)
            return path
        return None

    def _expired(self, path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime > self.ttl
        except FileNotFoundError:
            return True

    def release(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def prune(self) -> None:
        """Remove expired markers (best effort)."""
        try:
            entries = list(self.directory.glob("*.json"))
        except OSError:
            return
        for path in entries:
            if self._expired(path):
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)


def _get(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _event(context: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """
    What the callback reports, as an identity for the once-only marker, and the facts for the default text.

    A deadline is known by its id; a DAG-level callback (its context has a ``reason``) by the DAG run and the
    times it was cleared; a task callback by the task instance and its try. ``None`` when none applies.
    """
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    facts: dict[str, Any] = {
        "dag_id": _get(dag, "dag_id") or _get(dag_run, "dag_id") or _get(ti, "dag_id"),
        "run_id": context.get("run_id") or _get(dag_run, "run_id") or _get(dag_run, "dag_run_id"),
    }
    deadline = context.get("deadline")
    if deadline is not None:
        facts["kind"] = "deadline"
        deadline_id = _get(deadline, "id")
        return (f"deadline\n{deadline_id}" if deadline_id else None), facts
    if "reason" in context:
        facts.update(kind="dag", reason=context.get("reason"))
        if not facts["dag_id"] or not facts["run_id"]:
            return None, facts
        clear_number = _get(dag_run, "clear_number") or 0
        # The reason tells a DAG's success callback from its failure callback for the same run.
        return f"dag\n{facts['dag_id']}\n{facts['run_id']}\n{clear_number}\n{facts['reason']}", facts
    facts.update(
        kind="task",
        task_id=_get(ti, "task_id"),
        map_index=_get(ti, "map_index"),
        try_number=_get(ti, "try_number"),
        state=_get(ti, "state"),
        log_url=_safe_log_url(ti),
    )
    if ti is None or not facts["dag_id"] or not facts["task_id"] or not facts["run_id"]:
        return None, facts
    return (
        # The state tells one callback of a try from another (execute, retry, failure, success...).
        f"task\n{facts['dag_id']}\n{facts['task_id']}\n{facts['run_id']}\n{facts['map_index']}\n{facts['try_number']}"
        f"\n{facts['state']}",
        facts,
    )


def _safe_log_url(ti: Any) -> str | None:
    try:
        url = _get(ti, "log_url")
    except Exception:
        return None
    return url if isinstance(url, str) else None


def default_body(facts: Mapping[str, Any]) -> str:
    """The SMS sent when no ``body`` is given: the DAG, the task, the run, and a link to the log."""
    dag_id, run_id = facts.get("dag_id") or "?", facts.get("run_id") or "?"
    if facts.get("kind") == "deadline":
        return f"Airflow: DAG {dag_id}, run {run_id}, missed its deadline."
    if facts.get("kind") == "dag":
        from urllib.parse import quote

        from airflow_provider_signalwire.compat import conf

        # The same base as the task log links (``ti.log_url``).
        base = (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
        text = f"Airflow: DAG {dag_id}, run {run_id}: {facts.get('reason') or 'finished'}."
        return text + f" {base}/dags/{dag_id}/runs/{quote(str(run_id), safe='')}"
    state = getattr(facts.get("state"), "value", facts.get("state"))
    what = f"ended {state}" if state else "needs attention"
    text = f"Airflow: task {facts.get('task_id')} of DAG {dag_id} {what} (run {run_id}, try {facts.get('try_number')})."
    return text + (f" Log: {facts['log_url']}" if facts.get("log_url") else "")


def _maybe_sent(error: BaseException) -> bool:
    """Whether SignalWire may have sent the SMS despite the error (then it must not be sent again)."""
    if isinstance(error, SignalWireConnectionError):
        return error.request_may_have_been_processed
    if isinstance(error, SignalWireApiError):
        return error.status >= 500
    return False


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
    retried callback for the same task instance and try, DAG run or deadline sends nothing more. A failure to
    send is logged, never raised. Use it in the triggerer (deadline alerts) too: ``async_notify`` sends from a
    worker thread, without blocking the event loop.

    :param to: the recipient's number, or several (a list, or one string separated by commas) (templated).
    :param body: the text (templated, up to 1600 characters, longer is cut). Default: names the DAG, the
        task, the run and the try, with a link to the log (for a DAG-level callback: the DAG run and the
        reason; for a deadline: the DAG run).
    :param from_: the sending number (templated); default: the connection's ``default_from``.
    :param signalwire_conn_id: the Airflow connection to SignalWire.
    :param marker_dir: where the once-only markers are kept; default ``[signalwire] notifier_marker_dir``,
        else ``$AIRFLOW_HOME/signalwire/notifier-markers``.
    :param marker_ttl: seconds a marker lasts; default one day.
    """

    template_fields = ("to", "body", "from_")

    def __init__(
        self,
        *,
        to: str | Sequence[str],
        body: str | None = None,
        from_: str | None = None,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        marker_dir: str | None = None,
        marker_ttl: float = DEFAULT_MARKER_TTL,
        context: Context | None = None,
    ) -> None:
        super().__init__(context=context)
        self.to = to
        self.body = body
        self.from_ = from_
        self.signalwire_conn_id = signalwire_conn_id
        self.marker_dir = marker_dir
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
        from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

        recipients = _recipients(self.to)
        if not recipients:
            self.log.error("SignalWire notification not sent: 'to' names no recipient.")
            return
        identity, facts = _event(context)
        body = str(self.body) if self.body else default_body(facts)
        if len(body) > MAX_BODY_LENGTH:
            self.log.warning("SignalWire notification text cut to %d characters.", MAX_BODY_LENGTH)
            body = body[: MAX_BODY_LENGTH - 3] + "..."
        store = MarkerStore(self.marker_dir or default_marker_dir(), float(self.marker_ttl))
        store.prune()
        if identity is None:
            self.log.warning("SignalWire notification: the context names no task, run or deadline; sending anyway.")
        hook = SignalWireHook(self.signalwire_conn_id)
        for recipient in recipients:
            marker = None
            if identity is not None:
                description = {"event": identity.replace("\n", " "), "to": recipient}
                try:
                    marker = store.claim(f"{self._fingerprint}\n{identity}\n{recipient}", description)
                except OSError as error:
                    # An alert that might repeat is better than none: send without the once-only marker.
                    self.log.warning("SignalWire notifier cannot keep its marker in %s: %s", store.directory, error)
                else:
                    if marker is None:
                        self.log.info("SignalWire notification to %s already sent for this event.", recipient)
                        continue
            try:
                message = hook.create_message(to=recipient, from_=self.from_ or None, body=body)
            except Exception as error:
                if marker is not None and not _maybe_sent(error):
                    store.release(marker)
                self.log.error("SignalWire notification to %s failed: %s", recipient, error)
                continue
            self.log.info("SignalWire notification sent to %s (message %s).", recipient, message.get("sid"))


send_signalwire_notification = SignalWireNotifier
