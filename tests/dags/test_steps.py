"""The DAG's tasks are the steps of ``credit_risk.steps``: the same names, in the same order, and
each task calls its own step; the steps themselves import nothing of Airflow."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from airflow.dag_processing.dagbag import DagBag

from credit_risk import approval, steps
from tests.conftest import REPO_ROOT

AIRFLOW_ONLY = {"route_verdict"}
"""Tasks that are Airflow's control flow and do no work of their own."""
TASK_OF_STEP = {"decide_shift": "approve_shift"}
"""Steps run by a task of another name (on-call's answer arrives in the approval task)."""


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


def _task_ids(steps_list) -> list[str]:
    return [TASK_OF_STEP.get(name, name) for name in steps_list]


def test_the_monthly_dag_runs_exactly_the_steps(dagbag):
    dag = dagbag.dags["credit_risk_monthly"]
    assert set(dag.task_ids) - AIRFLOW_ONLY == set(_task_ids(steps.MONTHLY_STEPS))


def test_no_task_runs_before_a_step_listed_ahead_of_it(dagbag):
    dag = dagbag.dags["credit_risk_monthly"]
    order = _task_ids(steps.MONTHLY_STEPS)
    for position, task_id in enumerate(order):
        upstream = dag.get_task(task_id).get_flat_relative_ids(upstream=True)
        later = set(order[position + 1 :]) & upstream
        assert not later, f"{task_id} runs after {later}, listed after it in MONTHLY_STEPS"


def test_the_watchdog_runs_its_step(dagbag):
    dag = dagbag.dags["credit_risk_refresh_watchdog"]
    assert set(dag.task_ids) == set(steps.WATCHDOG_STEPS)


@pytest.mark.parametrize(
    ("dag_id", "names"),
    [
        ("credit_risk_monthly", steps.MONTHLY_STEPS),
        ("credit_risk_refresh_watchdog", steps.WATCHDOG_STEPS),
    ],
)
def test_every_task_calls_the_step_of_its_name(dagbag, dag_id, names):
    dag = dagbag.dags[dag_id]
    for name in names:
        assert callable(getattr(steps, name)), name
        task = dag.get_task(TASK_OF_STEP.get(name, name))
        callable_ = getattr(task, "python_callable", None)
        source = inspect.getsource(callable_ if callable_ else approval)
        assert f"steps.{name}" in source, f"task {task.task_id} does not call steps.{name}"


def test_the_steps_import_nothing_of_airflow():
    code = (
        "import sys, credit_risk.steps, credit_risk.cli\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_steps_leave_pandas_and_the_suites_to_the_steps_that_need_them():
    """``credit-risk load`` imports the steps before it starts the server's bulk load: pandas and
    Great Expectations come later, while the server is already loading."""
    code = (
        "import sys, credit_risk.steps\n"
        "print(sorted(m for m in ('pandas', 'great_expectations') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
