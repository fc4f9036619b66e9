-- Model: portfolio totals of one month (%(month)s, from the build's {customer_month} rows) per
-- risk segment, so dashboards read a few rows per month instead of scanning every customer.
-- Customer-months without a statement count under 'No Statement'.
with

customer_months as (
    select
        month,
        has_statement,
        monthly_spend,
        rolling_3_month_avg,
        rolling_6_month_avg,
        credit_limit,
        outstanding_balance,
        days_past_due,
        coalesce(risk_category, 'No Statement') as risk_category
    from {customer_month}
    where month = %(month)s
),

final as (
    select
        month,
        risk_category,
        cast(sum(monthly_spend) as decimal(18, 2)) as total_spend,
        cast(sum(rolling_3_month_avg) as decimal(18, 2)) as total_rolling_3_month_avg,
        cast(sum(rolling_6_month_avg) as decimal(18, 2)) as total_rolling_6_month_avg,
        cast(coalesce(sum(credit_limit), 0) as decimal(18, 2)) as total_credit_limit,
        cast(coalesce(sum(outstanding_balance), 0) as decimal(18, 2)) as total_balance,
        count(*) as customers,
        sum(has_statement) as statements,
        sum(coalesce(days_past_due, 0) >= 30) as delinquent_30_plus
    from customer_months
    group by month, risk_category
)

select
    month,
    risk_category,
    customers,
    statements,
    total_spend,
    total_rolling_3_month_avg,
    total_rolling_6_month_avg,
    total_credit_limit,
    total_balance,
    delinquent_30_plus
from final
