"""The contract's vocabulary: why a row is quarantined (``Reason``), how its detail is worded,
and the error that refuses a file as a whole."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

Detail = Callable[[np.ndarray], "pd.Series | np.ndarray | list[str]"]
"""Builds the messages of the rows selected by a boolean mask."""


class Reason(StrEnum):
    """Why a row was quarantined (stored in ``quarantined_rows.reason``)."""

    WRONG_COLUMN_COUNT = "wrong_column_count"
    MISSING_KEY = "missing_key"
    MISSING_VALUE = "missing_value"
    UNPARSEABLE_NUMBER = "unparseable_number"
    UNPARSEABLE_DATE = "unparseable_date"
    INVALID_VALUE = "invalid_value"
    NON_POSITIVE_CREDIT_LIMIT = "non_positive_credit_limit"
    MONTH_OUTSIDE_PARTITION = "month_outside_partition"
    MONTH_OUT_OF_RANGE = "month_out_of_range"
    UNKNOWN_CUSTOMER = "unknown_customer"
    BEFORE_ACCOUNT_OPENED = "before_account_opened"
    DUPLICATE_CUSTOMER = "duplicate_customer"
    DUPLICATE_STATEMENT = "duplicate_statement"
    DUPLICATE_TRANSACTION_ID = "duplicate_transaction_id"
    CONFLICTING_STATEMENT = "conflicting_statement"


class ExtractRefusedError(ValueError):
    """A file is broken as a whole; nothing from the extract is loaded.

    Attributes:
        path: The file.
        line: The 1-based physical line where the problem was found.
        field_name: The column concerned, when one is.
    """

    def __init__(self, path: Path, line: int, field_name: str | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.field_name = field_name
        where = f"{path}: line {line}" + (f", field {field_name!r}" if field_name else "")
        super().__init__(f"{where}: {problem}. Nothing was loaded.")
