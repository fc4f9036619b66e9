"""DAG integrity: it imports cleanly, is scheduled on month-long intervals, retries, is tagged."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable
from airflow.timetables.interval import (
    CronDataIntervalTimetable as CoreCronDataIntervalTimetable,
)

from tests.conftest import REPO_ROOT

DAG_ID = "credit_risk_monthly"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags[DAG_ID]


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dag_ids


def test_dag_id_matches_its_file_name(dag):
    assert (REPO_ROOT / "dags" / f"{dag.dag_id}.py").is_file()


def test_schedule_is_a_monthly_data_interval_timetable(dag):
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    # the scheduler's own timetable of the same expression decides the intervals
    core = CoreCronDataIntervalTimetable(dag.timetable.expression, dag.timetable.timezone)
    interval = core.infer_manual_data_interval(run_after=dt.datetime(2024, 3, 1, tzinfo=dt.UTC))
    assert interval.start == dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    assert interval.end == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    assert dag.max_active_runs == 1


def test_every_task_retries_with_a_delay_but_a_decision_is_asked_once(dag):
    for task in dag.tasks:
        if task.task_id == "approve_shift":
            assert task.retries == 0  # a retry would ask on-call again
            continue
        assert task.retries >= 2, task.task_id
        assert task.retry_delay.total_seconds() > 0, task.task_id


def test_dag_is_documented_and_tagged(dag):
    assert {"credit-risk", "monthly"} <= set(dag.tags)
    assert dag.doc_md and "data interval" in dag.doc_md


def test_task_graph(dag):
    edges = {
        (task.task_id, downstream) for task in dag.tasks for downstream in task.downstream_task_ids
    }
    order = [
        "validate_input",
        "load_month",
        "validate_loaded",
        "build_views",
        "validate_published",
        "publish_views",
    ]
    analytics = ["detect_anomalies", "record_scores"]
    # every gate sits between the step it checks and the next; analytics read what was
    # published, for every month the publication holds; the extract (its month) feeds every
    # task up to build_views, whose build (its id and months) feeds the published gate and the
    # publication
    expected = set(itertools.pairwise(order)) - {("validate_published", "publish_views")}
    # the published gate's verdict routes: publish, or ask on-call about a shift first
    expected |= {
        ("validate_published", "route_verdict"),
        ("route_verdict", "publish_views"),
        ("route_verdict", "approve_shift"),
        ("approve_shift", "publish_views"),
    }
    expected |= {("build_views", "publish_views")}
    expected |= {("publish_views", task_id) for task_id in [*analytics, "train_model"]}
    expected |= {(task_id, "summarize_risk") for task_id in analytics}
    # the model is trained once per month, the customers scored in mapped shards, the run
    # recorded once every shard is in
    expected |= {("train_model", "score_shard"), ("score_shard", "record_scores")}
    expected |= {
        ("prepare_extract", task_id)
        for task_id in [*order, "summarize_risk"]
        if task_id not in ("validate_published", "publish_views")
    }
    assert edges == expected


def test_publish_views_publishes_every_view_as_an_asset(dag):
    from credit_risk.catalog import PUBLISHED_VIEWS

    outlets = dag.get_task("publish_views").outlets
    assert sorted(asset.name for asset in outlets) == sorted(
        f"credit_risk.{view}" for view in PUBLISHED_VIEWS
    )


def test_failures_page_on_call_and_a_watchdog_not_a_deadline_alert_watches_lateness(dag):
    from credit_risk.alerts import OnCallNotifier

    dags = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags
    watchdog = dags["credit_risk_refresh_watchdog"]
    for task in (*dag.tasks, *watchdog.tasks):
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(isinstance(callback, OnCallNotifier) for callback in callbacks), task.task_id
    # Airflow 3.3.2's DeadlineAlert breaks Clear (apache/airflow#70368) and dags test (#73428)
    assert not dag.deadline
    assert [task.task_id for task in watchdog.tasks] == ["check_refresh_deadline"]


def test_dag_file_has_no_heavy_imports_at_top_level():
    source = (REPO_ROOT / "dags" / f"{DAG_ID}.py").read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    heavy = [
        line
        for line in top_level
        if any(
            name in line
            for name in (
                "pandas",
                "MySQLdb",
                "numpy",
                "sqlalchemy",
                "credit_risk.pipeline",
                "credit_risk.warehouse",
            )
        )
    ]
    assert heavy == []


def test_every_task_and_both_dags_say_what_they_do():
    dags = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags
    for dag_id in (DAG_ID, "credit_risk_refresh_watchdog"):
        dag = dags[dag_id]
        assert dag.description and dag.doc_md, dag_id
        for task in dag.tasks:
            assert task.doc_md and "\n" not in task.doc_md.strip(), task.task_id


def test_the_trigger_form_needs_nothing_and_offers_an_optional_month():
    params = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags[DAG_ID].params
    for name in ("month", "source"):
        param = params.get_param(name)
        assert param.value is None, name  # empty by default: the Trigger button is enabled
        assert "null" in param.schema["type"], name
    params.validate()  # the defaults are a valid trigger
    month = params.get_param("month")
    month.resolve("2024-03")
    with pytest.raises(Exception, match="does not match"):
        month.resolve("March")


def test_the_warehouse_connection_id_is_written_once():
    """The DAGs, the dashboard and the CLI name the connection by catalog.WAREHOUSE_CONN_ID."""
    import re

    from credit_risk.catalog import WAREHOUSE_CONN_ID

    literal = re.compile(rf"""["']{re.escape(WAREHOUSE_CONN_ID)}["']""")
    sources = [
        path
        for folder in ("src", "dags", "plugins")
        for path in (REPO_ROOT / folder).rglob("*.py")
        if literal.search(path.read_text(encoding="utf-8"))
    ]
    assert [path.relative_to(REPO_ROOT).as_posix() for path in sources] == [
        "src/credit_risk/catalog.py"
    ]


def test_the_analytics_tasks_go_to_their_own_queue_when_one_is_set(dag):
    """CREDIT_RISK_ANALYTICS_QUEUE routes the memory-heavy analytics to the workers started
    for it; unset, every task is on Airflow's default queue."""
    import json
    import os
    import subprocess
    import sys

    default = {task.task_id: task.queue for task in dag.tasks}
    assert len(set(default.values())) == 1, default
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from airflow.dag_processing.dagbag import DagBag; "
            f"dag = DagBag(dag_folder={str(REPO_ROOT / 'dags')!r}).dags[{DAG_ID!r}]; "
            "print(json.dumps({t.task_id: t.queue for t in dag.tasks}))",
        ],
        env={**os.environ, "CREDIT_RISK_ANALYTICS_QUEUE": "analytics"},
        capture_output=True,
        text=True,
        check=True,
    )
    queues = json.loads(probe.stdout.strip().splitlines()[-1])
    analytics = {"detect_anomalies", "train_model", "score_shard", "record_scores"}
    assert {task for task, queue in queues.items() if queue == "analytics"} == analytics
    assert {queues[task] for task in queues if task not in analytics} == set(default.values())
