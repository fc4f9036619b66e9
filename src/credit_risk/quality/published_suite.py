"""Published suite: the months a refresh is about to publish (or a month that is published),
before readers see them.

Row-level invariants are checked on every row of those months: utilization recomputes from
balance and limit, every segment agrees with the thresholds, the rolling averages recompute
from the monthly spend of their calendar window (the build's rows, and the published months
before them), one row per customer-month. Each month is then compared with the month before it,
as it will be published, so a silently broken extract is caught even when every row is
individually valid.
"""

from __future__ import annotations

from statistics import NormalDist

import great_expectations.expectations as gxe

from credit_risk import catalog
from credit_risk.catalog import WINDOW_MONTHS
from credit_risk.months import add_months, validate_month
from credit_risk.quality.runner import APPROVABLE, Dataset, SuiteResult, run_suite
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.db import Warehouse

STAGE = "published"

SHIFT = {APPROVABLE: True}
"""The month-over-month checks a real change of the portfolio can fail: on-call may approve
them (``CREDIT_RISK_SHIFT_APPROVAL_HOURS``). The row invariants, a month without statements
and too many Unknown statements (missing limits) are defects of the data, never approved."""

_UTILIZATION_MISMATCH = """
select customer_id, month, utilization_pct, outstanding_balance, credit_limit
from {batch}
where has_statement and (
    (credit_limit > 0 and (utilization_pct is null or utilization_pct
        <> round(cast(outstanding_balance as decimal(24, 8)) * 100 / credit_limit, 2)))
    or ((credit_limit is null or credit_limit <= 0) and utilization_pct is not null)
)
"""

_CATEGORY_MISMATCH = """
select snapshot.customer_id, snapshot.month, snapshot.risk_category
from {batch} as snapshot
cross join risk_thresholds as thresholds
where thresholds.threshold_set = 'current' and snapshot.has_statement
and not (snapshot.risk_category <=> case
    when snapshot.credit_limit is null or snapshot.credit_limit <= 0 then 'Unknown'
    when snapshot.outstanding_balance >= thresholds.high_risk_ratio * snapshot.credit_limit
        then 'High Risk'
    when snapshot.outstanding_balance >= thresholds.medium_risk_ratio * snapshot.credit_limit
        then 'Medium Risk'
    else 'Low Risk'
end)
"""

_ROLLING_MISMATCH = """
select customer_id, month, rolling_3_month_avg, rolling_6_month_avg
from (
    select
        customer_id, month, is_checked, month_number, rolling_3_month_avg,
        rolling_6_month_avg,
        sum(monthly_spend) over last_3 as spend_3, min(month_number) over last_3 as first_3,
        sum(monthly_spend) over last_6 as spend_6, min(month_number) over last_6 as first_6
    from (
        select
            customer_id, month, monthly_spend, rolling_3_month_avg, rolling_6_month_avg,
            1 as is_checked,
            cast(left(month, 4) as unsigned) * 12 + cast(right(month, 2) as unsigned)
                as month_number
        from {{batch}}
        union all
        select
            customer_id, month, monthly_spend, rolling_3_month_avg, rolling_6_month_avg,
            0, cast(left(month, 4) as unsigned) * 12 + cast(right(month, 2) as unsigned)
        from published_customer_month
        where month between '{lookback_first}' and '{lookback_last}'
    ) as window_rows
    window
        last_3 as (partition by customer_id order by month_number
            range between 2 preceding and current row),
        last_6 as (partition by customer_id order by month_number
            range between 5 preceding and current row)
) as windows
where is_checked and (
    rolling_3_month_avg <> round(spend_3 / (month_number - first_3 + 1), 2)
    or rolling_6_month_avg <> round(spend_6 / (month_number - first_6 + 1), 2)
)
"""
"""Rows whose rolling averages are not the average spend of their calendar window: the months
from the customer's first row within the window (a month without a row counts as zero)."""

_DISTRIBUTION = """
select * from (
with
current_month as (
    select risk_category, utilization_pct
    from {snapshot} where month = '{month}' and has_statement
),
previous_month as (
    select risk_category, utilization_pct
    from {previous_table} where month = '{previous}' and has_statement
),
counts as (
    select
        (select count(*) from current_month) as n_now,
        (select coalesce(sum(risk_category = 'High Risk'), 0) from current_month) as high_now,
        (select count(*) from previous_month) as n_before,
        (select coalesce(sum(risk_category = 'High Risk'), 0) from previous_month) as high_before
),
buckets as (
    select 'current' as side, greatest(-1, least(10, floor(utilization_pct / 10))) as bucket
    from current_month where utilization_pct is not null
    union all
    select 'previous', greatest(-1, least(10, floor(utilization_pct / 10)))
    from previous_month where utilization_pct is not null
),
bucket_counts as (
    select bucket, sum(side = 'current') as now_count, sum(side = 'previous') as before_count
    from buckets group by bucket
),
bucket_totals as (
    select
        sum(now_count) as util_now,
        sum(before_count) as util_before,
        count(*) as k
    from bucket_counts
),
shares as (
    -- half a row added to every bucket (Jeffreys smoothing): an empty bucket has no share of
    -- zero, and on a few dozen rows one customer more or less does not look like a shift
    select
        (now_count + 0.5) / (util_now + 0.5 * k) as current_share,
        (before_count + 0.5) / (util_before + 0.5 * k) as previous_share
    from bucket_counts cross join bucket_totals
),
tests as (
    select
        case when n_now > 0 and n_before > 0
            then abs(high_now / n_now - high_before / n_before) else 0 end as share_shift,
        case when n_now > 0 and n_before > 0
            then greatest({max_shift}, {z} * sqrt(
                ((high_now + high_before) / (n_now + n_before))
                * (1 - (high_now + high_before) / (n_now + n_before))
                * (1 / n_now + 1 / n_before)))
            else 1 end as share_allowed,
        case when util_now > 0 and util_before > 0
            then (select sum((current_share - previous_share)
                * ln(current_share / previous_share)) from shares)
            else 0 end as psi,
        case when util_now > 0 and util_before > 0
            then greatest({psi_max}, {chi2_by_k} * (1 / util_now + 1 / util_before))
            else 1e9 end as psi_allowed
    from counts cross join bucket_totals
)
select
    (select count(*) from current_month) as statements,
    (select count(*) from previous_month) as previous_statements,
    coalesce((select avg(risk_category = 'Unknown') from current_month), 0) as unknown_share,
    coalesce((select avg(risk_category = 'High Risk') from current_month), 0) as high_risk_share,
    share_shift as high_risk_share_shift,
    share_allowed as high_risk_share_shift_allowed,
    greatest(0, share_shift - share_allowed) as high_risk_share_shift_beyond_noise,
    psi as utilization_psi,
    psi_allowed as utilization_psi_allowed,
    greatest(0, psi - psi_allowed) as utilization_psi_beyond_noise
from tests
) as distribution
"""


