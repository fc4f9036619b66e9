"""On-call approves or rejects a real shift, in the real Airflow; row failures never get there.

The stack (``airflow_stack``: api-server, scheduler, dag-processor on PostgreSQL metadata)
sends its alerts to a local SMTP server. Months come from drops of a 300-customer portfolio,
passed through the DAG's ``source`` param. The tests run in order and share the stack.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from credit_risk import pipeline, steps
from credit_risk.generate.realistic import generate_realistic
from tests.conftest import query
from tests.integration.airflow_stack import USER, AirflowStack
from tests.integration.alert_servers import (
    ALERT_RECIPIENTS,
    running_smtp_server,
    smtp_connection_uri,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "credit_risk_monthly"
REASON = "November rate rise: balances really moved up across the book"


def set_utilization(drop: Path, share: float) -> None:
    """Every statement stays valid, but the whole book moves to ``share`` of its limits."""
    statements = pd.read_csv(drop / "statements.csv", dtype=str)
    limits = statements["credit_limit"].astype(float)
    statements["outstanding_balance"] = (limits * share).map("{:.2f}".format)
    statements.to_csv(drop / "statements.csv", index=False)


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("approval_drops")
    generate_realistic(root / "full", customers=300, months=3, start="2024-01", seed=21)
    for month in ("2024-01", "2024-02", "2024-03"):
        pipeline.slice_month(root / "full", month, root / "drops" / month)
    set_utilization(root / "drops" / "2024-02", 0.93)  # approved below
    set_utilization(root / "drops" / "2024-03", 0.0)  # rejected below
    return root / "drops"


@pytest.fixture(scope="module")
def stack(new_db_url, tmp_path_factory, drops):
    """The stack with the DAG unpaused (a paused DAG runs no trigger). The scheduled run that
    unpausing creates asks for the last closed month, which has no drop: it fails at once,
    pages, and is forgotten here."""
    root = tmp_path_factory.mktemp("approval_stack")
    db_url = new_db_url()
    with running_smtp_server() as smtp:
        airflow = AirflowStack.create(
            root / "home",
            {
                "AIRFLOW_CONN_CREDIT_RISK_MYSQL": db_url,
                "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection_uri(smtp.host, smtp.port),
                "CREDIT_RISK_ALERT_EMAILS": ",".join(ALERT_RECIPIENTS),
                "CREDIT_RISK_ALERT_SMTP_CONN_ID": "smtp_default",
                "CREDIT_RISK_DATA_DIR": str(root / "data"),
                "CREDIT_RISK_DATA_DOCS_DIR": str(root / "data_docs"),
                "CREDIT_RISK_SHIFT_APPROVAL_HOURS": "48",
                "CREDIT_RISK_SOURCE": str(drops / "{month}"),
            },
        )
        airflow.start()
        try:
            airflow.wait_for_dag(DAG_ID)
            response = airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
            assert response.status_code == 200, response.text
            (scheduled,) = airflow.wait_for_runs(DAG_ID, 1)
            assert scheduled["state"] == "failed"  # no drop for that month
            smtp.messages.clear()
            yield airflow, db_url, smtp
        finally:
            airflow.stop()


def trigger(airflow: AirflowStack, month: str, drops: Path) -> str:
    response = airflow.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"month": month, "source": str(drops / "{month}")}},
    )
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def _deferral_drained(airflow: AirflowStack, run_id: str) -> bool:
    """Whether the scheduler has processed the executor's event for the approval task's exit
    into ``awaiting_input``.

    Airflow 3.3 fails a resumed task when that event is drained only after the task resumed
    (apache/airflow#72716, open): an answer given within a second or two of the request can
    fail the task. A person takes longer than that; this test waits as long as it must.
    """
    log = (airflow.home / "scheduler.log").read_text(errors="replace")
    return f"TaskInstance Finished: dag_id={DAG_ID}, task_id=approve_shift, run_id={run_id}" in log


def wait_for_decision_request(airflow: AirflowStack, run_id: str, timeout: float = 600) -> dict:
    """The approval step's request, once it waits for a decision."""
    deadline = time.monotonic() + timeout
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_shift/-1/hitlDetails"
    while time.monotonic() < deadline:
        state = airflow.task_instances(DAG_ID, run_id).get("approve_shift", {}).get("state")
        if state == "awaiting_input" and _deferral_drained(airflow, run_id):
            response = airflow.api("GET", path)
            assert response.status_code == 200, response.text
            return response.json()
        assert state not in ("success", "failed", "skipped", "upstream_failed"), (
            f"approve_shift ended {state} without asking:\n{airflow.logs()}"
        )
        time.sleep(3)
    pytest.fail(f"approve_shift never waited for a decision:\n{airflow.logs()}")


def decide(airflow: AirflowStack, run_id: str, option: str, reason: str) -> None:
    response = airflow.api(
        "PATCH",
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve_shift/-1/hitlDetails",
        json={"chosen_options": [option], "params_input": {"reason": reason}},
    )
    assert response.status_code == 200, response.text


def test_a_good_month_publishes_without_asking(stack, drops):
    airflow, _, smtp = stack
    run_id = trigger(airflow, "2024-01", drops)
    assert airflow.wait_for_run(DAG_ID, run_id)["state"] == "success", airflow.logs()
    states = {task: ti["state"] for task, ti in airflow.task_instances(DAG_ID, run_id).items()}
    assert states["approve_shift"] == "skipped" and states["publish_views"] == "success"
    assert smtp.messages == []


def test_on_call_approves_a_real_shift_with_a_reason_and_the_month_publishes(stack, drops):
    airflow, db_url, smtp = stack
    run_id = trigger(airflow, "2024-02", drops)
    request = wait_for_decision_request(airflow, run_id)
    assert "2024-02" in request["subject"]
    assert "utilization_psi" in request["body"]
    assert request["options"] == ["Approve", "Reject"]
    # readers do not see February while on-call decides; later months are blocked meanwhile
    ledger = dict(query(db_url, "select month, state from month_ledger"))
    assert ledger == {"2024-01": "published", "2024-02": "failed"}

    # the request was the page: it says what failed and where to decide
    (mail,) = smtp.messages
    assert "2024-02" in mail.subject and "approval" in mail.subject
    assert f"/dags/{DAG_ID}/runs/" in mail.body and "required_actions" in mail.body
    assert "utilization_psi" in mail.body

    decide(airflow, run_id, "Approve", REASON)
    assert airflow.wait_for_run(DAG_ID, run_id)["state"] == "success", airflow.logs()
    assert query(
        db_url,
        "select state, approved_by, approval_reason from month_ledger where month = '2024-02'",
    ) == [("published", USER, REASON)]
    assert query(
        db_url,
        "select is_success, approved_by, approval_reason from validation_runs "
        "where stage = 'published' and partition_month = '2024-02'",
    ) == [(0, USER, REASON)]
    assert {row[0] for row in query(db_url, "select distinct month from risk_segmentation")} == {
        "2024-01",
        "2024-02",
    }
    assert len(smtp.messages) == 1  # no page on success


def test_a_rejected_shift_fails_the_run_without_a_second_page(stack, drops):
    airflow, db_url, smtp = stack
    run_id = trigger(airflow, "2024-03", drops)
    wait_for_decision_request(airflow, run_id)
    assert len(smtp.messages) == 2  # the second request

    decide(airflow, run_id, "Reject", "the extract lost every balance: a feed defect")
    assert airflow.wait_for_run(DAG_ID, run_id)["state"] == "failed"
    states = {task: ti["state"] for task, ti in airflow.task_instances(DAG_ID, run_id).items()}
    assert states["approve_shift"] == "failed"
    assert states["publish_views"] == "upstream_failed"
    ((state, failure),) = query(
        db_url, "select state, failure from month_ledger where month = '2024-03'"
    )
    assert state == "failed"
    assert failure == f"rejected by {USER}: the extract lost every balance: a feed defect"
    assert {row[0] for row in query(db_url, "select distinct month from risk_segmentation")} == {
        "2024-01",
        "2024-02",
    }
    time.sleep(5)  # a failure callback would have sent by now
    assert len(smtp.messages) == 2


def test_row_failures_are_never_offered_for_approval(warehouse, tmp_path, settings_env):
    """A month whose distribution shifted and whose rows are also wrong fails its gate: the
    approval step is only for months whose every row is valid."""
    from credit_risk.quality.errors import ValidationFailedError
    from credit_risk.warehouse.build import FAILED, load_build
    from credit_risk.warehouse.load import load_extract
    from tests.integration.refresh_helpers import build_month

    full, drops = tmp_path / "full", tmp_path / "drops"
    generate_realistic(full, customers=300, months=2, start="2024-01", seed=21)
    for month in ("2024-01", "2024-02"):
        pipeline.slice_month(full, month, drops / month)
    set_utilization(drops / "2024-02", 0.93)
    settings_env(data_docs_dir=tmp_path / "docs")
    steps.publish_extract(warehouse, drops / "2024-01", month="2024-01")
    load_extract(warehouse, drops / "2024-02", "2024-02")
    pipeline.check_loaded(warehouse, "2024-02")
    built = build_month(warehouse, "2024-02")
    candidate = built.table("published_customer_month")
    with pipeline.connect(warehouse) as conn:  # one row disagrees with the thresholds
        conn.cursor().execute(
            f"update {candidate} set risk_category = 'Low Risk' where month = '2024-02' "
            "and risk_category = 'High Risk' limit 1"
        )
        conn.commit()

    with pytest.raises(ValidationFailedError) as failed:
        pipeline.check_published(warehouse, built, "test", allow_review=True)
    assert not failed.value.approvable
    assert {failure.approvable for failure in failed.value.failures} == {True, False}
    assert load_build(warehouse, built.build_id)[1] == FAILED

    # the same shift with valid rows would have been offered
    shutil.rmtree(tmp_path / "docs")
    rebuilt = build_month(warehouse, "2024-02")
    result = pipeline.check_published(warehouse, rebuilt, "test", allow_review=True)
    assert result.approvable and not result.success
    assert load_build(warehouse, rebuilt.build_id)[1] == "in_review"
