-- Published: utilization per statement (seed name and columns; logic in
-- int_credit_utilization).
create or replace view credit_utilization as
select
    customer_id,
    month,
    credit_limit,
    outstanding_balance,
    utilization_pct
from published_customer_month
where has_statement
