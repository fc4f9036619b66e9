"""The data contract: read an extract's CSV files and split every row into loaded or quarantined.

Why this module exists: the seed imported CSVs by hand and anything odd either crashed the import
or slipped in silently. Here every row of every file ends up in exactly one of two places, the
rows to load or the quarantine (with file, line, field, reason and the raw line), and a file
that is broken as a whole (not UTF-8, wrong header, wrong column count everywhere) is refused
before anything is written, with a message naming the file, the line and the field.

Parsing is pyarrow's CSV reader; checks are vectorized over whole columns so a million-row
extract is checked in about a second.
"""

from __future__ import annotations

from credit_risk.contract.checks import (
    Verdicts,
    check_after_opening,
    check_count,
    check_date,
    check_key,
    check_known_customer,
    check_money,
    check_month,
    check_month_window,
    check_partition,
    check_positive_limit,
    check_unique,
    money_values,
    parse_dates,
    quarantine_frame,
)
from credit_risk.contract.core import (
    Detail,
    ExtractRefusedError,
    Reason,
)
from credit_risk.contract.reading import (
    MAX_LINE_BYTES,
    CsvFile,
    WrongHeaderError,
    read_contract_csv,
    read_extract_bytes,
)
from credit_risk.layout import (
    COUNT_PATTERN,
    CUSTOMER_COLUMNS,
    DATE_PATTERN,
    GZIP_MAGIC,
    LINE,
    MONEY_PATTERN,
    MONTH_PATTERN,
    OPTIONAL_COLUMNS,
    QUARANTINE_COLUMNS,
    STATEMENT_COLUMNS,
    TRANSACTION_COLUMNS,
)

__all__ = [
    "COUNT_PATTERN",
    "CUSTOMER_COLUMNS",
    "DATE_PATTERN",
    "GZIP_MAGIC",
    "LINE",
    "MAX_LINE_BYTES",
    "MONEY_PATTERN",
    "MONTH_PATTERN",
    "OPTIONAL_COLUMNS",
    "QUARANTINE_COLUMNS",
    "STATEMENT_COLUMNS",
    "TRANSACTION_COLUMNS",
    "CsvFile",
    "Detail",
    "ExtractRefusedError",
    "Reason",
    "Verdicts",
    "WrongHeaderError",
    "check_after_opening",
    "check_count",
    "check_date",
    "check_key",
    "check_known_customer",
    "check_money",
    "check_month",
    "check_month_window",
    "check_partition",
    "check_positive_limit",
    "check_unique",
    "money_values",
    "parse_dates",
    "quarantine_frame",
    "read_contract_csv",
    "read_extract_bytes",
]
