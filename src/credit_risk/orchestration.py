"""What the Airflow tasks do, kept out of the DAG file so the DAG stays configuration.

Every function takes the run's month explicitly (chosen once, by ``run_month``) and the
Airflow connection id of the warehouse; none reads the clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable

from credit_risk import pipeline
from credit_risk.contract import ExtractRefusedError
from credit_risk.months import add_months, month_of, validate_month
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.settings import get_settings
from credit_risk.warehouse.build import load_build
from credit_risk.warehouse.db import resolve_warehouse
from credit_risk.warehouse.ledger import MonthBlockedError
from credit_risk.warehouse.load import load_extract
from credit_risk.warehouse.publish import SUPERSEDED_OUTCOME as SUPERSEDED

log = logging.getLogger(__name__)


class RunConfigurationError(ValueError):
    """The run asks for something its configuration cannot give (no retry can help)."""


NOT_RETRYABLE = (
    ExtractRefusedError,
    RunConfigurationError,
    ValidationFailedError,
    MonthBlockedError,
)
"""Failures a retry cannot fix: broken data, a month blocked by one that failed, wrong
configuration, a month's drop that is not there (a retry minutes later will not find it; the
refresh deadline pages when it stays missing). Lost connections, a month still being loaded by
another run and server errors stay retryable."""


def fail_without_retry_on_bad_data(function: Callable) -> Callable:
    """Turn data and configuration errors into Airflow's fail-now signal.

    Retrying a refused file burns retries and pages on-call three times for one problem; the
    original error message is kept so the task log still names file, line and field.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except NOT_RETRYABLE as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(error).__name__}: {error}") from error

    return wrapper


def month_and_reason(
    month_param: str | None,
    data_interval_start: dt.datetime | None,
    data_interval_end: dt.datetime | None,
    run_after: dt.datetime | None = None,
) -> tuple[str, str]:
    """The month a run loads, and why that one (for its log line and its note in the UI).

    The ``month`` param wins (a manual run of a chosen month); else the month its data
    interval covers (a scheduled run or a backfill: the month that just closed); a manual run
    with neither (a REST trigger with ``logical_date: null`` has no interval) loads the last
    month closed before it was triggered.

    Raises:
        RunConfigurationError: the param is not ``YYYY-MM``, the interval is not a month, or
            there is neither interval nor trigger time.
    """
    if month_param:
        try:
            month = validate_month(str(month_param).strip())
        except ValueError as error:
            raise RunConfigurationError(f"the month param {month_param!r}: {error}") from error
        return month, "its month param"
    if data_interval_start is not None and data_interval_end is not None:
        month = month_of_interval(data_interval_start, data_interval_end)
        interval = f"{data_interval_start:%Y-%m-%d} .. {data_interval_end:%Y-%m-%d}"
        return month, f"its data interval {interval}"
    if run_after is None:
        raise RunConfigurationError("the run has no month param, data interval or trigger time")
    return add_months(month_of(run_after), -1), f"the last month closed before {run_after:%Y-%m-%d}"


@fail_without_retry_on_bad_data
def run_month(
    month_param: str | None,
    data_interval_start: dt.datetime | None,
    data_interval_end: dt.datetime | None,
    run_after: dt.datetime | None = None,
) -> str:
    """The month a run loads (``month_and_reason``), logged with its reason."""
    month, reason = month_and_reason(month_param, data_interval_start, data_interval_end, run_after)
    log.info("this run loads %s (%s)", month, reason)
    return month


def run_note(conf: dict | None, data_interval_start, data_interval_end, run_after) -> str:
    """The note a run of the monthly DAG gets in the UI: which month it loads, and why.

    A run whose month cannot be told (a malformed ``month`` param) says so: it will fail.
    """
    try:
        month, reason = month_and_reason(
            (conf or {}).get("month"), data_interval_start, data_interval_end, run_after
        )
    except RunConfigurationError as error:
        return f"Month unknown: {error}"
    return f"Loads {month} ({reason})"


def month_of_interval(data_interval_start: dt.datetime, data_interval_end: dt.datetime) -> str:
    """The calendar month a monthly data interval covers.

    Raises:
        ValueError: the interval is not one whole month (for example a zero-length interval
            from a cron trigger timetable), which would silently load the wrong month.
    """
    month = month_of(data_interval_start)
    if not (data_interval_start < data_interval_end <= data_interval_start + dt.timedelta(days=31)):
        raise RunConfigurationError(
            f"data interval {data_interval_start} .. {data_interval_end} is not one month; "
            "schedule the DAG with CronDataIntervalTimetable('@monthly')"
        )
    return month


@fail_without_retry_on_bad_data
def prepare_extract(month: str, source_template: str = "") -> str:
    """The path of the month's extract: the configured source, or a generated monthly drop."""
    template = source_template or get_settings().source
    if template:
        try:
            path = pipeline.resolve_source(template, month)
        except FileNotFoundError as error:
            # a retry 2 minutes later will not find it either: fail now, say what to do
            raise RunConfigurationError(
                f"{error}; deliver it there, then clear this task to run the month"
            ) from error
    else:
        try:
            path = pipeline.month_extract_from_generator(month)
        except pipeline.MonthNotGeneratedError as error:
            raise RunConfigurationError(str(error)) from error
    log.info("extract for %s: %s", month, path)
    return str(path)


@fail_without_retry_on_bad_data
def load_month(source: str, month: str, conn_id: str, run_id: str) -> dict[str, int]:
    """Load the month's extract (replacing the month); returns the accounting."""
    from pathlib import Path

    report = load_extract(resolve_warehouse(conn_id=conn_id), Path(source), month, run_id=run_id)
    accounting = {
        "rows_read": report.rows_read,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
    }
    log.info("load of %s: %s\n%s", month, accounting, report.audit.to_string(index=False))
    return accounting


