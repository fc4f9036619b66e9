"""``generate_realistic``: the extract written chunk by chunk (bounded memory, the same bytes
whatever the chunk size), and ``simulate_chunk`` for callers that need the latent state."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from credit_risk.contract import CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS
from credit_risk.generate.realistic.parameters import (
    _MEAN_TRANSACTIONS,
    CUSTOMERS_FILE,
    LABEL_COLUMNS,
    LABELS_FILE,
    MAX_CUSTOMERS,
    STATEMENTS_FILE,
    TRANSACTIONS_FILE,
)
from credit_risk.generate.realistic.simulation import _calendar, _check_rate, _simulate
from credit_risk.generate.realistic.state import SimulatedChunk


def generate_realistic(
    out_dir: Path,
    *,
    customers: int = 2000,
    months: int = 12,
    start: str = "2024-01",
    seed: int = 42,
    chunk_size: int = 5000,
    anomaly_rate: float = 0.02,
    transactions_per_month: float = _MEAN_TRANSACTIONS,
) -> dict[str, int]:
    """Write the three extract files and labels.csv into out_dir; return row counts.

    Customers are simulated ``chunk_size`` at a time and appended, so memory stays bounded for
    large portfolios; the output bytes do not depend on ``chunk_size``.

    Args:
        out_dir: Directory to write into; created when missing. Existing files are replaced.
        customers: Number of customers (ids C0000001 upwards).
        months: Number of statement months.
        start: First statement month, YYYY-MM.
        seed: Non-negative seed; the same seed and sizes give the same bytes.
        chunk_size: Customers simulated per batch.
        anomaly_rate: Share of eligible customer-months (month index >= ANOMALY_MIN_HISTORY)
            where an anomaly is injected; 0 writes the extract without any, and an empty
            labels.csv. Anomalies the card declines are not labelled, so labels.csv holds less
            than this share (about 0.65-0.75 of it for the default portfolio; see
            docs/data_contract.md).
        transactions_per_month: Mean card transactions a customer attempts in a month, before
            seasonality and declines (the default gives about 3.9 authorised). A denser
            portfolio gets smaller baskets in proportion, so a customer's monthly spend, and
            with it the risk mix, stays the same; only the number of rows changes.

    Returns:
        Data rows written (header excluded) per file name.

    Raises:
        ValueError: When a size, the seed or the rate is out of range, or ``start`` is not
            YYYY-MM.
    """
    _check_arguments(customers, months, seed, chunk_size)
    _check_rate(anomaly_rate)
    if not 0 < transactions_per_month <= 1_000:
        raise ValueError(
            f"transactions_per_month must be in (0, 1000], got {transactions_per_month}"
        )
    cal = _calendar(start, months)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (CUSTOMERS_FILE, STATEMENTS_FILE, TRANSACTIONS_FILE, LABELS_FILE)
    columns = (CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS, LABEL_COLUMNS)
    for name, header in zip(names, columns, strict=True):
        # Header first, so an empty portfolio still yields well-formed files.
        (out_dir / name).write_text(",".join(header) + "\n", encoding="utf-8")
    rows = dict.fromkeys(names, 0)
    for first in range(0, customers, chunk_size):
        chunk = _simulate(
            seed,
            first,
            min(chunk_size, customers - first),
            cal,
            anomaly_rate,
            transactions_per_month,
        )
        frames = (chunk.customers, chunk.statements, chunk.transactions, chunk.labels)
        for name, frame in zip(names, frames, strict=True):
            _append_csv(frame, out_dir / name)
            rows[name] += len(frame)
    return rows


def simulate_chunk(
    seed: int,
    first: int,
    count: int,
    *,
    months: int = 12,
    start: str = "2024-01",
    anomaly_rate: float = 0.02,
) -> SimulatedChunk:
    """Simulate customers ``first .. first + count - 1`` (0-based) without writing anything.

    Exposed so a later step (labels, injected anomalies) can reuse the latent state of exactly
    the customers that :func:`generate_realistic` writes.
    """
    if first < 0 or count < 0:
        raise ValueError(f"first and count must be non-negative, got {first} and {count}")
    _check_arguments(first + count, months, seed, max(count, 1))
    _check_rate(anomaly_rate)
    return _simulate(seed, first, count, _calendar(start, months), anomaly_rate)


def _check_arguments(customers: int, months: int, seed: int, chunk_size: int) -> None:
    """Refuse sizes the id formats or the random streams cannot represent."""
    if not 0 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 0 and {MAX_CUSTOMERS}, got {customers}")
    if not 1 <= months <= 1200:
        raise ValueError(f"months must be between 1 and 1200, got {months}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")


def _append_csv(frame: pd.DataFrame, path: Path) -> None:
    """Append rows without header; values are pre-formatted, so pandas only joins them."""
    if frame.empty:
        return
    frame.to_csv(path, mode="a", header=False, index=False, lineterminator="\n", encoding="utf-8")
