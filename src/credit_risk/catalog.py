"""Names of the warehouse objects, importable without pandas or a database driver.

The DAG file imports this at parse time (for its Asset outlets), so it must stay light.
Every name here has a file ``include/sql/<layer>/<name>.sql`` that creates (or, for a model,
selects) it; ``SQL_LAYERS`` says which folder.
"""

from __future__ import annotations

TABLES: tuple[str, ...] = (
    "customers",
    "statements",
    "transactions",
    "transaction_months",
    "quarantined_rows",
    "load_audit",
    "load_commits",
    "month_ledger",
    "builds",
    "risk_thresholds",
    "published_customer_month",
    "published_transactions",
    "published_purchase_profile",
    "published_portfolio_month",
    "published_utilization_buckets",
    "published_credit_limit_month",
    "published_customer_latest",
    "publications",
    "validation_runs",
    "refresh_deadline_pages",
)
"""Tables, created before any load, in this order."""

MONTH_PARTITIONED: dict[str, str] = {
    "statements": "statement_month",
    "transactions": "statement_month",
    "published_customer_month": "month",
    "published_transactions": "month",
    "published_purchase_profile": "month",
}
"""Tables with one partition per month -> their month column. A partition is added for each
month before anything is written to it (``warehouse.partitions``)."""

SNAPSHOTS: dict[str, str] = {
    "published_customer_month": "int_customer_month",
    "published_transactions": "int_transaction",
    "published_purchase_profile": "int_purchase_profile",
    "published_portfolio_month": "int_portfolio_month",
    "published_utilization_buckets": "int_utilization_buckets",
    "published_credit_limit_month": "int_credit_limit_month",
}
"""Published table -> the model that computes one month of it, in build order (each model may
read the build's rows of the tables before it)."""

MODELS: tuple[str, ...] = tuple(SNAPSHOTS.values())
"""The per-month models, in build order."""

RISK_CATEGORIES: tuple[str, ...] = ("High Risk", "Medium Risk", "Low Risk", "Unknown")
"""The risk segments of a statement, worst first. The build's CASE (``int_customer_month.sql``)
writes them, a test holds that CASE to this list, and everything else reads it: the published
suite, the dashboard's API and, through its ``/api/months`` endpoint, its JavaScript."""
NO_STATEMENT = "No Statement"
"""The segment of a customer-month without a statement, in portfolio and prediction totals."""

WAREHOUSE_CONN_ID = "credit_risk_mysql"
"""The Airflow connection of the warehouse: the DAGs' tasks and the dashboard's fallback."""

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

PUBLISHED_TABLES: tuple[str, ...] = (*SNAPSHOTS, "published_customer_latest")
"""Every table a publication replaces months of; readers see nothing else of the warehouse."""

WINDOW_MONTHS = 6
"""The longest window a month's published rows read (the 6-month rolling average): a month
depends on itself and the ``WINDOW_MONTHS - 1`` months before it."""

ASSET_URI_TEMPLATE = "mysql://credit-risk-warehouse:3306/credit_risk/{name}"
"""Airflow Asset identifier of a published object (a lineage name, not a connection string)."""


def candidate_table(published_table: str, build_id: int) -> str:
    """Where build ``build_id`` writes its rows of a published table before they are validated."""
    return published_table.replace("published_", f"candidate_b{int(build_id)}_", 1)


CANDIDATE_PREFIX = "candidate_b"
"""Every candidate table's name starts with this (the janitor finds strays by it)."""

ANALYTICS_TABLES: tuple[str, ...] = (
    "spend_anomalies",
    "high_risk_predictions",
    "high_risk_prediction_segments",
    "scored_customer_month",
    "model_runs",
    "model_artifacts",
    "model_scoring_plans",
    "high_risk_prediction_shards",
)
"""Tables the analytics write after each publication (each job creates its own when missing)."""

SQL_LAYERS: dict[str, tuple[str, ...]] = {
    "tables": tuple(name for name in TABLES if name not in PUBLISHED_TABLES),
    "models": MODELS,
    "published": (*PUBLISHED_TABLES, *PUBLISHED_VIEWS),
    "analytics": ANALYTICS_TABLES,
}
"""The folders of ``include/sql``, by layer: loaded data and bookkeeping (``tables``), the
per-month models a build runs (``models``), what readers see (``published``: the snapshot
tables and the views over them), what the analytics write (``analytics``)."""
_LAYER_OF = {name: layer for layer, names in SQL_LAYERS.items() for name in names}


def sql_file(name: str) -> str:
    """The path of ``name``'s SQL file inside ``include/sql``: ``<layer>/<name>.sql``.

    Raises:
        KeyError: ``name`` is no object of the catalog (add it to its layer first).
    """
    try:
        return f"{_LAYER_OF[name]}/{name}.sql"
    except KeyError:
        raise KeyError(f"{name!r} is in no layer of catalog.SQL_LAYERS") from None
