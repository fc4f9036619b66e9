"""The benchmarks' access to the server: autocommitting cursors and throwaway databases.

Every script in this folder imports it (they run as ``python benchmarks/<name>.py``, so it sits
on their import path). Connection arguments come from the package (``warehouse.db``), the same
ones the pipeline uses.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Annotated, Any

import MySQLdb
import typer
from sqlalchemy.engine import URL, make_url

from credit_risk.warehouse.db import Warehouse, connect_args, warehouse_from_url

DEFAULT_SERVER_URL = "mysql://root@127.0.0.1:3306"
ServerUrl = Annotated[
    str,
    typer.Option(envvar="CREDIT_RISK_BENCH_DB_URL", help="Server URL (no database needed)."),
]
"""The scripts' ``--db-url`` option (default ``DEFAULT_SERVER_URL``)."""


def warehouse_in(url: str | URL, database: str) -> Warehouse:
    """The warehouse ``database`` on the server of ``url`` (password kept)."""
    return warehouse_from_url(make_url(url).set(database=database).render_as_string(False))


@contextlib.contextmanager
def server_cursor(url: str | URL, database: str | None = None) -> Iterator[Any]:
    """An autocommitting cursor on the server of ``url`` (in ``database`` when given)."""
    warehouse = warehouse_from_url(make_url(url).set(database=database).render_as_string(False))
    args = connect_args(warehouse, with_database=database is not None)
    conn = MySQLdb.connect(**{**args, "autocommit": True})
    try:
        yield conn.cursor()
    finally:
        conn.close()


def scalar(url: str | URL, sql: str, database: str | None = None) -> Any:
    """The first column of the first row of ``sql``."""
    with server_cursor(url, database) as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def recreate_database(url: str | URL, name: str) -> None:
    """An empty database ``name`` (dropped first if it exists)."""
    with server_cursor(url) as cursor:
        cursor.execute(f"drop database if exists `{name}`")
        cursor.execute(f"create database `{name}` character set utf8mb4")


def drop_database(url: str | URL, name: str) -> None:
    with server_cursor(url) as cursor:
        cursor.execute(f"drop database if exists `{name}`")


@contextlib.contextmanager
def throwaway_warehouse(url: str | URL, prefix: str, *, keep: bool, say) -> Iterator[Warehouse]:
    """A warehouse in a new database ``<prefix>_<random>``, dropped afterwards unless ``keep``
    (``say`` reports which)."""
    database = f"{prefix}_{secrets.token_hex(4)}"
    try:
        yield warehouse_in(url, database)
    finally:
        if keep:
            say(f"kept database {database}")
        else:
            with contextlib.suppress(MySQLdb.Error):
                drop_database(url, database)
