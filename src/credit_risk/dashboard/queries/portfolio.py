"""The portfolio's month: KPIs, risk segments, the utilization and credit-limit
distributions, top spenders, and the month's anomaly and prediction counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from credit_risk.dashboard.queries.common import (
    HIGH_RISK_PREDICTIONS,
    IN_SEGMENT,
    NO_STATEMENT,
    SPEND_ANOMALIES,
    WITH_LIMIT,
    _customer_month,
    _expanding,
    _rows,
    money,
    per,
    ratio_pct,
)

# --- the portfolio, from the pre-aggregated table ----------------------------------------------


@dataclass(frozen=True)
class SegmentMonth:
    """One row of ``published_portfolio_month``."""

    month: str
    risk_category: str
    customers: int
    statements: int
    total_spend: Decimal
    total_rolling_3_month_avg: Decimal
    total_rolling_6_month_avg: Decimal
    total_credit_limit: Decimal
    total_balance: Decimal
    delinquent_30_plus: int


def portfolio(
    conn: sa.Connection, months: Iterable[str] | None = None, category: str | None = None
) -> list[SegmentMonth]:
    """Rows of ``published_portfolio_month`` (a few per month), optionally filtered."""
    sql = (
        "select month, risk_category, customers, statements, total_spend, "
        "total_rolling_3_month_avg, total_rolling_6_month_avg, total_credit_limit, "
        "total_balance, delinquent_30_plus from published_portfolio_month where 1 = 1"
    )
    params: dict = {}
    if months is not None:
        sql += " and month in :months"
        params["months"] = list(months) or [""]
    if category is not None:
        sql += " and risk_category = :category"
        params["category"] = category
    statement = sa.text(sql + " order by month, risk_category")
    if months is not None:
        statement = statement.bindparams(sa.bindparam("months", expanding=True))
    return [SegmentMonth(**row._mapping) for row in conn.execute(statement, params)]


def month_figures(rows: Iterable[SegmentMonth]) -> dict:
    """The portfolio KPIs of one month from its segment rows (already filtered by segment).

    Utilization is total balance over total limit of the statements that have a limit, the
    portfolio's own ratio (not an average of ratios, which would weigh a 500 card like a 50k
    one). Average spend is per customer-month of ``monthly_customer_spend``, gap months included,
    as the original report's "Average Spend" card computed it.
    """
    rows = list(rows)
    with_limit = [row for row in rows if row.risk_category in WITH_LIMIT]
    statements = sum(row.statements for row in rows if row.risk_category != NO_STATEMENT)
    high = sum(row.statements for row in rows if row.risk_category == "High Risk")
    customers = sum(row.customers for row in rows)
    return {
        "utilization_pct": ratio_pct(
            sum((row.total_balance for row in with_limit), Decimal(0)),
            sum((row.total_credit_limit for row in with_limit), Decimal(0)),
        ),
        "high_risk_customers": high,
        "high_risk_share_pct": ratio_pct(high, statements),
        "avg_monthly_spend": per(sum((row.total_spend for row in rows), Decimal(0)), customers),
        "delinquent_30_plus": sum(row.delinquent_30_plus for row in rows),
        "customers": customers,
        "statements": statements,
    }


def _count_flagged(
    conn: sa.Connection, table: str, flag: str, month: str, category: str | None
) -> int:
    """Rows of ``table`` flagged in ``month`` (of the segment's customers, when given)."""
    where = f"{table}.month = :month and {table}.{flag}"
    if category is not None:
        where += " and " + IN_SEGMENT.format(alias=table)
    statement = sa.text(f"select count(*) from {table} where {where}")
    return int(conn.execute(statement, {"month": month, "category": category}).scalar_one())


def anomaly_counts(
    conn: sa.Connection, months: Sequence[str], category: str | None
) -> dict[str, int]:
    """Flagged customer-months per month (of the segment, when given)."""
    return {
        month: _count_flagged(conn, SPEND_ANOMALIES, "is_anomaly", month, category)
        for month in months
    }


def prediction_counts(
    conn: sa.Connection, months: Sequence[str], category: str | None, *, summary: bool
) -> dict[str, dict[str, int]]:
    """Customers predicted High Risk next month, and those of them not High Risk now.

    From ``high_risk_prediction_segments`` (``summary``) for the months it holds, else counted
    in ``high_risk_predictions`` (two index scans and a semi-join per month).
    """
    segments = _prediction_segments(conn, months) if summary else {}
    out = {}
    for month in months:
        if month in segments:
            by_segment = segments[month]
            predicted = (
                sum(by_segment.values()) if category is None else by_segment.get(category, 0)
            )
            high = by_segment.get("High Risk", 0)
        else:
            predicted = _count_flagged(
                conn, HIGH_RISK_PREDICTIONS, "is_predicted_high_risk", month, category
            )
            high = (
                0
                if category is not None
                else _count_flagged(
                    conn, HIGH_RISK_PREDICTIONS, "is_predicted_high_risk", month, "High Risk"
                )
            )
        if category is None:
            turning = predicted - high
        else:
            turning = 0 if category == "High Risk" else predicted
        out[month] = {"predicted": predicted, "turning": turning}
    return out


def _prediction_segments(conn: sa.Connection, months: Sequence[str]) -> dict[str, dict[str, int]]:
    statement = _expanding(
        "select month, risk_category, predicted_high_risk from high_risk_prediction_segments "
        "where month in :months",
        "months",
    )
    segments: dict[str, dict[str, int]] = {}
    for row in conn.execute(statement, {"months": list(months)}):
        segments.setdefault(row.month, {})[row.risk_category] = int(row.predicted_high_risk)
    return segments


def utilization_buckets(conn: sa.Connection, month: str) -> dict[int, int]:
    """Statements per 10-point utilization bucket (-10 = credit balance, 100 = at/over limit)."""
    rows = conn.execute(
        sa.text(
            "select bucket_floor_pct, statements from published_utilization_buckets "
            "where month = :month"
        ),
        {"month": month},
    )
    return {int(row.bucket_floor_pct): int(row.statements) for row in rows}


def credit_limit_counts(conn: sa.Connection, month: str) -> list[dict]:
    """Transactions and customers per credit limit (the original report's line chart)."""
    rows = _rows(
        conn,
        "select credit_limit, customers, transactions, total_amount "
        "from published_credit_limit_month where month = :month order by credit_limit",
        month=month,
    )
    return [
        {
            "credit_limit": money(row["credit_limit"]),
            "customers": int(row["customers"]),
            "transactions": int(row["transactions"]),
            "total_amount": money(row["total_amount"]),
        }
        for row in rows
    ]


def top_spenders(conn: sa.Connection, month: str, category: str | None, limit: int) -> list[dict]:
    """The month's biggest spenders (the original report's "Average Spend by customer_id")."""
    where = "month = :month" + (" and risk_category = :category" if category else "")
    rows = _rows(
        conn,
        "select customer_id, risk_category, monthly_spend, rolling_3_month_avg, "
        f"rolling_6_month_avg from published_customer_month where {where} "
        "order by monthly_spend desc, customer_id desc limit :limit",
        month=month,
        category=category,
        limit=limit,
    )
    return [_customer_month(row) for row in rows]
