-- Model: the published_customer_month rows of one month (%(month)s), built by a refresh into
-- its candidate table ({customer_month}). A customer-month exists when the customer had a
-- statement or spend that month or in one of the five months before: a gap of up to five
-- months gets zero-spend rows (the seed skipped them, which shifted every average after a
-- gap), and an account that goes quiet leaves the monthly views after five months. The rolling
-- averages are over calendar months: the months before come from the five months back
-- (%(month_5)s .. %(month_1)s), read from the build's own rows for months it rebuilds (from
-- %(build_first_month)s on), else from the published table; they average the months since the
-- customer's first row within the window (the first month's average is its spend). Segments
-- compare the exact balance with the thresholds in risk_thresholds, never the rounded
-- percentage (the seed's "between 50 and 79" sent 79.5% to Low).
with

statements_in as (
    select
        customer_id,
        credit_limit,
        outstanding_balance,
        payment_amount,
        minimum_due,
        days_past_due
    from statements
    where statement_month = %(month)s
),

spend_in as (
    select
        customer_id,
        sum(amount) as monthly_spend,
        count(*) as transaction_count,
        sum(transaction_type = 'cash_advance') as cash_advance_count,
        sum(case when transaction_type = 'cash_advance' then amount else 0 end)
            as cash_advance_amount,
        sum(case when transaction_type in ('cash_advance', 'purchase') then amount else 0 end)
            as charge_amount
    from transactions
    where statement_month = %(month)s
    group by customer_id
),

months_back as (
    select
        customer_id,
        month,
        monthly_spend,
        has_statement
    from published_customer_month
    where
        month between %(month_5)s and %(month_1)s
        and month < %(build_first_month)s
    union all
    select
        customer_id,
        month,
        monthly_spend,
        has_statement
    from {customer_month}
    where month between %(month_5)s and %(month_1)s
),

customers_in as (
    select customer_id from statements_in
    union distinct
    select customer_id from spend_in
    union distinct
    select customer_id from months_back
    where has_statement or monthly_spend <> 0
),

windows as (
    select
        customer_id,
        sum(case when month >= %(month_2)s then monthly_spend else 0 end) as spend_2_back,
        sum(monthly_spend) as spend_5_back,
        -- the first row within each window: a month without a row (an account quiet for
        -- six months, a month never loaded) must not stretch the 3-month window
        min(case when month >= %(month_2)s then month end) as first_month_back_3,
        min(month) as first_month_back
    from months_back
    group by customer_id
),

thresholds as (
    select
        high_risk_ratio,
        medium_risk_ratio
    from risk_thresholds
    where threshold_set = 'current'
),

customer_months as (
    select
        customers_in.customer_id,
        statements_in.credit_limit,
        statements_in.outstanding_balance,
        statements_in.payment_amount,
        statements_in.minimum_due,
        statements_in.days_past_due,
        cast(coalesce(spend_in.monthly_spend, 0) as decimal(14, 2)) as monthly_spend,
        cast(coalesce(spend_in.cash_advance_amount, 0) as decimal(14, 2)) as cash_advance_amount,
        cast(coalesce(spend_in.charge_amount, 0) as decimal(14, 2)) as charge_amount,
        coalesce(spend_in.transaction_count, 0) as transaction_count,
        coalesce(spend_in.cash_advance_count, 0) as cash_advance_count,
        coalesce(windows.spend_2_back, 0) as spend_2_back,
        coalesce(windows.spend_5_back, 0) as spend_5_back,
        case
            when windows.first_month_back_3 = %(month_2)s then 3
            when windows.first_month_back_3 = %(month_1)s then 2
            else 1
        end as months_3,
        case
            when windows.first_month_back <= %(month_5)s then 6
            when windows.first_month_back = %(month_4)s then 5
            when windows.first_month_back = %(month_3)s then 4
            when windows.first_month_back = %(month_2)s then 3
            when windows.first_month_back = %(month_1)s then 2
            else 1
        end as months_6,
        statements_in.customer_id is not null as has_statement
    from customers_in
    left join spend_in on customers_in.customer_id = spend_in.customer_id
    left join windows on customers_in.customer_id = windows.customer_id
    left join statements_in on customers_in.customer_id = statements_in.customer_id
),

final as (
    select
        customer_months.customer_id,
        customer_months.monthly_spend,
        customer_months.credit_limit,
        customer_months.outstanding_balance,
        customer_months.payment_amount,
        customer_months.minimum_due,
        customer_months.days_past_due,
        customer_months.has_statement,
        customer_months.transaction_count,
        customer_months.cash_advance_count,
        customer_months.cash_advance_amount,
        customer_months.charge_amount,
        %(month)s as month,
        cast(
            round(
                (customer_months.monthly_spend + customer_months.spend_2_back)
                / customer_months.months_3, 2
            )
            as decimal(14, 2)
        ) as rolling_3_month_avg,
        cast(
            round(
                (customer_months.monthly_spend + customer_months.spend_5_back)
                / customer_months.months_6, 2
            )
            as decimal(14, 2)
        ) as rolling_6_month_avg,
        -- widened before dividing, so the one rounding that counts is round(..., 2)
        case
            when customer_months.credit_limit > 0
                then cast(
                    round(
                        cast(customer_months.outstanding_balance as decimal(24, 8)) * 100
                        / customer_months.credit_limit,
                        2
                    )
                    as decimal(10, 2)
                )
        end as utilization_pct,
        case
            when not customer_months.has_statement then null
            when customer_months.credit_limit is null or customer_months.credit_limit <= 0
                then 'Unknown'
            when
                customer_months.outstanding_balance
                >= thresholds.high_risk_ratio * customer_months.credit_limit
                then 'High Risk'
            when
                customer_months.outstanding_balance
                >= thresholds.medium_risk_ratio * customer_months.credit_limit
                then 'Medium Risk'
            else 'Low Risk'
        end as risk_category
    from customer_months
    cross join thresholds
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
    transaction_count,
    cash_advance_count,
    cash_advance_amount,
    charge_amount
from final
