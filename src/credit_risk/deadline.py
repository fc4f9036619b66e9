"""The refresh deadline: page on-call when a closed month is not published in time.

A month must reach readers ``CREDIT_RISK_REFRESH_DEADLINE_HOURS`` (72) after it closes. The
``credit_risk_refresh_watchdog`` DAG runs :func:`check_refresh_deadline` every hour: it reads
the month ledger, finds the months whose deadline has passed and that readers still do not
have, and pages on-call once per month (``refresh_deadline_pages`` remembers whom it paged).

Why a watchdog instead of Airflow's ``DeadlineAlert``: in Airflow 3.3.2 a DAG with a deadline
cannot be cleared (``TypeError: unsupported type for timedelta seconds component: dict`` from
the UI, the REST API and ``airflow tasks clear``, apache/airflow#70368) and ``airflow dags test``
fails after every successful run (apache/airflow#73428); both are open. The watchdog is also
the stronger check: it needs no run of the monthly DAG, so it pages too when no run was ever
created for the month (DAG paused, scheduler down, the drop never arrived and nobody cleared the
task), which a deadline on the run cannot see.

What counts as refreshed: readers have the month (the ledger's ``published_load_id`` is set).
A month published once and being reloaded stays refreshed; a month that failed before its first
publication is overdue. Months before the first month in the ledger are never watched: the
warehouse did not exist then.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from credit_risk.alerts import (
    MISSED_DEADLINE,
    Alert,
    airflow_url,
    configured_channels,
    refresh_deadline,
    send_alert,
)
from credit_risk.months import add_months, month_of, month_range, months_between
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.ledger import MonthRecord, read_ledger
from credit_risk.warehouse.schema import ensure_tables

log = logging.getLogger(__name__)

MONTHLY_DAG_ID = "credit_risk_monthly"


def month_close(month: str) -> dt.datetime:
    """The instant a month closes: midnight UTC at the start of the next month."""
    year, mon = map(int, add_months(month, 1).split("-"))
    return dt.datetime(year, mon, 1, tzinfo=dt.UTC)


def due_month(now: dt.datetime, after: dt.timedelta) -> str:
    """The latest month whose deadline (its close + ``after``) has passed at ``now``."""
    return add_months(month_of(now - after), -1)


@dataclass(frozen=True)
class OverdueMonth:
    """A month past its deadline that readers do not have, and what the ledger says of it."""

    month: str
    deadline: dt.datetime
    record: MonthRecord | None

    def describe(self) -> str:
        """One line for on-call: where the month is stuck."""
        record = self.record
        if record is None:
            return f"{self.month}: never loaded (no drop arrived, or no run loaded it)"
        if record.failure:
            return (
                f"{self.month}: failed the {record.failed_stage} gate (run {record.failed_by}): "
                f"{record.failure}"
            )
        return f"{self.month}: {record.state} by run {record.loaded_by}, not published"


@dataclass
class DeadlineCheck:
    """What one watchdog check found and did."""

    due_month: str | None
    overdue: list[OverdueMonth] = field(default_factory=list)
    paged: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)


def overdue_months(
    ledger: dict[str, MonthRecord], now: dt.datetime, after: dt.timedelta
) -> list[OverdueMonth]:
    """Months from the first one in the ledger up to the due month that readers lack."""
    if not ledger:
        return []
    first, due = min(ledger), due_month(now, after)
    if due < first:
        return []
    return [
        OverdueMonth(month, month_close(month) + after, ledger.get(month))
        for month in month_range(first, months_between(first, due) + 1)
        if ledger.get(month) is None or ledger[month].published_load_id is None
    ]


def missed_deadline_alert(overdue: list[OverdueMonth], after: dt.timedelta) -> Alert:
    """One alert for the months newly past their deadline."""
    months = [item.month for item in overdue]
    hours = after.total_seconds() / 3600
    lines = [
        f"DAG: {MONTHLY_DAG_ID}",
        f"Not published {hours:g} h after the month closed: {', '.join(months)}",
        *(f"- {item.describe()} (deadline {item.deadline:%Y-%m-%d %H:%M} UTC)" for item in overdue),
        "Readers keep the last published months. Fix what blocks the month, then clear its run's "
        f"failed task (or trigger {MONTHLY_DAG_ID} with month={months[0]}); docs/operations.md.",
    ]
    return Alert(
        subject=(
            f"[credit-risk] {MONTHLY_DAG_ID} {months[0]}: refresh missed its deadline "
            f"({len(months)} month{'s' if len(months) > 1 else ''} not published)"
        ),
        text="\n".join(lines),
        dag_id=MONTHLY_DAG_ID,
        run_id="-",
        month=months[0],
        task_id=None,
        try_number=None,
        error_type=MISSED_DEADLINE,
        log_url=airflow_url(f"/dags/{MONTHLY_DAG_ID}"),
    )


def check_refresh_deadline(
    warehouse: Warehouse, now: dt.datetime, after: dt.timedelta | None = None
) -> DeadlineCheck:
    """Page on-call about the months newly past their deadline; each month is paged once.

    Args:
        warehouse: The warehouse whose ledger is watched.
        now: The instant to check at (the watchdog run's data interval end: reruns of a check
            give the same verdict).
        after: The grace period; default ``CREDIT_RISK_REFRESH_DEADLINE_HOURS``. None or 0:
            the deadline is off and nothing is checked.

    Raises:
        RuntimeError: an alert was due and channels are configured but none accepted it (the
            task fails and retries; the months stay unpaged until one does). With no channel
            configured at all the alert is logged at ERROR, as every alert is.
    """
    after = refresh_deadline() if after is None else after
    if not after:
        log.info("the refresh deadline is off (CREDIT_RISK_REFRESH_DEADLINE_HOURS=0)")
        return DeadlineCheck(None)
    with connect(warehouse) as conn:
        ensure_tables(conn)
        cursor = conn.cursor()
        overdue = overdue_months(read_ledger(cursor), now, after)
        cursor.execute("select month from refresh_deadline_pages")
        already = {month for (month,) in cursor.fetchall()}
    check = DeadlineCheck(due_month(now, after), overdue)
    new = [item for item in overdue if item.month not in already]
    log.info(
        "refresh deadline at %s: due through %s; %d month(s) overdue, %d not paged yet",
        now.isoformat(),
        check.due_month,
        len(overdue),
        len(new),
    )
    if not new:
        return check
    alert = missed_deadline_alert(new, after)
    configured = configured_channels()
    check.channels = send_alert(alert)
    if configured and not check.channels:
        raise RuntimeError(
            f"{alert.subject}: no alert channel accepted it ({', '.join(configured)} failed, "
            "see the log above); the check pages again on its next try"
        )
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.executemany(
            "insert ignore into refresh_deadline_pages (month, month_state, deadline_at, channels) "
            "values (%s, %s, %s, %s)",
            [
                (
                    item.month,
                    item.record.state if item.record else None,
                    item.deadline.replace(tzinfo=None),
                    ",".join(check.channels) or "log",
                )
                for item in new
            ],
        )
        conn.commit()
    check.paged = [item.month for item in new]
    return check
