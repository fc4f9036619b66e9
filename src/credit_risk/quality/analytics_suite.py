"""Analytics suites: the anomaly flags and the risk scores written for the run's month.

They guard the tables readers act on: a score outside [0, 1], a customer scored twice or not at
all, or an anomaly rate outside its usual band means the model or the detectors broke, not that
the portfolio changed overnight.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from credit_risk.months import validate_month
from credit_risk.quality.runner import Dataset, SuiteResult, run_suite
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.db import Warehouse


def anomaly_datasets(month: str, settings: Settings | None = None) -> list[Dataset]:
    """The month's ``spend_anomalies`` rows and its anomaly rate."""
    settings = settings or get_settings()
    month = validate_month(month)
    rows = Dataset(
        "spend_anomalies",
        [
            gxe.ExpectTableRowCountToBeBetween(
                min_value=1, description=f"anomaly detection ran for {month}"
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["customer_id", "month"], description="one row per customer-month"
            ),
            gxe.ExpectColumnValuesToNotBeNull(
                column="is_anomaly", description="every customer-month is decided"
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select customer_id from {batch} where is_anomaly "
                    "and (anomaly_reason is null or anomaly_reason = '')"
                ),
                description="every flag says why",
            ),
        ],
        query=f"select * from spend_anomalies where month = '{month}'",
    )
    rate = Dataset(
        "anomaly_rate",
        [
            gxe.ExpectColumnValuesToBeBetween(
                column="anomaly_rate",
                min_value=settings.anomaly_rate_min,
                max_value=settings.anomaly_rate_max,
                description=(
                    f"the share of customer-months flagged stays within "
                    f"{settings.anomaly_rate_min:.1%}..{settings.anomaly_rate_max:.1%}"
                ),
            )
        ],
        query=(
            "select coalesce(avg(is_anomaly), 0) as anomaly_rate, count(*) as customer_months "
            f"from spend_anomalies where month = '{month}'"
        ),
    )
    return [rows, rate]


def score_datasets(month: str) -> list[Dataset]:
    """The month's ``high_risk_predictions`` rows."""
    month = validate_month(month)
    rows = Dataset(
        "high_risk_predictions",
        [
            gxe.ExpectTableRowCountToBeBetween(min_value=1, description=f"{month} was scored"),
            gxe.ExpectColumnValuesToNotBeNull(column="probability", description="every score set"),
            gxe.ExpectColumnValuesToBeBetween(
                column="probability",
                min_value=0,
                max_value=1,
                description="probabilities lie in [0, 1]",
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["customer_id", "month"],
                description="one score per customer-month",
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select published_customer_month.customer_id from published_customer_month "
                    "left join {batch} as scores "
                    "on published_customer_month.customer_id = scores.customer_id "
                    f"where published_customer_month.month = '{month}' "
                    "and published_customer_month.has_statement and scores.customer_id is null"
                ),
                description="every customer with a statement this month has a score",
            ),
        ],
        query=f"select * from high_risk_predictions where month = '{month}'",
    )
    return [rows]


def validate_anomalies(warehouse: Warehouse, month: str, **kwargs) -> SuiteResult:
    """Run the anomaly suite for ``month``."""
    return run_suite("anomalies", month, anomaly_datasets(month), warehouse=warehouse, **kwargs)


def validate_scores(warehouse: Warehouse, month: str, **kwargs) -> SuiteResult:
    """Run the score suite for ``month``."""
    return run_suite("scores", month, score_datasets(month), warehouse=warehouse, **kwargs)
