-- The seed's per-transaction rolling view, kept for the Power BI report. The seed averaged the
-- last three transaction rows; this gives each transaction its customer's 3-calendar-month
-- average of monthly spend, which is the same number when a customer has one transaction a
-- month and the right one when they have several or none.
create or replace view rolling_3_month_avg as
with

transactions_in as (
    select
        customer_id,
        transaction_date,
        statement_month,
        amount
    from transactions
),

rolling as (
    select
        customer_id,
        month,
        rolling_3_month_avg
    from customer_spend_rolling_avg
),

final as (
    select
        transactions_in.customer_id,
        transactions_in.transaction_date,
        transactions_in.amount as transaction_amount,
        rolling.rolling_3_month_avg as rolling_3m_avg_spend
    from transactions_in
    left join rolling
        on
            transactions_in.customer_id = rolling.customer_id
            and transactions_in.statement_month = rolling.month
)

select
    customer_id,
    transaction_date,
    transaction_amount,
    rolling_3m_avg_spend
from final
