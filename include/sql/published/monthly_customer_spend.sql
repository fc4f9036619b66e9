-- Published: spend per customer per calendar month, zero for months without transactions
-- (seed name and columns; logic in int_monthly_customer_spend).
create or replace view monthly_customer_spend as
select
    customer_id,
    month,
    monthly_spend
from published_customer_month
