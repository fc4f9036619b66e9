-- Published: 3- and 6-calendar-month rolling averages of monthly spend (seed name and
-- columns; logic in int_customer_spend_rolling_avg).
create or replace view customer_spend_rolling_avg as
select
    customer_id,
    month,
    monthly_spend,
    rolling_3_month_avg,
    rolling_6_month_avg
from published_customer_month
