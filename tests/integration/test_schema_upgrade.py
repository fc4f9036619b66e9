"""A warehouse created by an earlier version gets the keys later added to include/sql.

``create table if not exists`` leaves an existing table untouched, so without ``create_tables``
a key added to a table's file would never reach a deployed warehouse (nor, since candidates are
created ``like`` the published table, any later snapshot).
"""

from __future__ import annotations

import re

import pytest

from credit_risk import catalog
from credit_risk.generate.realistic import generate_realistic
from credit_risk.pipeline import run
from credit_risk.settings import SQL_DIR
from credit_risk.warehouse.db import warehouse_from_url
from credit_risk.warehouse.schema import declared_indexes, read_sql
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
    for path in sorted(SQL_DIR.glob("*.sql")):
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
