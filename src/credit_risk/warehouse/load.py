"""Write a checked extract to the warehouse: one transaction per load, bulk path, full accounting.

Why it looks like this:
- A load replaces whole months (delete the months, then insert), inside one database
  transaction, so loading a month twice leaves one copy, a corrected file replaces the month,
  and a failure half way leaves the previous data untouched. The transaction has two branches
  (XA, ``load_transaction``): transactions load through one connection while the rest loads
  through another, so the server works on both at once.
- Rows go in through ``LOAD DATA LOCAL INFILE`` from a temporary CSV (``bulk``). The work is
  spread over the two connections and the client: a plain transactions.csv is read by the
  server itself while the client checks the extract, and kept only if the checks agree
  (``early_load``); the checked customers and statements are written while the client is
  still checking transactions.csv (``bulk.AccountsWriter``).
- ``LOAD DATA LOCAL`` silently skips rows whose key already exists. The only such collision
  left after the contract checks is a transaction id that another month already holds, so when
  fewer rows arrive than were sent the load rolls back to a savepoint, quarantines those ids and
  loads again: every input row is either loaded or quarantined, never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import MySQLdb

from credit_risk.layout import (
    LEGACY_FILE_NAME,
    LINE,
    LOADED_TRANSACTION_COLUMNS,
    QUARANTINE_COLUMNS,
    detect_kind,
    extract_file,
)
from credit_risk.months import MonthWindow, month_of, validate_month
from credit_risk.settings import get_settings
from credit_risk.warehouse.bulk import AccountsWriter, bulk_load, load_accounts, scratch_folder
from credit_risk.warehouse.db import (
    Warehouse,
    WarehouseError,
    connect,
)
from credit_risk.warehouse.early_load import (
    MAIN_MONTH_TABLES,
    SAVEPOINT,
    EarlyTransactionLoad,
    clear_months,
    clear_transaction_months,
    file_months,
    statement_months,
)
from credit_risk.warehouse.ledger import record_load
from credit_risk.warehouse.load_transaction import (
    LoadTransaction,
    load_lock,
    resolve_interrupted_loads,
)
from credit_risk.warehouse.partitions import MissingPartitions, ensure_partitions
from credit_risk.warehouse.schema import ensure_tables
from credit_risk.warehouse.transaction_ids import find_clashes, record_transaction_months

if TYPE_CHECKING:  # pandas and the checks are imported once the server is at work
    import pandas as pd

    from credit_risk.extract import PreparedExtract

log = logging.getLogger(__name__)

MONTH_TABLES_BESIDE_STATEMENTS = tuple(
    (table, column) for table, column in MAIN_MONTH_TABLES if table != "statements"
)
"""What ``_write`` still clears when the statements were replaced early."""

BASE_PARTITIONED = ("statements", "transactions")
"""The loaded tables with one partition per month."""


@dataclass
class LoadReport:
    """What a load did, for printing and for the audit table."""

    source: Path
    kind: str
    partition_months: list[str]
    audit: pd.DataFrame
    """dataset, partition_month, source_file, rows_read, rows_loaded, rows_quarantined."""
    quarantine_reasons: pd.DataFrame
    """dataset, reason, rows."""

    @property
    def rows_read(self) -> int:
        """All data rows of all files."""
        return int(self.audit["rows_read"].sum())

    @property
    def rows_loaded(self) -> int:
        """Rows written to the warehouse tables."""
        return int(self.audit["rows_loaded"].sum())

    @property
    def rows_quarantined(self) -> int:
        """Rows written to quarantined_rows."""
        return int(self.audit["rows_quarantined"].sum())


def load_window(latest_month: str | None = None) -> MonthWindow:
    """The months a load accepts: ``CREDIT_RISK_EARLIEST_MONTH`` up to ``latest_month``
    (default: the current month, UTC)."""
    latest = validate_month(latest_month) if latest_month else month_of(dt.datetime.now(dt.UTC))
    return MonthWindow(get_settings().earliest_month, latest)


def load_extract(
    warehouse: Warehouse,
    source: Path,
    month: str | None = None,
    *,
    run_id: str = "cli",
    latest_month: str | None = None,
) -> LoadReport:
    """Load an extract into the warehouse, replacing the months it covers.

    The months are recorded in the ledger as ``loaded`` by ``run_id`` in the load's own
    transaction; the loaded gate moves them on.

    Args:
        warehouse: Where to load.
        source: A legacy ``bank_transactions.csv`` (or its folder), or a three-file extract folder.
        month: Load only this ``YYYY-MM``; rows of other months are quarantined. None loads every
            month found in the files.
        run_id: Who loads (the Airflow run id, or ``cli``), for the ledger.
        latest_month: The last month a row may be dated in (default: the current month);
            rows outside ``CREDIT_RISK_EARLIEST_MONTH`` .. it are quarantined.

    Raises:
        ExtractRefusedError: a file is structurally broken; nothing was loaded.
        WarehouseError: the server refuses LOAD DATA LOCAL INFILE or cannot be reached.
    """
    window = load_window(latest_month)
    if month is not None:
        month = validate_month(month)
        if not window.contains(month):
            from credit_risk.contract import ExtractRefusedError

            raise ExtractRefusedError(
                source,
                1,
                None,
                f"the month to load, {month}, is outside {window.earliest} .. {window.latest} "
                "(CREDIT_RISK_EARLIEST_MONTH to the current month)",
            )
    with connect(warehouse) as conn, connect(warehouse) as transactions_conn:
        ensure_tables(conn)
        with load_lock(conn, warehouse.database):
            resolve_interrupted_loads(conn, warehouse.database)
            # DDL commits, and waits for readers of the table: before the transaction starts
            partitioned = {m for m in guess_months(source, month) if window.contains(m)}
            ensure_partitions(conn.cursor(), partitioned, BASE_PARTITIONED)
            while True:
                xa = LoadTransaction(conn, transactions_conn, warehouse.database)
                xa.start()
                try:
                    prepared, audit = _prepare_and_write(
                        conn,
                        transactions_conn,
                        warehouse,
                        source,
                        month,
                        partitioned,
                        xa.gtrid,
                        window,
                    )
                    record_load(conn.cursor(), prepared.partition_months, xa.gtrid, run_id)
                    xa.commit()
                    break
                except MissingPartitions as missing:
                    xa.rollback()
                    ensure_partitions(conn.cursor(), missing.months, BASE_PARTITIONED)
                    partitioned.update(missing.months)
                except BaseException:
                    xa.rollback()
                    raise
    import pandas as pd  # imported long since, by the checks

    reasons = (
        prepared.quarantine.groupby(["dataset", "reason"]).size().reset_index(name="rows")
        if len(prepared.quarantine)
        else pd.DataFrame(columns=["dataset", "reason", "rows"])
    )
    log.info(
        "loaded %s (%s) months %s: %d read, %d loaded, %d quarantined",
        source,
        prepared.kind,
        ",".join(prepared.partition_months),
        audit["rows_read"].sum(),
        audit["rows_loaded"].sum(),
        audit["rows_quarantined"].sum(),
    )
    return LoadReport(source, prepared.kind, prepared.partition_months, audit, reasons)


def guess_months(source: Path, month: str | None) -> list[str]:
    """The months a load will most likely write, read cheaply before it starts (partitions
    must exist before): the given month, the statement months of statements.csv, or the
    months of a legacy file's dates."""
    if month is not None:
        return [month]
    if detect_kind(source) == "three_file":
        return statement_months(extract_file(source, "statements.csv"))
    legacy = source if source.is_file() else extract_file(source, LEGACY_FILE_NAME)
    return legacy_months(legacy)


