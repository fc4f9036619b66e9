-- Published: risk segment per statement (seed name and columns; logic in
-- int_risk_segmentation).
create or replace view risk_segmentation as
select
    customer_id,
    month,
    credit_limit,
    outstanding_balance,
    utilization_pct,
    risk_category
from published_customer_month
where has_statement
