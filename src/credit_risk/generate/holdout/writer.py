"""``generate_holdout``: the hold-out extract and its ``labels.csv``."""

from __future__ import annotations

from pathlib import Path

from credit_risk.contract import CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS
from credit_risk.generate.holdout.frames import _write_csv
from credit_risk.generate.holdout.parameters import _MAX_MONTHS, MAX_CUSTOMERS
from credit_risk.generate.holdout.simulation import _calendar, _simulate
from credit_risk.generate.realistic import (
    CUSTOMERS_FILE,
    LABEL_COLUMNS,
    LABELS_FILE,
    STATEMENTS_FILE,
    TRANSACTIONS_FILE,
)


def generate_holdout(
    folder: Path,
    *,
    customers: int = 2000,
    months: int = 12,
    seed: int = 1,
    start: str = "2024-01",
    anomaly_rate: float = 0.03,
) -> dict[str, int]:
    """Write the hold-out extract (three files) and its labels.csv into ``folder``.

    Args:
        folder: Directory to write into; created when missing. Existing files are replaced.
        customers: Number of customers (ids C0000001 upwards).
        months: Number of statement months.
        seed: Non-negative seed; the same arguments give the same bytes.
        start: First statement month, YYYY-MM.
        anomaly_rate: Share of the customer-months after the first ``MIN_HISTORY`` that get an
            anomaly attempt; attempts that cannot post are not made (see the module docstring),
            so labels.csv holds a little less than this share.

    Returns:
        Data rows written (header excluded) per file name.

    Raises:
        ValueError: a size, the seed or the rate is out of range, or ``start`` is not YYYY-MM.
    """
    if not 0 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 0 and {MAX_CUSTOMERS}, got {customers}")
    if not 1 <= months <= _MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {_MAX_MONTHS}, got {months}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not 0.0 <= anomaly_rate <= 1.0:
        raise ValueError(f"anomaly_rate must be between 0 and 1, got {anomaly_rate}")
    cal = _calendar(start, months)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = _simulate(customers, cal, seed, anomaly_rate)
    names = (CUSTOMERS_FILE, STATEMENTS_FILE, TRANSACTIONS_FILE, LABELS_FILE)
    headers = (CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS, list(LABEL_COLUMNS))
    counts = {}
    for name, header, frame in zip(names, headers, frames, strict=True):
        _write_csv(frame, header, folder / name)
        counts[name] = len(frame)
    return counts
