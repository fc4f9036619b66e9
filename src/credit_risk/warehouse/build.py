"""Build the months a refresh changes into candidate tables that readers never see.

A refresh of month M builds the months the ledger's plan names (``ledger.plan_refresh``: M, and
the months whose windows read a month that changed), one month at a time, with the models in
``include/sql/models/int_*.sql``. Each model computes one month of a published table from that
month's loaded rows and, for the rolling windows, the five months before it: the build's own
rows for months it rebuilds, the published rows for the others. The cost of a refresh is then
the size of the months it builds, whatever the history.

Each build writes its own candidate tables (``candidate_b<build_id>_*``, recorded in
``builds``), so runs of different months, or two runs of one month, never overwrite each
other's candidates. ``publish`` replaces the built months of the published tables with them.

Consistency without waiting: the build reads the loaded tables at ``READ COMMITTED``, so it
never waits on a load's row locks, and it records the load id of every month it reads. If a
load of one of them commits while the build runs, the ids differ at the end, and the build is
made again from the new plan.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import MySQLdb

from credit_risk import catalog
from credit_risk.months import add_months
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.db import Warehouse, WarehouseError, connect, session_memory_sql
from credit_risk.warehouse.ledger import (
    MonthNotReadyError,
    RefreshPlan,
    plan_full,
    plan_refresh,
    read_ledger,
)
from credit_risk.warehouse.load_transaction import settle_interrupted_loads
from credit_risk.warehouse.schema import create_views, ensure_tables, read_sql, refresh_thresholds

log = logging.getLogger(__name__)

BUILDING, BUILT, IN_REVIEW, VALIDATED, PUBLISHED, FAILED, SUPERSEDED = (
    "building",
    "built",
    "in_review",
    "validated",
    "published",
    "failed",
    "superseded",
)
PENDING_STATES = (BUILDING, BUILT, IN_REVIEW, VALIDATED)
"""States of a build whose candidate tables may still be published. ``in_review``: its
published gate failed on distribution checks only and on-call has not decided yet."""
PENDING_MAX_HOURS = 24
"""A pending build older than this is abandoned: its run died before publishing it. A build in
review is kept until on-call decides (the approval step's own timeout rejects it), or for
``CREDIT_RISK_SHIFT_APPROVAL_HOURS`` + this when its decision was never recorded."""
BUILD_ATTEMPTS = 3
"""Builds made again when a month they read was reloaded meanwhile, before giving up."""
WAIT_LOG_SECONDS = 30
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.M)


@dataclass
class Build:
    """A built (not yet published) refresh: its id, its plan and the rows it built."""

    build_id: int
    plan: RefreshPlan
    rows: dict[str, int]

    def table(self, published_table: str) -> str:
        """The candidate table holding this build's rows of ``published_table``."""
        return catalog.candidate_table(published_table, self.build_id)

    @property
    def customer_month_rows(self) -> int:
        return self.rows.get("published_customer_month", 0)

    @property
    def transaction_rows(self) -> int:
        return self.rows.get("published_transactions", 0)


def model_statement(
    name: str,
    build_id: int | None,
    target: str,
    columns: list[str],
    *,
    published_inputs: bool = False,
) -> str:
    """``insert into <target>`` of model ``name`` for one month, the build's tables filled in
    (or, with ``published_inputs``, the published tables: a backfill of a new table).

    The model is a plain query (so it lints and reads like one); it becomes the derived table
    of the insert, which MySQL 8 and MariaDB both accept with its CTEs.
    """
    inputs = {
        "customer_month": "published_customer_month",
        "transactions": "published_transactions",
    }
    if not published_inputs:
        inputs = {key: catalog.candidate_table(table, build_id) for key, table in inputs.items()}
    query = _COMMENT_LINE.sub("", read_sql(name)).format(**inputs)
    listed = ", ".join(columns)
    return (
        f"insert into {target} ({listed}) select {listed} from (\n{query.strip()}\n) as model_rows"
    )


def month_parameters(month: str, first_month: str) -> dict[str, str]:
    """The values a model takes: the month, the five before it, the build's first month."""
    values = {"month": month, "build_first_month": first_month}
    for back in range(1, catalog.WINDOW_MONTHS):
        values[f"month_{back}"] = add_months(month, -back)
    return values


def wait_for_plan(
    plan: Callable[[], RefreshPlan], wait_seconds: float, poll_seconds: float = 5.0
) -> RefreshPlan:
    """``plan()``, retried while it says a month is not ready yet, for up to ``wait_seconds``.

    A parallel backfill loads months in any order: the run of April may be ready before March
    has been validated. It waits (saying for what) rather than failing.
    """
    deadline = time.monotonic() + wait_seconds
    last_log = 0.0
    while True:
        try:
            return plan()
        except MonthNotReadyError as error:
            now = time.monotonic()
            if now >= deadline:
                raise
            if now - last_log >= WAIT_LOG_SECONDS:
                log.info("%s (waiting up to %.0f s more)", error, deadline - now)
                last_log = now
            time.sleep(min(poll_seconds, max(deadline - now, 0.1)))


def plan_for(warehouse: Warehouse, month: str | None, *, full: bool = False) -> RefreshPlan:
    """The plan of a refresh of ``month`` (``full``: of every month) from the ledger as it is.

    With ``month`` None it refreshes the latest month that changed (which takes in the
    others: a whole extract loaded at once is published in one build).
    """
    with connect(warehouse) as conn:
        ensure_tables(conn)
        ledger = read_ledger(conn.cursor())
        conn.commit()
    if full:
        return plan_full(ledger)
    if month is None:
        changed = [each for each, record in ledger.items() if not record.is_published]
        if not ledger:
            raise MonthNotReadyError("nothing is loaded yet: load an extract first")
        month = changed[-1] if changed else max(ledger)
    return plan_refresh(ledger, month)


def build(
    warehouse: Warehouse,
    month: str | None = None,
    *,
    full: bool = False,
    run_id: str = "cli",
    wait_seconds: float = 0.0,
    settings: Settings | None = None,
) -> Build:
    """Plan the refresh of ``month`` (or a full rebuild), wait for its inputs, build it.

    Raises:
        MonthBlockedError: a month the plan needs failed a gate (fix it first).
        MonthNotReadyError: a month it needs is still not ready after ``wait_seconds``.
    """
    settings = settings or get_settings()
    for attempt in range(1, BUILD_ATTEMPTS + 1):
        plan = wait_for_plan(lambda: plan_for(warehouse, month, full=full), wait_seconds)
        built = _build_plan(warehouse, plan, run_id, settings)
        if built is not None:
            return built
        log.warning(
            "a month this build read was reloaded while it ran; building again (%d/%d)",
            attempt,
            BUILD_ATTEMPTS,
        )
    raise WarehouseError(
        f"the months this build reads kept being reloaded ({BUILD_ATTEMPTS} attempts); "
        "rerun it when the loads have finished"
    )


def _build_plan(
    warehouse: Warehouse, plan: RefreshPlan, run_id: str, settings: Settings
) -> Build | None:
    """Build ``plan``; None (candidates dropped) when an input was reloaded meanwhile."""
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        refresh_thresholds(cursor, settings)
        create_views(cursor)
        conn.commit()
        drop_stray_candidates(cursor)
        _require_settled(warehouse, cursor, plan)
        build_id = _register(cursor, plan, run_id)
        conn.commit()
        tables = {name: catalog.candidate_table(name, build_id) for name in catalog.SNAPSHOTS}
        for published, candidate in tables.items():
            cursor.execute(f"create table {candidate} like {published}")
            if published in catalog.MONTH_PARTITIONED:
                cursor.execute(f"alter table {candidate} remove partitioning")
        # Reads of the loaded tables take no row locks at READ COMMITTED, so a build never
        # waits on a load; the load ids read before and after tell whether one committed.
        cursor.execute("set session transaction isolation level read committed")
        cursor.execute(session_memory_sql(settings.build_temp_table_mb))
        statements = {
            published: model_statement(
                model, build_id, tables[published], table_columns(cursor, published)
            )
            for published, model in catalog.SNAPSHOTS.items()
        }
        started = time.perf_counter()
        try:
            for month in plan.months:
                parameters = month_parameters(month, plan.first_month)
                for statement in statements.values():
                    cursor.execute(statement, parameters)
                    conn.commit()
        except MySQLdb.Error as error:  # leave no candidate behind (the server may be gone)
            with contextlib.suppress(MySQLdb.Error):
                conn.rollback()
                _drop_build(cursor, build_id, FAILED, f"the build failed: {error}")
            raise
        if _input_loads(cursor, plan) != plan.inputs:
            conn.commit()
            _drop_build(cursor, build_id, SUPERSEDED, "a month it read was reloaded meanwhile")
            return None
        rows = {}
        for published, candidate in tables.items():
            cursor.execute(f"select count(*) from {candidate}")
            rows[published] = int(cursor.fetchone()[0])
        cursor.execute(
            "update builds set state = %s, detail = %s where build_id = %s",
            (BUILT, json.dumps(rows), build_id),
        )
        conn.commit()
    log.info(
        "build %d: %s in %.1f s (%s)",
        build_id,
        ", ".join(plan.months),
        time.perf_counter() - started,
        ", ".join(f"{name} {count}" for name, count in rows.items()),
    )
    return Build(build_id, plan, rows)


def table_columns(cursor, table: str) -> list[str]:
    """The columns of ``table``, in order."""
    cursor.execute(
        "select column_name from information_schema.columns "
        "where table_schema = database() and table_name = %s order by ordinal_position",
        (table,),
    )
    return [row[0] for row in cursor.fetchall()]


def _register(cursor, plan: RefreshPlan, run_id: str) -> int:
    cursor.execute(
        "insert into builds (trigger_month, first_month, last_month, months, changed_months, "
        "is_full, inputs, state, run_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            plan.trigger_month,
            plan.first_month,
            plan.last_month,
            ",".join(plan.months),
            ",".join(plan.changed),
            plan.is_full,
            json.dumps(plan.inputs, sort_keys=True),
            BUILDING,
            run_id[:250],
        ),
    )
    return int(cursor.lastrowid)


