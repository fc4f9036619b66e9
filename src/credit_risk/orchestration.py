"""What Airflow adds to the steps: which month a run loads, and the steps as tasks.

The work of every task is a function of ``credit_risk.steps``, which knows nothing of Airflow;
this module chooses the run's month once (``run_month``, from its param or data interval; the
run note says the same), resolves the warehouse from the task's Airflow connection and turns
the steps' errors into Airflow's signals (``run_step``). None of it reads the clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator

from credit_risk.contract import ExtractRefusedError
from credit_risk.months import add_months, month_of, validate_month
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.steps import MonthNotConfiguredError, PublicationSupersededError
from credit_risk.warehouse.db import resolve_warehouse
from credit_risk.warehouse.ledger import MonthBlockedError

log = logging.getLogger(__name__)


class RunConfigurationError(ValueError):
    """The run asks for something its configuration cannot give (no retry can help)."""


NOT_RETRYABLE = (
    ExtractRefusedError,
    RunConfigurationError,
    MonthNotConfiguredError,
    ValidationFailedError,
    MonthBlockedError,
)
"""Failures a retry cannot fix: broken data, a month blocked by one that failed, wrong
configuration, a month's drop that is not there (a retry minutes later will not find it; the
refresh deadline pages when it stays missing). Lost connections, a month still being loaded by
another run and server errors stay retryable."""


@contextlib.contextmanager
def airflow_signals() -> Iterator[None]:
    """Turn the steps' errors into Airflow's signals.

    Data and configuration errors (``NOT_RETRYABLE``) fail the task at once: retrying a refused
    file burns retries and pages on-call three times for one problem, and the original message
    is kept so the task log still names file, line and field. A publication that a newer run
    of the month took over is a skip: that run publishes the month.
    """
    try:
        yield
    except NOT_RETRYABLE as error:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(error).__name__}: {error}") from error
    except PublicationSupersededError as superseded:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(str(superseded)) from superseded


def fail_without_retry_on_bad_data(function: Callable) -> Callable:
    """``function`` under :func:`airflow_signals`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with airflow_signals():
            return function(*args, **kwargs)

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


def run_step(step: Callable, conn_id: str, *args, **kwargs):
    """Run one of ``credit_risk.steps`` as an Airflow task does: on the warehouse of the
    Airflow connection ``conn_id``, with Airflow's signals (:func:`airflow_signals`)."""
    with airflow_signals():
        return step(resolve_warehouse(conn_id=conn_id), *args, **kwargs)
