"""Load benchmark: the project's load path against pandas ``to_sql`` and the client's LOAD DATA.

One run loads the same realistic extract (about 1M transactions) three ways, each into its own
throwaway database:

- ``project``: ``load_extract`` end to end: parse, contract checks, quarantine, bulk load of
  customers + statements + transactions in one database transaction (into the real tables,
  secondary index included).
- ``to_sql``: ``pandas.read_csv`` of transactions.csv, then ``DataFrame.to_sql`` into a table
  with only a primary key.
- ``command``: the whole ``credit-risk load --source <extract>`` command in a new process, start-up
  imports included: what a user waits for.
- ``cli``: one ``mariadb``/``mysql`` client process running ``LOAD DATA LOCAL INFILE`` of the same
  three files into tables with only a primary key (not partitioned): what the server can do at
  best, no checks at all.

It prints rows/s and the ratios (all rows of the three files; to_sql loads transactions only and
is compared on rows/s), and whether the targets hold (project and command >= 0.9x cli, project
>= 4x to_sql). It is a measurement, not a test: the exit code is 0 whatever the figures.

    python benchmarks/load_benchmark.py                       # 1M transactions, one repeat
    python benchmarks/load_benchmark.py --transactions 200000 --repeat 3 --profile
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import MySQLdb
import pandas as pd
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import URL, make_url

from bench_db import (
    DEFAULT_SERVER_URL,
    ServerUrl,
    drop_database,
    recreate_database,
    scalar,
    server_cursor,
    warehouse_in,
)
from credit_risk import extract as extract_module
from credit_risk.generate.realistic import generate_realistic
from credit_risk.warehouse import bulk as bulk_module
from credit_risk.warehouse import load as load_module
from credit_risk.warehouse.build import read_sql
from credit_risk.warehouse.early_load import EarlyTransactionLoad
from credit_risk.warehouse.load import load_extract
from credit_risk.warehouse.load_transaction import LoadTransaction

REPO = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO / "data" / "bench"
MONTHS = 12
START = "2024-01"
SEED = 42
TRANSACTIONS_PER_CUSTOMER_MONTH = 3.7
TO_SQL_CHUNKSIZE = 10_000
METHODS = ("cli", "project", "command", "to_sql")
MONTH_METHOD = "command_month"
"""With ``--months 1`` also: the command given the drop's ``--month``, as the DAG runs it."""
TARGET_VS_CLI = 0.9
TARGET_VS_TO_SQL = 4.0
SETTLE_TIMEOUT = 30.0
SETTLED_DIRTY_SHARE = 0.05
"""A run starts once at most this share of the buffer pool is dirty (see ``settle``) ..."""
SETTLED_IDLE = 1.0
"""... or once the dirty page count has not moved for this many seconds."""

_PARTITIONING = re.compile(r"\s*partition by .*\Z", re.I | re.S)


def bare_table(name: str, as_name: str) -> str:
    """The project's DDL of ``name`` (include/sql), not partitioned, renamed ``as_name``: a
    table with its primary key and columns only."""
    ddl = _PARTITIONING.sub("", read_sql(name))
    ddl = re.sub(r",\s*key \w+ \([^)]*\)", "", ddl)
    renamed = ddl.replace(f"create table if not exists {name}", f"create table {as_name}", 1)
    if renamed == ddl:
        raise RuntimeError(f"include/sql/{name}.sql no longer says 'create table if not exists'")
    return renamed


BARE_TABLES = {
    "tx": bare_table("transactions", "tx"),
    "st": bare_table("statements", "st"),
    "cu": bare_table("customers", "cu"),
}