@fail_without_retry_on_bad_data
def validate_input(source: str, month: str, conn_id: str, run_id: str) -> dict:
    """Gate 1: the extract before it is loaded."""
    from pathlib import Path

    result = pipeline.check_input(resolve_warehouse(conn_id=conn_id), Path(source), month, run_id)
    return _outcome(result)


@fail_without_retry_on_bad_data
def validate_loaded(month: str, conn_id: str, run_id: str) -> dict:
    """Gate 2: the month's tables after the load."""
    return _outcome(pipeline.check_loaded(resolve_warehouse(conn_id=conn_id), month, run_id))


@fail_without_retry_on_bad_data
def build(month: str, conn_id: str, run_id: str) -> dict:
    """Build the months the refresh of ``month`` changes into candidate tables.

    Waits (``CREDIT_RISK_REFRESH_WAIT_MINUTES``) while a month it reads is still being loaded
    by another run, as in a parallel backfill; fails at once, without retries, when such a
    month failed a gate (the message names it and says what to do).
    """
    built = pipeline.build_refresh(
        resolve_warehouse(conn_id=conn_id),
        month,
        run_id,
        wait_seconds=get_settings().refresh_wait_minutes * 60,
    )
    return {
        "build_id": built.build_id,
        "months": built.plan.months,
        "customer_month_rows": built.customer_month_rows,
        "transaction_rows": built.transaction_rows,
    }


@fail_without_retry_on_bad_data
def validate_published(build: dict, conn_id: str, run_id: str) -> dict:
    """Gate 3: the build's months, before they are published.

    A failure of distribution checks only (a shift a person may judge real) does not fail the
    task while ``CREDIT_RISK_SHIFT_APPROVAL_HOURS`` > 0: the verdict has ``review`` set, with
    the failures in words, and the DAG asks on-call to approve or reject the month.
    """
    warehouse = resolve_warehouse(conn_id=conn_id)
    built, _state = load_build(warehouse, build["build_id"])
    result = pipeline.check_published(
        warehouse, built, run_id, allow_review=get_settings().shift_approval_hours > 0
    )
    verdict = {**_outcome(result), "build_id": built.build_id, "review": not result.success}
    if not result.success:
        verdict["failures"] = str(result.error())
    return verdict


def decide_shift(
    verdict: dict, conn_id: str, run_id: str, *, approved: bool, decided_by: str, reason: str
) -> None:
    """Record on-call's decision on a month in review (see ``pipeline.decide_review``)."""
    warehouse = resolve_warehouse(conn_id=conn_id)
    built, _state = load_build(warehouse, verdict["build_id"])
    pipeline.decide_review(
        warehouse, built, approved=approved, decided_by=decided_by, reason=reason, run_id=run_id
    )


@fail_without_retry_on_bad_data
def publish(build: dict, conn_id: str, run_id: str) -> dict:
    """Replace the build's months for readers, atomically."""
    warehouse = resolve_warehouse(conn_id=conn_id)
    built, _state = load_build(warehouse, build["build_id"])
    publication = pipeline.publish_build(warehouse, built, run_id)
    log.info("publication of build %d: %s", publication.build_id, publication.outcome)
    if publication.outcome == SUPERSEDED:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(
            f"{month_label(built)} was reloaded by a newer run after this one built it; that run "
            "publishes it"
        )
    return {
        "build_id": publication.build_id,
        "months": publication.months,
        "outcome": publication.outcome,
        "latest_month": publication.latest_month,
    }


def month_label(built) -> str:
    """The month a build was made for, for messages."""
    return built.plan.trigger_month or built.plan.last_month


def _outcome(result) -> dict:
    return {
        "suite": result.suite,
        "month": result.month,
        "evaluated": result.evaluated,
        "data_docs": result.data_docs,
    }


def summarize_month(month: str, conn_id: str) -> dict[str, int]:
    """Customers per risk segment in the month, logged for the run's record."""
    summary = pipeline.segment_summary(resolve_warehouse(conn_id=conn_id), month)
    log.info("risk segments for %s:\n%s", month, summary.to_string(index=False))
    if summary.empty:
        return {}
    row = summary.iloc[0]
    return {column: int(row[column]) for column in summary.columns if column != "month"}


@fail_without_retry_on_bad_data
def detect_anomalies(month: str, conn_id: str, run_id: str) -> dict:
    """Flag the month's spending anomalies from the published data, then check the flags."""
    return _outcome(pipeline.detect_anomalies(resolve_warehouse(conn_id=conn_id), month, run_id))


@fail_without_retry_on_bad_data
def score_customers(month: str, conn_id: str, run_id: str) -> dict:
    """Score every customer's chance of turning high-risk next month, then check the scores."""
    run, result = pipeline.score_customers(resolve_warehouse(conn_id=conn_id), month, run_id)
    if result is None:
        # too little labelled history yet (the first months): nothing to check, nothing to page
        return {"month": month, "status": run.status, "detail": run.detail}
    return _outcome(result)


def check_refresh_deadline(now: dt.datetime, conn_id: str) -> dict:
    """The watchdog's check at ``now`` (its run's data interval end, so a rerun of a check gives
    the same verdict): page on-call about months past their refresh deadline."""
    from credit_risk.deadline import check_refresh_deadline as check

    result = check(resolve_warehouse(conn_id=conn_id), now)
    return {
        "due_month": result.due_month,
        "overdue": [item.month for item in result.overdue],
        "paged": result.paged,
        "channels": result.channels,
    }
