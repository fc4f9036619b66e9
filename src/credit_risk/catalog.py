"""Names of the warehouse objects, importable without pandas or a database driver.

The DAG file imports this at parse time (for its Asset outlets), so it must stay light.
"""

from __future__ import annotations

TABLES: tuple[str, ...] = (
    "customers",
    "statements",
    "transactions",
    "quarantined_rows",
    "load_audit",
    "calendar_months",
    "risk_thresholds",
)
"""Tables the load writes to; created before any load, in this order."""

PUBLISHED_VIEWS: tuple[str, ...] = (
    "monthly_customer_spend",
    "customer_spend_rolling_avg",
    "credit_utilization",
    "risk_segmentation",
    "customer_risk_current",
    "bank_transactions",
    "rolling_3_month_avg",
)
"""Published views in dependency order: the seed's names and columns, so its report refreshes."""

ASSET_URI_TEMPLATE = "mysql://credit-risk-warehouse:3306/credit_risk/{name}"
"""Airflow Asset identifier of a published object (a lineage name, not a connection string)."""
