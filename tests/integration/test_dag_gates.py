"""The real DAG on a broken month: it stops at the gate, keeps the last good data, pages once;
the corrected month then publishes. Lost connections are retried, bad data is not."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pendulum
import pytest

from credit_risk import pipeline
from credit_risk.generate.realistic import generate_realistic
from tests.conftest import REPO_ROOT, query

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "credit_risk_monthly"
PUBLISHED_SEGMENTS = "select * from risk_segmentation order by customer_id, month"


@pytest.fixture
def drops(tmp_path) -> Path:
    """Monthly drops of a 300-customer portfolio at ``drops/<YYYY-MM>/``."""
    full = tmp_path / "full"
    generate_realistic(full, customers=300, months=2, start="2024-01", seed=21)
    for month in ("2024-01", "2024-02"):
        pipeline.slice_month(full, month, tmp_path / "drops" / month)
    return tmp_path / "drops"


@pytest.fixture
def gated_dag(airflow_home, db_url, settings_env, monkeypatch, tmp_path, drops):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_RISK_MYSQL", db_url)
    settings_env(
        source=str(drops / "{month}"),
        data_dir=tmp_path / "data",
        data_docs_dir=tmp_path / "data_docs",
        # no approval step: a distribution failure fails the gate (dag.test() cannot answer
        # an approval; test_shift_approval does, through a real api-server)
        shift_approval_hours=0,
    )
    dagbag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert dagbag.import_errors == {}
    return dagbag.dags[DAG_ID]


def run_month(dag, month: str):
    year, mon = map(int, pipeline.add_months(month, 1).split("-"))
    return dag.test(logical_date=pendulum.datetime(year, mon, 1, tz="UTC"))


def task_states(dag_run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}


def shift_balances(drop: Path) -> None:
    """Every statement stays valid, but the whole book jumps to 93% utilization."""
    statements = pd.read_csv(drop / "statements.csv", dtype=str)
    limits = statements["credit_limit"].astype(float)
    statements["outstanding_balance"] = (limits * 0.93).map("{:.2f}".format)
    statements.to_csv(drop / "statements.csv", index=False)


def test_a_broken_month_stops_at_its_gate_keeps_the_last_good_data_and_pages_once(
    gated_dag, db_url, drops, alert_channels
):
    assert run_month(gated_dag, "2024-01").state == "success"
    january = query(db_url, PUBLISHED_SEGMENTS)
    assert {row[1] for row in january} == {"2024-01"}
    assert alert_channels.smtp.messages == [] and alert_channels.webhook.payloads == []

    good_february = drops.parent / "good-february"
    shutil.copytree(drops / "2024-02", good_february)
    shift_balances(drops / "2024-02")
    broken = run_month(gated_dag, "2024-02")

    assert broken.state == "failed"
    states = task_states(broken)
    assert states["validate_published"] == ("failed", 1)  # data errors burn no retries
    assert states["publish_views"][0] == "upstream_failed"
    assert states["summarize_risk"][0] == "upstream_failed"
    assert query(db_url, PUBLISHED_SEGMENTS) == january  # readers still see January, unchanged

    assert len(alert_channels.smtp.messages) == 1
    assert len(alert_channels.webhook.payloads) == 1
    mail = alert_channels.smtp.messages[0]
    slack_text = alert_channels.webhook.payloads[0]["text"]
    for text in (mail.subject + mail.body, slack_text):
        assert DAG_ID in text
        assert "2024-02" in text
        assert "published" in text
        assert "utilization_psi" in text
        # a URL of the Data Docs site served inside Airflow, at the failed dataset's page
        assert "/credit-risk/data-docs/validations/published/" in text
    assert query(
        db_url,
        "select is_success from validation_runs where partition_month = '2024-02' "
        "and stage = 'published'",
    ) == [(0,)]

    shutil.rmtree(drops / "2024-02")
    shutil.copytree(good_february, drops / "2024-02")
    fixed = run_month(gated_dag, "2024-02")
    assert fixed.state == "success"
    months = {row[1] for row in query(db_url, PUBLISHED_SEGMENTS)}
    assert months == {"2024-01", "2024-02"}
    assert len(alert_channels.smtp.messages) == 1  # no alert on success
    assert len(alert_channels.webhook.payloads) == 1


def test_a_lost_warehouse_connection_is_retried(gated_dag, monkeypatch, alert_channels):
    """Nothing listens on the warehouse port: the gate retries (a later try may reach it)."""
    from tests.integration.alert_servers import free_port

    monkeypatch.setenv(
        "AIRFLOW_CONN_CREDIT_RISK_MYSQL", f"mysql://root@127.0.0.1:{free_port()}/credit_risk"
    )
    task = gated_dag.get_task("validate_input")
    # keep the DAG's retry count, shorten only the wait so the test does not sleep minutes
    task.retry_delay = dt.timedelta(seconds=1)
    task.retry_exponential_backoff = 0
    dag_run = run_month(gated_dag, "2024-01")
    states = task_states(dag_run)
    assert states["validate_input"] == ("failed", task.retries + 1)
    assert states["load_month"][0] == "upstream_failed"
    assert len(alert_channels.smtp.messages) == 1  # paged once, after the last retry
    assert "failed (2002: " in alert_channels.smtp.messages[0].body
    assert "is the server up" in alert_channels.smtp.messages[0].body


def test_a_good_month_after_a_failed_one_is_blocked_until_the_fix_publishes_both(
    airflow_home, db_url, settings_env, monkeypatch, tmp_path, alert_channels
):
    """The incremental refresh in the real DAG: February fails its gate; March, though good,
    is blocked (its rolling windows read February) and fails at once naming February; the fixed
    February's run publishes February and March; March's own rerun then has nothing to do."""
    from airflow.dag_processing.dagbag import DagBag

    full = tmp_path / "full"
    generate_realistic(full, customers=300, months=3, start="2024-01", seed=21)
    drops = tmp_path / "drops"
    for month in ("2024-01", "2024-02", "2024-03"):
        pipeline.slice_month(full, month, drops / month)
    good_february = tmp_path / "good-february"
    shutil.copytree(drops / "2024-02", good_february)
    shift_balances(drops / "2024-02")
    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_RISK_MYSQL", db_url)
    settings_env(
        source=str(drops / "{month}"),
        data_dir=tmp_path / "data",
        data_docs_dir=tmp_path / "data_docs",
        shift_approval_hours=0,
    )
    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags[DAG_ID]

    assert run_month(dag, "2024-01").state == "success"
    assert run_month(dag, "2024-02").state == "failed"
    march = run_month(dag, "2024-03")
    assert march.state == "failed"
    states = task_states(march)
    assert states["validate_loaded"][0] == "success"  # March itself is fine
    assert states["build_views"] == ("failed", 1)  # blocked: no retries
    assert states["publish_views"][0] == "upstream_failed"
    assert {row[1] for row in query(db_url, PUBLISHED_SEGMENTS)} == {"2024-01"}
    blocked = alert_channels.smtp.messages[-1].body
    assert "2024-03 is blocked: 2024-02" in blocked and "failed validate_published" in blocked
    assert dict(query(db_url, "select month, state from month_ledger")) == {
        "2024-01": "published",
        "2024-02": "failed",
        "2024-03": "validated",
    }

    shutil.rmtree(drops / "2024-02")
    shutil.copytree(good_february, drops / "2024-02")
    fixed = run_month(dag, "2024-02")
    assert fixed.state == "success"
    published = fixed.get_task_instance("publish_views").xcom_pull(task_ids="publish_views")
    assert published["months"] == ["2024-02", "2024-03"]
    assert {row[1] for row in query(db_url, PUBLISHED_SEGMENTS)} == {
        "2024-01",
        "2024-02",
        "2024-03",
    }
    rerun = run_month(dag, "2024-03")
    assert rerun.state == "success"
    assert rerun.get_task_instance("publish_views").xcom_pull(task_ids="publish_views")[
        "outcome"
    ] in ("already published", "published")
