"""A data engineer's first hour with the real Airflow: unpause, Clear, trigger, backfill.

Everything goes through a real ``airflow api-server`` + scheduler + dag-processor on PostgreSQL
metadata with LocalExecutor (``airflow_stack``), driven through ``/api/v2`` as the UI and the
official client do, against a throwaway warehouse; the refresh deadline stays on (its default).
The tests run in order and share the stack: each starts from what the previous one left.
"""

from __future__ import annotations

import datetime as dt

import pytest

from credit_risk.months import add_months, month_of
from tests.conftest import query
from tests.integration.airflow_stack import AirflowStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "credit_risk_monthly"
TODAY = dt.datetime.now(dt.UTC)
LAST_CLOSED = add_months(month_of(TODAY), -1)


@pytest.fixture(scope="module")
def stack(new_db_url, tmp_path_factory):
    """A running Airflow whose ``credit_risk_mysql`` connection is a throwaway warehouse, with
    the package's defaults otherwise (generated data, 72 h deadline) and 60 customers."""
    root = tmp_path_factory.mktemp("airflow_stack")
    db_url = new_db_url()
    with AirflowStack.running(
        root / "home",
        {
            "AIRFLOW_CONN_CREDIT_RISK_MYSQL": db_url,
            "CREDIT_RISK_DATA_DIR": str(root / "data"),
            "CREDIT_RISK_GENERATE_CUSTOMERS": "60",
            "CREDIT_RISK_REFRESH_DEADLINE_HOURS": "72",
        },
        DAG_ID,
    ) as airflow:
        yield airflow, db_url


def published(db_url: str) -> dict[str, str]:
    return dict(query(db_url, "select month, state from month_ledger order by month"))


def test_unpausing_runs_the_last_closed_month_and_it_succeeds(stack):
    airflow, db_url = stack
    response = airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert response.status_code == 200, response.text

    (run,) = airflow.wait_for_runs(DAG_ID, 1)
    assert run["run_type"] == "scheduled"
    assert run["state"] == "success", airflow.logs()
    assert run["data_interval_start"].startswith(f"{LAST_CLOSED}-01")
    assert run["note"] == (
        f"Loads {LAST_CLOSED} (its data interval {LAST_CLOSED}-01 .. {month_of(TODAY)}-01)"
    )
    assert published(db_url) == {LAST_CLOSED: "published"}


def test_clearing_a_finished_task_reruns_it_and_the_run_succeeds_again(stack):
    airflow, db_url = stack
    (run,) = airflow.runs(DAG_ID)
    before = airflow.task_instances(DAG_ID, run["dag_run_id"])["publish_views"]

    response = airflow.api(
        "POST",
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={
            "dag_run_id": run["dag_run_id"],
            "task_ids": ["publish_views"],
            "include_downstream": True,
            "only_failed": False,
            "reset_dag_runs": True,
            "dry_run": False,
        },
    )
    assert response.status_code == 200, response.text
    cleared = {ti["task_id"] for ti in response.json()["task_instances"]}
    downstream = {"publish_views", "detect_anomalies", "train_model", "score_shard"}
    assert downstream | {"record_scores", "summarize_risk"} <= cleared

    again = airflow.wait_for_run(DAG_ID, run["dag_run_id"])
    assert again["state"] == "success", airflow.logs()
    after = airflow.task_instances(DAG_ID, run["dag_run_id"])["publish_views"]
    assert after["state"] == "success"
    assert after["try_number"] == before["try_number"] + 1
    assert again["note"] == run["note"]  # a cleared run keeps its note
    assert published(db_url) == {LAST_CLOSED: "published"}


def test_a_manual_trigger_loads_the_month_in_its_month_param(stack):
    airflow, db_url = stack
    month = add_months(LAST_CLOSED, -1)
    response = airflow.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"month": month}, "note": f"load {month}"},
    )
    assert response.status_code == 200, response.text
    run = airflow.wait_for_run(DAG_ID, response.json()["dag_run_id"])
    assert run["state"] == "success", airflow.logs()
    task = f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/prepare_extract"
    prepared = airflow.api("GET", f"{task}/xcomEntries/return_value")
    assert prepared.status_code == 200, prepared.text
    assert month in str(prepared.json()["value"])
    assert run["note"] == f"load {month}"  # the note given at trigger time stays
    assert published(db_url) == {month: "published", LAST_CLOSED: "published"}


