"""Publish a validated build: replace exactly its months of the published tables, atomically.

Readers query the published views, which read the ``published_*`` tables. A publication deletes
the build's months from each published table and inserts the build's candidate rows, updates
each customer's latest statement month, and marks the months ``published`` in the ledger, all
in one transaction: readers see those months as they were or as they are now, never a mix, and
the other months are not touched at all.

Before it writes, it plans the refresh again from the ledger, under lock, and publishes only if
the plan is the one the build was made from: same months, same loads. Otherwise:

- every month of the build is already published from the same loads (another run did it):
  nothing to do (a full rebuild publishes anyway: it is asked for to rewrite everything);
- the build's own month was reloaded since (a newer run of the month will publish that):
  the build is superseded;
- anything else changed (a month its windows read was reloaded and republished): the build is
  stale, and ``StaleBuildError`` tells the caller to build again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credit_risk import catalog
from credit_risk.warehouse.build import (
    BUILT,
    PUBLISHED,
    SUPERSEDED,
    VALIDATED,
    Build,
    finish_build,
)
from credit_risk.warehouse.db import Warehouse, WarehouseError, connect
from credit_risk.warehouse.ledger import (
    MonthRecord,
    plan_full,
    plan_refresh,
    read_ledger,
    record_published,
)
from credit_risk.warehouse.partitions import ensure_partitions

log = logging.getLogger(__name__)

DONE, ALREADY, SUPERSEDED_OUTCOME = "published", "already published", "superseded"
_ORPHAN_BATCH = 1000
PARTITIONED_PUBLISHED_TABLES = [
    table for table in catalog.MONTH_PARTITIONED if table in catalog.PUBLISHED_TABLES
]


class StaleBuildError(WarehouseError):
    """A month the build read changed after it was built: build again."""


@dataclass(frozen=True)
class Publication:
    """What publishing a build did."""

    build_id: int
    months: list[str]
    outcome: str
    customer_month_rows: int = 0
    transaction_rows: int = 0
    latest_month: str | None = None
    detail: str = ""


def _verdict(ledger: dict[str, MonthRecord], build: Build) -> str:
    plan = build.plan
    if not plan.is_full and all(
        month in ledger
        and ledger[month].is_published
        and ledger[month].published_load_id == plan.inputs[month]
        for month in plan.months
    ):
        return ALREADY
    trigger = plan.trigger_month
    if (
        trigger is not None
        and ledger.get(trigger)
        and ledger[trigger].load_id != plan.inputs.get(trigger)
    ):
        return SUPERSEDED_OUTCOME
    again = plan_full(ledger) if plan.is_full else plan_refresh(ledger, trigger)
    if again.months == plan.months and again.inputs == plan.inputs:
        return DONE
    changed = sorted(
        month
        for month in set(again.inputs) | set(plan.inputs)
        if again.inputs.get(month) != plan.inputs.get(month)
    )
    raise StaleBuildError(
        f"build {build.build_id} ({plan.first_month}..{plan.last_month}) is out of date: "
        + (
            f"{', '.join(changed)} changed since it was built"
            if changed
            else f"the refresh now covers {again.first_month}..{again.last_month}"
        )
    )


def publish(
    warehouse: Warehouse, build: Build, *, run_id: str, require_validated: bool = True
) -> Publication:
    """Replace the build's months of every published table with its rows (see the module).

    Raises:
        StaleBuildError: a month the build read changed since; build again.
        MonthBlockedError / MonthNotReadyError: the refresh cannot be published any more (a
            month it reads failed, or is being reloaded).
        WarehouseError: the build was not validated (and ``require_validated``).
    """
    plan = build.plan
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        ensure_partitions(cursor, plan.months, PARTITIONED_PUBLISHED_TABLES)
        conn.commit()
        cursor.execute("set session transaction isolation level read committed")
        cursor.execute("select state from builds where build_id = %s for update", (build.build_id,))
        row = cursor.fetchone()
        state = row[0] if row else None
        allowed = (VALIDATED,) if require_validated else (VALIDATED, BUILT)
        if state == PUBLISHED:
            conn.rollback()
            return Publication(build.build_id, plan.months, ALREADY, detail="published before")
        if state not in allowed:
            raise WarehouseError(
                f"build {build.build_id} is {state or 'unknown'}, not validated: run the "
                "published suite on it first"
            )
        cursor.execute(
            "select month from month_ledger where month in %s for update", (tuple(plan.inputs),)
        )
        verdict = _verdict(read_ledger(cursor), build)
        if verdict != DONE:
            conn.rollback()
            finish_build(warehouse, build.build_id, SUPERSEDED, verdict)
            log.info("build %d not published: %s", build.build_id, verdict)
            return Publication(build.build_id, plan.months, verdict)
        _replace_months(cursor, build)
        _refresh_latest(cursor, build)
        record_published(cursor, plan, build.build_id, run_id)
        cursor.execute("select max(month) from month_ledger where state = 'published'")
        latest = cursor.fetchone()[0]
        cursor.execute(
            "update builds set state = %s, finished_at = current_timestamp(6) where build_id = %s",
            (PUBLISHED, build.build_id),
        )
        cursor.execute(
            "insert into publications (run_month, latest_month, months, build_id, "
            "customer_month_rows, transaction_rows, published_by) "
            "values (%s, %s, %s, %s, %s, %s, %s)",
            (
                plan.trigger_month,
                latest,
                ",".join(plan.months)[:2000],
                build.build_id,
                build.customer_month_rows,
                build.transaction_rows,
                run_id[:250],
            ),
        )
        conn.commit()
    finish_build(warehouse, build.build_id, PUBLISHED)
    log.info("published %s (build %d)", ", ".join(plan.months), build.build_id)
    return Publication(
        build.build_id,
        plan.months,
        DONE,
        build.customer_month_rows,
        build.transaction_rows,
        latest,
    )


def _replace_months(cursor, build: Build) -> None:
    months = tuple(build.plan.months)
    for published in catalog.SNAPSHOTS:
        cursor.execute(f"delete from {published} where month in %s", (months,))
        cursor.execute(f"insert into {published} select * from {build.table(published)}")


def _refresh_latest(cursor, build: Build) -> None:
    """Each customer's latest published statement month, for the customers of the build.

    A customer whose latest month is rebuilt keeps it if the new rows still have a statement
    then; the new rows can only move a latest month later; a customer whose statement in their
    latest month was removed (a rare correction) is looked up again in the published table.
    """
    months = tuple(build.plan.months)
    candidate = build.table("published_customer_month")
    cursor.execute(
        "select latest.customer_id from published_customer_latest as latest "
        f"left join {candidate} as rebuilt on rebuilt.customer_id = latest.customer_id "
        "and rebuilt.month = latest.month and rebuilt.has_statement "
        "where latest.month in %s and rebuilt.customer_id is null",
        (months,),
    )
    orphans = [customer for (customer,) in cursor.fetchall()]
    cursor.execute("delete from published_customer_latest where month in %s", (months,))
    cursor.execute(
        "insert into published_customer_latest (customer_id, month) "
        f"select customer_id, max(month) from {candidate} where has_statement "
        "group by customer_id "
        "on duplicate key update month = greatest(published_customer_latest.month, "
        "values(month))"
    )
    for start in range(0, len(orphans), _ORPHAN_BATCH):
        batch = tuple(orphans[start : start + _ORPHAN_BATCH])
        cursor.execute(
            "insert into published_customer_latest (customer_id, month) "
            "select customer_id, max(month) from published_customer_month "
            "where customer_id in %s and has_statement group by customer_id "
            "on duplicate key update month = greatest(published_customer_latest.month, "
            "values(month))",
            (batch,),
        )