# statement_month is derived and empty optionals become NULL, as the project's load does.
CLI_LOAD = """
load data local infile '{customers}' into table cu character set utf8mb4
fields terminated by ',' lines terminated by '\\n' ignore 1 lines
(customer_id, @opened_date, @credit_tier, @region)
set opened_date = nullif(@opened_date, ''), credit_tier = nullif(@credit_tier, ''),
    region = nullif(@region, '');
load data local infile '{statements}' into table st character set utf8mb4
fields terminated by ',' lines terminated by '\\n' ignore 1 lines
(customer_id, statement_month, @credit_limit, outstanding_balance, @payment_amount,
 @minimum_due, @days_past_due)
set credit_limit = nullif(@credit_limit, ''), payment_amount = nullif(@payment_amount, ''),
    minimum_due = nullif(@minimum_due, ''), days_past_due = nullif(@days_past_due, '');
load data local infile '{transactions}' into table tx character set utf8mb4
fields terminated by ',' lines terminated by '\\n' ignore 1 lines
(transaction_id, customer_id, @transaction_date, amount, transaction_type,
 @merchant_category, @channel)
set transaction_date = @transaction_date,
    statement_month = left(@transaction_date, 7),
    merchant_category = nullif(@merchant_category, ''),
    channel = nullif(@channel, '')
"""

console = Console(width=None if sys.stdout.isatty() else 120, soft_wrap=True)
app = typer.Typer(add_completion=False)


@dataclass
class Run:
    """One timed load."""

    method: str
    rows: int
    """Transactions loaded."""
    seconds: float
    all_rows: int
    """Every row written (the project also loads statements and customers)."""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def all_rate(self) -> float:
        return self.all_rows / self.seconds


# --- server -----------------------------------------------------------------------------------


def _innodb_status(url: URL) -> dict[str, int]:
    with server_cursor(url) as cursor:
        cursor.execute("show global status like 'Innodb%'")
        return {name: int(value) for name, value in cursor.fetchall() if value.isdigit()}


def settle(url: URL, timeout: float = SETTLE_TIMEOUT) -> float:
    """Wait until InnoDB has written out the previous run's dirty pages; returns the wait.

    Why: a million-row load leaves most of a small buffer pool dirty and its redo log nearly
    full, and the server flushes that in the background for a second or two. Without this wait
    the method that runs next pays for the previous method's writes (here the project always
    ran right after the CLI and lost about 0.1 s to it).
    """
    started = time.perf_counter()
    last_change, last_dirty = started, -1
    while (now := time.perf_counter()) - started < timeout:
        status = _innodb_status(url)
        dirty = status.get("Innodb_buffer_pool_pages_dirty", 0)
        if dirty <= SETTLED_DIRTY_SHARE * (status.get("Innodb_buffer_pool_pages_total", 0) or 1):
            break
        if dirty != last_dirty:
            last_change, last_dirty = now, dirty
        elif now - last_change >= SETTLED_IDLE:
            break  # the page cleaner has stopped: what is left is not being written now
        time.sleep(0.1)
    else:
        console.print(f"[yellow]the server was still flushing after {timeout:.0f} s[/]")
    return time.perf_counter() - started


# --- extract ----------------------------------------------------------------------------------


