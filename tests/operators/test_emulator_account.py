"""The emulator serves the project (``GET /Accounts/{Sid}``) as the spec documents it; the README's call to it runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import DAG

from .helpers import START, task_states, xcom_value

README = Path(__file__).resolve().parents[2] / "README.md"


def emulator_snippet() -> str:
    text = README.read_text()
    section = text[text.index("## The local emulator") :]
    section = section[: section.index("\n## ", 4)]
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", section, flags=re.S) if "Accounts/" in b]
    return block


def test_the_readmes_account_call_runs_against_the_emulator_and_no_secret_reaches_xcom(run_dag, signalwire_conn):
    with DAG("readme_account", schedule=None, start_date=START, catchup=False) as dag:
        exec(compile(emulator_snippet(), "README.md", "exec"), {})  # noqa: S102 - the README's own snippet

    dag_run = run_dag(dag, logical_date=datetime(2024, 6, 11, tzinfo=UTC))

    assert dag_run.state == "success", task_states(dag_run)
    account = xcom_value(dag_run, "account")
    assert account["sid"] == account["owner_account_sid"] == signalwire_conn.project_id
    assert account["uri"] == f"/api/laml/2010-04-01/Accounts/{signalwire_conn.project_id}"
    assert account["auth_token"] == "redacted", "the spec: 'Always returns redacted for security'"
    assert signalwire_conn.api_token not in json.dumps(account)
