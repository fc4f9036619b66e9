"""Names of the warehouse objects, importable without pandas or a database driver.

The DAG file imports this at parse time (for its Asset outlets), so it must stay light.
Every name here has a file ``include/sql/<name>.sql`` that creates it.
"""

from __future__ import annotations

TABLES: tuple[str, ...] = (
    "customers",
    "statements",
    "transactions",
    "quarantined_rows",
    "load_audit",
    "load_commits",
    "calendar_months",
    "risk_thresholds",
    "published_customer_month",
    "published_transactions",
    "published_portfolio_month",
    "published_utilization_buckets",
    "published_credit_limit_month",
    "publications",
    "validation_runs",
)
"""Tables, created before any load, in this order."""

MODEL_VIEWS: tuple[str, ...] = (
    "int_monthly_customer_spend",
    "int_customer_spend_rolling_avg",
    "int_credit_utilization",
    "int_risk_segmentation",
    "int_customer_month",
    "int_transaction",
    "int_portfolio_month",
    "int_utilization_buckets",
    "int_credit_limit_month",
)
"""The logic, as views over the loaded tables, in dependency order. Readers never query them:
what they compute reaches readers only through a validated snapshot."""

SNAPSHOTS: dict[str, str] = {
    "published_customer_month": "int_customer_month",
    "published_transactions": "int_transaction",
    "published_portfolio_month": "int_portfolio_month",
    "published_utilization_buckets": "int_utilization_buckets",
    "published_credit_limit_month": "int_credit_limit_month",
}
"""Published snapshot table -> the model view that fills it."""

PUBLISHED_VIEWS: tuple[str, ...] = (
    "monthly_customer_spend",
    "customer_spend_rolling_avg",
    "credit_utilization",
    "risk_segmentation",
    "customer_risk_current",
    "bank_transactions",
    "rolling_3_month_avg",
)
"""What readers query: the seed's names and columns, so its Power BI report refreshes."""

ASSET_URI_TEMPLATE = "mysql://credit-risk-warehouse:3306/credit_risk/{name}"
"""Airflow Asset identifier of a published object (a lineage name, not a connection string)."""


def candidate_table(published_table: str) -> str:
    """Where a run builds the next snapshot of a published table before it is validated."""
    return published_table.replace("published_", "candidate_", 1)


def retired_table(published_table: str) -> str:
    """The name the previous snapshot takes for the instant of the swap."""
    return published_table.replace("published_", "retired_", 1)