def _input_loads(cursor, plan: RefreshPlan) -> dict[str, str]:
    ledger = read_ledger(cursor)
    return {month: ledger[month].load_id for month in plan.inputs if month in ledger}


def _require_settled(warehouse: Warehouse, cursor, plan: RefreshPlan, seconds: float = 10) -> None:
    """Every month the build reads must have both branches of its last load committed.

    Between its two commits a load has written its ledger row but not yet its transactions;
    that lasts a moment, unless the loading process died there: then the load is finished
    here (its outcome was decided), as the next load would. A dead load's undecided branches
    are rolled back first, so their locks hold up nothing (``settle_interrupted_loads``).
    """
    deadline = time.monotonic() + seconds
    settle_interrupted_loads(cursor.connection, warehouse.database)
    while True:
        ledger = read_ledger(cursor)
        cursor.connection.commit()
        unsettled = [month for month in plan.inputs if not ledger[month].is_settled]
        if not unsettled:
            return
        settle_interrupted_loads(cursor.connection, warehouse.database)
        if time.monotonic() >= deadline:
            raise MonthNotReadyError(
                f"the load of {unsettled[0]} is between its two commits and did not finish in "
                f"{seconds:.0f} s; the next load finishes it (docs/operations.md, XA RECOVER)"
            )
        time.sleep(0.2)