def cached_extract(customers: int, months: int = MONTHS) -> tuple[Path, dict[str, int]]:
    """The cached realistic extract for ``customers`` customers, generated when missing."""
    folder = CACHE_ROOT / f"realistic-c{customers}-m{months}-{START}-s{SEED}"
    counts_file = folder / "counts.json"
    if counts_file.is_file():
        return folder, json.loads(counts_file.read_text())
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    scratch = CACHE_ROOT / f".{folder.name}.{secrets.token_hex(4)}"
    console.print(f"generating {customers:,} customers x {months} months into {folder} ...")
    started = time.perf_counter()
    try:
        counts = generate_realistic(
            scratch, customers=customers, months=months, start=START, seed=SEED
        )
        (scratch / "counts.json").write_text(json.dumps(counts, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    console.print(f"generated in {time.perf_counter() - started:.1f} s")
    return folder, counts


def _warm(folder: Path) -> None:
    """Read the files once so no method pays for a cold page cache."""
    for path in folder.glob("*.csv"):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


# --- methods ----------------------------------------------------------------------------------


def run_command(url: URL, database: str, folder: Path, month: str | None = None) -> Run:
    """The whole ``credit-risk load`` command, as a user runs it (``month``: with ``--month``,
    as the DAG's task and the README's example load a monthly drop)."""
    warehouse_url = url.set(database=database).render_as_string(hide_password=False)
    command = [str(Path(sys.executable).with_name("credit-risk")), "load", "--source", str(folder)]
    command += ["--month", month] if month else []
    env = {**os.environ, "CREDIT_RISK_DB_URL": warehouse_url}
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(
            f"credit-risk load failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    transactions = int(scalar(url, "select count(*) from transactions", database))
    rows = transactions + sum(
        int(scalar(url, f"select count(*) from {table}", database))
        for table in ("statements", "customers")
    )
    return Run("command_month" if month else "command", transactions, seconds, rows)


def run_project(url: URL, database: str, folder: Path) -> Run:
    warehouse = warehouse_in(url, database)
    started = time.perf_counter()
    report = load_extract(warehouse, folder)
    seconds = time.perf_counter() - started
    audit = report.audit
    loaded = int(audit.loc[audit["dataset"] == "transactions", "rows_loaded"].sum())
    if report.rows_quarantined:
        console.print(f"[yellow]project: {report.rows_quarantined:,} rows quarantined[/]")
    return Run("project", loaded, seconds, report.rows_loaded)


def run_to_sql(url: URL, database: str, folder: Path, limit: int | None, method: str) -> Run:
    with server_cursor(url, database) as cursor:
        cursor.execute(BARE_TABLES["tx"])
    engine = sa.create_engine(
        url.set(drivername="mysql+mysqldb", database=database),
        connect_args={"charset": "utf8mb4"},
    )
    try:
        with engine.connect():
            pass  # connect outside the timing, as the CLI's connection is not worth measuring
        started = time.perf_counter()
        frame = pd.read_csv(
            folder / "transactions.csv", dtype=str, keep_default_na=False, nrows=limit
        )
        frame["statement_month"] = frame["transaction_date"].str[:7]
        for column in ("merchant_category", "channel"):
            frame[column] = frame[column].replace("", None)
        frame.to_sql(
            "tx",
            engine,
            if_exists="append",
            index=False,
            chunksize=TO_SQL_CHUNKSIZE,
            method="multi" if method == "multi" else None,
        )
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    rows = int(scalar(url, "select count(*) from tx", database))
    if rows != len(frame):
        console.print(f"[yellow]to_sql: {rows:,} rows in the table, {len(frame):,} sent[/]")
    return Run("to_sql", rows, seconds, rows)


def _client() -> str:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise typer.BadParameter("neither the mariadb nor the mysql client is on PATH")
    return client


def run_cli(url: URL, database: str, folder: Path) -> Run:
    with server_cursor(url, database) as cursor:
        for ddl in BARE_TABLES.values():
            cursor.execute(ddl)

    def quoted(name: str) -> str:
        return str(folder / name).replace("\\", "\\\\").replace("'", "\\'")

    command = [
        _client(),
        "--local-infile=1",
        "--batch",
        "--default-character-set=utf8mb4",
        f"--host={url.host or '127.0.0.1'}",
        f"--port={url.port or 3306}",
        f"--user={url.username or 'root'}",
    ]
    if url.query.get("unix_socket"):
        command.append(f"--socket={url.query['unix_socket']}")
    statements = CLI_LOAD.format(
        customers=quoted("customers.csv"),
        statements=quoted("statements.csv"),
        transactions=quoted("transactions.csv"),
    )
    command += [database, "-e", statements]
    env = dict(os.environ)
    if url.password:
        env["MYSQL_PWD"] = url.password  # not on the command line, where ps would show it
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()}")
    transactions = int(scalar(url, "select count(*) from tx", database))
    rows = transactions + sum(
        int(scalar(url, f"select count(*) from {table}", database)) for table in ("st", "cu")
    )
    return Run("cli", transactions, seconds, rows)


# --- profile of the project path ---------------------------------------------------------------


class PhaseTimer:
    """Wall time spent in named functions of the load modules, patched for one run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.missing: list[str] = []
        self._patched: list[tuple[Any, str, Any]] = []

    def add(self, key: str, seconds: float) -> None:
        self.seconds[key] += seconds

    def timed(self, key: Callable[..., str] | str, function: Callable[..., Any]) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            name = key(*args, **kwargs) if callable(key) else key
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return wrapper

    def patch(self, module: Any, name: str, key: Callable[..., str] | str | None = None) -> None:
        original = getattr(module, name, None)
        if original is None:
            self.missing.append(f"{module.__name__}.{name}")
            return
        self._patched.append((module, name, original))
        setattr(module, name, self.timed(key or name, original))

    def patch_connect(self) -> None:
        """Time both connections (the first creates the database when missing)."""
        original = load_module.connect
        timer = self

        @contextlib.contextmanager
        def connect(warehouse: Any) -> Iterator[Any]:
            started = time.perf_counter()
            with original(warehouse) as conn:
                timer.add("connect", time.perf_counter() - started)
                yield conn

        self._patched.append((load_module, "connect", original))
        load_module.connect = connect

    def restore(self) -> None:
        for module, name, original in reversed(self._patched):
            setattr(module, name, original)
        self._patched.clear()


def _file_key(prefix: str, position: int) -> Callable[..., str]:
    def key(*args: Any, **kwargs: Any) -> str:
        path = kwargs.get("path", args[position] if len(args) > position else None)
        return f"{prefix} {Path(path).name}"

    return key


def _table_key(*args: Any, **kwargs: Any) -> str:
    """``bulk_load(cursor, table, ...)`` writes and loads ``<table>.csv``."""
    return f"bulk_load {kwargs.get('table', args[1] if len(args) > 1 else '?')}.csv"


def _dataset_key(*args: Any, **kwargs: Any) -> str:
    return f"read_contract_csv {kwargs.get('dataset', args[1] if len(args) > 1 else '?')}"


def _reason_key(*args: Any, **kwargs: Any) -> str:
    reason = kwargs.get("reason", args[3] if len(args) > 3 else "?")
    return f"check_unique {getattr(reason, 'value', reason)}"


def profile_project(url: URL, database: str, folder: Path) -> None:
    timer = PhaseTimer()
    timer.patch_connect()
    for name in ("ensure_tables", "_warehouse_customers", "_write"):
        timer.patch(load_module, name)
    timer.patch(extract_module, "prepare_extract")  # load imports it when it needs it
    # the customers and statements, written on the main connection beside the checks
    timer.patch(bulk_module.AccountsWriter, "_write", "accounts writer")
    early_runs: list[Any] = []
    original_start = EarlyTransactionLoad.start.__func__

    def start(cls: Any, *args: Any, **kwargs: Any) -> Any:
        early = original_start(cls, *args, **kwargs)
        early_runs.append(early)
        return early

    timer._patched.append((EarlyTransactionLoad, "start", EarlyTransactionLoad.start))
    EarlyTransactionLoad.start = classmethod(start)
    timer.patch(EarlyTransactionLoad, "usable")
    timer.patch(LoadTransaction, "commit")
    timer.patch(bulk_module, "write_csv", _file_key("write_csv", 1))
    # the accounts writer calls bulk.bulk_load; the transactions' load, load's own import of it
    timer.patch(bulk_module, "bulk_load", _table_key)
    timer.patch(load_module, "bulk_load", _table_key)
    timer.patch(load_module, "_insert_quarantine")
    timer.patch(load_module, "_audit")
    timer.patch(extract_module, "read_contract_csv", _dataset_key)
    for name in (
        "_check_customers",
        "_check_statements",
        "_check_transactions",
        "check_known_customer",
        "quarantine_frame",
        "_read_counts",
    ):
        timer.patch(extract_module, name)
    timer.patch(extract_module, "check_unique", _reason_key)
    before = _innodb_status(url)
    cpu = time.process_time()
    try:
        run = run_project(url, database, folder)
    finally:
        timer.restore()
    cpu = time.process_time() - cpu
    after = _innodb_status(url)
    early = early_runs[0] if early_runs else None
    if early is not None:
        timer.add("early load (server)", early.seconds)
    innodb = {name: after[name] - before.get(name, 0) for name in after}
    _print_profile(timer, run, cpu, innodb, early)


def _print_profile(
    timer: PhaseTimer, run: Run, cpu: float, innodb: dict[str, int], early: Any
) -> None:
    s = timer.seconds
    files = ("customers.csv", "statements.csv", "transactions.csv")
    reads = [s[f"read_contract_csv {name.removesuffix('.csv')}"] for name in files]
    writes = [s[f"write_csv {name}"] for name in files]
    loads = [s[f"bulk_load {name}"] - s[f"write_csv {name}"] for name in files]
    checks = {
        "check customers.csv (excl. read)": s["_check_customers"] - reads[0],
        "check statements.csv": s["_check_statements"],
        "check transactions.csv": s["_check_transactions"],
        "check_known_customer (both files)": s["check_known_customer"],
        "check_unique (statements, transactions)": s["check_unique duplicate_statement"]
        + s["check_unique duplicate_transaction_id"],
        "quarantine_frame + read counts": s["quarantine_frame"] + s["_read_counts"],
    }
    prepare_other = s["prepare_extract"] - sum(reads) - sum(checks.values())
    early_note = (
        "not tried (not a three-file extract)"
        if early is None
        else ("kept" if early.kept else "thrown away")
    )
    # customers and statements go in beside the checks (the accounts writer); transactions in
    # _write, only when the early load was not kept
    write_children = [writes[2], loads[2], s["usable"], s["_insert_quarantine"], s["_audit"]]
    accounts = files[:2]
    beside = [(2, f"write temp CSV {name}", writes[i]) for i, name in enumerate(accounts)]
    beside += [(2, f"LOAD DATA {name}", loads[i]) for i, name in enumerate(accounts)]
    top = [
        "connect",
        "ensure_tables",
        "_warehouse_customers",
        "prepare_extract",
        "_write",
    ]
    rows: list[tuple[int, str, float]] = [
        (0, "connect (both connections)", s["connect"]),
        (0, "ensure_tables", s["ensure_tables"]),
        (0, "select warehouse customers", s["_warehouse_customers"]),
        (
            0,
            f"server: early LOAD of transactions.csv, beside the checks ({early_note})",
            s["early load (server)"],
        ),
        (0, "prepare_extract (parse + contract checks)", s["prepare_extract"]),
        *[
            (1, f"read_contract_csv {name}", value)
            for name, value in zip(files, reads, strict=True)
        ],
        *[(1, label, value) for label, value in checks.items()],
        (1, "other (frame selection, months, concat)", prepare_other),
        (1, "main connection: customers + statements, beside the checks", s["accounts writer"]),
        *beside,
        (0, "_write (both branches of the load's XA transaction)", s["_write"]),
        (1, "write temp CSV transactions.csv", writes[2]),
        (1, "LOAD DATA transactions.csv", loads[2]),
        (1, "wait for the early load, then check it", s["usable"]),
        (1, "insert quarantine + audit", s["_insert_quarantine"] + s["_audit"]),
        (
            1,
            "other (month deletes, column selection, load_audit)",
            s["_write"] - sum(write_children),
        ),
        (0, "commit (two-phase, both branches)", s["commit"]),
        (0, "other (temp dir, close, report)", run.seconds - sum(s[k] for k in top) - s["commit"]),
    ]
    table = Table(title=f"project path profile ({run.rows:,} transactions, {run.all_rows:,} rows)")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    table.add_column("share", justify="right")
    for depth, label, seconds in rows:
        style = "bold" if depth == 0 else ""
        table.add_row(
            ("  " * depth) + label, f"{seconds:.2f}", f"{seconds / run.seconds:.0%}", style=style
        )
    table.add_row("total (wall)", f"{run.seconds:.2f}", "100%", style="bold")
    console.print(table)
    console.print(
        f"client CPU (this process, user+sys): {cpu:.2f} s of {run.seconds:.2f} s wall; "
        "InnoDB during the load: "
        f"{innodb.get('Innodb_buffer_pool_pages_flushed', 0):,} pages flushed, "
        f"{innodb.get('Innodb_os_log_written', 0) / 2**20:,.0f} MiB redo written, "
        f"{innodb.get('Innodb_buffer_pool_wait_free', 0):,} waits for a free page"
    )
    if timer.missing:
        console.print(f"[yellow]not profiled (not found): {', '.join(timer.missing)}[/]")


# --- report -------------------------------------------------------------------------------------


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def _report(results: dict[str, list[Run]], repeat: int, to_sql_note: str) -> None:
    best = {method: _best(runs) for method, runs in results.items()}
    table = Table(title="load benchmark" + (f" (best of {repeat})" if repeat > 1 else ""))
    table.add_column("method")
    table.add_column("rows", justify="right")
    table.add_column("seconds" if repeat == 1 else "best s", justify="right")
    if repeat > 1:
        table.add_column("median s", justify="right")
    table.add_column("rows/s", justify="right")
    if repeat > 1:
        table.add_column("rows/s (median)", justify="right")
    table.add_column("vs cli", justify="right")
    table.add_column("vs to_sql", justify="right")
    table.add_column("all rows (rows/s)", justify="right")
    for method in results:
        run = best[method]
        median = statistics.median(r.seconds for r in results[method])
        cells = [method, f"{run.rows:,}", f"{run.seconds:.2f}"]
        if repeat > 1:
            cells.append(f"{median:.2f}")
        cells.append(f"{run.rate:,.0f}")
        if repeat > 1:
            cells.append(f"{run.rows / median:,.0f}")
        cli_ratio = best["cli"].seconds / run.seconds if method != "to_sql" else float("nan")
        cells += [
            f"{cli_ratio:.2f}x",
            f"{run.all_rate / best['to_sql'].all_rate:.2f}x",
            f"{run.all_rows:,} ({run.all_rows / run.seconds:,.0f})",
        ]
        table.add_row(*cells)
    console.print(table)
    if to_sql_note:
        console.print(to_sql_note)
    vs_cli = best["cli"].seconds / best["project"].seconds
    command_vs_cli = best["cli"].seconds / best["command"].seconds
    vs_to_sql = best["project"].all_rate / best["to_sql"].all_rate
    month_note = ""
    if MONTH_METHOD in best:
        month_vs_cli = best["cli"].seconds / best[MONTH_METHOD].seconds
        month_note = f" ({month_vs_cli:.2f}x with --month, as the DAG runs it)"
    met_cli = vs_cli >= TARGET_VS_CLI and command_vs_cli >= TARGET_VS_CLI
    met_to_sql = vs_to_sql >= TARGET_VS_TO_SQL
    verdict = "MET" if met_cli and met_to_sql else "NOT MET"
    console.print(
        f"targets {verdict}: the same three files, project = {vs_cli:.2f}x cli and the whole "
        f"credit-risk load command = {command_vs_cli:.2f}x cli{month_note} (target >= "
        f"{TARGET_VS_CLI}x: "
        f"{'met' if met_cli else 'not met'}); project = {vs_to_sql:.2f}x to_sql in rows/s "
        f"(target >= {TARGET_VS_TO_SQL:g}x: {'met' if met_to_sql else 'not met'})"
    )


@app.command()
def main(
    transactions: Annotated[
        int, typer.Option(min=1000, help="Target transaction count of the generated extract.")
    ] = 1_000_000,
    repeat: Annotated[int, typer.Option(min=1, help="Runs per method (best and median).")] = 1,
    months: Annotated[
        int,
        typer.Option(
            min=1,
            help="Months the extract spans: 12 (a year in one load), or 1 (a monthly drop, what "
            "the DAG loads).",
        ),
    ] = MONTHS,
    db_url: ServerUrl = DEFAULT_SERVER_URL,
    keep_data: Annotated[
        bool, typer.Option(help="Keep the benchmark databases of the last repeat.")
    ] = False,
    profile: Annotated[
        bool, typer.Option(help="Also run the project path once more with a phase breakdown.")
    ] = False,
    to_sql_rows: Annotated[
        int | None,
        typer.Option(min=1000, help="Time to_sql on the first N rows only (default: all)."),
    ] = None,
    to_sql_method: Annotated[
        str,
        typer.Option(
            help="'executemany' (mysqlclient batches rows into multi-row INSERTs; fastest) or "
            "'multi' (pandas builds one multi-row INSERT per chunk; ~7x slower here)."
        ),
    ] = "executemany",
) -> None:
    """Load one realistic extract three ways and compare rows/s."""
    if to_sql_method not in ("executemany", "multi"):
        raise typer.BadParameter("--to-sql-method must be 'executemany' or 'multi'")
    url = make_url(db_url)
    customers = math.ceil(transactions / (months * TRANSACTIONS_PER_CUSTOMER_MONTH))
    folder, counts = cached_extract(customers, months)
    _warm(folder)
    version = scalar(url, "select version()")
    client = subprocess.run([_client(), "--version"], capture_output=True, text=True, check=False)
    console.print(f"server: {version} at {url.render_as_string(hide_password=True)}")
    console.print(f"client: {client.stdout.strip()}")
    console.print(
        f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{platform.machine()}, Python {platform.python_version()}, pandas {pd.__version__}, "
        f"SQLAlchemy {sa.__version__}"
    )
    console.print(
        f"extract: {folder} ({counts['transactions.csv']:,} transactions, "
        f"{counts['statements.csv']:,} statements, {counts['customers.csv']:,} customers)"
    )
    to_sql_note = ""
    if to_sql_rows is not None and to_sql_rows < counts["transactions.csv"]:
        to_sql_note = f"to_sql timed on the first {to_sql_rows:,} rows only (rows/s compared)"
    to_sql_note += ("; " if to_sql_note else "") + (
        f"to_sql: read_csv + to_sql(method={to_sql_method!r}, chunksize={TO_SQL_CHUNKSIZE:,})"
    )

    token = secrets.token_hex(3)
    methods = (*METHODS, MONTH_METHOD) if months == 1 else METHODS
    databases = {method: f"crm_bench_{token}_{method}" for method in methods}
    if profile:
        databases["profile"] = f"crm_bench_{token}_profile"
    results: dict[str, list[Run]] = {method: [] for method in methods}
    runners: dict[str, Callable[[str], Run]] = {
        "cli": lambda db: run_cli(url, db, folder),
        "project": lambda db: run_project(url, db, folder),
        "command": lambda db: run_command(url, db, folder),
        MONTH_METHOD: lambda db: run_command(url, db, folder, START),
        "to_sql": lambda db: run_to_sql(url, db, folder, to_sql_rows, to_sql_method),
    }
    try:
        for attempt in range(1, repeat + 1):
            shift = (attempt - 1) % len(methods)  # each method follows each other one in turn
            for method in methods[shift:] + methods[:shift]:
                database = databases[method]
                recreate_database(url, database)
                settle(url)
                run = runners[method](database)
                results[method].append(run)
                console.print(
                    f"[dim]run {attempt}/{repeat} {method}: {run.rows:,} rows in "
                    f"{run.seconds:.2f} s ({run.rate:,.0f} rows/s)[/]"
                )
                if not (keep_data and attempt == repeat):
                    drop_database(url, database)
        _report(results, repeat, to_sql_note)
        if profile:
            recreate_database(url, databases["profile"])
            settle(url)
            profile_project(url, databases["profile"], folder)
    finally:
        if keep_data:
            console.print(f"kept databases: {', '.join(databases.values())}")
        else:
            for database in databases.values():
                with contextlib.suppress(MySQLdb.Error):
                    drop_database(url, database)


if __name__ == "__main__":
    app()