def test_a_trigger_with_neither_month_nor_logical_date_loads_the_last_closed_month(stack):
    """The REST API's default trigger has no data interval: the run reloads the month closed
    last before it was triggered, and its note says so."""
    airflow, db_url = stack
    response = airflow.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
    assert response.status_code == 200, response.text
    run = airflow.wait_for_run(DAG_ID, response.json()["dag_run_id"])
    assert run["state"] == "success", airflow.logs()
    assert run["note"] == f"Loads {LAST_CLOSED} (the last month closed before {TODAY:%Y-%m-%d})"
    assert published(db_url) == {add_months(LAST_CLOSED, -1): "published", LAST_CLOSED: "published"}


def test_a_backfill_runs_its_months_one_after_the_other(stack):
    airflow, db_url = stack
    first, last = add_months(LAST_CLOSED, -3), add_months(LAST_CLOSED, -2)
    response = airflow.api(
        "POST",
        "/backfills",
        json={
            "dag_id": DAG_ID,
            "from_date": f"{first}-01T00:00:00Z",
            "to_date": f"{last}-01T00:00:00Z",
            "max_active_runs": 1,
            "reprocess_behavior": "none",
        },
    )
    assert response.status_code == 200, response.text

    runs = [run for run in airflow.wait_for_runs(DAG_ID, 5) if run["run_type"] == "backfill"]
    assert [run["data_interval_start"][:7] for run in runs] == [first, last]
    assert [run["note"][:15] for run in runs] == [f"Loads {first} (", f"Loads {last} ("]
    assert all(run["state"] == "success" for run in runs), airflow.logs()
    # one after the other: the second started after the first ended
    assert runs[1]["start_date"] >= runs[0]["end_date"]
    assert set(published(db_url).values()) == {"published"}
    assert sorted(published(db_url)) == [first, last, add_months(LAST_CLOSED, -1), LAST_CLOSED]


def test_the_ui_trigger_form_works_with_its_defaults_and_runs_a_chosen_month(stack):
    """In headless Chromium, as an operator: the form opens with every param empty and its
    Trigger button enabled; typing a month and pressing Trigger runs that month, and the run's
    page names the month in its note."""
    from playwright.sync_api import sync_playwright

    from tests.integration.test_dashboard_browser import LAUNCH_ARGS, chromium

    airflow, db_url = stack
    month = add_months(LAST_CLOSED, -4)
    before = {run["dag_run_id"] for run in airflow.runs(DAG_ID)}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium()), headless=True, args=LAUNCH_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies([{"name": "_token", "value": airflow.token, "url": airflow.base}])
            page = context.new_page()
            page.goto(f"{airflow.base}/dags/{DAG_ID}")
            page.get_by_role("button", name="Trigger").first.click()
            dialog = page.get_by_role("dialog")
            submit = dialog.get_by_role("button", name="Trigger")
            submit.wait_for()
            assert dialog.locator("#element_month").input_value() == ""
            assert dialog.locator("#element_source").input_value() == ""
            assert submit.is_enabled()  # a "string" param left empty would disable it
            dialog.locator("#element_month").fill(month)
            submit.click()
            dialog.wait_for(state="hidden")

            (new,) = [run for run in airflow.runs(DAG_ID) if run["dag_run_id"] not in before]
            assert new["conf"]["month"] == month and new["run_type"] == "manual"
            finished = airflow.wait_for_run(DAG_ID, new["dag_run_id"])
            assert finished["state"] == "success", airflow.logs()
            # the run's page says which month it loaded
            page.goto(f"{airflow.base}/dags/{DAG_ID}/runs/{new['dag_run_id']}")
            page.get_by_text(f"Loads {month} (its month param)").first.wait_for()
        finally:
            browser.close()
    assert published(db_url)[month] == "published"
