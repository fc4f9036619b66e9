-- Published: each customer's latest statement month with its risk segment.
create or replace view customer_risk_current as
select
    customer_months.customer_id,
    customer_months.month,
    customer_months.credit_limit,
    customer_months.outstanding_balance,
    customer_months.utilization_pct,
    customer_months.risk_category
from published_customer_latest as latest
inner join published_customer_month as customer_months
    on
        latest.customer_id = customer_months.customer_id
        and latest.month = customer_months.month
