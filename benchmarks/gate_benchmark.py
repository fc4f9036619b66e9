"""How the published suite's distribution checks behave at every portfolio size.

For each size and seed: generate a realistic extract, load and publish it into a throwaway database
(``steps.publish_extract(..., validate=False)``), then run the suite's own distribution query
(``published_suite._distribution``: the SQL the gate runs) for every month against the month before
it:

- **false alarms**: on the months as generated (normal months); a month fails when either
  check (High Risk share, utilization PSI) goes beyond its bound;
- **97 % balances**: the month copied with every balance at 97 % of its limit (an extract that
  lost its payments); must be caught every time;
- **+10 points High Risk**: the month copied with 10 % of its statements moved from Medium or
  Low into High Risk (at 95 % utilization); what a 10-point shift is caught at each size.

Figures on the generator's own data: they show the bounds are calibrated (false alarms under
the setting at every size) and where sampling noise makes a 10-point shift undetectable; they
are not a claim about a real portfolio's month-to-month drift. Exit code 0 either way.

    python benchmarks/gate_benchmark.py                                    # 50 .. 100,000
    python benchmarks/gate_benchmark.py --sizes 50,200,1000 --seeds 1,2,3 --months 13
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from bench_db import DEFAULT_SERVER_URL, ServerUrl, server_cursor, throwaway_warehouse
from credit_risk import steps
from credit_risk.generate.realistic import generate_realistic
from credit_risk.quality.published_suite import _distribution
from credit_risk.settings import get_settings

console = Console(width=150)

SCRATCH = "bench_gate_month"
SEED_FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "bank_transactions.csv"
SCENARIOS = {
    "97% balances": (
        "update {table} set outstanding_balance = round(credit_limit * 0.97, 2), "
        "utilization_pct = 97.00, risk_category = 'High Risk' "
        "where has_statement and credit_limit is not null"
    ),
    "+10 points High Risk": (
        "update {table} set utilization_pct = 95.00, risk_category = 'High Risk' "
        "where has_statement and risk_category in ('Medium Risk', 'Low Risk') "
        "order by rand({seed}) limit {rows}"
    ),
}


def _verdict(cursor, month: str, months: list[str], table: str) -> dict:
    """The distribution row of ``month`` in ``table`` against the published month before."""
    settings = get_settings()
    dataset = _distribution(month, months, table, settings)
    cursor.execute(dataset.query)
    names = [column[0] for column in cursor.description]
    row = dict(zip(names, cursor.fetchone(), strict=True))
    row["share_fails"] = float(row["high_risk_share_shift_beyond_noise"]) > 0
    row["psi_fails"] = float(row["utilization_psi_beyond_noise"]) > 0
    row["fails"] = row["share_fails"] or row["psi_fails"]
    return row


def _measure(url: str, size: int, seed: int, months: int, density: float, keep: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "extract"
        generate_realistic(
            folder,
            customers=size,
            months=months,
            start="2024-01",
            seed=seed,
            transactions_per_month=density,
        )
        return _measure_source(url, folder, f"{size:,}", seed, keep)


def _measure_source(url: str, source: Path, label: str, seed: int, keep: bool) -> list[dict]:
    """Every month of ``source`` against the month before, as delivered and damaged."""
    results = []
    with throwaway_warehouse(url, "bench_gate", keep=keep, say=console.print) as warehouse:
        report = steps.publish_extract(warehouse, source, None, validate=False)
        month_list = report.loaded["months"]
        with server_cursor(url, warehouse.database) as cursor:
            for month in month_list[1:]:
                normal = _verdict(cursor, month, [month], "published_customer_month")
                results.append({"size": label, "seed": seed, "case": "normal", **normal})
                for case, update in SCENARIOS.items():
                    cursor.execute(f"drop table if exists {SCRATCH}")
                    cursor.execute(
                        f"create table {SCRATCH} as select * from published_customer_month "
                        f"where month = '{month}'"
                    )
                    rows = round(0.10 * int(normal["statements"]))
                    cursor.execute(update.format(table=SCRATCH, seed=seed, rows=rows))
                    verdict = _verdict(cursor, month, [month], SCRATCH)
                    results.append({"size": label, "seed": seed, "case": case, **verdict})
    return results


def _rate(frame: pd.DataFrame, column: str = "fails") -> str:
    return f"{frame[column].mean():.1%} ({int(frame[column].sum())}/{len(frame)})"


def main(
    sizes: Annotated[str, typer.Option(help="Customers per portfolio, comma-separated.")] = (
        "50,200,1000,10000,100000"
    ),
    seeds: Annotated[str, typer.Option(help="Seeds, comma-separated.")] = "1,2,3,4,5",
    months: Annotated[int, typer.Option(min=2, help="Months per portfolio.")] = 13,
    large_seeds: Annotated[
        int, typer.Option(min=1, help="Seeds used at 100,000 customers and more (time).")
    ] = 2,
    density: Annotated[
        float, typer.Option(help="Transactions per customer-month (the gate reads statements).")
    ] = 1.0,
    holdout: Annotated[
        Path | None,
        typer.Option(
            help="Also measure an extract the generator did not make (default: the seed "
            "project's bank_transactions.csv beside the repository, when present)."
        ),
    ] = SEED_FIXTURE,
    db_url: ServerUrl = DEFAULT_SERVER_URL,
    keep_data: Annotated[bool, typer.Option(help="Keep the benchmark databases.")] = False,
) -> None:
    settings = get_settings()
    seed_list = [int(seed) for seed in seeds.split(",")]
    rows: list[dict] = []
    started = time.perf_counter()
    for size in (int(size) for size in sizes.split(",")):
        for seed in seed_list[:large_seeds] if size >= 100_000 else seed_list:
            began = time.perf_counter()
            rows += _measure(db_url, size, seed, months, density, keep_data)
            console.print(f"{size:>7,} customers, seed {seed}: {time.perf_counter() - began:.0f} s")
    if holdout is not None and holdout.exists():
        rows += _measure_source(db_url, holdout, f"hold-out: {holdout.name}", 0, keep_data)
        console.print(f"hold-out {holdout}")
    frame = pd.DataFrame(rows)
    table = Table(
        title="distribution checks: false-alarm setting "
        f"{settings.distribution_false_alarm_rate:.0%}, High Risk shift "
        f"{settings.high_risk_share_max_shift:.0%}, PSI "
        f"{settings.utilization_psi_max} ({time.perf_counter() - started:.0f} s)"
    )
    for column in (
        "customers",
        "seeds",
        "normal months: false alarms",
        "of which share / PSI",
        "97% balances caught",
        "+10 points caught",
        "median shift allowed",
        "largest normal shift / PSI",
    ):
        table.add_column(column, justify="right")
    for size, group in frame.groupby("size", sort=False):
        normal = group[group["case"] == "normal"]
        table.add_row(
            str(size),
            str(group["seed"].nunique()),
            _rate(normal),
            f"{int(normal['share_fails'].sum())} / {int(normal['psi_fails'].sum())}",
            _rate(group[group["case"] == "97% balances"]),
            _rate(group[group["case"] == "+10 points High Risk"]),
            f"{normal['high_risk_share_shift_allowed'].astype(float).median():.3f}",
            f"{normal['high_risk_share_shift'].astype(float).max():.3f} / "
            f"{normal['utilization_psi'].astype(float).max():.3f}",
        )
    console.print(table)
    normal = frame[frame["case"] == "normal"]
    console.print(
        f"all sizes: false alarms {_rate(normal)} (target <= 1%); 97% balances caught "
        f"{_rate(frame[frame['case'] == '97% balances'])} (target 100%)"
    )


if __name__ == "__main__":
    typer.run(main)