def legacy_months(path: Path) -> list[str]:
    """Distinct months of a legacy file's well-formed dates ([] when unreadable)."""
    return file_months(path, "transaction_date")


def _prepare_and_write(
    conn: MySQLdb.Connection,
    transactions_conn: MySQLdb.Connection,
    warehouse: Warehouse,
    source: Path,
    month: str | None,
    partitioned: set[str],
    load_id: str,
    window: MonthWindow,
) -> tuple[PreparedExtract, pd.DataFrame]:
    """Check the extract while the server loads its transactions early, and write the
    customers and statements while the transactions are still being checked."""
    early = EarlyTransactionLoad.start(transactions_conn, warehouse, source, month)
    with scratch_folder() as scratch, AccountsWriter(conn, scratch, partitioned) as accounts:
        try:
            # read and imported only now, while the server is already loading transactions.csv
            known = _warehouse_customers(conn)
            from credit_risk.extract import prepare_extract

            prepared = prepare_extract(source, month, known, window, accounts.start)
            missing = sorted(set(prepared.partition_months) - partitioned)
            if missing:
                raise MissingPartitions(missing)
            accounts.wait()
        except BaseException:
            accounts.abandon()
            if early is not None:
                early.cancel()
            raise
        audit = _write(conn, transactions_conn, prepared, scratch, early, load_id, accounts)
    return prepared, audit


