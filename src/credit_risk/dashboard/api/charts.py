"""The charts' data: risk distribution and trend, utilization histogram, spend by category and
segment, top spenders, transactions by credit limit."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.responses import JSONResponse

from credit_risk.dashboard import queries
from credit_risk.dashboard.api.common import (
    BUCKET_FLOORS,
    NOT_AVAILABLE,
    Conn,
    _json,
    _month_context,
    router,
)
from credit_risk.dashboard.params import (
    CategoryParam,
    MonthParam,
    TopLimitParam,
)
from credit_risk.settings import get_settings


@router.get("/risk-distribution", tags=["portfolio"])
def risk_distribution(
    conn: Conn, month: MonthParam = None, category: CategoryParam = None
) -> JSONResponse:
    """Statements per risk segment in one month (the donut); ``category`` is highlighted."""
    _, shown = _month_context(conn, month)
    rows = {row.risk_category: row.statements for row in queries.portfolio(conn, [shown])}
    total = sum(rows.get(name, 0) for name in queries.RISK_CATEGORIES)
    segments = [
        {
            "risk_category": name,
            "customers": rows.get(name, 0),
            "share_pct": queries.ratio_pct(rows.get(name, 0), total),
        }
        for name in queries.RISK_CATEGORIES
    ]
    return _json({"month": shown, "selected": category, "total": total, "segments": segments})


@router.get("/risk-trend", tags=["portfolio"])
def risk_trend(conn: Conn, category: CategoryParam = None) -> JSONResponse:
    """Statements per segment for every published month."""
    return _json({"category": category, "rows": risk_trend_rows(conn, category)})


@router.get("/utilization-histogram", tags=["portfolio"])
def utilization_histogram(conn: Conn, month: MonthParam = None) -> JSONResponse:
    """Statements per 10-point utilization bucket (the whole portfolio)."""
    _, shown = _month_context(conn, month)
    counts = queries.utilization_buckets(conn, shown)
    settings = get_settings()
    return _json(
        {
            "month": shown,
            "buckets": [
                {
                    "bucket_floor_pct": floor,
                    "label": _bucket_label(floor),
                    "statements": counts.get(floor, 0),
                }
                for floor in BUCKET_FLOORS
            ],
            "thresholds": {
                "high_risk_pct": round(settings.high_risk_ratio * 100, 2),
                "medium_risk_pct": round(settings.medium_risk_ratio * 100, 2),
            },
        }
    )


@router.get("/spend-by-category", tags=["spend"])
def spend_by_category(conn: Conn, category: CategoryParam = None) -> JSONResponse:
    """Total monthly spend per segment and month ('No Statement': gap months)."""
    rows = [
        {
            "month": row.month,
            "risk_category": row.risk_category,
            "total_spend": queries.money(row.total_spend),
            "customers": row.customers,
        }
        for row in queries.portfolio(conn, None, category)
    ]
    return _json({"category": category, "rows": rows})


@router.get("/portfolio-spend", tags=["spend"])
def portfolio_spend(conn: Conn, category: CategoryParam = None) -> JSONResponse:
    """Portfolio spend against the sums of customers' 3- and 6-month rolling averages."""
    return _json({"category": category, "rows": portfolio_spend_rows(conn, category)})


@router.get("/top-spenders", tags=["spend"])
def top_spenders(
    conn: Conn,
    month: MonthParam = None,
    category: CategoryParam = None,
    limit: TopLimitParam = 10,
) -> JSONResponse:
    """The month's biggest spenders and the average customer (the report's table)."""
    _, shown = _month_context(conn, month)
    rows = queries.top_spenders(conn, shown, category, limit)
    segment = queries.portfolio(conn, [shown], category)
    customers = sum(row.customers for row in segment)
    totals = {
        "customers": customers,
        "avg_monthly_spend": queries.per(sum(r.total_spend for r in segment), customers),
        "avg_rolling_3_month_avg": queries.per(
            sum(r.total_rolling_3_month_avg for r in segment), customers
        ),
        "avg_rolling_6_month_avg": queries.per(
            sum(r.total_rolling_6_month_avg for r in segment), customers
        ),
    }
    return _json({"month": shown, "category": category, "rows": rows, "totals": totals})


@router.get("/transactions-by-limit", tags=["spend"])
def transactions_by_limit(conn: Conn, month: MonthParam = None) -> JSONResponse:
    """Transactions per credit limit in one month (the report's line chart)."""
    _, shown = _month_context(conn, month)
    if queries.CREDIT_LIMIT_MONTH not in queries.available_tables(conn):
        return _json(
            {
                "month": shown,
                "available": False,
                "message": NOT_AVAILABLE.format(table=queries.CREDIT_LIMIT_MONTH),
                "rows": [],
            }
        )
    rows = queries.credit_limit_counts(conn, shown)
    return _json({"month": shown, "available": True, "rows": rows})


def risk_trend_rows(conn: sa.Connection, category: str | None) -> list[dict]:
    """Statements and share per segment and month (gap months left out)."""
    rows = [row for row in queries.portfolio(conn) if row.risk_category != queries.NO_STATEMENT]
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.month] = totals.get(row.month, 0) + row.statements
    return [
        {
            "month": row.month,
            "risk_category": row.risk_category,
            "customers": row.statements,
            "share_pct": queries.ratio_pct(row.statements, totals[row.month]),
        }
        for row in rows
        if category is None or row.risk_category == category
    ]


def portfolio_spend_rows(conn: sa.Connection, category: str | None) -> list[dict]:
    """Per month: total spend and the sums of rolling averages, also per customer."""
    by_month: dict[str, list[queries.SegmentMonth]] = {}
    for row in queries.portfolio(conn, None, category):
        by_month.setdefault(row.month, []).append(row)
    out = []
    for month, rows in sorted(by_month.items()):
        customers = sum(row.customers for row in rows)
        spend = sum(row.total_spend for row in rows)
        rolling_3 = sum(row.total_rolling_3_month_avg for row in rows)
        rolling_6 = sum(row.total_rolling_6_month_avg for row in rows)
        out.append(
            {
                "month": month,
                "customers": customers,
                "total_spend": queries.money(spend),
                "total_rolling_3_month_avg": queries.money(rolling_3),
                "total_rolling_6_month_avg": queries.money(rolling_6),
                "avg_spend": queries.per(spend, customers),
                "avg_rolling_3_month_avg": queries.per(rolling_3, customers),
                "avg_rolling_6_month_avg": queries.per(rolling_6, customers),
            }
        )
    return out


def _bucket_label(floor: int) -> str:
    if floor < 0:
        return "<0"
    if floor >= 100:
        return "100+"
    return f"{floor}-{floor + 10}"
