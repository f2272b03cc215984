"""What an Airflow callback reports, as the notifier tells it apart from others and says it in an SMS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Characters in one SMS segment: GSM-7 text, else UCS-2 (any non-ASCII character, roughly).
SEGMENT_LENGTH, UNICODE_SEGMENT_LENGTH = 160, 70


def _get(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def describe(context: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """
    What the callback reports: its identity for the once-only marker, and the facts for the default text.

    A deadline is known by its id; a DAG-level callback (its context has a ``reason``, and from the last task
    instance that failed, its ``ti``) by the DAG run and the times it was cleared; a task callback by the task
    instance and its try. The identity is ``None`` when none applies.
    """
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    facts: dict[str, Any] = {
        "dag_id": _get(dag, "dag_id") or _get(dag_run, "dag_id") or _get(ti, "dag_id"),
        "run_id": context.get("run_id") or _get(dag_run, "run_id") or _get(dag_run, "dag_run_id"),
        "task_id": _get(ti, "task_id"),
        "map_index": _get(ti, "map_index"),
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
    facts.update(kind="task", try_number=_get(ti, "try_number"), state=_get(ti, "state"), log_url=_safe_log_url(ti))
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


def fits_one_segment(text: str) -> bool:
    return len(text) <= (SEGMENT_LENGTH if text.isascii() else UNICODE_SEGMENT_LENGTH)


def default_body(facts: Mapping[str, Any]) -> str:
    """
    The SMS sent when no ``body`` is given: the DAG, the run, the task and its try, with a link to the task's log;
    for a DAG-level alert the task that failed, and a link to the run when the text still fits one SMS segment.
    """
    dag_id, run_id = facts.get("dag_id") or "?", facts.get("run_id") or "?"
    task = facts.get("task_id")
    if task is not None and facts.get("map_index") not in (None, -1):
        task = f"{task}[{facts['map_index']}]"
    if facts.get("kind") == "deadline":
        return f"Airflow: DAG {dag_id}, run {run_id}, missed its deadline."
    if facts.get("kind") == "dag":
        reason = facts.get("reason") or "finished"
        if reason == "task_failure" and task:
            text = f"Airflow: DAG {dag_id} failed at task {task} (run {run_id})."
        else:
            text = f"Airflow: DAG {dag_id}, run {run_id}: {reason}."
        with_link = f"{text} {run_url(dag_id, run_id)}"
        return with_link if fits_one_segment(with_link) else text
    state = getattr(facts.get("state"), "value", facts.get("state"))
    what = f"ended {state}" if state else "needs attention"
    text = f"Airflow: task {task} of DAG {dag_id} {what} (run {run_id}, try {facts.get('try_number')})."
    return text + (f" Log: {facts['log_url']}" if facts.get("log_url") else "")


def run_url(dag_id: str, run_id: str) -> str:
    """A DAG run's page, on the same base as the task log links (``ti.log_url``)."""
    from urllib.parse import quote

    from airflow_provider_signalwire.compat import conf

    base = (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{quote(str(run_id), safe='')}"
