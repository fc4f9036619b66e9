"""
### credit_risk_monthly

Monthly credit-risk refresh of the card portfolio. Each run loads one calendar month: a
scheduled run (or a backfill) the month its **data interval** covers, the month that has just
closed (the run created on 2024-04-01 loads March 2024); a manual run the month in its `month`
param, or when that is empty the last closed month before it was triggered. The run's note
says which month it loads and why.

1. `prepare_extract`: the month's extract, from `CREDIT_RISK_SOURCE` (a path where `{month}`
   becomes `YYYY-MM`) or, when unset, cut from the generated dataset (`CREDIT_RISK_GENERATE_*`).
2. `validate_input`: Great Expectations on the extract as delivered.
3. `load_month`: bulk-load it into MySQL, replacing that month; rows that break the data
   contract go to `quarantined_rows`, the accounting to `load_audit`.
4. `validate_loaded`: the month's tables reconcile with the accounting.
5. `build_views`: build the months this refresh changes (the month itself and, for a reload of
   a past month, the later months whose 3- and 6-month windows read it) in candidate tables,
   unseen by readers. The cost is the size of those months, whatever the history. It fails at
   once when a month the windows read failed a gate (`month_ledger` says which, and the
   message says what to do), and waits while such a month is still being loaded by another run.
6. `validate_published`: invariants of every row of those months, and each month's
   distribution against the month before it.
7. `route_verdict` / `approve_shift`: when only the distribution checks failed (every row is
   valid: a real shift of the portfolio, or an extract broken in a way no row shows), on-call
   is paged and decides in **Required Actions**: approve with a reason (recorded in
   `month_ledger` and `validation_runs`; the month publishes) or reject (the run fails, the
   month stays unpublished). No decision within `CREDIT_RISK_SHIFT_APPROVAL_HOURS` (48)
   rejects it; 0 turns the step off. Row-level failures fail the gate and are never approved.
8. `publish_views`: replace exactly those months for readers, in one transaction. Only now do
   readers see the month.
9. `detect_anomalies`: spending anomalies against each customer's own prior months, from the
   published data, for every month just published (a reload of a past month republishes the
   later months whose windows read it), checked by its Great Expectations suite.
10. `train_model` -> `score_shard` (mapped) -> `record_scores`: each customer's probability of
   turning high-risk next month, for the same months. The model is trained once per month on
   the whole portfolio; the customers are scored in `CREDIT_RISK_SHARDS` shards, one mapped
   task each, on any worker; the run is recorded, and the scores checked by their suite, once
   every shard is in. The shard count never changes a score.
11. `summarize_risk`: log customers per risk segment.

On-call is alerted (email and Slack webhook, see `credit_risk.alerts`) when a task fails after
its retries, and by `credit_risk_refresh_watchdog` when a month is still not published
`CREDIT_RISK_REFRESH_DEADLINE_HOURS` after it closed. A failed gate fails the run at once (data
errors are not retried; lost connections are), nothing downstream runs, and readers keep the
last validated months. Every validation is recorded in `validation_runs` with its Data Docs.
The warehouse is the Airflow connection `credit_risk_mysql`. Reruns replace the month, so
clearing any task is safe. Logic lives in the `credit_risk` package; see README.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, chain, dag, task

from credit_risk.alerts import OnCallNotifier
from credit_risk.approval import ShiftApprovalOperator
from credit_risk.catalog import ASSET_URI_TEMPLATE, PUBLISHED_VIEWS, WAREHOUSE_CONN_ID
from credit_risk.settings import get_settings

CONN_ID = WAREHOUSE_CONN_ID
PUBLISHED_ASSETS = [
    Asset(name=f"credit_risk.{view}", uri=ASSET_URI_TEMPLATE.format(name=view))
    for view in PUBLISHED_VIEWS
]
ANALYTICS_QUEUE = get_settings().analytics_queue
"""CREDIT_RISK_ANALYTICS_QUEUE: the Celery queue of the analytics tasks (empty: the default)."""
ANALYTICS_TASK = {"queue": ANALYTICS_QUEUE} if ANALYTICS_QUEUE else {}
ANALYTICS_ASSETS = {
    table: Asset(name=f"credit_risk.{table}", uri=ASSET_URI_TEMPLATE.format(name=table))
    for table in ("spend_anomalies", "high_risk_predictions")
}


@dag(
    dag_id="credit_risk_monthly",
    description="Monthly credit-risk refresh: load, gate, publish and score one month",
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        # per task, so it fires once, after the last retry, with the exception in hand
        "on_failure_callback": OnCallNotifier(),
    },
    params={
        # optional params are ["null", "string"]: a "string" param left empty is required in
        # the trigger form, which then stays disabled
        "month": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            title="Month to load",
            description="YYYY-MM. Empty: the month of the run's data interval (for a manual "
            "trigger, the last closed month).",
        ),
        "source": Param(
            None,
            type=["null", "string"],
            title="Extract path",
            description="This run's extract ({month} becomes YYYY-MM). Empty: "
            "CREDIT_RISK_SOURCE, else the generated data.",
        ),
    },
    tags=["credit-risk", "monthly", "mysql"],
    doc_md=__doc__,
)
def credit_risk_monthly():
    # Each task runs the step of credit_risk.steps that has its name (approve_shift records
    # on-call's answer with steps.decide_shift); run_step adds the warehouse of CONN_ID and
    # Airflow's fail-now and skip signals. Imports stay inside: parsing the DAG stays light.

    @task(doc_md="The month to load (month param, else the data interval) and its extract.")
    def prepare_extract(
        data_interval_start=None, data_interval_end=None, dag_run=None, params=None
    ) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import airflow_signals, run_month

        month = run_month(
            params.get("month"), data_interval_start, data_interval_end, dag_run.run_after
        )
        with airflow_signals():
            return steps.prepare_extract(month, params.get("source") or "")

    @task(doc_md="Input gate: the extract as delivered (files, columns, shares of bad rows).")
    def validate_input(extract: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.validate_input, CONN_ID, extract["source"], extract["month"], run_id)

    @task(doc_md="Bulk-load the month, replacing it; bad rows go to quarantined_rows.")
    def load_month(extract: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.load_month, CONN_ID, extract["source"], extract["month"], run_id)

    @task(doc_md="Loaded gate: the month's tables reconcile with load_audit.")
    def validate_loaded(extract: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.validate_loaded, CONN_ID, extract["month"], run_id)

    @task(doc_md="Build the months this refresh changes in candidate tables readers do not see.")
    def build_views(extract: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.build_views, CONN_ID, extract["month"], run_id)

    @task(doc_md="Published gate: row invariants, and each month against the one before.")
    def validate_published(build: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.validate_published, CONN_ID, build, run_id)

    @task.branch(doc_md="Publish a month that passed; ask on-call about a distribution shift.")
    def route_verdict(verdict: dict) -> str:
        return "approve_shift" if verdict["review"] else "publish_views"

    approve_shift = ShiftApprovalOperator(
        task_id="approve_shift",
        gate_task_id="validate_published",
        conn_id=CONN_ID,
        on_failure_callback=OnCallNotifier(),  # pages on a timeout, not on a rejection
        doc_md="On-call approves (with a reason) or rejects a month whose distribution shifted.",
    )

    @task(
        outlets=PUBLISHED_ASSETS,
        # after the gate passed (approve_shift skipped) or on-call approved the shift
        trigger_rule="none_failed_min_one_success",
        doc_md="Replace exactly the built months for readers, in one transaction.",
    )
    def publish_views(build: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.publish_views, CONN_ID, build, run_id)

    @task(
        **ANALYTICS_TASK,
        outlets=[ANALYTICS_ASSETS["spend_anomalies"]],
        doc_md="Flag the spending anomalies of every month just published, then check the flags.",
    )
    def detect_anomalies(publication: dict, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        # a reload of a past month also republished the later months whose windows read it
        return {
            month: run_step(steps.detect_anomalies, CONN_ID, month, run_id)
            for month in sorted(publication["months"])
        }

    @task(
        **ANALYTICS_TASK,
        doc_md="Train the high-risk model once per month just published (or reuse a stored "
        "champion); plan the month's scoring in CREDIT_RISK_SHARDS customer shards.",
    )
    def train_model(publication: dict, run_id=None) -> list[dict]:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        # in month order: a month may reuse the champion stored for the month before
        plans = [
            run_step(steps.train_model, CONN_ID, month, run_id)
            for month in sorted(publication["months"])
        ]
        return [shard for plan in plans for shard in plan["shards"]]

    @task(
        **ANALYTICS_TASK,
        map_index_template="{{ shard_label }}",
        doc_md="Score one customer shard of a month with the month's trained model.",
    )
    def score_shard(work: dict, run_id=None) -> dict:
        from airflow.sdk import get_current_context

        from credit_risk import steps
        from credit_risk.orchestration import run_step
        from credit_risk.shards import Shard

        shard = Shard(work["shard"], work["shards"])
        get_current_context()["shard_label"] = f"{work['month']} {shard.label()}"
        return run_step(
            steps.score_shard, CONN_ID, work["month"], work["shard"], work["shards"], run_id
        )

    @task(
        **ANALYTICS_TASK,
        outlets=[ANALYTICS_ASSETS["high_risk_predictions"]],
        # also when every month was skipped for lack of history (no shard to map)
        trigger_rule="none_failed_min_one_success",
        doc_md="Record each month's scoring run once all its shards are in, then check the scores.",
    )
    def record_scores(publication: dict, scored, run_id=None) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return {
            month: run_step(steps.record_scores, CONN_ID, month, run_id)
            for month in sorted(publication["months"])
        }

    @task(doc_md="Log customers per risk segment for the month.")
    def summarize_risk(extract: dict) -> dict:
        from credit_risk import steps
        from credit_risk.orchestration import run_step

        return run_step(steps.summarize_risk, CONN_ID, extract["month"])

    extract = prepare_extract()
    built = build_views(extract)
    published = publish_views(built)
    verdict = validate_published(built)
    chain(validate_input(extract), load_month(extract), validate_loaded(extract), built, verdict)
    chain(route_verdict(verdict), [approve_shift, published])
    chain(approve_shift, published)
    scored = score_shard.expand(work=train_model(published))
    chain(
        published,
        [detect_anomalies(published), record_scores(published, scored)],
        summarize_risk(extract),
    )


credit_risk_monthly()
