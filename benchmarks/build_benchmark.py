"""Build benchmark: how long a full rebuild takes, by the memory its temporary tables get.

The build (``warehouse.build``) runs the per-month models into the build's candidate tables;
they group and join through the server's internal temporary tables, which go to disk past
``tmp_table_size`` / ``max_heap_table_size`` (16 MB by default on MariaDB and MySQL). The build
sets both for its own session to ``CREDIT_RISK_BUILD_TEMP_TABLE_MB`` (default 512).

One run loads the load benchmark's cached realistic extract (about 1M transactions, 12 months)
into a throwaway database once, then rebuilds every month (``build --full``) alternately with
the servers' default (16 MB) and with the project's setting, and prints seconds and the ratio.
It is a measurement, not a test: the exit code is 0 whatever the figures.

    python benchmarks/build_benchmark.py                    # 1M transactions, 2 builds each
    python benchmarks/build_benchmark.py --transactions 200000 --repeat 3
"""

from __future__ import annotations

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
from credit_risk.warehouse import build
from credit_risk.warehouse.db import connect
from credit_risk.warehouse.load import load_extract
from load_benchmark import MONTHS, TRANSACTIONS_PER_CUSTOMER_MONTH, cached_extract, settle

SERVER_DEFAULT_MB = 16

console = Console()
app = typer.Typer(add_completion=False)


def timed_build(warehouse, megabytes: int) -> float:
    started = time.perf_counter()
    built = build.build(warehouse, full=True, settings=Settings(build_temp_table_mb=megabytes))
    seconds = time.perf_counter() - started
    build.finish_build(warehouse, built.build_id, build.SUPERSEDED, "benchmark")
    return seconds


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
    """Rebuild every month with 16 MB and with the project's temporary-table memory."""
    customers = math.ceil(transactions / (MONTHS * TRANSACTIONS_PER_CUSTOMER_MONTH))
    folder, counts = cached_extract(customers)
    console.print(
        f"extract: {folder} ({counts['transactions.csv']:,} transactions, "
        f"{counts['statements.csv']:,} statements)"
    )
    settings = (SERVER_DEFAULT_MB, megabytes)
    totals: dict[int, list[float]] = {size: [] for size in settings}
    with throwaway_warehouse(db_url, "crm_build", keep=keep_data, say=console.print) as warehouse:
        started = time.perf_counter()
        load_extract(warehouse, folder)
        with connect(warehouse) as conn:  # the loaded gate's verdict, without running it
            conn.cursor().execute("update month_ledger set state = 'validated'")
            conn.commit()
        console.print(f"loaded in {time.perf_counter() - started:.1f} s")
        for attempt in range(1, repeat + 1):
            order = settings if attempt % 2 else settings[::-1]  # neither always goes first
            for size in order:
                settle(make_url(db_url))
                seconds = timed_build(warehouse, size)
                totals[size].append(seconds)
                console.print(f"[dim]build {attempt}/{repeat} with {size} MB: {seconds:.1f} s[/]")

    best_total = [min(totals[size]) for size in settings]
    median_total = [statistics.median(totals[size]) for size in settings]
    table = Table(title=f"full rebuild of {MONTHS} months (best of {repeat})")
    for size in settings:
        table.add_column(f"{size} MB s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_row(
        *(f"{value:.1f}" for value in best_total), f"[bold]{best_total[0] / best_total[1]:.1f}x[/]"
    )
    console.print(table)
    console.print(
        f"medians: {median_total[0]:.1f} s with {settings[0]} MB, {median_total[1]:.1f} s with "
        f"{settings[1]} MB ({median_total[0] / median_total[1]:.1f}x)"
    )


if __name__ == "__main__":
    app()