def _warehouse_customers(conn: MySQLdb.Connection) -> dict[str, str]:
    """Customer ids in the warehouse and their account opening dates (empty when unknown)."""
    cursor = conn.cursor()
    cursor.execute(
        "select customer_id, coalesce(date_format(opened_date, '%Y-%m-%d'), '') from customers"
    )
    return dict(cursor.fetchall())


def _write(
    conn: MySQLdb.Connection,
    transactions_conn: MySQLdb.Connection,
    prepared: PreparedExtract,
    scratch: Path,
    early: EarlyTransactionLoad | None,
    load_id: str,
    accounts: AccountsWriter,
) -> pd.DataFrame:
    """Replace the load's months with the prepared rows.

    The customers and statements are written by ``accounts`` (or here, for a legacy file,
    or when nothing was written early) through ``conn``; then the early load of the
    transactions (if any) is kept, or replaced by the checked transactions.
    """
    cursor = conn.cursor()
    months = prepared.partition_months
    if accounts.months is None:
        clear_months(cursor, months, MAIN_MONTH_TABLES)
        mode = "replace" if prepared.customers_replace else "ignore"
        load_accounts(cursor, prepared.customers, prepared.statements, scratch, mode)
    else:
        clear_months(cursor, months, MONTH_TABLES_BESIDE_STATEMENTS)
        later = sorted(set(months) - set(accounts.months))
        if later:  # months only transactions.csv has: their stored statements go too
            clear_months(cursor, later, (("statements", "statement_month"),))
    # Accounted while the early load may still be running: kept, it holds exactly the checked
    # rows; otherwise the checked load below may quarantine more, so it is accounted again.
    audit = _audit(prepared)
    transactions_cursor = transactions_conn.cursor()
    months = prepared.partition_months
    if early is None or not early.usable(prepared):
        if early is not None and early.savepoint_set:
            transactions_cursor.execute(f"rollback to savepoint {SAVEPOINT}")
        clear_transaction_months(transactions_cursor, months)
        _load_transactions(transactions_cursor, prepared, scratch)
        audit = _audit(prepared)
    record_transaction_months(
        transactions_cursor,
        months,
        load_id,
        prepared.transactions["statement_month"].value_counts().to_dict(),
    )
    _insert_quarantine(cursor, prepared.quarantine)
    cursor.executemany(
        "insert into load_audit (dataset, partition_month, source_file, source_sha256, "
        "rows_read, rows_loaded, rows_quarantined) values (%s, %s, %s, %s, %s, %s, %s)",
        audit[
            [
                "dataset",
                "partition_month",
                "source_file",
                "source_sha256",
                "rows_read",
                "rows_loaded",
                "rows_quarantined",
            ]
        ].itertuples(index=False, name=None),
    )
    return audit


def _load_transactions(cursor, prepared: PreparedExtract, scratch: Path) -> None:
    """Load the checked transactions; quarantine those whose id another month holds, and
    those the server took for a duplicate of another id of the month (ids equal under the
    table's case-insensitive collation), and load the rest again."""
    import pandas as pd

    from credit_risk.contract import Reason

    transactions = prepared.transactions
    cursor.execute("savepoint before_transactions")
    accepted = bulk_load(cursor, "transactions", transactions[LOADED_TRANSACTION_COLUMNS], scratch)
    held = find_clashes(cursor, prepared.partition_months)
    collated = pd.Series(dtype=object)
    if accepted != len(transactions):
        collated = _collation_duplicates(cursor, transactions)
    if not len(held) and not len(collated):
        return
    cursor.execute("rollback to savepoint before_transactions")
    source = prepared.files["transactions"]
    frames = []
    for ids, detail in (
        (held, "transaction_id already loaded for month " + held.astype(str)),
        (collated, "transaction_id equal to " + collated.astype(str) + " in the same month"),
    ):
        clashing = transactions[transactions["transaction_id"].isin(ids.index)]
        if clashing.empty:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "partition_month": clashing["statement_month"].to_numpy(),
                    "dataset": source.dataset,
                    "source_file": str(source.path),
                    "line_number": clashing[LINE].to_numpy(),
                    "field_name": "transaction_id",
                    "reason": Reason.DUPLICATE_TRANSACTION_ID.value,
                    "detail": clashing["transaction_id"].map(detail).to_numpy(),
                    "raw_line": source.raw_lines(clashing[LINE]),
                }
            )
        )
    quarantined = pd.concat(frames, ignore_index=True)
    log.warning("%d transaction ids clash with stored ones: quarantined", len(quarantined))
    keep = ~transactions["transaction_id"].isin(held.index.union(collated.index))
    prepared.transactions = transactions[keep]
    prepared.quarantine = pd.concat([prepared.quarantine, quarantined], ignore_index=True)
    accepted = bulk_load(
        cursor, "transactions", prepared.transactions[LOADED_TRANSACTION_COLUMNS], scratch
    )
    if accepted != len(prepared.transactions):
        raise WarehouseError(
            f"the server accepted {accepted} of {len(prepared.transactions)} transactions; "
            "nothing was loaded"
        )


