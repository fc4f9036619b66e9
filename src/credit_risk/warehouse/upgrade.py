"""Bring a warehouse made before month partitions and the ledger to the current layout, once.

The earlier layout rebuilt the whole published snapshot every month: its tables had no month
partitions, ``transactions`` and ``published_transactions`` were keyed by the id alone,
``published_customer_month`` carried an ``is_latest_statement`` flag, and no ledger said which
month is where. ``upgrade`` (run by ``schema.ensure_tables`` when it finds that layout) changes
it in place, keeping every row:

1. partitions ``statements``, ``transactions``, ``published_customer_month`` and
   ``published_transactions`` by month (the two id-keyed tables get the month in their key;
   their ids were unique across months already);
2. moves the latest-statement flag into ``published_customer_latest``, and adds the month's
   transaction totals to ``published_customer_month`` (counted from ``published_transactions``);
3. writes the ledger: every loaded month is ``published`` if readers see it (it passed every
   gate then), else ``validated`` if its last loaded suite passed after its load, else
   ``loaded``; and each month's transaction marker (count and id range).

Each ``ALTER TABLE`` copies its table once (about the time of a load of the same rows) and
takes it offline for that time: run the first load or build after an upgrade of the code at a
quiet moment. Every step checks whether it is still needed, so an upgrade stopped half way is
finished by the next call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from credit_risk.warehouse.db import WarehouseError
from credit_risk.warehouse.partitions import ensure_partitions, existing_months, partition_name
from credit_risk.warehouse.schema import create_tables

log = logging.getLogger(__name__)

UPGRADE_LOCK_SECONDS = 3600
LOAD_ID = "upgraded"
"""The load id the ledger gives months loaded before it existed."""

_PARTITIONED = {
    "statements": ("statement_month", None),
    "transactions": ("statement_month", "transaction_id, statement_month"),
    "published_customer_month": ("month", None),
    "published_transactions": ("month", "transaction_id, month"),
}


def needs_upgrade(cursor) -> bool:
    """Whether ``transactions`` exists without month partitions (the earlier layout)."""
    cursor.execute(
        "select count(*), count(partition_name) from information_schema.partitions "
        "where table_schema = database() and table_name = 'transactions'"
    )
    tables, partitions = cursor.fetchone()
    return bool(tables) and not partitions


def _exists(cursor, table: str, column: str | None = None) -> bool:
    if column is None:
        cursor.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = database() and table_name = %s",
            (table,),
        )
    else:
        cursor.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = database() and table_name = %s and column_name = %s",
            (table, column),
        )
    return bool(cursor.fetchone()[0])


def _partitioned(cursor, table: str) -> bool:
    cursor.execute(
        "select count(partition_name) from information_schema.partitions "
        "where table_schema = database() and table_name = %s",
        (table,),
    )
    return bool(cursor.fetchone()[0])


def _partition(cursor, table: str, column: str, key: str | None) -> None:
    if not _exists(cursor, table) or _partitioned(cursor, table):
        return
    cursor.execute(f"select distinct {column} from {table}")
    months = sorted(month for (month,) in cursor.fetchall())
    partitions = ", ".join(
        [
            "partition p000000 values in ('0000-00')",
            *(f"partition {partition_name(month)} values in ('{month}')" for month in months),
        ]
    )
    rekey = f"drop primary key, add primary key ({key}) " if key else ""
    log.warning("upgrading %s: one partition per month (%d months)", table, len(months))
    cursor.execute(f"alter table {table} {rekey}partition by list columns({column}) ({partitions})")


@contextlib.contextmanager
def _upgrade_lock(cursor) -> Iterator[None]:
    """The warehouse's upgrade lock (a named server lock), held for the block: one process
    upgrades, the others wait and then find nothing left to do."""
    cursor.execute("select database()")
    name = f"credit_risk_upgrade:{cursor.fetchone()[0]}"[:64]
    cursor.execute("select get_lock(%s, %s)", (name, UPGRADE_LOCK_SECONDS))
    if cursor.fetchone()[0] != 1:
        raise WarehouseError(
            f"another process has been upgrading the warehouse for {UPGRADE_LOCK_SECONDS} s"
        )
    try:
        yield
    finally:
        cursor.execute("select release_lock(%s)", (name,))


def upgrade_once(conn) -> None:
    """``upgrade``, by one process at a time (the others wait, then find nothing to do)."""
    cursor = conn.cursor()
    with _upgrade_lock(cursor):
        if needs_upgrade(cursor):
            upgrade(cursor)


def upgrade(cursor) -> None:
    """Change a warehouse of the earlier layout in place (see the module); idempotent."""
    log.warning("upgrading the warehouse to month partitions and the month ledger")
    create_tables(
        cursor, ["published_customer_latest", "month_ledger", "transaction_months", "builds"]
    )
    if _exists(cursor, "published_customer_month", "is_latest_statement"):
        cursor.execute(
            "insert ignore into published_customer_latest (customer_id, month) "
            "select customer_id, month from published_customer_month where is_latest_statement"
        )
        cursor.connection.commit()
        cursor.execute("alter table published_customer_month drop column is_latest_statement")
    if _exists(cursor, "published_customer_month") and not _exists(
        cursor, "published_customer_month", "transaction_count"
    ):
        _add_transaction_totals(cursor)
    for table, (column, key) in _PARTITIONED.items():
        _partition(cursor, table, column, key)
    if _exists(cursor, "publications") and not _exists(cursor, "publications", "months"):
        cursor.execute(
            "alter table publications add column months varchar(2000) null after latest_month, "
            "add column build_id bigint null after months"
        )
    _write_ledger(cursor)


def _add_transaction_totals(cursor) -> None:
    """The month's transaction counts and amounts the build now stores per customer-month."""
    log.warning("upgrading published_customer_month: transaction totals per customer-month")
    cursor.execute(
        "alter table published_customer_month "
        "add column transaction_count int not null default 0, "
        "add column cash_advance_count int not null default 0, "
        "add column cash_advance_amount decimal(14, 2) not null default 0, "
        "add column charge_amount decimal(14, 2) not null default 0"
    )
    cursor.execute(
        "update published_customer_month as rows_ inner join ("
        "select customer_id, month, count(*) as transaction_count, "
        "sum(transaction_type = 'cash_advance') as cash_advance_count, "
        "sum(case when transaction_type = 'cash_advance' then transaction_amount else 0 end) "
        "as cash_advance_amount, "
        "sum(case when transaction_type in ('cash_advance', 'purchase') "
        "then transaction_amount else 0 end) as charge_amount "
        "from published_transactions group by customer_id, month) as totals "
        "on totals.customer_id = rows_.customer_id and totals.month = rows_.month "
        "set rows_.transaction_count = totals.transaction_count, "
        "rows_.cash_advance_count = totals.cash_advance_count, "
        "rows_.cash_advance_amount = totals.cash_advance_amount, "
        "rows_.charge_amount = totals.charge_amount"
    )
    cursor.connection.commit()


