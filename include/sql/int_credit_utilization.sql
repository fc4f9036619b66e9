-- Utilization per statement (the seed emitted one row per transaction). NULL where the limit is
-- missing or not positive. The balance is widened before dividing so that the one rounding that
-- counts is round(..., 2), not the server's intermediate rounding of the quotient.
create or replace view int_credit_utilization as
with

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
        customer_id,
        statement_month as month,
        credit_limit,
        outstanding_balance,
        case
            when credit_limit > 0
                then cast(
                    round(cast(outstanding_balance as decimal(24, 8)) * 100 / credit_limit, 2)
                    as decimal(10, 2)
                )
        end as utilization_pct
    from statements_in
)

select
    customer_id,
    month,
    credit_limit,
    outstanding_balance,
    utilization_pct
from final
