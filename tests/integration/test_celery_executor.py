"""The DAG under Airflow's CeleryExecutor, as docker-compose runs it: two workers, two queues.

A real api-server, scheduler and dag-processor on PostgreSQL metadata, Redis as the broker,
and two ``airflow celery worker`` processes (``airflow_stack``): ``worker-main`` on the default
queue and ``worker-analytics`` on the queue ``CREDIT_RISK_ANALYTICS_QUEUE`` names. The DAG is
unpaused and a second month triggered through ``/api/v2``; each task instance says which worker
ran it, and the published tables must equal ``credit-risk run`` of the same extracts.
Everything is stopped by PID.
"""

from __future__ import annotations

import datetime as dt

import pytest

from credit_risk import steps
from credit_risk.months import add_months, month_of
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import query
from tests.integration.airflow_stack import AirflowStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "credit_risk_monthly"
LAST_CLOSED = add_months(month_of(dt.datetime.now(dt.UTC)), -1)
MONTHS = [LAST_CLOSED, add_months(LAST_CLOSED, -1)]
"""In the order they run: the scheduled run on unpause, then a trigger of the month before."""
WORKERS = {"worker-main": ["default"], "worker-analytics": ["analytics"]}
ANALYTICS_TASKS = {"detect_anomalies", "score_customers"}
COMPARED = (
    ("statements", "customer_id, statement_month"),
    ("transactions", "transaction_id"),
    ("risk_segmentation", "customer_id, month"),
    ("customer_spend_rolling_avg", "customer_id, month"),
    ("customer_risk_current", "customer_id"),
    ("month_ledger", "month"),
)
ANOMALY_COLUMNS = "customer_id, month, monthly_spend, z_score, anomaly_score, is_anomaly"


@pytest.fixture(scope="module")
def stack(new_db_url, tmp_path_factory):
    """Generated data for the three months up to the last closed one (60 customers)."""
    root = tmp_path_factory.mktemp("celery_stack")
    db_url = new_db_url()
    with AirflowStack.running(
        root / "home",
        {
            "AIRFLOW_CONN_CREDIT_RISK_MYSQL": db_url,
            "CREDIT_RISK_DATA_DIR": str(root / "data"),
            "CREDIT_RISK_GENERATE_CUSTOMERS": "60",
            "CREDIT_RISK_GENERATE_START": add_months(LAST_CLOSED, -2),
            "CREDIT_RISK_GENERATE_MONTHS": "3",
            "CREDIT_RISK_ANALYTICS_QUEUE": "analytics",
        },
        DAG_ID,
        workers=WORKERS,
    ) as airflow:
        yield airflow, db_url


def workers_of(airflow: AirflowStack, run_id: str) -> dict[str, str]:
    """Task id -> the worker that ran it, for the run's successful tasks."""
    return {
        task: ti["hostname"]
        for task, ti in airflow.task_instances(DAG_ID, run_id).items()
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
    airflow, db_url = stack
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

    extracts = []
    for run in (scheduled, triggered):
        ran = workers_of(airflow, run["dag_run_id"])
        assert set(ran) >= ANALYTICS_TASKS, ran
        analytics = {task for task, host in ran.items() if host == "worker-analytics"}
        assert analytics == ANALYTICS_TASKS, ran
        assert {ran[task] for task in set(ran) - ANALYTICS_TASKS} == {"worker-main"}, ran
        extracts.append(extract_of(airflow, run["dag_run_id"]))
    assert [extract["month"] for extract in extracts] == MONTHS

    # the same extracts, in the same order, through the CLI's chain into another database
    cli_url = new_db_url()
    for extract in extracts:
        steps.run_extract(warehouse_from_url(cli_url), extract["source"], extract["month"])
    for relation, order in COMPARED:
        columns = "month, state" if relation == "month_ledger" else "*"
        by_dag = query(db_url, f"select {columns} from {relation} order by {order}")
        assert by_dag, relation
        assert by_dag == query(cli_url, f"select {columns} from {relation} order by {order}")
    anomalies = f"select {ANOMALY_COLUMNS} from spend_anomalies order by month, customer_id"
    assert query(db_url, anomalies) == query(cli_url, anomalies)
    assert len(query(db_url, anomalies)) == 60 * len(MONTHS)
