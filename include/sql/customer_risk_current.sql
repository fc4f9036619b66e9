-- Published: each customer's latest statement month with its risk segment.
create or replace view customer_risk_current as
select
    customer_id,
    month,
    credit_limit,
    outstanding_balance,
    utilization_pct,
    risk_category
from published_customer_month
where is_latest_statement
