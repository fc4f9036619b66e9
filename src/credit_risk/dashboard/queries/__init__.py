"""The SQL behind each widget, over the published objects only, and what it returns.

Why these tables and no others: the published snapshot is what passed validation; the loaded
tables may hold a month that failed. Every query here reads a few rows of a pre-aggregated
table (``published_portfolio_month``, ``published_utilization_buckets``) or walks an index of
``published_customer_month`` for one month, one segment or one customer: none scans the
transactions, so each answers in milliseconds at 100k customers (benchmarks/).

All values come back as plain Python (str, int, float, None) ready for JSON or CSV; money and
percentages are rounded half up to two decimals, like the published views.
"""

from __future__ import annotations

from credit_risk.dashboard.queries.common import (
    CATEGORY_COLORS,
    CENT,
    CREDIT_LIMIT_MONTH,
    HIGH_RISK_PREDICTIONS,
    IN_SEGMENT,
    NO_STATEMENT,
    OPTIONAL_TABLES,
    PREDICTION_SEGMENTS,
    RISK_CATEGORIES,
    SCORED_CUSTOMER_MONTH,
    SMALL_SEGMENT,
    SPEND_ANOMALIES,
    WITH_LIMIT,
    NotPublishedError,
    available_tables,
    has_index,
    index_named,
    like_prefix,
    money,
    per,
    previous_month,
    published_months,
    ratio_pct,
    resolve_month,
)
from credit_risk.dashboard.queries.customers import (
    customer_anomalies,
    customer_history,
    customer_scores,
    customer_summary,
    search_customers,
)
from credit_risk.dashboard.queries.lists import (
    ANOMALY_SORTS,
    AT_RISK_EXPORT_COLUMNS,
    AT_RISK_SORTS,
    anomaly_page,
    segment_count,
    segment_export,
    segment_page,
)
from credit_risk.dashboard.queries.portfolio import (
    SegmentMonth,
    anomaly_counts,
    credit_limit_counts,
    month_figures,
    portfolio,
    prediction_counts,
    top_spenders,
    utilization_buckets,
)
from credit_risk.dashboard.queries.status import (
    failed_validation_since,
    latest_publication,
    latest_validation,
)

__all__ = [
    "ANOMALY_SORTS",
    "AT_RISK_EXPORT_COLUMNS",
    "AT_RISK_SORTS",
    "CATEGORY_COLORS",
    "CENT",
    "CREDIT_LIMIT_MONTH",
    "HIGH_RISK_PREDICTIONS",
    "IN_SEGMENT",
    "NO_STATEMENT",
    "OPTIONAL_TABLES",
    "PREDICTION_SEGMENTS",
    "RISK_CATEGORIES",
    "SCORED_CUSTOMER_MONTH",
    "SMALL_SEGMENT",
    "SPEND_ANOMALIES",
    "WITH_LIMIT",
    "NotPublishedError",
    "SegmentMonth",
    "anomaly_counts",
    "anomaly_page",
    "available_tables",
    "credit_limit_counts",
    "customer_anomalies",
    "customer_history",
    "customer_scores",
    "customer_summary",
    "failed_validation_since",
    "has_index",
    "index_named",
    "latest_publication",
    "latest_validation",
    "like_prefix",
    "money",
    "month_figures",
    "per",
    "portfolio",
    "prediction_counts",
    "previous_month",
    "published_months",
    "ratio_pct",
    "resolve_month",
    "search_customers",
    "segment_count",
    "segment_export",
    "segment_page",
    "top_spenders",
    "utilization_buckets",
]
