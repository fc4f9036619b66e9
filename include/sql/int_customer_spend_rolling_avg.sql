-- 3- and 6-month rolling averages of monthly spend. monthly_customer_spend has exactly one row
-- per calendar month of each customer's history, so a ROWS frame is a calendar-month frame, and
-- the first months average only the months that exist (the first month's average is its spend).
create or replace view int_customer_spend_rolling_avg as
with

monthly_spend as (
    select
        customer_id,
        month,
        monthly_spend
    from int_monthly_customer_spend
),

final as (
    select
        customer_id,
        month,
        monthly_spend,
        cast(round(avg(monthly_spend) over three_months, 2) as decimal(14, 2))
            as rolling_3_month_avg,
        cast(round(avg(monthly_spend) over six_months, 2) as decimal(14, 2))
            as rolling_6_month_avg
    from monthly_spend
    window
        three_months as (
            partition by customer_id order by month
            rows between 2 preceding and current row
        ),
        six_months as (
            partition by customer_id order by month
            rows between 5 preceding and current row
        )
)

select
    customer_id,
    month,
    monthly_spend,
    rolling_3_month_avg,
    rolling_6_month_avg
from final
