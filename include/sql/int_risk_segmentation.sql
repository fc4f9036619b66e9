-- Risk segment per statement. The decision compares the exact balance with the threshold times
-- the limit, never the rounded percentage (the seed's "between 50 and 79" sent 79.5% to Low).
-- Thresholds come from risk_thresholds, written from the settings by the build step.
create or replace view int_risk_segmentation as
with

utilization as (
    select
        customer_id,
        month,
        credit_limit,
        outstanding_balance,
        utilization_pct
    from int_credit_utilization
),

thresholds as (
    select
        high_risk_ratio,
        medium_risk_ratio
    from risk_thresholds
    where threshold_set = 'current'
),

final as (
    select
        utilization.customer_id,
        utilization.month,
        utilization.credit_limit,
        utilization.outstanding_balance,
        utilization.utilization_pct,
        case
            when utilization.credit_limit is null or utilization.credit_limit <= 0
                then 'Unknown'
            when
                utilization.outstanding_balance
                >= thresholds.high_risk_ratio * utilization.credit_limit
                then 'High Risk'
            when
                utilization.outstanding_balance
                >= thresholds.medium_risk_ratio * utilization.credit_limit
                then 'Medium Risk'
            else 'Low Risk'
        end as risk_category
    from utilization
    cross join thresholds
)

select
    customer_id,
    month,
    credit_limit,
    outstanding_balance,
    utilization_pct,
    risk_category
from final
