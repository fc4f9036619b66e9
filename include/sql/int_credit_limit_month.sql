-- Transactions per month and credit limit (the original report's line chart), pre-aggregated
-- so the dashboard reads a few rows instead of counting transactions per request.
create or replace view int_credit_limit_month as
with

transactions_in as (
    select
        month,
        customer_id,
        credit_limit,
        transaction_amount
    from int_transaction
    where credit_limit is not null
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
