"""Input suite: the extract as delivered, before anything is loaded.

The loader quarantines individual bad rows; this suite decides whether the delivery as a whole
is fit to load: the contract's columns, keys present and unique, values of the right type and
in plausible ranges, dates inside the month. Row-level expectations tolerate up to
``CREDIT_RISK_QUARANTINE_CEILING`` bad rows (those will be quarantined); more means a broken
export, and nothing is loaded.
"""

from __future__ import annotations

import io
from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd

from credit_risk.contract import (
    DATE_PATTERN,
    MONEY_PATTERN,
    MONTH_PATTERN,
    WrongHeaderError,
    read_contract_csv,
    read_extract_bytes,
)
from credit_risk.extract import (
    CUSTOMER_COLUMNS,
    STATEMENT_COLUMNS,
    TRANSACTION_COLUMNS,
    TRANSACTION_TYPES,
    detect_kind,
)
from credit_risk.generate.legacy import LEGACY_COLUMNS, LEGACY_FILE_NAME
from credit_risk.layout import extract_file
from credit_risk.quality.runner import DERIVED_SUFFIX, Dataset, SuiteResult, run_suite
from credit_risk.settings import Settings, get_settings

STAGE = "input"


def _read(path: Path, dataset: str, columns: list[str]) -> pd.DataFrame:
    """The file's rows as text columns, empty values as nulls.

    Read by the contract's own reader (``contract.read_contract_csv``), as the load reads it:
    gzip decompressed, a folder or a broken header refused with file and line, and a row with
    the wrong number of fields set aside (the load quarantines it) instead of stopping the
    suite with a parser error.
    """
    try:
        rows = read_contract_csv(path, dataset, columns).rows
    except WrongHeaderError:
        # the suite reports the columns as delivered (expect_table_columns_to_match_set)
        return _read_as_delivered(path)
    return rows[columns].astype(object).replace("", None)


def _read_as_delivered(path: Path) -> pd.DataFrame:
    """A file with the wrong header, read as it is: rows of another shape are skipped."""
    data = read_extract_bytes(path)
    frame = pd.read_csv(
        io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8", on_bad_lines="skip"
    )
    return frame.apply(lambda column: column.str.strip()).replace("", None)


def _numeric(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if column in frame:
        frame[column + DERIVED_SUFFIX] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _regex(column: str, pattern: str, mostly: float, what: str):
    return gxe.ExpectColumnValuesToMatchRegex(
        column=column, regex=f"^{pattern}$", mostly=mostly, description=f"{column} is {what}"
    )


def _common(frame: pd.DataFrame, columns: list[str], keys: list[str], mostly: float) -> list:
    derived = [name for name in frame.columns if name.endswith(DERIVED_SUFFIX)]
    expectations: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*columns, *derived],
            exact_match=True,
            description="columns of the data contract",
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, description="the file has data rows"),
    ]
    expectations += [
        gxe.ExpectColumnValuesToNotBeNull(column=key, mostly=mostly, description=f"{key} is set")
        for key in keys
    ]
    return expectations


def _month_rule(column: str, month: str | None, mostly: float) -> list:
    if month is None:
        return []
    return [
        gxe.ExpectColumnValuesToMatchRegex(
            column=column,
            regex=f"^{month}",
            mostly=mostly,
            description=f"{column} lies in the month being loaded ({month})",
        )
    ]


def _limit_range(settings: Settings, mostly: float, column: str = "credit_limit" + DERIVED_SUFFIX):
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=settings.min_credit_limit,
        max_value=settings.max_credit_limit,
        mostly=mostly,
        description="credit limits are plausible",
    )


def _amount_range(settings: Settings, mostly: float, column: str):
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=-settings.max_abs_amount,
        max_value=settings.max_abs_amount,
        mostly=mostly,
        description="amounts are plausible",
    )


def datasets(source: Path, month: str | None, settings: Settings | None = None) -> list[Dataset]:
    """The extract's files, each with its expectations."""
    settings = settings or get_settings()
    mostly = 1 - settings.quarantine_ceiling
    if detect_kind(source) == "legacy":
        path = source if source.is_file() else extract_file(source, LEGACY_FILE_NAME)
        frame = _numeric(
            _numeric(_read(path, "bank_transactions", LEGACY_COLUMNS), "transaction_amount"),
            "credit_limit",
        )
        expectations = _common(frame, LEGACY_COLUMNS, ["customer_id", "transaction_date"], mostly)
        expectations += [
            _regex("transaction_date", DATE_PATTERN, mostly, "a date YYYY-MM-DD"),
            _regex("transaction_amount", MONEY_PATTERN, mostly, "an amount"),
            _regex("outstanding_balance", MONEY_PATTERN, mostly, "an amount"),
            _amount_range(settings, mostly, "transaction_amount" + DERIVED_SUFFIX),
            _limit_range(settings, mostly),
            *_month_rule("transaction_date", month, mostly),
        ]
        return [Dataset("bank_transactions", expectations, frame=frame)]

    found: list[Dataset] = []
    if extract_file(source, "customers.csv").exists():
        customers = _read(extract_file(source, "customers.csv"), "customers", CUSTOMER_COLUMNS)
        expectations = _common(customers, CUSTOMER_COLUMNS, ["customer_id"], mostly)
        expectations.append(
            gxe.ExpectColumnValuesToBeUnique(
                column="customer_id", mostly=mostly, description="one row per customer"
            )
        )
        found.append(Dataset("customers", expectations, frame=customers))

    statements = _numeric(
        _read(extract_file(source, "statements.csv"), "statements", STATEMENT_COLUMNS),
        "credit_limit",
    )
    expectations = _common(
        statements, STATEMENT_COLUMNS, ["customer_id", "statement_month"], mostly
    )
    expectations += [
        _regex("statement_month", MONTH_PATTERN, mostly, "a month YYYY-MM"),
        _regex("outstanding_balance", MONEY_PATTERN, mostly, "an amount"),
        _limit_range(settings, mostly),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["customer_id", "statement_month"],
            mostly=mostly,
            description="one statement per customer-month",
        ),
        *_month_rule("statement_month", month, mostly),
    ]
    found.append(Dataset("statements", expectations, frame=statements))

    transactions = _numeric(
        _read(extract_file(source, "transactions.csv"), "transactions", TRANSACTION_COLUMNS),
        "amount",
    )
    expectations = _common(
        transactions,
        TRANSACTION_COLUMNS,
        ["transaction_id", "customer_id", "transaction_date"],
        mostly,
    )
    expectations += [
        gxe.ExpectColumnValuesToBeUnique(
            column="transaction_id", mostly=mostly, description="transaction ids are unique"
        ),
        _regex("transaction_date", DATE_PATTERN, mostly, "a date YYYY-MM-DD"),
        _regex("amount", MONEY_PATTERN, mostly, "an amount"),
        _amount_range(settings, mostly, "amount" + DERIVED_SUFFIX),
        gxe.ExpectColumnValuesToBeInSet(
            column="transaction_type",
            value_set=list(TRANSACTION_TYPES),
            mostly=mostly,
            description="known transaction types",
        ),
        *_month_rule("transaction_date", month, mostly),
    ]
    found.append(Dataset("transactions", expectations, frame=transactions))
    return found


def validate_input(source: Path, month: str | None, **kwargs) -> SuiteResult:
    """Run the input suite on an extract (file or folder)."""
    return run_suite(STAGE, month, datasets(source, month), **kwargs)