def candidate_tables(cursor) -> dict[int, list[str]]:
    """Candidate tables by build id (tables of the old single-snapshot layout under -1)."""
    cursor.execute(
        "select table_name from information_schema.tables where table_schema = database() "
        "and (table_name like 'candidate\\_%%' or table_name like 'retired\\_%%')"
    )
    found: dict[int, list[str]] = {}
    for (name,) in cursor.fetchall():
        match = re.match(r"candidate_b(\d+)_", name)
        found.setdefault(int(match.group(1)) if match else -1, []).append(name)
    return found


def drop_stray_candidates(cursor) -> list[str]:
    """Drop the candidate tables no publication can use any more.

    That is those of builds published, failed or superseded, of pending builds older than
    ``PENDING_MAX_HOURS`` (their run died), and of builds the ledger does not know.
    """
    tables = candidate_tables(cursor)
    if not tables:
        return []
    review_hours = get_settings().shift_approval_hours + PENDING_MAX_HOURS
    cursor.execute(
        "update builds set state = %s, detail = 'abandoned: no decision within "
        f"{review_hours:g} h', finished_at = current_timestamp(6) where state = %s "
        f"and built_at < now() - interval {int(review_hours * 3600)} second",
        (SUPERSEDED, IN_REVIEW),
    )
    cursor.execute(
        "update builds set state = %s, detail = 'abandoned: not published within "
        f"{PENDING_MAX_HOURS} h', finished_at = current_timestamp(6) where state in %s "
        f"and built_at < now() - interval {PENDING_MAX_HOURS} hour",
        (SUPERSEDED, tuple(state for state in PENDING_STATES if state != IN_REVIEW)),
    )
    cursor.execute(
        "select build_id from builds where state in %s and build_id in %s",
        (PENDING_STATES, tuple(tables) or (0,)),
    )
    pending = {int(build_id) for (build_id,) in cursor.fetchall()}
    cursor.connection.commit()
    dropped = [
        name for build_id, names in tables.items() if build_id not in pending for name in names
    ]
    for name in dropped:
        cursor.execute(f"drop table if exists {name}")
    if dropped:
        log.info("dropped %d candidate tables of finished builds", len(dropped))
    return dropped


