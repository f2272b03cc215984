"""
Text a human-in-the-loop request to its responders, with a one-time code they reply with to answer it.

For ``notifiers=[...]`` of the standard provider's ``ApprovalOperator``, ``HITLOperator``, ``HITLBranchOperator``
and ``HITLEntryOperator``: the operator calls it once it has written its request, before it waits. Each responder
(see :mod:`airflow_provider_signalwire.hitl`) gets one SMS with the subject, the options, the code, the deadline
and the link to the request in Airflow's UI; a reply such as ``APPROVE 48213377`` to the number answers it (see
:mod:`airflow_provider_signalwire.webhooks.hitl_replies`).

Once per request: the code and each SMS are claimed as markers in Airflow's metadata database, by the request's
task instance id, so a repeated call for the same request sends nothing more and keeps the same code.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_signalwire.notifications.hitl_body import default_hitl_body
from airflow_provider_signalwire.notifications.signalwire import DEFAULT_CONN_ID, SignalWireNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_signalwire.hitl import Responder
    from airflow_provider_signalwire.ledger import SharedMarkers

CODE_ATTEMPTS = 5


class SignalWireHITLNotificationError(RuntimeError):
    """A human-in-the-loop request could be texted to none of its responders."""


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


class SignalWireHITLNotifier(SignalWireNotifier):
    """
    Text each responder of a human-in-the-loop request a one-time code to answer it by replying to the SMS.

    Responders are the Airflow users mapped to numbers in the connection's ``hitl_responders`` extra: the
    request's ``assigned_users`` that have a number (those without one are named in a warning), or every mapped
    user when the request names none. A request that reaches nobody must not wait unseen: when no responder can be
    texted (no mapped responder, a bad mapping, the markers out of reach, every SMS refused) the notifier raises,
    and the task fails (and retries, if it may). A responder who cannot be texted while others can is logged.

    :param body: the text (templated); ``{{ hitl.subject }}``, ``{{ hitl.options }}``, ``{{ hitl.code }}``,
        ``{{ hitl.deadline }}`` and ``{{ hitl.link }}`` give the request's facts. Default: see
        :func:`~airflow_provider_signalwire.notifications.hitl_body.default_hitl_body`, one SMS segment: the
        subject, then the link, give way to the options and the code.
    :param from_: the sending number (templated), the one responders reply to; default: the connection's
        ``default_from``. Its messaging webhook must reach the receiver of ``signalwire_conn_id``.
    :param signalwire_conn_id: the Airflow connection to SignalWire, holding ``hitl_responders``.
    :param code_digits: digits of the code, 6 to 10 (default 8: see the README's "Approve by text" for the odds of
        guessing one).
    :param base_url: the Airflow UI's address for the link; default ``[api] base_url``.
    """

    template_fields: tuple[str, ...] = ("from_",)

    def __init__(
        self,
        *,
        body: str | None = None,
        from_: str | None = None,
        signalwire_conn_id: str = DEFAULT_CONN_ID,
        code_digits: int = 8,
        base_url: str | None = None,
        context: Context | None = None,
    ) -> None:
        if isinstance(code_digits, bool) or not isinstance(code_digits, int) or not 6 <= code_digits <= 10:
            raise ValueError(
                f"SignalWireHITLNotifier code_digits must be a whole number from 6 to 10; got {code_digits!r}."
            )
        super().__init__(to=[], from_=from_, signalwire_conn_id=signalwire_conn_id, context=context)
        self.body_template = body
        self.code_digits = code_digits
        self.base_url = base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(signalwire_conn_id={self.signalwire_conn_id!r})"

    def __call__(self, *args: Any) -> None:
        # Unlike an alert, a request that nobody was told of would wait unseen: what stops it fails the task.
        copy.copy(self)._render_and_notify(*args)

    def notify(self, context: Context) -> None:
        """Text the request's responders; raises :class:`SignalWireHITLNotificationError` when nobody got it."""
        self._send_all(context)

    def _send_all(self, context: Mapping[str, Any]) -> None:
        from airflow_provider_signalwire.api.resources.messages import CREATE_MESSAGE
        from airflow_provider_signalwire.exceptions import SignalWireInputError
        from airflow_provider_signalwire.hitl import read_responders, request_markers
        from airflow_provider_signalwire.hooks.signalwire import SignalWireHook

        task, ti = context.get("task"), context.get("ti") or context.get("task_instance")
        options = list(getattr(task, "options", None) or [])
        if ti is None or not options or not getattr(ti, "id", None):
            raise SignalWireHITLNotificationError(
                "SignalWire HITL notification not sent: it only serves human-in-the-loop operators' notifiers."
            )
        try:
            responders = read_responders(self.signalwire_conn_id)
        except ValueError as error:
            raise SignalWireHITLNotificationError(f"SignalWire HITL notification not sent: {error}") from None
        targets = self._targets(task, responders)
        if not targets:
            raise SignalWireHITLNotificationError(
                f"SignalWire HITL notification not sent: no responder has a number (connection "
                f"{self.signalwire_conn_id!r}, extra 'hitl_responders'); the request would wait unseen."
            )
        hook = SignalWireHook(self.signalwire_conn_id)
        defaults = hook.settings.defaults  # a missing or broken connection fails here, before any marker
        markers = request_markers(self.signalwire_conn_id)
        facts = self._facts(context, task, ti, options, targets, markers)
        body = self._body(context, facts)
        identity = f"hitl\n{ti.id}"
        reached: list[str] = []
        for responder in targets:
            arguments = {"to": responder.phone, "from_": self.from_ or None, "body": body}
            try:
                CREATE_MESSAGE.encode(arguments, defaults)
            except SignalWireInputError as error:
                self.log.error("SignalWire HITL notification to user %s not sent: %s", responder.user_id, error)
                continue
            if self._send_once(hook, markers, identity, arguments):
                reached.append(responder.user_id)
        if not reached:
            raise SignalWireHITLNotificationError(
                f"SignalWire HITL notification reached none of {len(targets)} responder(s) (see the errors above); "
                "the request would wait unseen."
            )
        self.log.info("SignalWire HITL request texted to %s.", ", ".join(reached))

    def _targets(self, task: Any, responders: dict[str, Responder]) -> list[Responder]:
        assigned = [str(user.get("id")) for user in getattr(task, "assigned_users", None) or []]
        if not assigned:
            targets = list(responders.values())
        else:
            targets = [responders[user] for user in assigned if user in responders]
            unmapped = [user for user in assigned if user not in responders]
            if unmapped:
                self.log.warning(
                    "SignalWire HITL notification: assigned users %s have no number in the connection's "
                    "'hitl_responders' extra and get no SMS.",
                    ", ".join(unmapped),
                )
        return targets

    def _facts(
        self,
        context: Mapping[str, Any],
        task: Any,
        ti: Any,
        options: list[str],
        targets: list[Responder],
        markers: SharedMarkers,
    ) -> dict[str, Any]:
        from airflow_provider_signalwire.compat import conf
        from airflow_provider_signalwire.hitl import CODE_GRACE, NO_DEADLINE_TTL, options_text

        now = datetime.now(timezone.utc)
        # Standard provider 1.12 (Airflow 3.1) bounds the wait with execution_timeout, later ones response_timeout.
        timeout = getattr(task, "response_timeout", None) or getattr(task, "execution_timeout", None)
        deadline = now + timeout if isinstance(timeout, timedelta) else None
        base = self.base_url or conf.get("api", "base_url", fallback="") or "http://localhost:8080"
        has_params = bool(getattr(task, "params", None))
        request = {
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "ti_id": str(ti.id),
            "options": options,
            "multiple": bool(getattr(task, "multiple", False)),
            "users": [responder.user_id for responder in targets],
            "expires_at": (deadline.timestamp() + CODE_GRACE) if deadline else now.timestamp() + NO_DEADLINE_TTL,
        }
        code = None if has_params else self._code_for(markers, request)
        return {
            "subject": _text(getattr(task, "subject", "")),
            "options": options_text(options),
            "code": code,
            "deadline": deadline.strftime("%b %d %H:%M UTC") if deadline else None,
            "link": task.generate_link_to_ui(task_instance=ti, base_url=base),
        }

    def _code_for(self, markers: SharedMarkers, request: dict[str, Any]) -> str:
        """The request's code: the one already given to it, else a new one no live request holds."""
        from airflow_provider_signalwire.hitl import code_marker, code_sealer, new_code, request_marker
        from airflow_provider_signalwire.hooks.base import read_settings

        sealer = code_sealer(read_settings(self.signalwire_conn_id).api_token)
        name = request_marker(request["ti_id"])
        kept = markers.get(name)
        if kept:
            return sealer.decrypt(str(kept["sealed_code"]).encode()).decode()
        # A code counts only as long as its request can use it.
        ttl = max(60.0, float(request["expires_at"]) - time.time())
        for _ in range(CODE_ATTEMPTS):
            code = new_code(self.code_digits)
            token = markers.claim(code_marker(code), request, ttl=ttl)
            if token is None:
                continue  # another live request holds this code
            # The request's marker keeps its code sealed: whoever may read Variables must not read codes.
            sealed = sealer.encrypt(code.encode()).decode()
            if markers.claim(name, {"sealed_code": sealed}, ttl=ttl) is None:  # a concurrent call gave it its code
                markers.release(code_marker(code), token)
                return sealer.decrypt(str((markers.get(name) or {})["sealed_code"]).encode()).decode()
            return code
        raise RuntimeError(f"no free {self.code_digits}-digit code after {CODE_ATTEMPTS} draws; give more code_digits")

    def _body(self, context: Mapping[str, Any], facts: dict[str, Any]) -> str:
        from airflow_provider_signalwire.api.resources.messages import MAX_BODY_LENGTH
        from airflow_provider_signalwire.api.segments import count_segments

        if self.body_template:
            jinja_env = self.get_template_env(dag=context.get("dag"))
            values: dict[str, Any] = {**context, "hitl": facts}
            body = str(self.render_template(self.body_template, values, jinja_env))  # type: ignore[arg-type]
        else:
            body = default_hitl_body(facts)
            segments = count_segments(body).segments
            if segments > 1:
                self.log.warning(
                    "SignalWire HITL notification text takes %d SMS segments: its options are long.", segments
                )
        if len(body) > MAX_BODY_LENGTH:
            self.log.warning("SignalWire HITL notification text cut to %d characters.", MAX_BODY_LENGTH)
            body = body[: MAX_BODY_LENGTH - 3] + "..."
        return body
