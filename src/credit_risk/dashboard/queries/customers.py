"""One customer: search by id prefix, their month-by-month history, summary, scores and
anomalies."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from credit_risk.dashboard.queries.common import (
    _CUSTOMER_MONTH_COLUMNS,
    NotPublishedError,
    _customer_month,
    _float,
    _prediction,
    _rows,
    like_prefix,
    money,
    per,
)


def search_customers(conn: sa.Connection, prefix: str, limit: int) -> list[dict]:
    """Customers whose id starts with ``prefix``, with their current segment (a primary-key
    range of each customer's latest month, then one row per customer)."""
    rows = _rows(
        conn,
        "select latest.customer_id, latest.month, customer_months.risk_category, "
        "customer_months.utilization_pct "
        "from published_customer_latest as latest "
        "inner join published_customer_month as customer_months "
        "on customer_months.customer_id = latest.customer_id "
        "and customer_months.month = latest.month "
        "where latest.customer_id like :pattern escape '!' "
        "order by latest.customer_id limit :limit",
        pattern=like_prefix(prefix),
        limit=limit,
    )
    return [{**row, "utilization_pct": money(row["utilization_pct"])} for row in rows]


def customer_history(conn: sa.Connection, customer_id: str) -> list[dict]:
    """Every published month of one customer, oldest first.

    Raises:
        NotPublishedError: the customer is not in the published snapshot.
    """
    rows = _rows(
        conn,
        f"select {_CUSTOMER_MONTH_COLUMNS}, payment_amount, minimum_due, has_statement "
        "from published_customer_month where customer_id = :customer_id order by month",
        customer_id=customer_id,
    )
    if not rows:
        raise NotPublishedError(f"customer {customer_id!r} is not in the published data")
    return [_customer_month(row) for row in rows]


def customer_summary(conn: sa.Connection, customer_id: str) -> dict:
    """The customer's averages over the published months (the original report's card).

    Averaged in Python on the exact decimals, so the rounding is the views' (half up).
    """
    rows = conn.execute(
        sa.text(
            "select monthly_spend, rolling_3_month_avg, rolling_6_month_avg, credit_limit "
            "from published_customer_month where customer_id = :customer_id"
        ),
        {"customer_id": customer_id},
    ).all()

    def mean(values: list) -> float | None:
        present = [Decimal(value) for value in values if value is not None]
        return per(sum(present, Decimal(0)), len(present))

    return {
        "months": len(rows),
        "avg_monthly_spend": mean([row.monthly_spend for row in rows]),
        "avg_rolling_3_month_avg": mean([row.rolling_3_month_avg for row in rows]),
        "avg_rolling_6_month_avg": mean([row.rolling_6_month_avg for row in rows]),
        "avg_credit_limit": mean([row.credit_limit for row in rows]),
    }


def customer_scores(conn: sa.Connection, customer_id: str) -> dict[str, dict]:
    """The customer's predictions per month (primary-key range)."""
    rows = _rows(
        conn,
        "select month, probability, is_predicted_high_risk, model_version "
        "from high_risk_predictions where customer_id = :customer_id",
        customer_id=customer_id,
    )
    return {row["month"]: _prediction(row) for row in rows}


def customer_anomalies(conn: sa.Connection, customer_id: str) -> dict[str, dict]:
    """The customer's anomaly decisions per month (primary-key range)."""
    rows = _rows(
        conn,
        "select month, is_anomaly, z_score, anomaly_reason "
        "from spend_anomalies where customer_id = :customer_id",
        customer_id=customer_id,
    )
    return {
        row["month"]: {
            "is_anomaly": bool(row["is_anomaly"]),
            "z_score": _float(row["z_score"]),
            "anomaly_reason": row["anomaly_reason"],
        }
        for row in rows
    }
