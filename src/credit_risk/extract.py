"""Read an extract (legacy single file or the three-file layout) into rows to load and quarantine.

This module is pure: it reads files and returns frames. Writing them is ``warehouse.load``.

Every data row is given a ``partition_month``: the month it is accounted to in ``load_audit``
and ``quarantined_rows``. It is the row's own month when that month is part of the load;
otherwise (a row of another month, a row whose date cannot be read, a customer row) it is the
load's partition month, or its latest month when the whole file is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.contract import (
    CUSTOMER_COLUMNS,
    LINE,
    MONTH_PATTERN,
    QUARANTINE_COLUMNS,
    STATEMENT_COLUMNS,
    TRANSACTION_COLUMNS,
    CsvFile,
    ExtractRefusedError,
    Reason,
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
    quarantine_frame,
    read_contract_csv,
)
from credit_risk.layout import LEGACY_COLUMNS, LEGACY_FILE_NAME, detect_kind, extract_file
from credit_risk.months import MonthWindow

TRANSACTION_TYPES = ("purchase", "cash_advance", "refund")

MAX_LENGTHS = {
    "customer_id": 32,
    "transaction_id": 64,
    "credit_tier": 20,
    "region": 40,
    "merchant_category": 40,
    "channel": 16,
}
"""Column widths of the warehouse tables: longer values would be truncated, so they are refused."""


@dataclass
class PreparedExtract:
    """What one load will write: the rows to load per table and the quarantine."""

    kind: str
    partition_months: list[str]
    customers: pd.DataFrame
    customers_replace: bool
    statements: pd.DataFrame
    transactions: pd.DataFrame
    quarantine: pd.DataFrame
    files: dict[str, CsvFile] = field(default_factory=dict)
    rows_read: pd.DataFrame = field(default_factory=pd.DataFrame)
    """dataset, source_file, source_sha256, partition_month, rows_read."""

    @property
    def fallback_month(self) -> str:
        """The month rows that belong to no loaded month are accounted to."""
        return self.partition_months[-1]


def _check_lengths(verdicts: Verdicts, rows: pd.DataFrame) -> None:
    for column, width in MAX_LENGTHS.items():
        if column in rows:
            verdicts.flag(
                rows[column].str.len() > width,
                Reason.INVALID_VALUE,
                column,
                column + f" is longer than {width} characters",
            )


def _row_months(dates: pd.Series) -> pd.Series:
    """'YYYY-MM' of each valid date (formatted once per distinct date), None elsewhere."""
    codes, uniques = pd.factorize(dates)
    months = np.asarray(pd.DatetimeIndex(uniques).strftime("%Y-%m"), dtype=object)
    out = np.where(codes >= 0, months[np.maximum(codes, 0)] if len(months) else None, None)
    return pd.Series(out, index=dates.index, dtype=object)


def _partition_of(row_months: pd.Series, partitions: list[str]) -> pd.Series:
    """Each row's accounting month: its own when loaded here, else the load's fallback."""
    inside = row_months.isin(partitions)
    return row_months.where(inside, partitions[-1]).astype(object)


def _partitions(
    month: str | None, candidates: list[pd.Series], path: Path, window: MonthWindow | None
) -> list[str]:
    if month is not None:
        return [month]
    found = sorted(set().union(*(series.dropna().unique() for series in candidates)))
    if not found:
        raise ExtractRefusedError(path, 2, None, "no row has a readable month or date")
    inside = [value for value in found if window is None or window.contains(value)]
    if not inside:
        raise ExtractRefusedError(
            path,
            2,
            None,
            f"every row is dated outside {window.earliest} .. {window.latest} (from "
            "CREDIT_RISK_EARLIEST_MONTH to the month of the load), e.g. "
            f"{found[0]}",
        )
    return inside


def _read_counts(csv_file: CsvFile, partition: pd.Series, fallback: str) -> pd.DataFrame:
    months = pd.concat(
        [partition, pd.Series([fallback] * len(csv_file.structural_rejects), dtype=object)],
        ignore_index=True,
    )
    counts = months.value_counts().rename_axis("partition_month").reset_index(name="rows_read")
    counts["dataset"] = csv_file.dataset
    counts["source_file"] = str(csv_file.path)
    counts["source_sha256"] = csv_file.sha256
    return counts


def _finish_quarantine(frames: list[pd.DataFrame], fallback: str) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    quarantine = pd.concat(frames, ignore_index=True)
    quarantine["partition_month"] = quarantine["partition_month"].fillna(fallback)
    return quarantine


# --- legacy: one row per transaction, carrying its customer-month's statement ----------------


def prepare_legacy(
    path: Path, month: str | None, window: MonthWindow | None = None
) -> PreparedExtract:
    """Check a seed-format ``bank_transactions.csv``.

    The seed had no transaction ids, so each row gets a stable one from its customer, its date
    and its rank among that customer's rows of that date. Rows of a customer-month must agree on
    the statement (limit and balance); a row that disagrees with the first is quarantined.
    """
    if path.is_dir():
        path = extract_file(path, LEGACY_FILE_NAME)
    csv_file = read_contract_csv(path, "bank_transactions", LEGACY_COLUMNS)
    rows = csv_file.rows
    verdicts = Verdicts(rows)
    check_key(verdicts, rows, "customer_id")
    dates = check_date(verdicts, rows, "transaction_date", required=True)
    check_money(verdicts, rows, "transaction_amount", required=True)
    check_money(verdicts, rows, "credit_limit", required=False)
    check_money(verdicts, rows, "outstanding_balance", required=True)
    check_positive_limit(verdicts, rows, "credit_limit")
    _check_lengths(verdicts, rows)
    row_months = _row_months(dates)
    partitions = _partitions(month, [row_months], path, window)
    check_partition(verdicts, rows, row_months, "transaction_date", month)
    check_month_window(verdicts, rows, row_months, "transaction_date", window)
    _check_statement_agreement(verdicts, rows, row_months)

    partition = _partition_of(row_months, partitions)
    good = rows[verdicts.ok]
    good_months = row_months[verdicts.ok]
    rank = rows.groupby(["customer_id", "transaction_date"], sort=False).cumcount() + 1
    transactions = pd.DataFrame(
        {
            "transaction_id": "L-"
            + good["customer_id"]
            + "-"
            + good["transaction_date"]
            + "-"
            + rank[verdicts.ok].astype(str),
            "customer_id": good["customer_id"],
            "transaction_date": good["transaction_date"],
            "amount": good["transaction_amount"],
            "transaction_type": np.where(
                pd.to_numeric(good["transaction_amount"]) < 0, "refund", "purchase"
            ),
            "merchant_category": "",
            "channel": "",
            "statement_month": good_months,
            LINE: good[LINE],
        }
    )
    firsts = good.assign(statement_month=good_months).drop_duplicates(
        ["customer_id", "statement_month"], keep="first"
    )
    statements = pd.DataFrame(
        {
            "customer_id": firsts["customer_id"],
            "statement_month": firsts["statement_month"],
            "credit_limit": firsts["credit_limit"],
            "outstanding_balance": firsts["outstanding_balance"],
            "payment_amount": "",
            "minimum_due": "",
            "days_past_due": "",
        }
    )
    customers = pd.DataFrame({"customer_id": good["customer_id"].unique()}).assign(
        opened_date="", credit_tier="", region=""
    )
    quarantine = _finish_quarantine(
        [quarantine_frame(csv_file, verdicts, partition)], partitions[-1]
    )
    return PreparedExtract(
        kind="legacy",
        partition_months=partitions,
        customers=customers,
        customers_replace=False,
        statements=statements,
        transactions=transactions,
        quarantine=quarantine,
        files={"transactions": csv_file},
        rows_read=_read_counts(csv_file, partition, partitions[-1]),
    )


def _check_statement_agreement(verdicts: Verdicts, rows: pd.DataFrame, months: pd.Series) -> None:
    ok = verdicts.ok
    candidates = rows[ok].assign(
        statement_month=months[ok],
        limit_value=pd.to_numeric(rows.loc[ok, "credit_limit"].replace("", None)),
        balance_value=pd.to_numeric(rows.loc[ok, "outstanding_balance"]),
    )
    key = ["customer_id", "statement_month"]
    grouped = candidates.groupby(key, sort=False)
    first_limit = grouped["limit_value"].transform("first")
    first_balance = grouped["balance_value"].transform("first")
    first_line = grouped[LINE].transform("first")
    limit_differs = ~(
        (candidates["limit_value"] == first_limit)
        | (candidates["limit_value"].isna() & first_limit.isna())
    )
    differs = limit_differs | (candidates["balance_value"] != first_balance)
    mask = np.zeros(len(rows), dtype=bool)
    mask[np.flatnonzero(ok)[differs.to_numpy()]] = True
    first_line_of_row = pd.Series(0, index=rows.index, dtype="int64")
    first_line_of_row.loc[candidates.index] = first_line.to_numpy()
    verdicts.flag(
        mask,
        Reason.CONFLICTING_STATEMENT,
        "outstanding_balance",
        lambda failing: [
            f"credit_limit/outstanding_balance differ from line {line} of the same customer-month"
            for line in first_line_of_row[failing]
        ],
    )


# --- three-file extract -----------------------------------------------------------------------


AccountsReady = Callable[[pd.DataFrame, pd.DataFrame], None]
"""Called with the accepted customers and statements as soon as those two files are checked,
before transactions.csv is read: the load writes them while the transactions are checked."""


def prepare_three_file(
    folder: Path,
    month: str | None,
    warehouse_customers: set[str] | dict[str, str],
    window: MonthWindow | None = None,
    accounts_ready: AccountsReady | None = None,
) -> PreparedExtract:
    """Check ``customers.csv`` (optional), ``statements.csv`` and ``transactions.csv``.

    The customers and statements are checked first: which of their rows are accepted depends
    on nothing in transactions.csv (only the month a rejected row is accounted to does, when
    the whole extract is loaded), so ``accounts_ready`` can write them early.

    Args:
        folder: The extract's folder.
        month: The partition being loaded, or None to load every month in the files.
        warehouse_customers: Customer ids already in the warehouse (a monthly drop may omit
            customers.csv and rely on them), with their account opening dates (``YYYY-MM-DD``,
            empty when unknown) when a dict.
        window: The months a row may be dated in.
        accounts_ready: Called with the accepted customers and statements once they are known.
    """
    for name in ("statements.csv", "transactions.csv"):
        if not extract_file(folder, name).exists():
            raise FileNotFoundError(f"three-file extract {folder} has no {name}")

    customers_file, customer_verdicts = _check_customers(extract_file(folder, "customers.csv"))
    # one arrow array of every known id, built once for both files' checks
    known = [pa.array(list(warehouse_customers), type=pa.string())]
    if customers_file is not None:
        ids = customers_file.rows.loc[customer_verdicts.ok, "customer_id"]
        known.append(pa.array(ids, type=pa.string()))
    known_ids = pc.unique(pa.chunked_array(known, type=pa.string()))
    opened = _opening_dates(warehouse_customers, customers_file, customer_verdicts)

    statements_file = read_contract_csv(
        extract_file(folder, "statements.csv"), "statements", STATEMENT_COLUMNS
    )
    statement_verdicts, statement_months = _check_statements(statements_file.rows)
    _check_month_rows(
        statements_file, statement_verdicts, statement_months, "statement_month", month, window
    )
    check_known_customer(statement_verdicts, statements_file.rows, known_ids)
    check_after_opening(
        statement_verdicts,
        statements_file.rows,
        statement_months,
        "statement_month",
        opened.str[:7],
    )
    check_unique(
        statement_verdicts,
        statements_file.rows,
        ["customer_id", "statement_month"],
        Reason.DUPLICATE_STATEMENT,
    )
    customers = pd.DataFrame(columns=CUSTOMER_COLUMNS)
    if customers_file is not None:
        customers = customers_file.rows.loc[customer_verdicts.ok, CUSTOMER_COLUMNS]
    statements = statements_file.rows.loc[statement_verdicts.ok, STATEMENT_COLUMNS]
    if accounts_ready is not None:
        accounts_ready(customers, statements)

    transactions_file = read_contract_csv(
        extract_file(folder, "transactions.csv"), "transactions", TRANSACTION_COLUMNS
    )
    transaction_verdicts, transaction_months = _check_transactions(transactions_file.rows)
    partitions = _partitions(
        month,
        [statement_months, transaction_months],
        statements_file.path,
        window,
    )
    _check_month_rows(
        transactions_file,
        transaction_verdicts,
        transaction_months,
        "transaction_date",
        month,
        window,
    )
    check_known_customer(transaction_verdicts, transactions_file.rows, known_ids)
    check_after_opening(
        transaction_verdicts,
        transactions_file.rows,
        transactions_file.rows["transaction_date"],
        "transaction_date",
        opened,
    )
    check_unique(
        transaction_verdicts,
        transactions_file.rows,
        ["transaction_id"],
        Reason.DUPLICATE_TRANSACTION_ID,
    )

    fallback = partitions[-1]
    statement_partition = _partition_of(statement_months, partitions)
    transaction_partition = _partition_of(transaction_months, partitions)
    quarantines = [
        quarantine_frame(statements_file, statement_verdicts, statement_partition),
        quarantine_frame(transactions_file, transaction_verdicts, transaction_partition),
    ]
    read_counts = [
        _read_counts(statements_file, statement_partition, fallback),
        _read_counts(transactions_file, transaction_partition, fallback),
    ]
    files = {"statements": statements_file, "transactions": transactions_file}
    if customers_file is not None:
        customer_partition = pd.Series(fallback, index=customers_file.rows.index, dtype=object)
        quarantines.append(quarantine_frame(customers_file, customer_verdicts, customer_partition))
        read_counts.append(_read_counts(customers_file, customer_partition, fallback))
        files["customers"] = customers_file

    transactions = transactions_file.rows.loc[transaction_verdicts.ok, [*TRANSACTION_COLUMNS, LINE]]
    transactions.insert(
        len(TRANSACTION_COLUMNS), "statement_month", transaction_months[transaction_verdicts.ok]
    )
    return PreparedExtract(
        kind="three_file",
        partition_months=partitions,
        customers=customers,
        customers_replace=True,
        statements=statements,
        transactions=transactions,
        quarantine=_finish_quarantine(quarantines, fallback),
        files=files,
        rows_read=pd.concat(read_counts, ignore_index=True),
    )


def _check_month_rows(
    csv_file: CsvFile,
    verdicts: Verdicts,
    months: pd.Series,
    column: str,
    month: str | None,
    window: MonthWindow | None,
) -> None:
    """A row must be of the month being loaded (when one is given) and inside the window."""
    check_partition(verdicts, csv_file.rows, months, column, month)
    check_month_window(verdicts, csv_file.rows, months, column, window)


def _opening_dates(
    warehouse_customers: set[str] | dict[str, str],
    customers_file: CsvFile | None,
    customer_verdicts: Verdicts | None,
) -> pd.Series:
    """Known opening dates by customer id: the extract's ``customers.csv`` wins over the
    warehouse (it replaces those customers)."""
    known = pd.Series(
        warehouse_customers if isinstance(warehouse_customers, dict) else {}, dtype=object
    )
    if customers_file is not None:
        rows = customers_file.rows.loc[customer_verdicts.ok, ["customer_id", "opened_date"]]
        known = pd.concat([known, rows.set_index("customer_id")["opened_date"]])
        known = known[~known.index.duplicated(keep="last")]
    return known[known.fillna("") != ""]


def _check_customers(path: Path) -> tuple[CsvFile | None, Verdicts | None]:
    if not path.exists():  # optional; but a folder of that name is refused, not ignored
        return None, None
    csv_file = read_contract_csv(path, "customers", CUSTOMER_COLUMNS)
    rows = csv_file.rows
    verdicts = Verdicts(rows)
    check_key(verdicts, rows, "customer_id")
    check_date(verdicts, rows, "opened_date", required=False)
    _check_lengths(verdicts, rows)
    check_unique(verdicts, rows, ["customer_id"], Reason.DUPLICATE_CUSTOMER)
    return csv_file, verdicts


def _check_statements(rows: pd.DataFrame) -> tuple[Verdicts, pd.Series]:
    verdicts = Verdicts(rows)
    check_key(verdicts, rows, "customer_id")
    check_key(verdicts, rows, "statement_month")
    check_month(verdicts, rows, "statement_month")
    check_money(verdicts, rows, "credit_limit", required=False)
    check_money(verdicts, rows, "outstanding_balance", required=True)
    check_money(verdicts, rows, "payment_amount", required=False)
    check_money(verdicts, rows, "minimum_due", required=False)
    check_count(verdicts, rows, "days_past_due")
    check_positive_limit(verdicts, rows, "credit_limit")
    _check_lengths(verdicts, rows)
    months = rows["statement_month"].where(
        rows["statement_month"].str.fullmatch(MONTH_PATTERN), None
    )
    return verdicts, months.astype(object)


def _check_transactions(rows: pd.DataFrame) -> tuple[Verdicts, pd.Series]:
    verdicts = Verdicts(rows)
    check_key(verdicts, rows, "transaction_id")
    check_key(verdicts, rows, "customer_id")
    dates = check_date(verdicts, rows, "transaction_date", required=True)
    check_money(verdicts, rows, "amount", required=True)
    types = rows["transaction_type"]
    verdicts.flag(
        ~types.isin(TRANSACTION_TYPES),
        Reason.INVALID_VALUE,
        "transaction_type",
        lambda mask: [
            f"transaction_type={value!r} is not one of {', '.join(TRANSACTION_TYPES)}"
            for value in types[mask]
        ],
    )
    amounts = money_values(rows["amount"], verdicts.ok)
    refund = (types == "refund").to_numpy()
    wrong_sign = (refund & (amounts >= 0)) | (~refund & (amounts <= 0))  # NaN: neither
    verdicts.flag(
        wrong_sign,
        Reason.INVALID_VALUE,
        "amount",
        lambda mask: [
            f"amount={amount!r} has the wrong sign for {kind}"
            for amount, kind in zip(rows["amount"][mask], types[mask], strict=True)
        ],
    )
    _check_lengths(verdicts, rows)
    return verdicts, _row_months(dates)


def prepare_extract(
    source: Path,
    month: str | None,
    warehouse_customers: set[str],
    window: MonthWindow | None = None,
    accounts_ready: AccountsReady | None = None,
) -> PreparedExtract:
    """Check an extract of either format (see ``detect_kind``); rows dated outside ``window``
    are quarantined (``month_out_of_range``). ``accounts_ready``: see ``prepare_three_file``
    (a legacy file has no separate accounts, so it is never called)."""
    if detect_kind(source) == "legacy":
        return prepare_legacy(source, month, window)
    return prepare_three_file(source, month, warehouse_customers, window, accounts_ready)
