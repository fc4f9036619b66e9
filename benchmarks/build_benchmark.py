"""Build benchmark: how long the snapshot build takes, by the memory its temporary tables get.

The build (``publish.build_candidate``) copies the model views into ``candidate_*`` tables; the
views group and join whole tables through the server's internal temporary tables, which go to
disk past ``tmp_table_size`` / ``max_heap_table_size`` (16 MB by default on MariaDB and MySQL).
The build sets both for its own session to ``CREDIT_RISK_BUILD_TEMP_TABLE_MB`` (default 512).

One run loads the load benchmark's cached realistic extract (about 1M transactions) into a
throwaway database once, then builds the candidate snapshot alternately with the servers'
default (16 MB) and with the project's setting, and prints seconds per table and the ratio.
It is a measurement, not a test: the exit code is 0 whatever the figures.

    python benchmarks/build_benchmark.py                    # 1M transactions, 2 builds each
    python benchmarks/build_benchmark.py --transactions 200000 --repeat 3
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench_db import DEFAULT_SERVER_URL, ServerUrl, throwaway_warehouse
from credit_risk.settings import Settings
from credit_risk.warehouse import publish
from credit_risk.warehouse.load import load_extract
from load_benchmark import MONTHS, TRANSACTIONS_PER_CUSTOMER_MONTH, cached_extract, settle

SERVER_DEFAULT_MB = 16

console = Console()
app = typer.Typer(add_completion=False)


class TableTimer(logging.Handler):
    """Seconds between the build's "built <candidate> from <view>" log lines."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("built candidate_"):
            now = time.perf_counter()
            self.seconds[message.split()[1]] = now - self.last
            self.last = now


def timed_build(warehouse, megabytes: int) -> tuple[float, dict[str, float]]:
    timer = TableTimer()
    logger = logging.getLogger(publish.__name__)
    logger.addHandler(timer)
    logger.setLevel(logging.INFO)
    started = time.perf_counter()
    timer.last = started
    try:
        publish.build_candidate(warehouse, Settings(build_temp_table_mb=megabytes))
    finally:
        logger.removeHandler(timer)
    return time.perf_counter() - started, timer.seconds


@app.command()
def main(
    transactions: Annotated[
        int, typer.Option(min=1000, help="Target transaction count of the extract.")
    ] = 1_000_000,
    repeat: Annotated[int, typer.Option(min=1, help="Builds per setting (best and median).")] = 2,
    megabytes: Annotated[
        int, typer.Option(min=16, help="The project's setting to compare with the default.")
    ] = Settings.model_fields["build_temp_table_mb"].default,
    db_url: ServerUrl = DEFAULT_SERVER_URL,
    keep_data: Annotated[bool, typer.Option(help="Keep the benchmark database.")] = False,
) -> None:
    """Build the candidate snapshot with 16 MB and with the project's temporary-table memory."""
    customers = math.ceil(transactions / (MONTHS * TRANSACTIONS_PER_CUSTOMER_MONTH))
    folder, counts = cached_extract(customers)
    console.print(
        f"extract: {folder} ({counts['transactions.csv']:,} transactions, "
        f"{counts['statements.csv']:,} statements)"
    )
    settings = (SERVER_DEFAULT_MB, megabytes)
    totals: dict[int, list[float]] = {size: [] for size in settings}
    tables: dict[int, dict[str, list[float]]] = {size: {} for size in settings}
    with throwaway_warehouse(db_url, "crm_build", keep=keep_data, say=console.print) as warehouse:
        started = time.perf_counter()
        load_extract(warehouse, folder)
        console.print(f"loaded in {time.perf_counter() - started:.1f} s")
        for attempt in range(1, repeat + 1):
            order = settings if attempt % 2 else settings[::-1]  # neither always goes first
            for size in order:
                settle(make_url(db_url))
                seconds, per_table = timed_build(warehouse, size)
                totals[size].append(seconds)
                for name, value in per_table.items():
                    tables[size].setdefault(name, []).append(value)
                console.print(f"[dim]build {attempt}/{repeat} with {size} MB: {seconds:.1f} s[/]")

    table = Table(title=f"snapshot build (best of {repeat})")
    table.add_column("candidate table")
    for size in settings:
        table.add_column(f"{size} MB s", justify="right")
    table.add_column("ratio", justify="right")
    for name in tables[settings[0]]:
        best = [min(tables[size].get(name, [math.nan])) for size in settings]
        table.add_row(name, *(f"{value:.1f}" for value in best), f"{best[0] / best[1]:.1f}x")
    best_total = [min(totals[size]) for size in settings]
    median_total = [statistics.median(totals[size]) for size in settings]
    table.add_row(
        "[bold]build (views included)[/]",
        *(f"{value:.1f}" for value in best_total),
        f"[bold]{best_total[0] / best_total[1]:.1f}x[/]",
    )
    console.print(table)
    console.print(
        f"medians: {median_total[0]:.1f} s with {settings[0]} MB, {median_total[1]:.1f} s with "
        f"{settings[1]} MB ({median_total[0] / median_total[1]:.1f}x)"
    )


if __name__ == "__main__":
    app()
