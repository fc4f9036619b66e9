"""Refresh growth: does a month cost the same in year two as in month two?

Runs the DAG's whole chain for one month (input gate, load, loaded gate, build, published
gate, publish, anomalies and their suite, scoring and its suite), month after month, into one
throwaway warehouse, and prints per month the seconds of each stage and the peak RSS. Then it
reloads an early month under the full history. Each month runs in a fresh process (as each
Airflow task does), so the peak RSS is that month's alone.

Targets, as ratios in one run: the last month <= 1.2x month 2 (same month size), and the
reload of an early month <= 3x a new month (it rebuilds that month and the five after it).

    python benchmarks/refresh_growth.py                                   # 20,000 x 24
    python benchmarks/refresh_growth.py --customers 100000 --transactions-per-month 17

It is a measurement, not a test: the exit code is 0 whatever the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import typer
from rich.console import Console
from rich.table import Table

from bench_db import DEFAULT_SERVER_URL, ServerUrl, drop_database, recreate_database, warehouse_in

REPO = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO / "data" / "bench"
START = "2024-01"
SEED = 42
STAGES = (
    "input gate",
    "load",
    "loaded gate",
    "build",
    "published gate",
    "publish",
    "anomalies",
    "score",
)
TARGET_GROWTH = 1.2
TARGET_RELOAD = 3.0

console = Console(width=None if sys.stdout.isatty() else 160, soft_wrap=True)
app = typer.Typer(add_completion=False)


# --- data -----------------------------------------------------------------------------------------


def dataset(customers: int, months: int, density: float) -> tuple[Path, dict[str, int]]:
    """The generated extract and its monthly drops, made once and cached."""
    from credit_risk.generate.realistic import generate_realistic

    folder = CACHE_ROOT / f"growth-c{customers}-m{months}-t{density:g}-{START}-s{SEED}"
    counts_file = folder / "counts.json"
    if counts_file.is_file():
        return folder, json.loads(counts_file.read_text())
    scratch = CACHE_ROOT / f".{folder.name}.{secrets.token_hex(4)}"
    console.print(f"generating {customers:,} customers x {months} months into {folder} ...")
    started = time.perf_counter()
    try:
        counts = generate_realistic(
            scratch / "full",
            customers=customers,
            months=months,
            start=START,
            seed=SEED,
            transactions_per_month=density,
        )
        split_months(scratch / "full", scratch / "drops")
        (scratch / "counts.json").write_text(json.dumps(counts, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    console.print(f"generated and split in {time.perf_counter() - started:.0f} s")
    return folder, counts


def split_months(source: Path, drops: Path) -> None:
    """Write each month's drop (statements, transactions, the customer list) in one pass over
    the files, a block at a time, so a 30M-row extract never sits in memory."""
    month_of = {"statements.csv": "statement_month", "transactions.csv": "transaction_date"}
    for name, column in month_of.items():
        reader = pacsv.open_csv(
            source / name,
            read_options=pacsv.ReadOptions(block_size=64 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={field: pa.string() for field in _header(source / name)}
            ),
        )
        writers: dict[str, pacsv.CSVWriter] = {}
        try:
            for batch in reader:
                table = pa.Table.from_batches([batch])
                months = pa.compute.utf8_slice_codeunits(table.column(column), 0, 7)
                for month in pa.compute.unique(months).to_pylist():
                    rows = table.filter(pa.compute.equal(months, month))
                    if month not in writers:
                        (drops / month).mkdir(parents=True, exist_ok=True)
                        writers[month] = pacsv.CSVWriter(
                            drops / month / name,
                            rows.schema,
                            write_options=pacsv.WriteOptions(quoting_style="needed"),
                        )
                    writers[month].write_table(rows)
        finally:
            for writer in writers.values():
                writer.close()
    for month_dir in drops.iterdir():
        shutil.copyfile(source / "customers.csv", month_dir / "customers.csv")


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().strip().split(",")


# --- one month, in its own process --------------------------------------------------------------


def _peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux only: resets VmHWM, the peak RSS
        Path("/proc/self/clear_refs").write_text("5")


def run_month(db_url: str, drop: Path, month: str, warehouse_only: bool = False) -> None:
    """The chain for one month (what the parent process times); prints JSON."""
    from credit_risk import pipeline
    from credit_risk.warehouse.db import warehouse_from_url
    from credit_risk.warehouse.load import load_extract

    warehouse = warehouse_from_url(db_url)
    run_id = f"growth-{month}"
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}
    state: dict[str, Any] = {}

    def stage(name: str, work: Callable[[], Any]) -> Any:
        _reset_peak_rss()
        started = time.perf_counter()
        result = work()
        timings[name] = time.perf_counter() - started
        peaks[name] = _peak_rss_mb()
        return result

    if not warehouse_only:
        stage("input gate", lambda: pipeline.check_input(warehouse, drop, month, run_id))
    stage("load", lambda: load_extract(warehouse, drop, month, run_id=run_id))
    stage("loaded gate", lambda: pipeline.check_loaded(warehouse, month, run_id))
    state["build"] = stage("build", lambda: pipeline.build_refresh(warehouse, month, run_id))
    stage("published gate", lambda: pipeline.check_published(warehouse, state["build"], run_id))
    publication = stage(
        "publish", lambda: pipeline.publish_build(warehouse, state["build"], run_id)
    )
    if not warehouse_only:
        stage("anomalies", lambda: pipeline.detect_anomalies(warehouse, month, run_id))
        stage("score", lambda: pipeline.score_customers(warehouse, month, run_id))
    print(
        json.dumps(
            {
                "month": month,
                "seconds": timings,
                "peak_rss_mb": peaks,
                "built_months": publication.months,
                "customer_month_rows": publication.customer_month_rows,
                "transaction_rows": publication.transaction_rows,
            }
        )
    )


def _child(db_url: str, drop: Path, month: str, warehouse_only: bool = False) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-db-url",
        db_url,
        "--child-drop",
        str(drop),
        "--child-month",
        month,
        *(["--child-warehouse-only"] if warehouse_only else []),
    ]
    env = {**os.environ, "CREDIT_RISK_DATA_DOCS_DIR": str(CACHE_ROOT / "growth-data-docs")}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode:
        raise RuntimeError(f"month {month} failed:\n{result.stderr[-4000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    return figures


# --- report -------------------------------------------------------------------------------------


def _total(figures: dict[str, Any]) -> float:
    return sum(figures["seconds"].values())


def _report(rows: list[dict[str, Any]], reload: dict[str, Any] | None) -> None:
    table = Table(title="refresh growth: seconds per stage, peak RSS (MB) of the month's process")
    table.add_column("month")
    for name in STAGES:
        table.add_column(name, justify="right")
    table.add_column("total s", justify="right")
    table.add_column("peak RSS", justify="right")
    table.add_column("built", justify="left")
    shown = [*rows, *([reload] if reload else [])]
    for figures in shown:
        label = figures["month"] + (" (reload)" if figures is reload else "")
        table.add_row(
            label,
            *(
                f"{figures['seconds'][name]:.1f}" if name in figures["seconds"] else "-"
                for name in STAGES
            ),
            f"{_total(figures):.1f}",
            f"{max(figures['peak_rss_mb'].values()):.0f}",
            f"{len(figures['built_months'])} month(s)",
        )
    console.print(table)
    if len(rows) < 2:
        return
    full = [figures for figures in rows if not figures.get("warehouse_only")]
    if len(full) < 2:
        return
    second, last = full[1] if len(full) == len(rows) else full[0], full[-1]
    growth = _total(last) / _total(second)
    console.print(
        f"month {last['month']} / month {second['month']}: {growth:.2f}x (target <= "
        f"{TARGET_GROWTH}x: {'met' if growth <= TARGET_GROWTH else 'not met'})"
    )
    for name in STAGES:
        before, after = second["seconds"].get(name, 0.0), last["seconds"].get(name, 0.0)
        ratio = after / max(before, 1e-9)
        console.print(f"  {name:15s} {before:7.2f} s -> {after:7.2f} s ({ratio:.2f}x)")
    if reload:
        ratio = _total(reload) / _total(last)
        console.print(
            f"reload of {reload['month']} under {len(rows)} months / new month {last['month']}: "
            f"{ratio:.2f}x (target <= {TARGET_RELOAD}x: "
            f"{'met' if ratio <= TARGET_RELOAD else 'not met'})"
        )
    peak = max(max(figures["peak_rss_mb"].values()) for figures in shown)
    slowest = max(shown, key=_total)
    console.print(
        f"peak RSS of any month: {peak:.0f} MB; slowest refresh: {slowest['month']} "
        f"{_total(slowest):.1f} s"
    )


@app.command()
def main(
    customers: Annotated[int, typer.Option(min=10)] = 20_000,
    months: Annotated[int, typer.Option(min=3)] = 24,
    transactions_per_month: Annotated[
        float, typer.Option(help="Generator density (default: its own, ~3.9 authorised).")
    ] = 5.5,
    reload_month: Annotated[
        int, typer.Option(min=1, help="Month number to reload at the end.")
    ] = 3,
    db_url: ServerUrl = DEFAULT_SERVER_URL,
    keep_data: Annotated[bool, typer.Option(help="Keep the benchmark database.")] = False,
    json_out: Annotated[Path | None, typer.Option(help="Also write the figures here.")] = None,
    child_db_url: Annotated[str | None, typer.Option(hidden=True)] = None,
    child_drop: Annotated[Path | None, typer.Option(hidden=True)] = None,
    child_month: Annotated[str | None, typer.Option(hidden=True)] = None,
    child_warehouse_only: Annotated[bool, typer.Option(hidden=True)] = False,
    full_chain_from: Annotated[
        int,
        typer.Option(
            min=1,
            help="Month number from which the whole chain runs; the months before only load, "
            "gate, build and publish (to reach a long history quickly at scale; they are "
            "reported apart, not compared).",
        ),
    ] = 1,
) -> None:
    """Refresh month after month; print each stage's time and the peak RSS."""
    from credit_risk.months import month_range

    if child_month is not None:
        run_month(child_db_url, child_drop, child_month, child_warehouse_only)
        return
    folder, counts = dataset(customers, months, transactions_per_month)
    database = f"crm_bench_growth_{secrets.token_hex(3)}"
    console.print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; extract: {counts['transactions.csv']:,} "
        f"transactions, {counts['statements.csv']:,} "
        f"statements ({counts['transactions.csv'] / counts['statements.csv']:.1f} "
        "per customer-month)"
    )
    from credit_risk.analytics.model import ModelSettings

    model = ModelSettings()
    console.print(
        f"model: trains on {model.window_months} labelled months, at most "
        f"{model.max_training_rows:,} rows, retrained every {model.retrain_every_months} "
        "month(s) (CREDIT_RISK_MODEL_*)"
    )
    recreate_database(db_url, database)
    url = warehouse_in(db_url, database).url.render_as_string(hide_password=False)
    rows: list[dict[str, Any]] = []
    reload = None
    try:
        for number, month in enumerate(month_range(START, months), start=1):
            warehouse_only = number < full_chain_from
            figures = _child(url, folder / "drops" / month, month, warehouse_only)
            figures["warehouse_only"] = warehouse_only
            rows.append(figures)
            console.print(
                f"[dim]{month}: {_total(figures):.1f} s "
                + ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["seconds"].items())
                + f"; peak {max(figures['peak_rss_mb'].values()):.0f} MB[/]"
            )
        reload_name = month_range(START, months)[reload_month - 1]
        reload = _child(url, folder / "drops" / reload_name, reload_name)
        _report(rows, reload)
        if json_out:
            json_out.write_text(json.dumps({"months": rows, "reload": reload}, indent=2))
    finally:
        if not keep_data:
            drop_database(db_url, database)


if __name__ == "__main__":
    app()
