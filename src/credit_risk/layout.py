"""The layout of an extract: its files, their columns, the shapes of their values.

Importable without pandas or pyarrow (and fast): a load starts the server's work on the files
before it imports what checks them (``warehouse.load``), and the DAG file may use the names.
"""

from __future__ import annotations

from pathlib import Path

LINE = "_line"
"""Column holding each row's physical line number in its file (header is line 1)."""

MONEY_PATTERN = r"[+-]?\d{1,12}(?:\.\d{1,2})?"
COUNT_PATTERN = r"\d{1,9}"
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
MONTH_PATTERN = r"\d{4}-(?:0[1-9]|1[0-2])"

CUSTOMER_COLUMNS = ["customer_id", "opened_date", "credit_tier", "region"]
"""customers.csv of a three-file extract (docs/data_contract.md)."""
STATEMENT_COLUMNS = [
    "customer_id",
    "statement_month",
    "credit_limit",
    "outstanding_balance",
    "payment_amount",
    "minimum_due",
    "days_past_due",
]
"""statements.csv of a three-file extract."""
TRANSACTION_COLUMNS = [
    "transaction_id",
    "customer_id",
    "transaction_date",
    "amount",
    "transaction_type",
    "merchant_category",
    "channel",
]
"""transactions.csv of a three-file extract."""
LOADED_TRANSACTION_COLUMNS = [*TRANSACTION_COLUMNS, "statement_month"]
"""transactions as the warehouse stores them: the month is derived from the date."""
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("opened_date", "credit_tier", "region"),
    "statements": ("credit_limit", "payment_amount", "minimum_due", "days_past_due"),
    "transactions": ("merchant_category", "channel"),
}
"""Columns of each file that may be empty: an empty value is stored as NULL."""

QUARANTINE_COLUMNS = [
    "partition_month",
    "dataset",
    "source_file",
    "line_number",
    "field_name",
    "reason",
    "detail",
    "raw_line",
]

LEGACY_FILE_NAME = "bank_transactions.csv"
"""The seed's one-file extract."""
LEGACY_COLUMNS = [
    "customer_id",
    "transaction_date",
    "transaction_amount",
    "credit_limit",
    "outstanding_balance",
]
"""Columns of the seed's bank_transactions.csv."""


GZIP_MAGIC = b"\x1f\x8b"
COMPRESSED_SUFFIX = ".gz"


def extract_file(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name.gz`` when only the compressed file was delivered
    (banks often ship gzip drops). The plain name is returned when neither exists, so errors
    name the file the contract expects."""
    plain = folder / name
    compressed = folder / (name + COMPRESSED_SUFFIX)
    return compressed if not plain.exists() and compressed.exists() else plain


def is_gzip(path: Path) -> bool:
    """Whether the file's content is gzip, whatever its name says."""
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def detect_kind(source: Path) -> str:
    """``'legacy'`` for a bank_transactions.csv (or a folder holding one), else ``'three_file'``."""
    if source.is_file():
        return "legacy"
    if not source.is_dir():
        raise FileNotFoundError(f"extract {source} does not exist")
    if any(extract_file(source, name).exists() for name in ("statements.csv", "transactions.csv")):
        return "three_file"
    if extract_file(source, LEGACY_FILE_NAME).is_file():
        return "legacy"
    raise FileNotFoundError(
        f"{source} holds neither statements.csv + transactions.csv (three-file extract) "
        f"nor {LEGACY_FILE_NAME} (legacy extract)"
    )