def two_sided_z(false_alarm_rate: float) -> float:
    """The normal quantile a two-sided test at ``false_alarm_rate`` compares with."""
    return NormalDist().inv_cdf(1 - false_alarm_rate / 2)


def chi2_by_buckets(false_alarm_rate: float) -> str:
    """SQL for the chi-square quantile of (buckets - 1) degrees of freedom, by bucket count.

    Under "nothing changed", the PSI of two samples (the symmetric Kullback-Leibler divergence)
    times n1 * n0 / (n1 + n0) is asymptotically chi-square with k - 1 degrees of freedom, so
    ``quantile * (1 / n1 + 1 / n0)`` is the PSI sampling noise alone reaches with probability
    ``false_alarm_rate``. Utilization has at most 12 buckets (-1 .. 10: refunds-only and over
    the limit included).
    """
    from scipy.stats import chi2

    cases = " ".join(
        f"when {k} then {chi2.ppf(1 - false_alarm_rate, k - 1):.6f}" for k in range(2, 13)
    )
    return f"(case k {cases} else 0 end)"


def datasets(
    months: list[str],
    rows_table: str,
    *,
    settings: Settings | None = None,
) -> list[Dataset]:
    """The rows of ``months`` in ``rows_table`` and each month's distribution, with expectations.

    Args:
        months: The months being published (ascending), all in ``rows_table``.
        rows_table: A build's candidate table, or ``published_customer_month``.
        settings: Thresholds; the process settings by default.
    """
    settings = settings or get_settings()
    months = [validate_month(month) for month in months]
    first = months[0]
    in_months = ", ".join(f"'{month}'" for month in months)
    rows = Dataset(
        "customer_month",
        [
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["customer_id", "month"], description="one row per customer-month"
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="risk_category",
                value_set=list(catalog.RISK_CATEGORIES),
                description="known risk categories",
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=_UTILIZATION_MISMATCH,
                description="utilization_pct = round(balance / limit * 100, 2), NULL without limit",
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=_CATEGORY_MISMATCH,
                description="every risk_category agrees with the thresholds",
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=_ROLLING_MISMATCH.format(
                    lookback_first=add_months(first, -(WINDOW_MONTHS - 1)),
                    lookback_last=add_months(first, -1),
                ),
                description="rolling averages are the mean spend of their 3 and 6 calendar months",
            ),
        ],
        query=f"select * from {rows_table} where month in ({in_months})",
    )
    return [rows, *(_distribution(month, months, rows_table, settings) for month in months)]


def _distribution(month: str, months: list[str], rows_table: str, settings: Settings) -> Dataset:
    previous = add_months(month, -1)
    rate = settings.distribution_false_alarm_rate
    return Dataset(
        f"distribution_{month}",
        [
            gxe.ExpectColumnValuesToBeBetween(
                column="statements", min_value=1, description=f"{month} has statements"
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="unknown_share",
                max_value=settings.unknown_share_ceiling,
                description=f"at most {settings.unknown_share_ceiling:.0%} of {month}'s "
                "statements Unknown",
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="high_risk_share_shift_beyond_noise",
                meta=SHIFT,
                max_value=0,
                description=f"{month}'s High Risk share moves against {previous} by at most "
                f"{settings.high_risk_share_max_shift:.0%} or what sampling noise explains "
                f"(two-proportion z-test, {rate:.0%} false alarms), whichever is more",
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="utilization_psi_beyond_noise",
                meta=SHIFT,
                max_value=0,
                description=f"{month}'s utilization mix moves against {previous} by a "
                f"population stability index of at most {settings.utilization_psi_max} or "
                f"what sampling noise explains (chi-square bound, {rate:.0%} false alarms), "
                "whichever is more",
            ),
        ],
        query=_DISTRIBUTION.format(
            snapshot=rows_table,
            month=month,
            previous=previous,
            previous_table=rows_table if previous in months else "published_customer_month",
            max_shift=settings.high_risk_share_max_shift,
            psi_max=settings.utilization_psi_max,
            z=f"{two_sided_z(rate):.6f}",
            chi2_by_k=chi2_by_buckets(rate),
        ),
    )


def validate_published(
    warehouse: Warehouse,
    months: list[str],
    rows_table: str = "published_customer_month",
    *,
    suite_month: str | None = None,
    **kwargs,
) -> SuiteResult:
    """Run the published suite on ``months`` of a build's candidate table (or the published)."""
    return run_suite(
        STAGE,
        suite_month or months[-1],
        datasets(months, rows_table),
        warehouse=warehouse,
        **kwargs,
    )
