"""What every query shares: the published objects' names, the rounding of money and
percentages, the month a request means, and which optional tables (the analytics') exist."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from credit_risk import catalog
from credit_risk.months import add_months

RISK_CATEGORIES = catalog.RISK_CATEGORIES
NO_STATEMENT = catalog.NO_STATEMENT
"""``published_portfolio_month``'s row for customer-months without a statement (gap months)."""
WITH_LIMIT = RISK_CATEGORIES[:3]
"""Segments whose statements have a usable limit (all but Unknown): the only ones utilization
is defined for."""
CATEGORY_COLORS: dict[str, str] = dict(
    zip(
        (*RISK_CATEGORIES, NO_STATEMENT),
        ("#c0392b", "#e67e22", "#27ae60", "#95a5a6", "#bdc3c7"),
        strict=True,
    )
)
"""The dashboard's colour of each segment (red, orange, green, grey, light grey), sent to its
JavaScript with the category list."""

SPEND_ANOMALIES = "spend_anomalies"
HIGH_RISK_PREDICTIONS = "high_risk_predictions"
CREDIT_LIMIT_MONTH = "published_credit_limit_month"
PREDICTION_SEGMENTS = "high_risk_prediction_segments"
SCORED_CUSTOMER_MONTH = "scored_customer_month"
OPTIONAL_TABLES: tuple[str, ...] = (
    SPEND_ANOMALIES,
    HIGH_RISK_PREDICTIONS,
    CREDIT_LIMIT_MONTH,
    PREDICTION_SEGMENTS,
    SCORED_CUSTOMER_MONTH,
)
"""Tables other jobs build; each widget that needs one says "not available yet" without it
(``high_risk_prediction_segments`` and ``scored_customer_month`` only make the prediction KPIs
and the export in probability order faster)."""

SMALL_SEGMENT = 5_000
"""Up to this many customers, the at-risk table sorted by probability joins the segment to the
scores; above it, it walks the scores in probability order (needs their ``(month,
probability)`` index) and stops at the page."""

IN_SEGMENT = (
    "exists (select 1 from published_customer_month as segment ignore index (primary) "
    "where segment.month = {alias}.month and segment.risk_category = :category "
    "and segment.customer_id = {alias}.customer_id)"
)
"""Whether a row's customer is in the segment that month. Ignoring the primary key makes MariaDB
answer from the ``(month, risk_category)`` index alone (its entries carry the customer id)
instead of fetching each whole customer-month row: about 8x faster at 100k customers."""

CENT = Decimal("0.01")


class NotPublishedError(LookupError):
    """The month or customer asked for is not in the published snapshot."""


def money(value) -> float | None:
    """A decimal rounded half up to cents, as a JSON number (None stays None)."""
    if value is None:
        return None
    return float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def ratio_pct(numerator, denominator) -> float | None:
    """``100 * numerator / denominator`` rounded to 2 decimals; None when undefined."""
    if denominator is None or Decimal(denominator) == 0 or numerator is None:
        return None
    return money(Decimal(100) * Decimal(numerator) / Decimal(denominator))


def per(numerator, denominator) -> float | None:
    """``numerator / denominator`` rounded to cents; None when the denominator is zero."""
    if not denominator or numerator is None:
        return None
    return money(Decimal(numerator) / Decimal(denominator))


def _rows(conn: sa.Connection, sql: str, **params) -> list[dict]:
    return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _expanding(sql: str, name: str) -> sa.TextClause:
    return sa.text(sql).bindparams(sa.bindparam(name, expanding=True))


def like_prefix(text: str) -> str:
    """A LIKE pattern matching ids that start with ``text`` (wildcards in it taken literally)."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"{escaped}%"


# --- what is published -------------------------------------------------------------------------


def published_months(conn: sa.Connection) -> list[str]:
    """Every month of the published snapshot, oldest first."""
    rows = conn.execute(sa.text("select distinct month from published_portfolio_month"))
    return sorted(row.month for row in rows)


def available_tables(conn: sa.Connection) -> frozenset[str]:
    """Which optional tables exist and are readable (information_schema hides the others)."""
    sql = _expanding(
        "select table_name as name from information_schema.tables "
        "where table_schema = database() and table_name in :names",
        "names",
    )
    return frozenset(row.name for row in conn.execute(sql, {"names": list(OPTIONAL_TABLES)}))


def resolve_month(months: Sequence[str], month: str | None) -> str:
    """The month to show: the one asked for if published, else the latest.

    Raises:
        NotPublishedError: nothing is published, or ``month`` is not.
    """
    if not months:
        raise NotPublishedError("nothing is published yet: run the pipeline first")
    if month is None:
        return months[-1]
    if month not in months:
        raise NotPublishedError(
            f"month {month} is not published; published months are {months[0]} to {months[-1]}"
        )
    return month


def previous_month(months: Sequence[str], month: str) -> str | None:
    """The calendar month before ``month`` when it is published (KPI changes compare with it)."""
    before = add_months(month, -1)
    return before if before in months else None


def has_index(conn: sa.Connection, table: str, columns: Sequence[str]) -> bool:
    """Whether ``table`` has an index whose leading columns are ``columns``, in order."""
    return index_named(conn, table, columns) is not None


def index_named(conn: sa.Connection, table: str, columns: Sequence[str]) -> str | None:
    """The name of an index of ``table`` whose leading columns are ``columns`` (None if none)."""
    rows = conn.execute(
        sa.text(
            "select index_name, column_name from information_schema.statistics "
            "where table_schema = database() and table_name = :table "
            "order by index_name, seq_in_index"
        ),
        {"table": table},
    )
    indexes: dict[str, list[str]] = {}
    for row in rows:
        indexes.setdefault(row.index_name, []).append(row.column_name.lower())
    wanted = [column.lower() for column in columns]
    return next((name for name, found in indexes.items() if found[: len(wanted)] == wanted), None)


# --- customers, through the primary key or the (month, risk_category) index ---------------------

_CUSTOMER_MONTH_COLUMNS = (
    "customer_id, month, risk_category, utilization_pct, credit_limit, outstanding_balance, "
    "days_past_due, monthly_spend, rolling_3_month_avg, rolling_6_month_avg"
)


def _float(value, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _prediction(row: dict) -> dict:
    flag = row.get("is_predicted_high_risk")
    out = {
        "probability": _float(row.get("probability")),
        "is_predicted_high_risk": None if flag is None else bool(flag),
    }
    if "model_version" in row:
        out["model_version"] = row["model_version"]
    return out


def _customer_month(row: dict) -> dict:
    out = dict(row)
    for column in (
        "utilization_pct",
        "credit_limit",
        "outstanding_balance",
        "monthly_spend",
        "rolling_3_month_avg",
        "rolling_6_month_avg",
        "payment_amount",
        "minimum_due",
    ):
        if column in out:
            out[column] = money(out[column])
    if "has_statement" in out:
        out["has_statement"] = bool(out["has_statement"])
    return out


def _columns(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in _CUSTOMER_MONTH_COLUMNS.split(","))