def _write_ledger(cursor) -> None:
    cursor.execute(
        "select month from (select distinct statement_month as month from statements "
        "union select distinct statement_month from transactions) as loaded"
    )
    months = sorted(month for (month,) in cursor.fetchall())
    cursor.execute("select distinct month from published_customer_month")
    published = {month for (month,) in cursor.fetchall()}
    cursor.execute(
        "select partition_month, max(loaded_at) from load_audit group by partition_month"
    )
    loaded_at = dict(cursor.fetchall())
    for month in months:
        state = (
            "published"
            if month in published
            else _validated_or_loaded(cursor, month, loaded_at.get(month))
        )
        cursor.execute(
            "insert ignore into month_ledger (month, state, load_id, loaded_by, "
            "published_load_id, published_by) values (%s, %s, %s, %s, %s, %s)",
            (
                month,
                state,
                LOAD_ID,
                "upgrade",
                LOAD_ID if state == "published" else None,
                "upgrade" if state == "published" else None,
            ),
        )
        cursor.execute(
            "insert ignore into transaction_months (month, load_id, transactions, "
            "first_transaction_id, last_transaction_id) select %s, %s, count(*), "
            "min(transaction_id), max(transaction_id) from transactions "
            "where statement_month = %s",
            (month, LOAD_ID, month),
        )
    cursor.connection.commit()
    log.warning("the ledger holds %d months (%d published)", len(months), len(published))


def _validated_or_loaded(cursor, month: str, loaded_at) -> str:
    if loaded_at is None or not _exists(cursor, "validation_runs"):
        return "loaded"
    cursor.execute(
        "select is_success from validation_runs where stage = 'loaded' and partition_month = %s "
        "and validated_at >= %s order by validated_at desc limit 1",
        (month, loaded_at),
    )
    row = cursor.fetchone()
    return "validated" if row and row[0] else "loaded"


PURCHASE_PROFILE = "published_purchase_profile"


def missing_profile_months(cursor) -> list[str]:
    """Published months whose ``published_purchase_profile`` rows are missing: a warehouse that
    published them before the table existed, or a backfill stopped half way. Cheap whatever
    the history (``ensure_tables`` asks every time): the partition names, then one probe of
    the month key per published month, never a scan of the table."""
    present = existing_months(cursor, ["published_customer_month", PURCHASE_PROFILE])
    published = sorted(present["published_customer_month"])
    if not published:
        return []
    months = " union all ".join(["select %s as month"] * len(published))
    cursor.execute(
        f"select month from ({months}) as published where not exists "
        f"(select 1 from {PURCHASE_PROFILE} as rows_ where rows_.month = published.month)",
        published,
    )
    missing = []
    for (month,) in cursor.fetchall():
        cursor.execute(
            "select exists (select 1 from published_transactions where month = %s "
            "and transaction_type = 'purchase' and transaction_amount > 0)",
            (month,),
        )
        if month not in present[PURCHASE_PROFILE] or cursor.fetchone()[0]:
            missing.append(month)
    return sorted(missing)


def backfill_purchase_profile(conn) -> None:
    """Compute ``published_purchase_profile`` for the published months that lack it, from their
    published transactions, one month per transaction (about 7 s a month at 100,000
    customers), by one process at a time; a backfill stopped half way resumes where it was."""
    from credit_risk.settings import get_settings
    from credit_risk.warehouse.build import model_statement, table_columns
    from credit_risk.warehouse.db import session_memory_sql

    cursor = conn.cursor()
    with _upgrade_lock(cursor):
        months = missing_profile_months(cursor)
        if not months:
            return
        log.warning(
            "upgrading %s: computing %d published month(s) %s..%s",
            PURCHASE_PROFILE,
            len(months),
            months[0],
            months[-1],
        )
        cursor.execute(session_memory_sql(get_settings().build_temp_table_mb))
        insert = model_statement(
            "int_purchase_profile",
            None,
            PURCHASE_PROFILE,
            table_columns(cursor, PURCHASE_PROFILE),
            published_inputs=True,
        )
        ensure_partitions(cursor, months, [PURCHASE_PROFILE])
        for month in months:
            cursor.execute(f"delete from {PURCHASE_PROFILE} where month = %s", (month,))
            cursor.execute(insert, {"month": month})
            conn.commit()
