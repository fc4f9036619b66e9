-- Model: the statements of one month (%(month)s, from the build's {customer_month} rows) per
-- 10-point utilization bucket (bucket -10 holds credit balances, 100 holds everything at or
-- over the limit): the dashboard's histogram, pre-aggregated.
with

statements_in as (
    select
        month,
        utilization_pct
    from {customer_month}
    where month = %(month)s and has_statement and utilization_pct is not null
),

final as (
    select
        month,
        cast(greatest(-10, least(100, floor(utilization_pct / 10) * 10)) as signed)
            as bucket_floor_pct,
        count(*) as statements
    from statements_in
    group by month, bucket_floor_pct
)

select
    month,
    bucket_floor_pct,
    statements
from final
