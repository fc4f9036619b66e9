"""Loaded suite: the warehouse tables for the run's month, right after the load.

It checks what only the database can show: the accounting in ``load_audit`` balances and
matches the rows really stored, every transaction's customer has a statement that month, no
customer-month is stored twice, the month has transactions at all (they vanish while the
statements stay when transactions.csv arrives empty), and the share of quarantined rows stays
under the ceiling (a drop loaded under the wrong month quarantines every row).
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from credit_risk.months import validate_month
from credit_risk.quality.runner import Dataset, SuiteResult, run_suite
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.db import Warehouse

STAGE = "loaded"

_ACCOUNTING = """
select
    coalesce(sum(rows_read), 0) as rows_read,
    coalesce(sum(rows_loaded), 0) as rows_loaded,
    coalesce(sum(rows_quarantined), 0) as rows_quarantined,
    coalesce(sum(rows_read - rows_loaded - rows_quarantined), 0) as rows_unaccounted,
    coalesce(sum(rows_quarantined) / nullif(sum(rows_read), 0), 0) as quarantine_rate,
    (select count(*) from transactions where statement_month = '{month}')
    - coalesce(sum(case when dataset in ('transactions', 'bank_transactions')
        then rows_loaded end), 0) as transactions_not_in_audit,
    (select count(*) from quarantined_rows where partition_month = '{month}')
    - coalesce(sum(rows_quarantined), 0) as quarantine_not_in_audit,
    (select count(*) from transactions where statement_month = '{month}')
        as transactions_stored,
    count(*) as audit_rows
from load_audit
where partition_month = '{month}'
"""


def datasets(month: str, settings: Settings | None = None) -> list[Dataset]:
    """The month's statements and its load accounting, each with its expectations."""
    settings = settings or get_settings()
    month = validate_month(month)
    statements = Dataset(
        "statements",
        [
            gxe.ExpectTableRowCountToBeBetween(
                min_value=1, description=f"statements were loaded for {month}"
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["customer_id", "statement_month"],
                description="no customer-month is stored twice",
            ),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select transactions.transaction_id, transactions.customer_id "
                    "from transactions left join {batch} as month_statements "
                    "on transactions.customer_id = month_statements.customer_id "
                    f"where transactions.statement_month = '{month}' "
                    "and month_statements.customer_id is null"
                ),
                description="every transaction's customer has a statement that month",
            ),
        ],
        query=f"select * from statements where statement_month = '{month}'",
    )
    accounting = Dataset(
        "load_accounting",
        [
            gxe.ExpectColumnValuesToBeBetween(
                column="audit_rows", min_value=1, description=f"{month} has a load_audit record"
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="rows_unaccounted",
                min_value=0,
                max_value=0,
                description="rows read = rows loaded + rows quarantined",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="transactions_not_in_audit",
                min_value=0,
                max_value=0,
                description="transactions stored = transactions the audit says were loaded",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="quarantine_not_in_audit",
                min_value=0,
                max_value=0,
                description="quarantined rows stored = rows the audit says were quarantined",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="transactions_stored",
                min_value=1,
                description=f"{month} has transactions beside its statements (a header-only or "
                "lost transactions.csv leaves none)",
            ),
            gxe.ExpectColumnMaxToBeBetween(
                column="quarantine_rate",
                max_value=settings.quarantine_ceiling,
                description=f"at most {settings.quarantine_ceiling:.1%} of rows quarantined",
            ),
        ],
        query=_ACCOUNTING.format(month=month),
    )
    return [statements, accounting]


def validate_loaded(warehouse: Warehouse, month: str, **kwargs) -> SuiteResult:
    """Run the loaded suite on the warehouse tables for ``month``."""
    return run_suite(STAGE, month, datasets(month), warehouse=warehouse, **kwargs)
