"""A warehouse created by an earlier version gets the keys later added to include/sql.

``create table if not exists`` leaves an existing table untouched, so without ``create_tables``
a key added to a table's file would never reach a deployed warehouse (nor, since candidates are
created ``like`` the published table, any later snapshot).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from credit_risk import catalog, pipeline, steps
from credit_risk.generate.realistic import generate_realistic
from credit_risk.months import month_range
from credit_risk.settings import SQL_DIR
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import connect, warehouse_from_url
from credit_risk.warehouse.schema import (
    declared_columns,
    declared_indexes,
    ensure_tables,
    read_sql,
)
from tests.conftest import execute, query

pytestmark = pytest.mark.integration

NEW_KEYS = ("ix_published_customer_month_at_risk", "ix_published_customer_month_arrears")


def keys(db_url: str, table: str) -> set[str]:
    rows = query(
        db_url,
        "select distinct index_name from information_schema.statistics "
        "where table_schema = database() and table_name = %s",
        (table,),
    )
    return {name for (name,) in rows}


def test_declared_indexes_reads_every_key_of_every_file():
    for path in sorted(SQL_DIR.rglob("*.sql")):
        text = path.read_text(encoding="utf-8")
        written = re.findall(r"^\s*key\s+(\w+)", text, re.I | re.M)
        assert list(declared_indexes(path.stem)) == written, path.name
    assert set(NEW_KEYS) <= set(declared_indexes("published_customer_month"))


def test_an_old_published_table_gets_the_new_keys_and_keeps_them_through_publication(
    new_db_url, tmp_path
):
    db_url = new_db_url()
    old_ddl = read_sql("published_customer_month")
    for key in NEW_KEYS:
        old_ddl = re.sub(rf",\s*key {key} \([^)]*\)", "", old_ddl)
    assert not any(key in old_ddl for key in NEW_KEYS)
    execute(db_url, old_ddl)
    assert keys(db_url, "published_customer_month").isdisjoint(NEW_KEYS)

    generate_realistic(tmp_path, customers=40, months=3, start="2024-01", seed=5)
    run(warehouse_from_url(db_url), tmp_path, validate=False)

    assert set(NEW_KEYS) <= keys(db_url, "published_customer_month")
    # the candidates are created like the upgraded table, and their rows reach it
    assert query(db_url, "select count(distinct month) from published_customer_month") == [(3,)]
    for table in catalog.SNAPSHOTS:
        assert set(declared_indexes(table)) <= keys(db_url, table), table


APPROVAL_COLUMNS = ("approved_by", "approved_at", "approval_reason")


def columns(db_url: str, table: str) -> list[str]:
    rows = query(
        db_url,
        "select column_name from information_schema.columns where table_schema = database() "
        "and table_name = %s order by ordinal_position",
        (table,),
    )
    return [name for (name,) in rows]


def test_declared_columns_reads_every_column_of_every_table_file():
    for name in catalog.TABLES:
        ddl = read_sql(name)
        body = ddl[ddl.index("(", ddl.lower().index("create table")) :]
        written = re.findall(r"^    (\w+) ", body, re.M)
        skip = ("primary", "key", "unique", "partition")
        written = [word for word in written if word.lower() not in skip]
        assert list(declared_columns(name)) == written, name


def test_tables_made_before_the_approval_columns_get_them_and_keep_their_rows(new_db_url):
    db_url = new_db_url()
    for table in ("validation_runs", "month_ledger"):
        old_ddl = "\n".join(
            line
            for line in read_sql(table).splitlines()
            if not line.strip().startswith(APPROVAL_COLUMNS)
        )
        execute(db_url, old_ddl)
        assert not set(APPROVAL_COLUMNS) & set(columns(db_url, table))
    execute(
        db_url,
        "insert into validation_runs (suite, stage, partition_month, is_success, "
        "evaluated_expectations, failed_expectations) values ('published', 'published', "
        "'2024-01', true, 9, 0)",
    )
    with connect(warehouse_from_url(db_url)) as conn:
        ensure_tables(conn)
    for table in ("validation_runs", "month_ledger"):
        assert list(declared_columns(table)) == columns(db_url, table), table
    assert query(db_url, "select suite, approved_by from validation_runs") == [("published", None)]


# --- the layout before month partitions and the ledger -----------------------------------------

SCHEMA_V1 = Path(__file__).resolve().parents[1] / "data" / "schema_v1"
"""include/sql of the earlier layout (commit 0193cda), for the tables the upgrade changes."""
UNCHANGED = (
    "customers",
    "load_audit",
    "validation_runs",
    "risk_thresholds",
    "published_portfolio_month",
    "published_utilization_buckets",
    "published_credit_limit_month",
)
PUBLISHED = {
    "published_customer_month": "customer_id, month",
    "published_transactions": "transaction_id",
    "published_portfolio_month": "month, risk_category",
    "published_utilization_buckets": "month, bucket_floor_pct",
    "published_credit_limit_month": "month, credit_limit",
    "published_customer_latest": "customer_id",
}


def database(db_url: str) -> str:
    return query(db_url, "select database()")[0][0]


def test_a_warehouse_of_the_earlier_layout_is_upgraded_in_place(new_db_url, tmp_path):
    generate_realistic(tmp_path / "full", customers=250, months=4, start="2024-01", seed=9)
    drops = {
        month: pipeline.slice_month(tmp_path / "full", month, tmp_path / month)
        for month in month_range("2024-01", 4)
    }
    reference = new_db_url()
    for month in list(drops)[:3]:
        steps.publish_extract(warehouse_from_url(reference), drops[month], month)
    # the same warehouse as the earlier version left it
    old = new_db_url()
    source = database(reference)
    for path in sorted(SCHEMA_V1.glob("*.sql")):  # the tables the upgrade changes
        execute(old, path.read_text(encoding="utf-8").strip().rstrip(";"))
    for name in UNCHANGED:
        execute(old, read_sql(name))
    for name in (*UNCHANGED, "statements", "transactions", "published_transactions"):
        execute(old, f"insert into {name} select * from `{source}`.{name}")
    # the columns the earlier published_customer_month had (the upgrade adds the rest)
    columns = ", ".join(
        row[0]
        for row in query(
            old,
            "select column_name from information_schema.columns where table_schema = database() "
            "and table_name = 'published_customer_month' and column_name <> 'is_latest_statement' "
            "order by ordinal_position",
        )
    )
    execute(
        old,
        f"insert into published_customer_month ({columns}, is_latest_statement) "
        f"select {', '.join('rows_.' + c.strip() for c in columns.split(','))}, "
        "latest.customer_id is not null "
        f"from `{source}`.published_customer_month as rows_ "
        f"left join `{source}`.published_customer_latest as latest "
        "on latest.customer_id = rows_.customer_id and latest.month = rows_.month",
    )
    execute(
        old,
        "insert into publications (run_month, latest_month, customer_month_rows, "
        f"transaction_rows, published_by) select run_month, latest_month, customer_month_rows, "
        f"transaction_rows, published_by from `{source}`.publications",
    )
    assert query(
        old,
        "select count(*) from information_schema.partitions where table_schema = "
        "database() and partition_name is not null",
    ) == [(0,)]

    with connect(warehouse_from_url(old)) as conn:
        ensure_tables(conn)

    for table in (
        "statements",
        "transactions",
        "published_customer_month",
        "published_transactions",
    ):
        partitions = query(
            old,
            "select partition_name from information_schema.partitions "
            "where table_schema = database() and table_name = %s order by 1",
            (table,),
        )
        assert [name for (name,) in partitions] == ["p000000", "p202401", "p202402", "p202403"]
    for table, order in PUBLISHED.items():
        assert query(old, f"select * from {table} order by {order}") == query(
            reference, f"select * from {table} order by {order}"
        ), table
    assert query(old, "select month, state from month_ledger order by month") == [
        (month, "published") for month in list(drops)[:3]
    ]
    assert query(old, "select sum(transactions) from transaction_months") == query(
        old, "select count(*) from transactions"
    )
    # and it works on: the next month builds alone and matches the warehouse that never aged
    for db_url in (reference, old):
        report = steps.publish_extract(warehouse_from_url(db_url), drops["2024-04"], "2024-04")
        assert report.published["months"] == ["2024-04"]
    for table, order in PUBLISHED.items():
        assert query(old, f"select * from {table} order by {order}") == query(
            reference, f"select * from {table} order by {order}"
        ), table
