-- Published: the seed's raw table, kept so the original Power BI report refreshes unchanged:
-- one row per transaction with its customer-month's limit and balance.
create or replace view bank_transactions as
select
    customer_id,
    transaction_date,
    transaction_amount,
    credit_limit,
    outstanding_balance
from published_transactions
