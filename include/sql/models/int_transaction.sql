-- Model: the published_transactions rows of one month (%(month)s): each transaction with its
-- customer-month's statement and 3-month average of monthly spend (the build's
-- {customer_month} rows of the same month), what the seed's bank_transactions table and
-- rolling_3_month_avg view showed.
with

transactions_in as (
    select
        transaction_id,
        customer_id,
        transaction_date,
        amount,
        transaction_type,
        merchant_category,
        channel
    from transactions
    where statement_month = %(month)s
),

statements_in as (
    select
        customer_id,
        credit_limit,
        outstanding_balance
    from statements
    where statement_month = %(month)s
),

rolling as (
    select
        customer_id,
        rolling_3_month_avg
    from {customer_month}
    where month = %(month)s
),

final as (
    select
        transactions_in.transaction_id,
        transactions_in.customer_id,
        transactions_in.transaction_date,
        %(month)s as month,
        transactions_in.amount as transaction_amount,
        transactions_in.transaction_type,
        transactions_in.merchant_category,
        transactions_in.channel,
        statements_in.credit_limit,
        statements_in.outstanding_balance,
        rolling.rolling_3_month_avg as rolling_3m_avg_spend
    from transactions_in
    left join statements_in on transactions_in.customer_id = statements_in.customer_id
    left join rolling on transactions_in.customer_id = rolling.customer_id
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
