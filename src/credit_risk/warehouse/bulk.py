"""Bulk writes through ``LOAD DATA LOCAL INFILE``: a frame goes to a scratch CSV file, the
server reads it back.

Why: even batched multi-row inserts (``pandas.to_sql``) are several times slower
(``benchmarks/load_benchmark.py``). The scratch folder carries the process id, so a load that
was killed before its own cleanup leaves nothing behind for long: the next load removes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import MySQLdb

from credit_risk.layout import CUSTOMER_COLUMNS, OPTIONAL_COLUMNS, STATEMENT_COLUMNS
from credit_risk.warehouse.db import LOCAL_INFILE_HELP, WarehouseError, is_local_infile_refused
from credit_risk.warehouse.early_load import clear_months
from credit_risk.warehouse.partitions import MissingPartitions

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def load_data_sql(table: str, frame: pd.DataFrame, mode: str = "") -> str:
    """``LOAD DATA`` of a CSV written by ``write_csv`` from ``frame`` into ``table``.

    An optional column is read through a user variable and ``nullif`` only when one of its
    values is empty: a column read directly costs the server less (statements: 10% less).
    ``mode`` is ``''``, ``'replace'`` or ``'ignore'``.
    """
    optional = OPTIONAL_COLUMNS[table]
    via_variable = [
        column
        for column in frame.columns
        if column in optional and bool(frame[column].astype("string").fillna("").eq("").any())
    ]
    fields = ", ".join(f"@{column}" if column in via_variable else column for column in frame)
    nulls = ", ".join(f"{column} = nullif(@{column}, '')" for column in via_variable)
    return (
        f"load data local infile %s {mode} into table {table} character set utf8mb4 "
        "fields terminated by ',' optionally enclosed by '\"' escaped by '' "
        f"lines terminated by '\\n' ignore 1 lines ({fields})" + (f" set {nulls}" if nulls else "")
    )


class AccountsWriter:
    """Writes the checked customers and statements on the load's main connection, in a
    thread, while the client checks transactions.csv.

    Why: they are a third of the rows, and written after all checks they kept the main
    connection busy for a second while the client sat idle (``load_benchmark.py``). The
    thread is the connection's only user until ``wait`` returns; the server does the work
    (``LOAD DATA LOCAL``), so the thread mostly waits outside the GIL.

    It deletes the statements of the months it writes (those of the accepted statements) and
    remembers them; ``_write`` deletes the load's other months once the checks know them.
    """

    def __init__(self, conn: MySQLdb.Connection, scratch: Path, partitioned: set[str]) -> None:
        self.conn = conn
        self.scratch = scratch
        self.partitioned = partitioned
        self.months: list[str] | None = None
        """The statement months already replaced (None: nothing was written early)."""
        self._pool = None
        self._future = None

    def __enter__(self) -> AccountsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abandon()

    def start(self, customers: pd.DataFrame, statements: pd.DataFrame) -> None:
        """Begin writing (``prepare_extract``'s ``accounts_ready``)."""
        from concurrent.futures import ThreadPoolExecutor

        months = sorted(statements["statement_month"].unique())
        missing = sorted(set(months) - self.partitioned)
        if missing:  # the statements need partitions the load has not made yet
            raise MissingPartitions(missing)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-accounts")
        self._future = self._pool.submit(self._write, customers, statements, months)

    def _write(self, customers: pd.DataFrame, statements: pd.DataFrame, months: list[str]) -> None:
        cursor = self.conn.cursor()
        if months:
            clear_months(cursor, months, (("statements", "statement_month"),))
        load_accounts(cursor, customers, statements, self.scratch, "replace")
        self.months = months

    def wait(self) -> None:
        """Until the write is done; raises what it raised."""
        if self._future is not None:
            self._future.result()

    def abandon(self) -> None:
        """Let a running write finish (the connection can be rolled back only then) and
        forget its result; the load's rollback undoes it."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def load_accounts(
    cursor, customers: pd.DataFrame, statements: pd.DataFrame, scratch: Path, mode: str
) -> None:
    """Customers ``replace`` the stored ones of the same id (or are ``ignore``d where one is
    stored); statements go into their months, which the caller has emptied."""
    if len(customers):
        bulk_load(cursor, "customers", customers[CUSTOMER_COLUMNS], scratch, mode)
    bulk_load(cursor, "statements", statements[STATEMENT_COLUMNS], scratch)


SCRATCH_PREFIX = "credit-risk-load-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_leftover_scratch(root: Path | None = None) -> list[Path]:
    """Delete the scratch folders of loads whose process is gone (killed, so its own cleanup
    never ran); returns what was removed. A folder's name carries its process id."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{SCRATCH_PREFIX}*"):
        pid = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("removed %d scratch folder(s) of killed loads", len(removed))
    return removed


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder for the load's CSV files (several MB), removed when the load ends; folders a
    killed load left behind are removed first."""
    remove_leftover_scratch()
    folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(frame.astype("string"), preserve_index=False)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def bulk_load(cursor, table: str, frame: pd.DataFrame, scratch: Path, mode: str = "") -> int:
    """``LOAD DATA LOCAL INFILE`` one frame into ``table`` through ``scratch/<table>.csv``;
    returns the rows the server accepted."""
    if frame.empty:
        return 0
    path = scratch / f"{table}.csv"
    write_csv(frame, path)
    try:
        cursor.execute(load_data_sql(table, frame, mode), (str(path),))
    except MySQLdb.OperationalError as error:
        if is_local_infile_refused(error):
            raise WarehouseError(f"cannot bulk-load {path.name}: {LOCAL_INFILE_HELP}") from error
        raise
    return cursor.rowcount
