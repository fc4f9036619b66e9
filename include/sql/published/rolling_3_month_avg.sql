-- Published: the seed's per-transaction rolling view. The seed averaged the last three
-- transaction rows; this gives each transaction its customer's 3-calendar-month average of
-- monthly spend, the same number with one transaction a month and the right one otherwise.
create or replace view rolling_3_month_avg as
select
    customer_id,
    transaction_date,
    transaction_amount,
    rolling_3m_avg_spend
from published_transactions
