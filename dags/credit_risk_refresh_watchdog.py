"""
### credit_risk_refresh_watchdog

Every hour: is every closed month published `CREDIT_RISK_REFRESH_DEADLINE_HOURS` (72) after it
closed? The months whose deadline passed and that readers still do not have (failed, stuck,
never loaded: the monthly DAG paused, the drop never arrived) page on-call once each, by email
and Slack as task failures do (`refresh_deadline_pages` records the pages). It reads only the
month ledger of the warehouse (Airflow connection `credit_risk_mysql`); unpause it beside
`credit_risk_monthly`. It replaces Airflow's `DeadlineAlert`, which breaks Clear and
`airflow dags test` in Airflow 3.3.2 (see `credit_risk.deadline`).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from credit_risk.alerts import OnCallNotifier
from credit_risk.catalog import WAREHOUSE_CONN_ID

CONN_ID = WAREHOUSE_CONN_ID


@dag(
    dag_id="credit_risk_refresh_watchdog",
    description="Hourly: page on-call when a closed month is not published in time",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": OnCallNotifier(),
    },
    tags=["credit-risk", "monitoring"],
    doc_md=__doc__,
)
def credit_risk_refresh_watchdog():
    @task(doc_md="Page on-call about the months past their refresh deadline, once each.")
    def check_refresh_deadline(data_interval_end=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.check_refresh_deadline, CONN_ID, data_interval_end)

    check_refresh_deadline()


credit_risk_refresh_watchdog()
