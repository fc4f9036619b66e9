-- Spend per customer per calendar month, with a zero row for every month in the customer's
-- statement history that had no transactions (the seed skipped those months, which shifted
-- every rolling average after a gap).
create or replace view int_monthly_customer_spend as
with

statement_span as (
    select
        customer_id,
        min(statement_month) as first_month,
        max(statement_month) as last_month
    from statements
    group by customer_id
),

-- Only the calendar months some statement covers (a dozen, not the calendar's 1,320): the join
-- below has no equality to look up, so the server compares every customer with every calendar
-- month it is given.
statement_calendar as (
    select calendar_months.month
    from calendar_months
    where
        calendar_months.month
        between (select min(statements.statement_month) from statements)
        and (select max(statements.statement_month) from statements)
),

customer_months as (
    select
        statement_span.customer_id,
        statement_calendar.month
    from statement_span
    inner join statement_calendar
        on statement_calendar.month between statement_span.first_month and statement_span.last_month
),

transaction_spend as (
    select
        customer_id,
        statement_month as month,
        sum(amount) as monthly_spend
    from transactions
    group by customer_id, statement_month
),

final as (
    select
        customer_months.customer_id,
        customer_months.month,
        cast(coalesce(transaction_spend.monthly_spend, 0) as decimal(14, 2)) as monthly_spend
    from customer_months
    left join transaction_spend
        on
            customer_months.customer_id = transaction_spend.customer_id
            and customer_months.month = transaction_spend.month
)

select
    customer_id,
    month,
    monthly_spend
from final
