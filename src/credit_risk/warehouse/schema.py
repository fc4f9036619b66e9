"""Create the warehouse's tables and views from the files in ``include/sql/``.

Each table or view file holds one statement that creates one object, named like the file, in
the folder of its layer (``catalog.SQL_LAYERS``: ``tables/``, ``models/``, ``published/``,
``analytics/``); a model file (``models/int_*``) holds the query that computes one month of a
published table (see ``warehouse.build``). Creating objects changes no published data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import MySQLdb

from credit_risk import catalog
from credit_risk.settings import SQL_DIR, Settings, get_settings

log = logging.getLogger(__name__)


def sql_path(name: str, sql_dir: Path = SQL_DIR) -> Path:
    """The file that creates (or computes) object ``name``: ``<layer>/<name>.sql``."""
    return sql_dir / catalog.sql_file(name)


def read_sql(name: str, sql_dir: Path = SQL_DIR) -> str:
    """The statement in ``include/sql/<layer>/<name>.sql``, without its trailing semicolon."""
    path = sql_path(name, sql_dir)
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file for {name!r}: expected {path}")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


_DECLARED_KEY = re.compile(r"^\s*key\s+(?P<name>\w+)\s*\((?P<columns>[^)]*)\)", re.I | re.M)


_DECLARED_COLUMN = re.compile(
    r"^\s+(?P<name>(?!primary\b|key\b|unique\b|constraint\b)\w+)\s+(?P<definition>[a-z].*?),?\s*$",
    re.I | re.M,
)


def declared_columns(name: str, sql_dir: Path = SQL_DIR) -> dict[str, str]:
    """The columns ``name``'s SQL file declares for its table: name -> definition."""
    statement = re.sub(r"--.*$", "", read_sql(name, sql_dir), flags=re.M)
    start = re.search(r"create\s+table[^(]*\(", statement, re.I).end() - 1
    depth = 0
    for end in range(start, len(statement)):  # to the column list's own closing parenthesis
        depth += {"(": 1, ")": -1}.get(statement[end], 0)
        if depth == 0:
            break
    body = statement[start + 1 : end]
    return {found["name"]: found["definition"] for found in _DECLARED_COLUMN.finditer(body)}


def declared_indexes(name: str, sql_dir: Path = SQL_DIR) -> dict[str, str]:
    """The secondary keys ``name``'s SQL file declares: index name -> column list."""
    return {
        found["name"]: found["columns"].strip()
        for found in _DECLARED_KEY.finditer(read_sql(name, sql_dir))
    }


def create_tables(cursor, names: Iterable[str]) -> None:
    """Create tables from their files, and bring existing ones up to the columns and keys the
    files declare.

    ``create table if not exists`` leaves a table that exists as it is, so a warehouse created by
    an earlier version would never get a column or key added to a file later; this adds them
    (nullable columns and keys: online DDL, readers keep reading). DDL commits implicitly: call
    it before a transaction starts.
    """
    names = list(names)
    cursor.execute(
        "select table_name from information_schema.tables "
        "where table_schema = database() and table_name in %s",
        (tuple(names),),
    )
    existing = {table.lower() for (table,) in cursor.fetchall()}
    for name in names:
        if name.lower() not in existing:  # one query instead of a no-op DDL per table
            cursor.execute(read_sql(name))
    cursor.execute(
        "select table_name, index_name from information_schema.statistics "
        "where table_schema = database() and table_name in %s",
        (tuple(names),),
    )
    present = {(table.lower(), index.lower()) for table, index in cursor.fetchall()}
    cursor.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = database() and table_name in %s",
        (tuple(names),),
    )
    columns_present = {(table.lower(), column.lower()) for table, column in cursor.fetchall()}
    for name in names:
        if name.lower() not in existing:
            continue
        for column, definition in declared_columns(name).items():
            addable = "not null" not in definition.lower() or "default" in definition.lower()
            if (name.lower(), column.lower()) not in columns_present and addable:
                log.info("adding column %s to %s", column, name)
                cursor.execute(f"alter table {name} add column {column} {definition}")
    for name in names:
        for index, columns in declared_indexes(name).items():
            if (name.lower(), index.lower()) not in present:
                log.info("adding key %s (%s) to %s", index, columns, name)
                cursor.execute(f"alter table {name} add key {index} ({columns})")


def ensure_tables(conn: MySQLdb.Connection) -> None:
    """Create the pipeline's tables if they do not exist, after upgrading a warehouse of the
    earlier layout (``warehouse.upgrade``). DDL: commits implicitly."""
    from credit_risk.warehouse.upgrade import (
        backfill_purchase_profile,
        missing_profile_months,
        needs_upgrade,
        upgrade_once,
    )

    cursor = conn.cursor()
    if needs_upgrade(cursor):
        upgrade_once(conn)
    create_tables(cursor, catalog.TABLES)
    if missing_profile_months(cursor):
        backfill_purchase_profile(conn)


def create_views(cursor) -> list[str]:
    """Create or replace the published views (thin views over the published tables)."""
    for name in catalog.PUBLISHED_VIEWS:
        cursor.execute(read_sql(name))
    return list(catalog.PUBLISHED_VIEWS)


def refresh_thresholds(cursor, settings: Settings | None = None) -> None:
    """Write the risk thresholds the models read from the settings (one row, ``current``)."""
    settings = settings or get_settings()
    cursor.execute(
        "insert into risk_thresholds (threshold_set, high_risk_ratio, medium_risk_ratio) "
        "values ('current', %s, %s) on duplicate key update "
        "high_risk_ratio = values(high_risk_ratio), medium_risk_ratio = values(medium_risk_ratio), "
        "updated_at = current_timestamp",
        (settings.high_risk_ratio, settings.medium_risk_ratio),
    )
