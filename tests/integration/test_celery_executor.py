"""The DAG under Airflow's CeleryExecutor, as docker-compose runs it: two workers, two queues,
the month's scoring mapped over customer shards.

A real api-server, scheduler and dag-processor on PostgreSQL metadata, Redis as the broker,
and two ``airflow celery worker`` processes of one task slot each (``airflow_stack``):
``worker-main`` on the default queue and the analytics queue, ``worker-analytics`` on the
analytics queue only (the queue ``CREDIT_RISK_ANALYTICS_QUEUE`` names). The DAG is unpaused
and a second month triggered through ``/api/v2``; each task instance says which worker ran it:
the database steps only ``worker-main``, the shards of ``score_shard`` both. The published
tables must equal ``credit-risk run`` of the same extracts. Everything is stopped by PID.
"""

from __future__ import annotations

import datetime as dt

import pytest

from credit_risk import steps
from credit_risk.months import add_months, month_of, month_range
from credit_risk.settings import get_settings
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import query
from tests.integration.airflow_stack import AirflowStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "credit_risk_monthly"
LAST_CLOSED = add_months(month_of(dt.datetime.now(dt.UTC)), -1)
MONTHS = [LAST_CLOSED, add_months(LAST_CLOSED, -1)]
"""In the order they run: the scheduled run on unpause, then a trigger of the month before."""
HISTORY = month_range(add_months(LAST_CLOSED, -7), 7)
"""Published by the CLI before the DAG runs (up to the month before the last closed one, so
the triggered run is a reload): enough labelled months for both runs to score."""
WORKERS = {"worker-main": ["default", "analytics"], "worker-analytics": ["analytics"]}
ANALYTICS_TASKS = {"detect_anomalies", "train_model", "score_shard", "record_scores"}
SHARDS = 4
COMPARED = (
    ("statements", "customer_id, statement_month"),
    ("transactions", "transaction_id"),
    ("risk_segmentation", "customer_id, month"),
    ("customer_spend_rolling_avg", "customer_id, month"),
    ("customer_risk_current", "customer_id"),
    ("month_ledger", "month"),
)
ANOMALY_COLUMNS = "customer_id, month, monthly_spend, z_score, anomaly_score, is_anomaly"


def publish_history(db_url: str, generation: dict[str, str]) -> None:
    """``credit-risk run`` of each month of ``HISTORY``, cut from the generated data."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in generation.items():
            env.setenv(name, value)
        get_settings.cache_clear()
        try:
            for month in HISTORY:
                source = steps.prepare_extract(month)["source"]
                steps.run_extract(warehouse_from_url(db_url), source, month)
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def stack(new_db_url, tmp_path_factory):
    """Generated data for the eight months up to the last closed one (60 customers), all but
    the last published."""
    root = tmp_path_factory.mktemp("celery_stack")
    db_url = new_db_url()
    generation = {
        "CREDIT_RISK_DATA_DIR": str(root / "data"),
        "CREDIT_RISK_GENERATE_CUSTOMERS": "60",
        "CREDIT_RISK_GENERATE_START": HISTORY[0],
        "CREDIT_RISK_GENERATE_MONTHS": "8",
    }
    publish_history(db_url, generation)
    with AirflowStack.running(
        root / "home",
        {
            "AIRFLOW_CONN_CREDIT_RISK_MYSQL": db_url,
            **generation,
            "CREDIT_RISK_ANALYTICS_QUEUE": "analytics",
            "CREDIT_RISK_SHARDS": str(SHARDS),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",  # a worker busy with a shard takes no other
        },
        DAG_ID,
        workers=WORKERS,
    ) as airflow:
        yield airflow, db_url, generation


def workers_of(airflow: AirflowStack, run_id: str) -> dict[tuple[str, str], str]:
    """(task id, the UI's map index: the shard's label) -> the worker that ran it, for the
    run's successful tasks."""
    return {
        (ti["task_id"], ti["rendered_map_index"] or ""): ti["hostname"]
        for ti in airflow.task_instance_list(DAG_ID, run_id)
        if ti["state"] == "success"
    }


def extract_of(airflow: AirflowStack, run_id: str) -> dict:
    response = airflow.api(
        "GET",
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/prepare_extract/xcomEntries/return_value",
        params={"deserialize": True},
    )
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_months_run_on_both_workers_by_queue_and_equal_a_cli_run(stack, new_db_url):
    airflow, db_url, generation = stack
    response = airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert response.status_code == 200, response.text
    (scheduled,) = airflow.wait_for_runs(DAG_ID, 1, timeout=900)
    assert scheduled["state"] == "success", airflow.logs()

    response = airflow.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"month": MONTHS[1]}},
    )
    assert response.status_code == 200, response.text
    triggered = airflow.wait_for_run(DAG_ID, response.json()["dag_run_id"], timeout=900)
    assert triggered["state"] == "success", airflow.logs()

    extracts, shard_workers = [], set()
    # the scheduled run publishes its month; the trigger reloads the month before, whose
    # windows the last month reads, so it republishes (and scores) both
    for run, months in ((scheduled, MONTHS[:1]), (triggered, MONTHS)):
        ran = workers_of(airflow, run["dag_run_id"])
        assert {task for task, _ in ran} >= ANALYTICS_TASKS, ran
        shards = {label for task, label in ran if task == "score_shard"}
        assert shards == {f"{m} shard {k}/{SHARDS}" for m in months for k in range(1, 5)}, ran
        database_steps = {host for (task, _), host in ran.items() if task not in ANALYTICS_TASKS}
        assert database_steps == {"worker-main"}, ran
        shard_workers |= {host for (task, _), host in ran.items() if task == "score_shard"}
        extracts.append(extract_of(airflow, run["dag_run_id"]))
    assert shard_workers == set(WORKERS), "the shards are spread over both workers"
    assert [extract["month"] for extract in extracts] == MONTHS

    # the same extracts, in the same order, through the CLI's chain into another database
    cli_url = new_db_url()
    publish_history(cli_url, generation)
    for extract in extracts:
        steps.run_extract(warehouse_from_url(cli_url), extract["source"], extract["month"])
    for relation, order in COMPARED:
        columns = "month, state" if relation == "month_ledger" else "*"
        by_dag = query(db_url, f"select {columns} from {relation} order by {order}")
        assert by_dag, relation
        assert by_dag == query(cli_url, f"select {columns} from {relation} order by {order}")
    anomalies = f"select {ANOMALY_COLUMNS} from spend_anomalies order by month, customer_id"
    assert query(db_url, anomalies) == query(cli_url, anomalies)
    assert len(query(db_url, anomalies)) == 60 * (len(HISTORY) + 1)
    runs = "select scored_month, run_status, model_version, n_scored from model_runs order by 1"
    assert query(db_url, runs) == query(cli_url, runs)
    scored = {month for month, status, *_ in query(db_url, runs) if status == "scored"}
    assert scored >= set(MONTHS), "both DAG runs scored their month in shards"
    predictions = "select * from high_risk_predictions order by month, customer_id"
    assert query(db_url, predictions) == query(cli_url, predictions)
