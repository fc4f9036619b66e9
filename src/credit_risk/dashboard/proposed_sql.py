"""Objects the dashboard reads when present and proposes for the DAG's snapshot.

The dashboard never creates anything (its user can only SELECT). These statements are here so
the proposal, the tests and the benchmark share one text; docs/dashboard.md explains how to wire
them into ``include/sql`` and ``catalog`` so every publication builds them.

``published_credit_limit_month`` feeds the original report's "transactions by credit limit"
chart. Counting transactions per request would scan ``published_transactions`` (millions of
rows), so it is pre-aggregated like ``published_portfolio_month``; without it the widget says
"not available yet".
"""

from __future__ import annotations

from credit_risk.warehouse.build import read_sql

INT_CREDIT_LIMIT_MONTH = read_sql("int_credit_limit_month")
PUBLISHED_CREDIT_LIMIT_MONTH = read_sql("published_credit_limit_month")
"""Both now built by every publication (catalog.SNAPSHOTS); kept here for the tests."""

FILL_CREDIT_LIMIT_MONTH_FROM_PUBLISHED = """\
insert into published_credit_limit_month
    (month, credit_limit, customers, transactions, total_amount)
select
    month,
    credit_limit,
    count(distinct customer_id),
    count(*),
    cast(sum(transaction_amount) as decimal(18, 2))
from published_transactions
where credit_limit is not null
group by month, credit_limit
"""
"""Until the DAG publishes the table: the same rows, from the published transactions (tests and
the benchmark use this; it reads what the snapshot already holds)."""

PROPOSED_INDEXES: tuple[str, ...] = (
    "create index ix_spend_anomalies_month on spend_anomalies (month, is_anomaly)",
    "create index ix_published_customer_month_spend "
    "on published_customer_month (month, monthly_spend)",
)
"""Secondary indexes for the month-wide widgets (see docs/dashboard.md for which and why)."""
