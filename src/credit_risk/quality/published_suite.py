"""Published suite: the snapshot about to be published (or the one that is), before readers
see it.

Row-level invariants are checked on every row of the snapshot (it is rebuilt in full each run):
utilization recomputes from balance and limit, every segment agrees with the thresholds, rolling
averages lie between the smallest and largest monthly spend of their window, one row per
customer-month. The run's month is then compared with the previous *published* month, so a
silently broken extract is caught even when every row is individually valid.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from credit_risk import catalog
from credit_risk.months import add_months, validate_month
from credit_risk.quality.runner import Dataset, SuiteResult, run_suite
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.db import Warehouse

STAGE = "published"

PSI_EPSILON = 0.0001
"""Stand-in share for an empty utilization bucket (the PSI of a zero share is infinite)."""

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

_ROLLING_OUT_OF_RANGE = """
select customer_id, month, rolling_3_month_avg, rolling_6_month_avg
from (
    select
        customer_id, month, rolling_3_month_avg, rolling_6_month_avg,
        min(monthly_spend) over last_3 as min_3, max(monthly_spend) over last_3 as max_3,
        min(monthly_spend) over last_6 as min_6, max(monthly_spend) over last_6 as max_6
    from {batch}
    window
        last_3 as (partition by customer_id order by month
            rows between 2 preceding and current row),
        last_6 as (partition by customer_id order by month
            rows between 5 preceding and current row)
) as windows
where rolling_3_month_avg < min_3 or rolling_3_month_avg > max_3
    or rolling_6_month_avg < min_6 or rolling_6_month_avg > max_6
"""

_DISTRIBUTION = """
select * from (
with
current_month as (
    select risk_category, utilization_pct
    from {snapshot} where month = '{month}' and has_statement
),
previous_month as (
    select risk_category, utilization_pct
    from published_customer_month where month = '{previous}' and has_statement
),
buckets as (
    select 'current' as side, greatest(-1, least(10, floor(utilization_pct / 10))) as bucket
    from current_month where utilization_pct is not null
    union all
    select 'previous', greatest(-1, least(10, floor(utilization_pct / 10)))
    from previous_month where utilization_pct is not null
),
shares as (
    select
        bucket,
        greatest(sum(side = 'current') / nullif((select count(*) from buckets
            where side = 'current'), 0), {epsilon}) as current_share,
        greatest(sum(side = 'previous') / nullif((select count(*) from buckets
            where side = 'previous'), 0), {epsilon}) as previous_share
    from buckets
    group by bucket
)
select
    (select count(*) from current_month) as statements,
    (select count(*) from previous_month) as previous_statements,
    {comparable} as is_compared_with_previous,
    coalesce((select avg(risk_category = 'Unknown') from current_month), 0) as unknown_share,
    coalesce((select avg(risk_category = 'High Risk') from current_month), 0) as high_risk_share,
    case when {comparable} then abs(
        coalesce((select avg(risk_category = 'High Risk') from current_month), 0)
        - (select avg(risk_category = 'High Risk') from previous_month)
    ) else 0 end as high_risk_share_shift,
    case when {comparable} then coalesce(
        (select sum((current_share - previous_share) * ln(current_share / previous_share))
         from shares), 0
    ) else 0 end as utilization_psi
) as distribution
"""


def datasets(
    month: str, *, candidate: bool = True, settings: Settings | None = None
) -> list[Dataset]:
    """The snapshot's rows and the month's distribution, each with its expectations.

    Args:
        month: The run's month (compared with the month before in the published snapshot).
        candidate: Validate the candidate tables (before publishing) rather than the published.
        settings: Thresholds; the process settings by default.
    """
    settings = settings or get_settings()
    month = validate_month(month)
    table = "published_customer_month"
    snapshot = catalog.candidate_table(table) if candidate else table
    rows = Dataset(
        "customer_month",
        [
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["customer_id", "month"], description="one row per customer-month"
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="risk_category",
                value_set=["High Risk", "Medium Risk", "Low Risk", "Unknown"],
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
                unexpected_rows_query=_ROLLING_OUT_OF_RANGE,
                description="rolling averages lie between the min and max spend of their window",
            ),
        ],
        query=f"select * from {snapshot}",
    )
    distribution = Dataset(
        "distribution",
        [
            gxe.ExpectColumnValuesToBeBetween(
                column="statements", min_value=1, description=f"{month} has statements"
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="unknown_share",
                max_value=settings.unknown_share_ceiling,
                description=f"at most {settings.unknown_share_ceiling:.0%} of statements Unknown",
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="high_risk_share_shift",
                max_value=settings.high_risk_share_max_shift,
                description="the High Risk share moves by at most "
                f"{settings.high_risk_share_max_shift:.0%} against the previous published month",
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="utilization_psi",
                max_value=settings.utilization_psi_max,
                description="population stability index of utilization against the previous "
                f"published month under {settings.utilization_psi_max}",
            ),
        ],
        query=_DISTRIBUTION.format(
            snapshot=snapshot,
            month=month,
            previous=add_months(month, -1),
            epsilon=PSI_EPSILON,
            comparable=(
                f"(select count(*) from current_month) >= {settings.distribution_min_statements} "
                f"and (select count(*) from previous_month) >= "
                f"{settings.distribution_min_statements}"
            ),
        ),
    )
    return [rows, distribution]


def validate_published(
    warehouse: Warehouse, month: str, *, candidate: bool = True, **kwargs
) -> SuiteResult:
    """Run the published suite on the candidate (default) or the published snapshot."""
    return run_suite(
        STAGE, month, datasets(month, candidate=candidate), warehouse=warehouse, **kwargs
    )
