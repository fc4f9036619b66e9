-- Each customer's latest statement month, with its risk segment.
create or replace view customer_risk_current as
with

segments as (
    select
        customer_id,
        month,
        credit_limit,
        outstanding_balance,
        utilization_pct,
        risk_category
    from risk_segmentation
),

ranked as (
    select
        customer_id,
        month,
        credit_limit,
        outstanding_balance,
        utilization_pct,
        risk_category,
        row_number() over (partition by customer_id order by month desc) as month_rank
    from segments
),

final as (
    select
        customer_id,
        month,
        credit_limit,
        outstanding_balance,
        utilization_pct,
        risk_category
    from ranked
    where month_rank = 1
)

select
    customer_id,
    month,
    credit_limit,
    outstanding_balance,
    utilization_pct,
    risk_category
from final
