"""`make demo`'s verdict on a DAG: ok only if every task succeeded on its first try, as the metadata DB says."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from airflow_provider_signalwire.operators import SignalWireSendMessageOperator

from .helpers import FROM_NUMBER, TO_NUMBER, one_task_dag

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def load_demo():
    spec = importlib.util.spec_from_file_location("demo_script", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_dag_whose_task_passed_on_its_retry_is_not_ok(run_dag, signalwire_emulator, tmp_path):
    demo = load_demo()
    signalwire_emulator.add_fault("status", method="POST", path=r"/Messages$", status=400, times=1)
    dag = one_task_dag("demo_verdict_retried", SignalWireSendMessageOperator, to=TO_NUMBER, from_=FROM_NUMBER, body="x")

    dag_run = run_dag(dag)

    assert dag_run.state == "success", "the retry hides the first try's failure from the run's state"
    tries = demo.task_tries("demo_verdict_retried", dict(os.environ), cwd=tmp_path)
    assert tries == [("create", -1, "success", 2)]
    assert demo.not_first_try_successes(tries) == ["create: success on try 2"]


def test_a_dag_whose_tasks_all_passed_on_their_first_try_is_ok(run_dag, signalwire_emulator, tmp_path):
    demo = load_demo()
    dag = one_task_dag("demo_verdict_clean", SignalWireSendMessageOperator, to=TO_NUMBER, from_=FROM_NUMBER, body="Hi")

    assert run_dag(dag).state == "success"
    tries = demo.task_tries("demo_verdict_clean", dict(os.environ), cwd=tmp_path)
    assert tries == [("create", -1, "success", 1)]
    assert demo.not_first_try_successes(tries) == []
    assert demo.not_first_try_successes([]) == ["no task instances found"], "a run that left nothing is not ok"
