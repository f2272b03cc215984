"""The README's snippets run as written in a DAG: searches and exports find seeded items; the calls recipe runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import DAG

from airflow_provider_signalwire.testing.emulator import CALL_LONG_NUMBER

from .helpers import FROM_NUMBER, START, TO_NUMBER, api_requests, task_states, try_numbers, xcom_value

README = Path(__file__).resolve().parents[2] / "README.md"
RUN = datetime(2024, 6, 11, 1, tzinfo=UTC)  # logical date of a @daily run, or of a manual run at 01:00
OTHER_NUMBER = "+15557654321"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text[text.index(f"## {section}") :]
    body = body[: body.index("\n## ", 4)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def daily_dag(dag_id: str, code: str, **params: str) -> DAG:
    with DAG(dag_id, schedule="@daily", start_date=START, catchup=False, params=params) as dag:
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own snippet
    return dag


def seed_yesterday(emulator) -> set[str]:
    """Messages to FROM_NUMBER sent during the UTC day before RUN, and one on either side."""
    day = datetime(2024, 6, 10, tzinfo=UTC)
    emulator.inject_inbound_message(OTHER_NUMBER, FROM_NUMBER, "too early", date_sent=day - timedelta(seconds=1))
    emulator.inject_inbound_message(OTHER_NUMBER, FROM_NUMBER, "too late", date_sent=day + timedelta(days=1))
    return {
        emulator.inject_inbound_message(OTHER_NUMBER, FROM_NUMBER, f"reply {h}", date_sent=day + timedelta(hours=h))[
            "sid"
        ]
        for h in (0, 12, 23)
    }


def test_the_inbox_snippet_finds_yesterdays_messages_on_a_daily_schedule(run_dag, signalwire_emulator):
    (operators_block,) = [block for block in python_blocks("Operators") if "inbox = " in block]
    imports = operators_block[: operators_block.index(")\n") + 2]
    (inbox,) = re.findall(r"\n(# [^\n]*\ninbox = .*?\))\n", operators_block, flags=re.S)
    wanted = seed_yesterday(signalwire_emulator)

    dag_run = run_dag(daily_dag("readme_inbox", imports + inbox), logical_date=RUN)

    assert dag_run.state == "success", task_states(dag_run)
    assert {m["sid"] for m in xcom_value(dag_run, "inbox")} == wanted


# With no time between two status steps, a call to CALL_LONG_NUMBER is in progress as soon as it is placed: the
# redirect never meets a ringing call, so every task must succeed on its first try.
@pytest.mark.signalwire_emulator(status_step_seconds=0)
def test_the_calls_recipe_runs_as_a_dag_every_task_on_its_first_try(run_dag, signalwire_emulator):
    (operators_block,) = [block for block in python_blocks("Operators") if "inbox = " in block]
    imports = operators_block[: operators_block.index(")\n") + 2]
    calls_recipe = operators_block[len(imports) : operators_block.index("\nsms = ")]
    dag = daily_dag("readme_calls", imports + calls_recipe, on_call=TO_NUMBER, live_call_to=CALL_LONG_NUMBER)

    dag_run = run_dag(dag, logical_date=RUN)

    assert dag_run.state == "success", task_states(dag_run)
    assert set(try_numbers(dag_run).values()) == {1}, try_numbers(dag_run)
    waited, live = xcom_value(dag_run, "place_call"), xcom_value(dag_run, "place_live_call")
    assert waited["status"] == "completed" and xcom_value(dag_run, "look_up_call")["sid"] == waited["sid"]
    assert signalwire_emulator.get_call(waited["sid"]) is None, "its record deleted once it was over"
    updates = [r["form"] for r in api_requests(signalwire_emulator, "POST", rf"/Calls/{live['sid']}")]
    assert updates == [{"Url": ["https://example.com/cxml/next.xml"], "Method": ["GET"]}, {"Status": ["completed"]}]
    assert xcom_value(dag_run, "hang_up")["status"] == "completed"


def test_the_data_out_snippet_exports_and_searches_on_a_daily_schedule(run_dag, signalwire_emulator):
    (block,) = python_blocks("Data out")
    wanted = seed_yesterday(signalwire_emulator)
    # The export's first window is the day before its logical date, the seeded day; its lookback of 6 hours
    # reaches the message a second before it too.

    dag_run = run_dag(daily_dag("readme_data_out", block), logical_date=datetime(2024, 6, 11, tzinfo=UTC))

    assert dag_run.state == "success", task_states(dag_run)
    exported = xcom_value(dag_run, "export_messages")
    assert exported["count"] == 4
    written = [json.loads(line) for line in Path(exported["path"].removeprefix("file://")).read_text().splitlines()]
    assert wanted < {m["sid"] for m in written} and "too early" in {m["body"] for m in written}
    replies = xcom_value(dag_run, "replies")
    assert replies["count"] == 3
    rows = [json.loads(line) for line in Path(replies["path"].removeprefix("file://")).read_text().splitlines()]
    assert {r["sid"] for r in rows} == wanted and all(set(r) == {"sid", "from", "date_sent"} for r in rows)
    assert xcom_value(dag_run, "retention")["matched"] == 5, "every seeded message is older than 90 days"
