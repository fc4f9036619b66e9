-- The seed's raw table, kept as a view so the original Power BI report refreshes unchanged:
-- one row per transaction with its customer-month's limit and balance.
create or replace view bank_transactions as
with

transactions_in as (
    select
        customer_id,
        transaction_date,
        statement_month,
        amount
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

final as (
    select
        transactions_in.customer_id,
        transactions_in.transaction_date,
        transactions_in.amount as transaction_amount,
        statements_in.credit_limit,
        statements_in.outstanding_balance
    from transactions_in
    left join statements_in
        on
            transactions_in.customer_id = statements_in.customer_id
            and transactions_in.statement_month = statements_in.statement_month
)

select
    customer_id,
    transaction_date,
    transaction_amount,
    credit_limit,
    outstanding_balance
from final
