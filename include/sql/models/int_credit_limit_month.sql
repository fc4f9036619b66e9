-- Model: the transactions of one month (%(month)s, from the build's {transactions} rows) per
-- credit limit (the original report's line chart), pre-aggregated so the dashboard reads a few
-- rows instead of counting transactions per request.
with

transactions_in as (
    select
        month,
        customer_id,
        credit_limit,
        transaction_amount
    from {transactions}
    where month = %(month)s and credit_limit is not null
),

final as (
    select
        month,
        credit_limit,
        cast(sum(transaction_amount) as decimal(18, 2)) as total_amount,
        count(distinct customer_id) as customers,
        count(*) as transactions
    from transactions_in
    group by month, credit_limit
)

select
    month,
    credit_limit,
    customers,
    transactions,
    total_amount
from final
