"""The refresh deadline: the watchdog DAG pages on-call once per month not published in time.

A real warehouse (two months published, March failing its published gate, April never
loaded), the real ``credit_risk_refresh_watchdog`` DAG run with ``dag.test()``, and the alert
delivered to a real SMTP server and a real webhook receiver.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pendulum
import pytest

from credit_risk import pipeline, steps
from credit_risk.deadline import check_refresh_deadline, due_month, month_close
from credit_risk.generate.realistic import generate_realistic
from credit_risk.months import month_range
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import REPO_ROOT, query

pytestmark = pytest.mark.integration

WATCHDOG = "credit_risk_refresh_watchdog"
HOURS_72 = dt.timedelta(hours=72)


def test_the_due_month_is_the_latest_whose_close_plus_the_grace_has_passed():
    assert month_close("2024-03") == dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    just_before = dt.datetime(2024, 4, 3, 23, 59, tzinfo=dt.UTC)
    assert due_month(just_before, HOURS_72) == "2024-02"
    assert due_month(just_before + dt.timedelta(minutes=1), HOURS_72) == "2024-03"
    assert due_month(dt.datetime(2025, 1, 10, tzinfo=dt.UTC), HOURS_72) == "2024-12"


@pytest.fixture
def late_warehouse(db_url, tmp_path):
    """January and February published; March loaded but failed its published gate (every
    balance at 95% of the limit); April never loaded."""
    generate_realistic(tmp_path / "full", customers=250, months=3, start="2024-01", seed=4)
    warehouse = warehouse_from_url(db_url)
    for month in month_range("2024-01", 3):
        drop = pipeline.slice_month(tmp_path / "full", month, tmp_path / month)
        if month == "2024-03":
            statements = pd.read_csv(drop / "statements.csv", dtype=str)
            limit = statements["credit_limit"].astype(float)
            statements["outstanding_balance"] = (limit * 0.95).map("{:.2f}".format)
            statements.to_csv(drop / "statements.csv", index=False)
            with pytest.raises(ValidationFailedError):
                steps.publish_extract(warehouse, drop, month)
        else:
            steps.publish_extract(warehouse, drop, month)
    assert query(db_url, "select month, state from month_ledger order by month") == [
        ("2024-01", "published"),
        ("2024-02", "published"),
        ("2024-03", "failed"),
    ]
    return warehouse


def watchdog(monkeypatch, db_url):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_RISK_MYSQL", db_url)
    dagbag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert dagbag.import_errors == {}
    return dagbag.dags[WATCHDOG]


def test_the_watchdog_dag_pages_once_about_each_month_past_its_deadline(
    airflow_home, alert_channels, late_warehouse, db_url, monkeypatch
):
    monkeypatch.setenv("CREDIT_RISK_REFRESH_DEADLINE_HOURS", "72")
    dag = watchdog(monkeypatch, db_url)

    # 2024-05-04 10:00: March and April are past their deadline (April's: 2024-05-04 00:00)
    run = dag.test(logical_date=pendulum.datetime(2024, 5, 4, 9, tz="UTC"))
    assert run.state == "success"
    (mail,) = alert_channels.smtp.messages
    (payload,) = alert_channels.webhook.payloads
    for text in (mail.subject + mail.body, payload["text"]):
        for expected in ("credit_risk_monthly", "2024-03", "2024-04", "72 h", "never loaded"):
            assert expected in text, expected
        assert "published gate" in text  # why March is stuck, from the ledger
        assert "2024-02" not in text.split("Not published")[1].split("\n")[0]
    assert query(db_url, "select month, month_state, channels from refresh_deadline_pages") == [
        ("2024-03", "failed", "email,slack"),
        ("2024-04", None, "email,slack"),
    ]

    # an hour later: nothing new is late, nobody is paged again
    assert dag.test(logical_date=pendulum.datetime(2024, 5, 4, 10, tz="UTC")).state == "success"
    assert len(alert_channels.smtp.messages) == 1 and len(alert_channels.webhook.payloads) == 1


def test_a_month_is_not_late_before_its_deadline_and_the_deadline_can_be_off(
    alert_channels, late_warehouse, db_url
):
    early = check_refresh_deadline(
        late_warehouse, dt.datetime(2024, 4, 3, 23, tzinfo=dt.UTC), HOURS_72
    )
    assert (early.due_month, early.overdue, early.paged) == ("2024-02", [], [])
    assert alert_channels.smtp.messages == []
    # the deadline off: nothing is checked
    off = check_refresh_deadline(
        late_warehouse, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.timedelta(0)
    )
    assert off.due_month is None and alert_channels.smtp.messages == []


def test_an_empty_warehouse_is_not_watched(alert_channels, db_url):
    check = check_refresh_deadline(
        warehouse_from_url(db_url), dt.datetime(2030, 1, 1, tzinfo=dt.UTC), HOURS_72
    )
    assert check.overdue == [] and alert_channels.smtp.messages == []
