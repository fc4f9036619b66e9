"""Real DAG runs with ``dag.test()`` against a throwaway MariaDB database."""

from __future__ import annotations

import pendulum
import pytest

from credit_risk.analytics.model import score_customers
from credit_risk.months import add_months, month_range
from credit_risk.pipeline import GenerationSpec, generated_dataset
from credit_risk.settings import get_settings
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import REPO_ROOT, query

pytestmark = pytest.mark.integration

DAG_ID = "credit_risk_monthly"


@pytest.fixture
def monthly_dag(airflow_home, db_url, settings_env, monkeypatch, tmp_path):
    """The real DAG, wired to a throwaway database and a small generated dataset."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_RISK_MYSQL", db_url)
    settings_env(
        data_dir=tmp_path / "data",
        generate_profile="realistic",
        generate_customers=60,
        generate_months=12,
        generate_start="2024-01",
        generate_seed=7,
    )
    dagbag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert dagbag.import_errors == {}
    return dagbag.dags[DAG_ID]


def run_month(dag, month: str):
    """Run the DAG for ``month`` the way the scheduler does once the month has closed."""
    year, mon = map(int, add_months(month, 1).split("-"))
    return dag.test(logical_date=pendulum.datetime(year, mon, 1, tz="UTC"))


def test_one_monthly_run_loads_and_publishes_its_month(monthly_dag, db_url):
    dag_run = run_month(monthly_dag, "2024-03")
    assert dag_run.state == "success"
    assert dag_run.data_interval_start == pendulum.datetime(2024, 3, 1, tz="UTC")
    assert query(db_url, "select distinct statement_month from statements") == [("2024-03",)]
    assert query(db_url, "select distinct month from risk_segmentation") == [("2024-03",)]
    (statements,) = query(db_url, "select count(*) from statements")[0]
    assert statements == 60
    audit = query(
        db_url,
        "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from load_audit",
    )[0]
    assert audit[0] == audit[1] and audit[2] == 0


def test_a_month_outside_the_generated_data_fails_at_once_without_retries(monthly_dag, db_url):
    dag_run = run_month(monthly_dag, "2025-06")
    assert dag_run.state == "failed"
    states = {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}
    # a configuration error is not retried (a retry cannot fix it); nothing downstream runs
    assert states["prepare_extract"] == ("failed", 1)
    assert states["validate_input"][0] == "upstream_failed"
    assert states["publish_views"][0] == "upstream_failed"
    assert query(
        db_url,
        "select count(*) from information_schema.tables "
        "where table_schema = database() and table_name = 'statements'",
    ) == [(0,)]


def test_a_twelve_month_backfill_equals_one_cli_run(monthly_dag, db_url, db_server, settings_env):
    settings_env(shards=3)  # each month's scoring in three mapped shards
    for month in month_range("2024-01", 12):
        dag_run = run_month(monthly_dag, month)
        assert dag_run.state == "success", month
        shards = {
            ti.map_index: ti.state
            for ti in dag_run.get_task_instances()
            if ti.task_id == "score_shard"
        }
        (status,) = query(
            db_url, f"select run_status from model_runs where scored_month = '{month}'"
        )
        if status == ("scored",):
            assert shards == {0: "success", 1: "success", 2: "success"}, month
        else:  # too little history to train: nothing to map, the recording step still runs
            assert shards == {-1: "skipped"}, month

    # the analytics tasks published both tables, each month checked by its own suite
    anomaly_months = query(db_url, "select month, count(*) from spend_anomalies group by month")
    assert [months for months, _ in anomaly_months] == month_range("2024-01", 12)
    assert {rows for _, rows in anomaly_months} == {60}
    scored = query(db_url, "select month, count(*) from high_risk_predictions group by month")
    assert scored and all(rows == 60 for _, rows in scored)
    assert scored[-1][0] == "2024-12"
    assert query(
        db_url,
        "select count(*) from high_risk_predictions where probability < 0 or probability > 1",
    ) == [(0,)]
    stages = dict(
        query(db_url, "select stage, count(*) from validation_runs where is_success group by 1")
    )
    assert stages["anomalies"] == 12 and stages["scores"] == len(scored)

    # the same data loaded in one go, into a second database
    settings = get_settings()
    dataset = generated_dataset(GenerationSpec.from_settings(settings), settings.data_dir)
    other_name = query(db_url, "select database()")[0][0] + "_cli"
    other_url = db_url.rsplit("/", 1)[0] + "/" + other_name
    try:
        run(warehouse_from_url(other_url), dataset)
        for relation, order in (
            ("customers", "customer_id"),
            ("statements", "customer_id, statement_month"),
            ("transactions", "transaction_id"),
            ("risk_segmentation", "customer_id, month"),
            ("customer_spend_rolling_avg", "customer_id, month"),
            ("customer_risk_current", "customer_id"),
            ("rolling_3_month_avg", "customer_id, transaction_date, transaction_amount"),
        ):
            columns = (
                "*" if relation != "customers" else "customer_id, opened_date, credit_tier, region"
            )
            backfilled = query(db_url, f"select {columns} from {relation} order by {order}")
            one_run = query(other_url, f"select {columns} from {relation} order by {order}")
            assert backfilled == one_run, relation
            assert backfilled, relation
        assert query(db_url, "select count(*) from quarantined_rows") == [(0,)]

        # the same months scored in one shard, in order: the same scores, row for row
        for month, _ in scored:
            score_customers(warehouse_from_url(other_url), month)
        predictions = "select * from high_risk_predictions order by month, customer_id"
        assert query(db_url, predictions) == query(other_url, predictions)
    finally:
        db_server.cursor().execute(f"drop database if exists `{other_name}`")