def _drop_build(cursor, build_id: int, state: str, detail: str) -> None:
    cursor.execute(
        "update builds set state = %s, detail = %s, finished_at = current_timestamp(6) "
        "where build_id = %s",
        (state, detail[:1000], build_id),
    )
    cursor.connection.commit()
    for published in catalog.SNAPSHOTS:
        cursor.execute(f"drop table if exists {catalog.candidate_table(published, build_id)}")


def finish_build(warehouse: Warehouse, build_id: int, state: str, detail: str = "") -> None:
    """Record what became of a build and drop its candidate tables (kept when it failed, for
    inspection, until the next build)."""
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        if state == FAILED:
            cursor.execute(
                "update builds set state = %s, detail = %s, finished_at = current_timestamp(6) "
                "where build_id = %s",
                (state, detail[:1000], build_id),
            )
            conn.commit()
        else:
            _drop_build(cursor, build_id, state, detail)


def mark_validated(warehouse: Warehouse, build_id: int) -> None:
    """The published suite passed on the build."""
    with connect(warehouse) as conn:
        conn.cursor().execute(
            "update builds set state = %s where build_id = %s and state = %s",
            (VALIDATED, build_id, BUILT),
        )
        conn.commit()


def mark_in_review(warehouse: Warehouse, build_id: int) -> None:
    """The published suite failed on distribution checks only: the build waits, candidate
    tables kept, for on-call to approve (``mark_approved``) or reject it."""
    with connect(warehouse) as conn:
        conn.cursor().execute(
            "update builds set state = %s where build_id = %s and state = %s",
            (IN_REVIEW, build_id, BUILT),
        )
        conn.commit()


def load_build(warehouse: Warehouse, build_id: int) -> tuple[Build, str]:
    """A recorded build and its state (for the tasks after the one that built it)."""
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "select trigger_month, months, changed_months, is_full, inputs, state, detail "
            "from builds where build_id = %s",
            (build_id,),
        )
        row = cursor.fetchone()
    if row is None:
        raise WarehouseError(f"build {build_id} is not recorded in builds")
    trigger, months, changed, is_full, inputs, state, detail = row
    inputs = json.loads(inputs)
    built = months.split(",")
    plan = RefreshPlan(
        trigger_month=trigger,
        months=built,
        lookback=sorted(month for month in inputs if month not in built),
        inputs=inputs,
        is_full=bool(is_full),
        changed=[month for month in changed.split(",") if month],
    )
    try:
        rows = json.loads(detail) if detail else {}
    except (TypeError, ValueError):
        rows = {}
    return Build(build_id, plan, rows if isinstance(rows, dict) else {}), state
