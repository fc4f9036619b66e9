"""The original project's generator, reproduced byte for byte.

The seed script drew everything from numpy's legacy global generator, so the only way to
reproduce its ``bank_transactions.csv`` exactly is to make the same draws in the same order
from a ``RandomState`` seeded the same way. Do not "improve" the draws here: the golden test
pins this output to the historical fixture (sha256 5b8cd912...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from credit_risk.layout import LEGACY_COLUMNS, LEGACY_FILE_NAME
from credit_risk.months import month_end, month_range

_CREDIT_LIMIT_CHOICES = [50000, 75000, 100000, 150000]


def legacy_frame(*, customers: int = 100, months: int = 12, start: str = "2024-01", seed: int = 42):
    """Build the seed dataset: one row per customer-month, balance constant over the year.

    The draw order (limit, balance, then the monthly amounts, customer after customer) is the
    seed script's and must not change.
    """
    state = np.random.RandomState(seed)
    statement_dates = [month_end(month).isoformat() for month in month_range(start, months)]
    id_width = max(3, len(str(customers)))
    rows = []
    for number in range(1, customers + 1):
        credit_limit = state.choice(_CREDIT_LIMIT_CHOICES)
        outstanding_balance = state.randint(5000, credit_limit)
        amounts = [state.randint(1000, 20000) for _ in statement_dates]
        customer_id = f"CUST_{number:0{id_width}d}"
        rows.extend(
            (customer_id, day, int(amount), int(credit_limit), int(outstanding_balance))
            for day, amount in zip(statement_dates, amounts, strict=True)
        )
    return pd.DataFrame(rows, columns=LEGACY_COLUMNS)


def generate_legacy(
    out_dir: Path, *, customers: int = 100, months: int = 12, start: str = "2024-01", seed: int = 42
) -> dict[str, int]:
    """Write ``out_dir/bank_transactions.csv`` exactly as the seed project did (CRLF line ends).

    Returns:
        Row count per written file name.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = legacy_frame(customers=customers, months=months, start=start, seed=seed)
    # The seed ran on Windows: pandas wrote "\r\n" line ends, which the fixture keeps.
    frame.to_csv(out_dir / LEGACY_FILE_NAME, index=False, lineterminator="\r\n")
    return {LEGACY_FILE_NAME: len(frame)}
