"""The two database users a production warehouse runs with: the loader and the dashboard's.

Why two users and no root: the DAG and the CLI write one schema, and nothing else; the
dashboard reads the published objects, and nothing else (``dashboard.access``). A password
leaked from either can then not reach the server's other schemas, its users, or the raw data.

``create_users`` is run once by a database administrator (``credit-risk create-users``), and
again to rotate a password: it creates what is missing, sets the passwords it is given, and
grants what each user needs. It creates the warehouse's tables and views first, as the
administrator, because table-level grants need their tables (MySQL error 1146).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from credit_risk.dashboard import access
from credit_risk.warehouse.db import Warehouse, connect, ensure_database
from credit_risk.warehouse.schema import create_tables, create_views, ensure_tables

log = logging.getLogger(__name__)

LOADER_USER = "credit_risk_loader"
DASHBOARD_USER = access.DEFAULT_USER

LOADER_PRIVILEGES = (
    "select, insert, update, delete, create, drop, alter, index, create view, show view, "
    "references, create temporary tables, lock tables"
)
"""On the warehouse schema only: load (``LOAD DATA LOCAL`` needs no ``FILE`` privilege),
partition DDL (``ALTER``), candidate tables (``CREATE``/``DROP``), the published views. XA and
named locks need no privilege on MariaDB; on MySQL 8 ``XA RECOVER`` also needs the global
``XA_RECOVER_ADMIN``, granted below when the server has it."""


@dataclass(frozen=True)
class CreatedUsers:
    """What ``create_users`` did, for the operator: the accounts and the URLs to configure."""

    loader_url: str
    dashboard_url: str
    granted_tables: int


_NAME = r"[A-Za-z0-9_]{1,32}"
_HOST = r"[A-Za-z0-9_.%:-]{1,255}"


def _account(user: str, host: str) -> str:
    return f"'{user}'@'{host}'"


def _set_user(cursor, user: str, host: str, password: str) -> None:
    """Create the user, or set the password of the existing one (a rotation)."""
    account = _account(user, host).replace("%", "%%")  # the statement has a parameter
    cursor.execute(f"create user if not exists {account} identified by %s", (password,))
    cursor.execute(f"alter user {account} identified by %s", (password,))


def _has_xa_recover_admin(cursor) -> bool:
    cursor.execute(
        "select count(*) from information_schema.user_privileges "
        "where privilege_type = 'XA_RECOVER_ADMIN'"
    )
    return bool(cursor.fetchone()[0])


def create_users(
    admin: Warehouse,
    loader_password: str,
    dashboard_password: str,
    *,
    host: str = "%",
    loader_user: str = LOADER_USER,
    dashboard_user: str = DASHBOARD_USER,
) -> CreatedUsers:
    """Create (or update) the loader and the dashboard's read-only user for ``admin``'s schema.

    Args:
        admin: The warehouse as an account allowed to create users and grant (not stored).
        loader_password, dashboard_password: The new passwords (never logged).
        host: Where the users may connect from (``%``: anywhere; narrow it if you can).

    Raises:
        ValueError: an empty password, or a name or host that is not a plain identifier.
    """
    if not loader_password or not dashboard_password:
        raise ValueError("both users need a password")
    for what, value, pattern in (
        ("user name", loader_user, _NAME),
        ("user name", dashboard_user, _NAME),
        ("host", host, _HOST),
    ):
        if not re.fullmatch(pattern, value):
            raise ValueError(f"{what} {value!r} must match {pattern}")
    from credit_risk.analytics import anomalies, model

    database = admin.database
    ensure_database(admin)
    with connect(admin) as conn:
        ensure_tables(conn)
        cursor = conn.cursor()
        create_tables(cursor, [anomalies.TABLE, *model.TABLES])
        create_views(cursor)
        quoted = "`" + database.replace("`", "``") + "`"
        _set_user(cursor, loader_user, host, loader_password)
        cursor.execute(f"grant {LOADER_PRIVILEGES} on {quoted}.* to {_account(loader_user, host)}")
        if _has_xa_recover_admin(cursor):
            cursor.execute(f"grant xa_recover_admin on *.* to {_account(loader_user, host)}")
        _set_user(cursor, dashboard_user, host, dashboard_password)
        grants = access.grant_statements(database, dashboard_user, host)
        for statement in grants:
            cursor.execute(statement)
        conn.commit()
    log.info("users %s and %s ready on %s", loader_user, dashboard_user, database)
    url = admin.url.set(password=None)
    return CreatedUsers(
        loader_url=url.set(username=loader_user).render_as_string(hide_password=True),
        dashboard_url=url.set(username=dashboard_user).render_as_string(hide_password=True),
        granted_tables=len(grants),
    )
