-- Everything published about a customer-month, at one grain: every calendar month of the
-- customer's statement history, with the statement's figures where there is a statement.
-- The build copies this view into a candidate table, validates it, then swaps it in.
create or replace view int_customer_month as
with

spend as (
    select
        customer_id,
        month,
        monthly_spend,
        rolling_3_month_avg,
        rolling_6_month_avg
    from int_customer_spend_rolling_avg
),

segments as (
    select
        customer_id,
        month,
        credit_limit,
        outstanding_balance,
        utilization_pct,
        risk_category
    from int_risk_segmentation
),

statement_details as (
    select
        customer_id,
        statement_month as month,
        payment_amount,
        minimum_due,
        days_past_due,
        max(statement_month) over (partition by customer_id) as latest_statement_month
    from statements
),

final as (
    select
        spend.customer_id,
        spend.month,
        spend.monthly_spend,
        spend.rolling_3_month_avg,
        spend.rolling_6_month_avg,
        segments.credit_limit,
        segments.outstanding_balance,
        segments.utilization_pct,
        segments.risk_category,
        statement_details.payment_amount,
        statement_details.minimum_due,
        statement_details.days_past_due,
        statement_details.customer_id is not null as has_statement,
        coalesce(statement_details.month = statement_details.latest_statement_month, false)
            as is_latest_statement
    from spend
    left join segments
        on
            spend.customer_id = segments.customer_id
            and spend.month = segments.month
    left join statement_details
        on
            spend.customer_id = statement_details.customer_id
            and spend.month = statement_details.month
)

select
    customer_id,
    month,
    monthly_spend,
    rolling_3_month_avg,
    rolling_6_month_avg,
    credit_limit,
    outstanding_balance,
    utilization_pct,
    risk_category,
    payment_amount,
    minimum_due,
    days_past_due,
    has_statement,
    is_latest_statement
from final
