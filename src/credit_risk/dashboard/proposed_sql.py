"""Indexes and a summary table the dashboard uses when present, proposed to their owners.

The dashboard never creates anything (its user can only SELECT). These statements are here so
the proposal, the tests and the benchmark share one text; docs/dashboard.md says where each
belongs. Without them every widget still answers, but at 100k customers the at-risk table (and,
without the summary, the "predicted to turn High Risk" card) read a whole segment per request
instead of one page (see the benchmark).
"""

from __future__ import annotations

PROPOSED_INDEXES: tuple[str, ...] = (
    # the at-risk table's default order, and its "days past due" order, within a segment
    "create index ix_published_customer_month_utilization "
    "on published_customer_month (month, risk_category, utilization_pct)",
    "create index ix_published_customer_month_arrears "
    "on published_customer_month (month, risk_category, days_past_due)",
    # the at-risk table sorted by probability: the month's scores in probability order
    "create index ix_high_risk_predictions_probability "
    "on high_risk_predictions (month, probability)",
)
"""Secondary indexes for the at-risk table. On ``published_customer_month`` they belong in its
CREATE TABLE (include/sql): candidates are created ``like`` the published table, so every later
snapshot keeps them; the scores' one belongs in include/sql/high_risk_predictions.sql. (The
``(month, monthly_spend)`` index of ``published_customer_month`` and ``(month, is_anomaly)`` of
``spend_anomalies`` are in their DDL already.)"""

HIGH_RISK_PREDICTION_SEGMENTS = """\
-- Scores per month and current risk segment, so the dashboard's "predicted to turn High Risk"
-- card reads a few rows instead of joining every score to its customer-month.
create table if not exists high_risk_prediction_segments (
    month char(7) not null,
    risk_category varchar(16) not null,
    scored int not null,
    predicted_high_risk int not null,
    primary key (month, risk_category)
) engine = innodb default charset = utf8mb4
"""

REFRESH_PREDICTION_SEGMENTS = (
    "delete from high_risk_prediction_segments where month = %(month)s",
    """\
insert into high_risk_prediction_segments (month, risk_category, scored, predicted_high_risk)
select
    predictions.month,
    coalesce(customer_months.risk_category, 'No Statement'),
    count(*),
    sum(predictions.is_predicted_high_risk)
from high_risk_predictions as predictions
left join published_customer_month as customer_months
    on
        predictions.customer_id = customer_months.customer_id
        and predictions.month = customer_months.month
where predictions.month = %(month)s
group by predictions.month, coalesce(customer_months.risk_category, 'No Statement')
""",
)
"""For the scoring job: run after writing a month's scores, in the same transaction
(``%(month)s`` is the scored month)."""