def _collation_duplicates(cursor, transactions: pd.DataFrame) -> pd.Series:
    """Sent ids the server skipped as duplicates: id -> the stored id it equals."""
    import pandas as pd

    months = sorted(transactions["statement_month"].unique())
    cursor.execute(
        "select transaction_id from transactions where statement_month in %s", (tuple(months),)
    )
    stored = pd.Index([row[0] for row in cursor.fetchall()])
    skipped = transactions.loc[~transactions["transaction_id"].isin(stored), "transaction_id"]
    folded = pd.Series(stored, index=stored.str.casefold())
    return pd.Series(
        skipped.str.casefold().map(lambda key: folded.get(key, "another id")).to_numpy(),
        index=skipped.to_numpy(),
        dtype=object,
    )


RAW_LINE_CHARS = 16_000
"""What ``quarantined_rows.raw_line`` keeps of a line (a ``text`` column holds 64 KB, and a
character takes up to 4 bytes); a longer line is kept cut, marked so."""


def _cut(text: object, limit: int, mark: str = "") -> object:
    return text[:limit] + mark if isinstance(text, str) and len(text) > limit else text


def _insert_quarantine(cursor, quarantine: pd.DataFrame) -> None:
    if quarantine.empty:
        return
    rows = quarantine[QUARANTINE_COLUMNS].astype(object).where(quarantine.notna(), None)
    rows["line_number"] = rows["line_number"].astype(int)
    rows["detail"] = rows["detail"].map(lambda text: _cut(text, 512))
    rows["raw_line"] = rows["raw_line"].map(
        lambda text: _cut(text, RAW_LINE_CHARS, f" [cut: {len(text):,} characters in all]")
    )
    cursor.executemany(
        "insert into quarantined_rows (partition_month, dataset, source_file, line_number, "
        "field_name, reason, detail, raw_line) values (%s, %s, %s, %s, %s, %s, %s, %s)",
        list(rows.itertuples(index=False, name=None)),
    )


def _audit(prepared: PreparedExtract) -> pd.DataFrame:
    """Rows read, loaded and quarantined per file and month; checks that nothing was lost."""
    import pandas as pd

    key = ["dataset", "partition_month"]
    read = prepared.rows_read.groupby([*key, "source_file", "source_sha256"], as_index=False)[
        "rows_read"
    ].sum()
    quarantined = prepared.quarantine.groupby(key).size().rename("rows_quarantined")
    loaded_frames = {"transactions": prepared.transactions}
    if prepared.kind == "legacy":
        loaded_frames = {"bank_transactions": prepared.transactions}
    else:
        loaded_frames["statements"] = prepared.statements
        customers = prepared.customers.assign(partition_month=prepared.fallback_month)
        loaded_frames["customers"] = customers
    loaded = pd.concat(
        [
            frame.assign(dataset=dataset)
            .rename(columns={"statement_month": "partition_month"})
            .groupby(key)
            .size()
            .rename("rows_loaded")
            for dataset, frame in loaded_frames.items()
        ]
    )
    audit = (
        read.join(loaded, on=key)
        .join(quarantined, on=key)
        .fillna({"rows_loaded": 0, "rows_quarantined": 0})
    )
    audit[["rows_loaded", "rows_quarantined"]] = audit[["rows_loaded", "rows_quarantined"]].astype(
        int
    )
    lost = audit[audit["rows_read"] != audit["rows_loaded"] + audit["rows_quarantined"]]
    if len(lost):
        raise WarehouseError(f"row accounting does not balance; nothing was loaded:\n{lost}")
    return audit.sort_values(key, ignore_index=True)
