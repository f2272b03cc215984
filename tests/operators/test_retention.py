"""The retention operator: in real DAG runs against the emulator, no body left in Airflow, resumable, paced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import DAG

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators import SignalWireMessageRetentionOperator

from .helpers import FROM_NUMBER, START, TO_NUMBER, api_requests, rendered_fields, task_states, try_numbers, xcom_value

BODY = "My card is 4111 1111 1111 1111"


def seed_old(emulator, n: int, days: int = 100) -> list[str]:
    first = datetime.now(UTC) - timedelta(days=days)
    return [
        emulator.inject_inbound_message(TO_NUMBER, FROM_NUMBER, f"{BODY} #{i}", date_sent=first + timedelta(minutes=i))[
            "sid"
        ]
        for i in range(n)
    ]


def retention_dag(dag_id: str, **arguments) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=START, catchup=False) as dag:
        SignalWireMessageRetentionOperator(
            task_id="retention", retries=1, retry_delay=timedelta(0), **{"older_than": timedelta(days=30), **arguments}
        )
    return dag


def acted_on(emulator, method: str) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1].removesuffix(".json") for r in api_requests(emulator, method, r"/Messages/")]


def test_redaction_leaves_no_body_in_xcom_rendered_fields_or_logs(run_dag, signalwire_emulator, capfd):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    old = seed_old(signalwire_emulator, 3)
    recent = signalwire_emulator.inject_inbound_message(TO_NUMBER, FROM_NUMBER, f"{BODY} recent")
    dag = retention_dag("retention_no_body", older_than="{{ 30 * 86400 }}")

    dag_run = run_dag(dag)

    assert dag_run.state == "success", task_states(dag_run)
    assert xcom_value(dag_run, "retention") == {
        "matched": 3,
        "redacted": 3,
        "deleted": 0,
        "skipped": {},
        "cutoff": xcom_value(dag_run, "retention")["cutoff"],
        "dry_run": False,
    }
    assert sorted(acted_on(signalwire_emulator, "POST")) == sorted(old)
    assert signalwire_emulator.get_message(recent["sid"])["body"] == f"{BODY} recent"
    assert all(signalwire_emulator.get_message(sid)["body"] == "" for sid in old)
    with create_session() as session:
        xcoms = [str(row.value) for row in session.query(XComModel).filter_by(dag_id=dag.dag_id)]
        rendered = [
            str(row.rendered_fields) for row in session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag.dag_id)
        ]
    assert xcoms and rendered, "the run stored its XCom and rendered fields"
    assert rendered_fields(dag_run, "retention")["older_than"] == "2592000"
    printed = capfd.readouterr()
    assert "SignalWire retention done: 3 matched, 3 redacted" in printed.out + printed.err
    for text in (*xcoms, *rendered, printed.out, printed.err):
        assert "4111" not in text


def test_a_retry_after_a_lost_answer_acts_on_no_message_twice(run_dag, signalwire_emulator):
    old = seed_old(signalwire_emulator, 5)
    lost = old[2]
    # The redaction of one message goes through but its answer is lost; every retry of it is then refused
    # unanswered until the hook gives up, and the task fails.
    signalwire_emulator.add_fault(kind="drop_after", method="POST", path=rf"/Messages/{lost}$", times=1)
    signalwire_emulator.add_fault(kind="drop_before", method="POST", path=rf"/Messages/{lost}$", times=20)
    dag = retention_dag("retention_resume", page_size=10)

    dag_run = run_dag(dag)

    assert dag_run.state == "success", task_states(dag_run)
    assert try_numbers(dag_run)["retention"] == 2, "the first try failed on the lost answer"
    posts = acted_on(signalwire_emulator, "POST")
    assert sorted(sid for sid in posts if sid != lost) == sorted(set(old) - {lost}), "every other message once"
    order = [(r["method"], r["path"]) for r in api_requests(signalwire_emulator, path_regex=rf"/Messages/{lost}")]
    assert ("GET", order[-1][1]) in order, "the retry looked the message up instead of redacting it again"
    first_look = order.index(("GET", order[-1][1]))
    assert all(method == "GET" for method, _ in order[first_look:]), "no redaction of it after the retry began"
    counts = xcom_value(dag_run, "retention")
    assert (counts["matched"], counts["redacted"]) == (5, 5), "each message counted once"
    assert all(signalwire_emulator.get_message(sid)["body"] == "" for sid in old)


def test_delete_clears_the_body_where_signalwire_refuses_to_delete(signalwire_conn, context):
    old = seed_old(signalwire_conn, 2)
    signalwire_conn.add_fault(
        kind="status", method="DELETE", path=rf"/Messages/{old[0]}$", status=400, code=20009, message="refused"
    )

    counts = SignalWireMessageRetentionOperator(task_id="r", older_than=86400, action="delete").execute(context)

    assert (counts["matched"], counts["deleted"], counts["redacted"]) == (2, 1, 1)
    assert counts["skipped"] == {"delete refused (error 20009)": 1}
    assert signalwire_conn.get_message(old[0])["body"] == "" and signalwire_conn.get_message(old[1]) is None


def test_a_dry_run_counts_and_changes_nothing(signalwire_conn, context):
    seed_old(signalwire_conn, 4)

    counts = SignalWireMessageRetentionOperator(
        task_id="r", older_than=timedelta(days=30), action="delete", dry_run="true"
    ).execute(context)

    assert (counts["matched"], counts["deleted"], counts["skipped"]) == (4, 0, {"dry run": 4})
    assert api_requests(signalwire_conn, "DELETE") == api_requests(signalwire_conn, "POST") == []


def test_actions_are_paced(signalwire_conn, context):
    import time

    seed_old(signalwire_conn, 5)
    started = time.monotonic()

    SignalWireMessageRetentionOperator(task_id="r", older_than=86400, max_per_second=20).execute(context)

    assert time.monotonic() - started >= 4 / 20, "five redactions at 20 a second take at least 0.2 s"
    assert len(api_requests(signalwire_conn, "POST")) == 5


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"action": "archive"}, "'action' must be one of redact, delete; got 'archive'"),
        ({"older_than": "90 days"}, "'older_than' must be a timedelta or a number of seconds"),
        ({"dry_run": "maybe"}, "'dry_run' must be true or false; got 'maybe'"),
        ({"max_per_second": 0}, "'max_per_second' must be a number of seconds above 0"),
        ({"status": "lost"}, "'status' must be one of queued"),
    ],
)
def test_bad_arguments_are_named_before_any_request(signalwire_conn, context, arguments, named):
    with pytest.raises(SignalWireInputError) as raised:
        SignalWireMessageRetentionOperator(task_id="r", **{"older_than": 86400, **arguments}).execute(context)
    assert named in str(raised.value)
    assert signalwire_conn.requests == []


def test_a_retry_of_a_delete_deletes_the_media_only_messages_too(run_dag, signalwire_emulator):
    # Half of them are MMS with media and no body: "no body" must not pass for "already redacted" on the retry.
    first = datetime.now(UTC) - timedelta(days=100)
    for i in range(10):
        body, media = (f"{BODY} #{i}", ()) if i % 2 else ("", ("https://example.com/photo.jpg",))
        signalwire_emulator.inject_inbound_message(
            TO_NUMBER, FROM_NUMBER, body, media_urls=media, date_sent=first + timedelta(minutes=i)
        )
    old = [m["sid"] for m in signalwire_emulator.messages]
    # The third delete fails every time the hook tries it: the first try of the task fails there.
    signalwire_emulator.add_fault(kind="status", method="DELETE", path=rf"/Messages/{old[2]}$", status=500, times=5)
    dag = retention_dag("retention_delete_resume", action="delete", page_size=20)

    dag_run = run_dag(dag)

    counts = xcom_value(dag_run, "retention")
    left = [sid for sid in old if signalwire_emulator.get_message(sid) is not None]
    print("counts:", counts, "left at SignalWire:", len(left))
    assert dag_run.state == "success", task_states(dag_run)
    assert try_numbers(dag_run)["retention"] == 2, "the first try failed on the third delete"
    assert left == [], "every message deleted, its media with it"
    assert (counts["matched"], counts["deleted"], counts["redacted"]) == (10, 10, 0)
    assert api_requests(signalwire_emulator, "POST") == [], "nothing was redacted"
