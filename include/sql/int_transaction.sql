-- Each transaction with its customer-month's statement and 3-month average of monthly spend:
-- what the seed's bank_transactions table and rolling_3_month_avg view showed.
create or replace view int_transaction as
with

transactions_in as (
    select
        transaction_id,
        customer_id,
        transaction_date,
        statement_month,
        amount,
        transaction_type,
        merchant_category,
        channel
    from transactions
),

statements_in as (
    select
        customer_id,
        statement_month,
        credit_limit,
        outstanding_balance
    from statements
),

rolling as (
    select
        customer_id,
        month,
        rolling_3_month_avg
    from int_customer_spend_rolling_avg
),

final as (
    select
        transactions_in.transaction_id,
        transactions_in.customer_id,
        transactions_in.transaction_date,
        transactions_in.statement_month as month,
        transactions_in.amount as transaction_amount,
        transactions_in.transaction_type,
        transactions_in.merchant_category,
        transactions_in.channel,
        statements_in.credit_limit,
        statements_in.outstanding_balance,
        rolling.rolling_3_month_avg as rolling_3m_avg_spend
    from transactions_in
    left join statements_in
        on
            transactions_in.customer_id = statements_in.customer_id
            and transactions_in.statement_month = statements_in.statement_month
    left join rolling
        on
            transactions_in.customer_id = rolling.customer_id
            and transactions_in.statement_month = rolling.month
)

select
    transaction_id,
    customer_id,
    transaction_date,
    month,
    transaction_amount,
    transaction_type,
    merchant_category,
    channel,
    credit_limit,
    outstanding_balance,
    rolling_3m_avg_spend
from final
