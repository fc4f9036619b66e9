"""Analytics suites: the anomaly flags and the risk scores written for the run's month.

They guard the tables readers act on: a score outside [0, 1], a customer scored twice or not at
all, or more flags than the target alert rate means the model or the detectors broke. More
customer-months reaching the minimum anomaly score than the alert rate lets through means either
that, or a wave of anomalies (mass card testing) that on-call must hear about, because the cap
shows analysts only the strongest of them.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from credit_risk.analytics.anomalies import AnomalySettings
from credit_risk.months import validate_month
from credit_risk.quality.runner import Dataset, SuiteResult, run_suite
from credit_risk.warehouse.db import Warehouse


def anomaly_datasets(month: str, settings: AnomalySettings | None = None) -> list[Dataset]:
    """The month's ``spend_anomalies`` rows, and its flag rate against the target alert rate."""
    settings = settings or AnomalySettings()
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
                    "and (anomaly_reason is null or anomaly_reason = '' or anomaly_score is null)"
                ),
                description="every flag says why, with its score",
            ),
        ],
        query=f"select * from spend_anomalies where month = '{month}'",
    )
    allowed = f"ceiling({settings.target_alert_rate!r} * eligible)"
    rate = Dataset(
        "anomaly_rate",
        [
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=f"select * from {{batch}} where flagged > {allowed}",
                description=(
                    f"flags stay within the target alert rate "
                    f"({settings.target_alert_rate:.1%} of eligible customer-months, rounded up)"
                ),
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=f"select * from {{batch}} where unusual > {allowed}",
                description=(
                    f"customer-months scoring {settings.min_score} or more fit in the alert "
                    "rate: more is a wave of anomalies (or drifted detectors) that the cap hides; "
                    "review spend_anomalies by anomaly_score"
                ),
            ),
        ],
        query=(
            "select coalesce(sum(is_anomaly), 0) as flagged, "
            f"coalesce(sum(anomaly_score >= {settings.min_score!r}), 0) as unusual, "
            "count(anomaly_score) as eligible "
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
