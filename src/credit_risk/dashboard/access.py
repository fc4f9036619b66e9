"""The read-only database user the dashboard should connect as: what it may read, and the SQL.

Why table-level grants and not ``SELECT ON db.*``: the warehouse also holds the loaded tables,
the candidate snapshot and quarantined raw lines, which may contain data that never passed
validation. The dashboard's user sees the published objects and nothing else.

Checked on MariaDB 10.11: a user with SELECT on a view alone can read it (views run with the
definer's rights, ``SQL SECURITY DEFINER``, the default); publications replace rows, never
tables, so grants stay; and a table must exist before SELECT on it can be granted (error 1146),
so the optional tables are granted once they exist.
"""

from __future__ import annotations

from credit_risk import catalog
from credit_risk.dashboard.queries import OPTIONAL_TABLES

PUBLISHED_TABLES: tuple[str, ...] = (
    *catalog.PUBLISHED_TABLES,
    "publications",
    "validation_runs",
)
"""Tables the dashboard reads that every publication has."""

READABLE_OBJECTS: tuple[str, ...] = (*catalog.PUBLISHED_VIEWS, *PUBLISHED_TABLES)
"""Everything the read-only user may SELECT from, apart from the optional tables."""

OPTIONAL_GRANTS: tuple[str, ...] = tuple(
    name for name in OPTIONAL_TABLES if name not in PUBLISHED_TABLES
)
"""Tables other jobs create; grant each once it exists."""

DEFAULT_USER = "credit_risk_dashboard"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _account(user: str, host: str) -> str:
    return f"'{user}'@'{host}'"


def grant_statements(
    database: str,
    user: str = DEFAULT_USER,
    host: str = "%",
    *,
    optional: tuple[str, ...] = OPTIONAL_GRANTS,
) -> list[str]:
    """One ``GRANT SELECT`` per readable object (``optional``: those that exist already)."""
    return [
        f"grant select on {_quote(database)}.{_quote(name)} to {_account(user, host)}"
        for name in (*READABLE_OBJECTS, *optional)
    ]
