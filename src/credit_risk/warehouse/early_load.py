"""Let the server load transactions.csv itself while the client is still checking the extract.

Why: in a three-file extract the transactions file is most of the rows, and the server's
``LOAD DATA`` of it takes as long as the client's parsing and contract checks of all three
files together (``benchmarks/load_benchmark.py --profile``). Done one after the other, a load
takes about the sum; done side by side, about the larger of the two (the machine has a core for
each).

How it stays correct: the early load runs on the load's transactions connection, inside its
branch of the load's transaction (``load_transaction``), after a savepoint. It is kept only
when the checks then show it loaded exactly the rows a checked load would have:

- the months it cleared are the load's partition months (it guesses them before the checks:
  the given month, or the statement months of statements.csv);
- the contract quarantined no transaction row and found no malformed line;
- the file is plain (``CsvFile.plain_line_end``: no quotes, no padded values, one kind of line
  end), so the server's split at commas and line ends gives exactly the checked values;
- the server accepted one row per checked row, with no warning;
- no id it loaded is held by another month (``transaction_ids``).

Otherwise the transaction is rolled back to the savepoint and the load writes the checked rows
the ordinary way, so the result never depends on whether the early load was used.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import MySQLdb

from credit_risk.layout import MONTH_PATTERN, OPTIONAL_COLUMNS, TRANSACTION_COLUMNS, detect_kind
from credit_risk.warehouse.db import Warehouse, connect_args
from credit_risk.warehouse.transaction_ids import find_clashes

if TYPE_CHECKING:
    from credit_risk.extract import PreparedExtract

log = logging.getLogger(__name__)

SAVEPOINT = "before_early_load"

_NULL_IF_EMPTY = OPTIONAL_COLUMNS["transactions"]

MAIN_MONTH_TABLES = (
    ("statements", "statement_month"),
    ("quarantined_rows", "partition_month"),
    ("load_audit", "partition_month"),
)
"""Tables a load replaces by month through its main connection, and their month column."""


def clear_months(cursor, months: list[str], tables: tuple[tuple[str, str], ...]) -> None:
    """Delete the given months from ``tables`` ((table, month column) pairs)."""
    marks = ", ".join(["%s"] * len(months))
    for table, column in tables:
        cursor.execute(f"delete from {table} where {column} in ({marks})", months)


def clear_transaction_months(cursor, months: list[str]) -> None:
    """Delete the transactions of ``months``: the server reads only their partitions (a new
    month's partition is empty, so this costs nothing)."""
    clear_months(cursor, months, (("transactions", "statement_month"),))


def _header(path: Path) -> tuple[list[str], str] | None:
    """The header's column names and its line end, or None unless it names the contract's
    columns (in any order)."""
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    names = [name.strip() for name in text.rstrip("\r\n").split(",")]
    if sorted(names) != sorted(TRANSACTION_COLUMNS):
        return None
    return names, "\r\n" if first.endswith(b"\r\n") else "\n"


def file_months(path: Path, column: str) -> list[str]:
    """Distinct well-formed months (``YYYY-MM``, the first 7 characters) of one column of a CSV
    file; [] when it cannot be read. With pyarrow alone: it runs before pandas is imported."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=[column], column_types={column: pa.string()}
            ),
        )
    except (pa.ArrowInvalid, KeyError, OSError):
        return []
    values = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(table.column(column)), 0, 7)
    valid = pc.filter(values, pc.match_substring_regex(values, f"^{MONTH_PATTERN}$"))
    return sorted(pc.unique(valid).to_pylist())


def statement_months(path: Path) -> list[str]:
    """Distinct well-formed ``statement_month`` values of statements.csv ([] if unreadable)."""
    return file_months(path, "statement_month")


def load_statement(header: list[str], line_end: str) -> str:
    """``LOAD DATA`` of a plain transactions.csv whose columns come in ``header``'s order.

    It declares the file ``binary``: the server then stores the bytes as they are instead of
    checking them as UTF-8 again (4% of its time), and the load is kept only when the client's
    own read found the file valid UTF-8 (``contract.read_contract_csv``). Dates go straight into
    their column and the month is cut from it; a date the client would refuse makes the checks
    quarantine its row, so the load is not kept either.
    """
    fields = ", ".join(f"@{name}" if name in _NULL_IF_EMPTY else name for name in header)
    nulls = ", ".join(f"{name} = nullif(@{name}, '')" for name in _NULL_IF_EMPTY)
    terminator = line_end.replace("\r", "\\r").replace("\n", "\\n")
    return (
        "load data local infile %s into table transactions character set binary "
        "fields terminated by ',' escaped by '' "
        f"lines terminated by '{terminator}' ignore 1 lines ({fields}) "
        f"set statement_month = left(transaction_date, 7), {nulls}"
    )


@dataclass
class EarlyTransactionLoad:
    """The server's own load of transactions.csv, running beside the contract checks."""

    conn: MySQLdb.Connection
    warehouse: Warehouse
    path: Path
    header: list[str]
    line_end: str
    month: str | None
    """The month being loaded, or None: then the statement months of statements.csv, read by
    the thread (the server can start a moment sooner)."""
    months: list[str] = field(default_factory=list)
    """The months it clears: the load's partition months, unless the checks find others."""
    accepted: int = -1
    warnings: int = -1
    seconds: float = 0.0
    """How long it took (finding the months, clearing them and loading)."""
    error: BaseException | None = None
    server_thread_id: int = 0
    """The connection's id on the server, read before the thread starts: once it runs, the
    connection belongs to it (mysqlclient refuses a call from another thread)."""
    savepoint_set: bool = False
    kept: bool | None = None
    """What ``usable`` decided (None until it is asked)."""
    _thread: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls, conn: MySQLdb.Connection, warehouse: Warehouse, source: Path, month: str | None
    ) -> EarlyTransactionLoad | None:
        """Start it in a thread, or return None when the extract does not allow it."""
        if source.is_file() or detect_kind(source) != "three_file":
            return None
        path = source / "transactions.csv"
        found = _header(path) if path.is_file() else None
        if found is None:
            return None
        header, line_end = found
        early = cls(conn, warehouse, path, header, line_end, month)
        early.server_thread_id = conn.thread_id()
        early._thread = threading.Thread(target=early._run, name="early-transactions-load")
        early._thread.start()
        return early

    def _run(self) -> None:
        cursor = self.conn.cursor()
        started = time.perf_counter()
        try:
            statements = self.path.parent / "statements.csv"
            self.months = [self.month] if self.month else statement_months(statements)
            if not self.months:
                raise ValueError("statements.csv has no readable statement_month")
            cursor.execute(f"savepoint {SAVEPOINT}")
            self.savepoint_set = True
            clear_transaction_months(cursor, self.months)
            cursor.execute(load_statement(self.header, self.line_end), (str(self.path),))
            self.accepted = cursor.rowcount
            self.warnings = self.conn.warning_count()
        except BaseException as error:  # reported through usable(); the checked load decides
            self.error = error
        finally:
            self.seconds = time.perf_counter() - started

    def wait(self) -> None:
        """Block until the server has finished."""
        if self._thread is not None:
            self._thread.join()

    def cancel(self) -> None:
        """Stop the server's load (the extract was refused) and wait; the caller rolls back."""
        if self._thread is not None and self._thread.is_alive():
            try:
                killer = MySQLdb.connect(**connect_args(self.warehouse, with_database=False))
                try:
                    killer.cursor().execute(f"kill query {int(self.server_thread_id)}")
                finally:
                    killer.close()
            except MySQLdb.Error as error:
                log.warning("could not stop the early transactions load: %s", error)
        self.wait()

    def usable(self, prepared: PreparedExtract) -> bool:
        """Whether the early load holds exactly the checked transactions (see the module)."""
        source = prepared.files.get("transactions")
        plain = source is not None and source.plain_line_end() == self.line_end
        self.wait()  # after the scan of the file above: it overlaps the server's load
        reasons = []
        if self.error is not None:
            reasons.append(f"it failed ({self.error})")
        if prepared.partition_months != self.months:
            reasons.append(f"it cleared {self.months}, the load is {prepared.partition_months}")
        if not plain:
            reasons.append("the file is quoted, padded or has mixed line ends")
        elif len(source.structural_rejects) or len(prepared.transactions) != len(source.rows):
            reasons.append("some transaction rows are quarantined")
        elif self.accepted != len(prepared.transactions) or self.warnings:
            reasons.append(
                f"the server accepted {self.accepted} of {len(prepared.transactions)} rows "
                f"with {self.warnings} warnings"
            )
        if not reasons and len(find_clashes(self.conn.cursor(), prepared.partition_months)):
            reasons.append("some transaction ids are held by other months")
        self.kept = not reasons
        if reasons:
            log.info("loading the checked transactions instead of the early load: %s", reasons[0])
            return False
        log.info(
            "kept the early load of %s (%d rows in %.1f s)", self.path, self.accepted, self.seconds
        )
        return True
