"""Celery workers: what a second worker gives the DAG, measured through a real CeleryExecutor.

For each worker count it starts a real Airflow (api-server, scheduler, dag-processor on
PostgreSQL metadata, Redis broker, ``airflow celery worker`` processes: the test suite's
``AirflowStack``), backfills the same generated months into a fresh warehouse through
``/api/v2/backfills``, waits for every run, and prints the wall time of the backfill and, per
task, the seconds its instances ran (summed over months and shards) and which workers ran
them. The data is generated once, before any stack starts, so no run pays for it.

    python benchmarks/celery_workers.py                                 # 20,000 x 12, 1 and 2
    python benchmarks/celery_workers.py --customers 100000 --transactions-per-month 17

Every worker takes both queues and ``--concurrency`` tasks at once; the month's scoring fans
out over ``--shards`` mapped ``score_shard`` tasks. It is a measurement, not a test: the exit
code is 0 whatever the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bench_db import DEFAULT_SERVER_URL, ServerUrl, drop_database, recreate_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test suite's AirflowStack: the same stack the tests drive

from tests.integration.airflow_stack import AirflowStack  # noqa: E402

CACHE_ROOT = REPO / "data" / "bench"
DAG_ID = "credit_risk_monthly"
START = "2024-01"
ANALYTICS_QUEUE = "analytics"

console = Console(width=None if sys.stdout.isatty() else 160, soft_wrap=True)
app = typer.Typer(add_completion=False)


def generation_env(customers: int, months: int, density: float | None) -> dict[str, str]:
    """The DAG's generated-data settings, the same for every worker count."""
    name = f"celery-c{customers}-m{months}" + ("" if density is None else f"-t{density:g}")
    env = {
        "CREDIT_RISK_DATA_DIR": str(CACHE_ROOT / name),
        "CREDIT_RISK_GENERATE_PROFILE": "realistic",
        "CREDIT_RISK_GENERATE_CUSTOMERS": str(customers),
        "CREDIT_RISK_GENERATE_START": START,
        "CREDIT_RISK_GENERATE_MONTHS": str(months),
    }
    if density is not None:
        env["CREDIT_RISK_GENERATE_TRANSACTIONS_PER_MONTH"] = f"{density:g}"
    return env


@contextlib.contextmanager
def environment(values: dict[str, str]):
    """``values`` in os.environ (and the cached settings) for the block."""
    from credit_risk.settings import get_settings

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def pregenerate(generation: dict[str, str], months: list[str]) -> int:
    """Generate the dataset and cut every month's drop, as the DAG's prepare_extract would;
    returns the transactions generated."""
    import pyarrow.csv as pacsv

    from credit_risk import pipeline
    from credit_risk.settings import get_settings

    with environment(generation):
        for month in months:
            pipeline.month_extract_from_generator(month)
        settings = get_settings()
        dataset = pipeline.generated_dataset(
            pipeline.GenerationSpec.from_settings(settings), settings.data_dir
        )
        table = pacsv.read_csv(
            dataset / "transactions.csv",
            convert_options=pacsv.ConvertOptions(include_columns=["transaction_id"]),
        )
        return table.num_rows


def _seconds(ti: dict) -> float:
    if ti.get("duration") is not None:
        return float(ti["duration"])
    start, end = ti.get("start_date"), ti.get("end_date")
    if not (start and end):
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def wait_for_backfill(airflow: AirflowStack, count: int, timeout: float) -> list[dict]:
    """The backfill's runs once ``count`` exist and all have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [run for run in airflow.runs(DAG_ID) if run["run_type"] == "backfill"]
        if len(runs) >= count and all(run["state"] in {"success", "failed"} for run in runs):
            return runs
        time.sleep(5)
    raise TimeoutError(f"the backfill did not finish in {timeout:.0f} s: {runs}")


def run_backfill(
    workers: int,
    *,
    generation: dict[str, str],
    months: list[str],
    shards: int,
    concurrency: int,
    max_active_runs: int,
    server_url: str,
    timeout: float,
) -> dict[str, Any]:
    """One backfill of ``months`` on ``workers`` Celery workers; its figures."""
    database = f"bench_celery_{workers}w_{secrets.token_hex(3)}"
    recreate_database(server_url, database)
    warehouse_url = make_url(server_url).set(database=database).render_as_string(False)
    home = CACHE_ROOT / "airflow" / f"{workers}-workers-{secrets.token_hex(3)}"
    names = [f"worker-{index}" for index in range(1, workers + 1)]
    env = {
        "AIRFLOW_CONN_CREDIT_RISK_MYSQL": warehouse_url,
        **generation,
        "CREDIT_RISK_SHARDS": str(shards),
        "CREDIT_RISK_ANALYTICS_QUEUE": ANALYTICS_QUEUE,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__CORE__PARALLELISM": str(max(8, workers * concurrency)),
    }
    try:
        with AirflowStack.running(
            home,
            env,
            DAG_ID,
            workers={name: ["default", ANALYTICS_QUEUE] for name in names},
        ) as airflow:
            began = time.monotonic()
            response = airflow.api(
                "POST",
                "/backfills",
                json={
                    "dag_id": DAG_ID,
                    "from_date": f"{months[0]}-01T00:00:00Z",
                    "to_date": f"{months[-1]}-01T00:00:00Z",
                    "max_active_runs": max_active_runs,
                    "reprocess_behavior": "none",
                },
            )
            if response.status_code != 200:
                raise RuntimeError(f"backfill refused: {response.text}")
            # a paused DAG's backfill stays queued; unpausing also queues the latest scheduled
            # month, outside the generated data: it fails at once and is left out below
            response = airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
            if response.status_code != 200:
                raise RuntimeError(f"unpause refused: {response.text}")
            runs = wait_for_backfill(airflow, len(months), timeout)
            wall = time.monotonic() - began
            instances = [
                ti for run in runs for ti in airflow.task_instance_list(DAG_ID, run["dag_run_id"])
            ]
    finally:
        with contextlib.suppress(Exception):
            drop_database(server_url, database)
    per_task: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"seconds": 0.0, "instances": 0, "hosts": set()}
    )
    for ti in instances:
        if ti["state"] not in {"success", "failed"}:
            continue
        task = per_task[ti["task_id"]]
        task["seconds"] += _seconds(ti)
        task["instances"] += 1
        task["hosts"].add(ti["hostname"] or "?")
    return {
        "workers": workers,
        "wall_seconds": wall,
        "runs": {run["data_interval_start"][:7]: run["state"] for run in runs},
        "tasks": {
            name: {**figures, "hosts": sorted(figures["hosts"])}
            for name, figures in per_task.items()
        },
    }


def report(results: list[dict[str, Any]], transactions: int, options: dict[str, Any]) -> None:
    """A table of task seconds per worker count, and the wall times as ratios."""
    console.print(
        f"[bold]{options['customers']:,} customers x {options['months']} months[/bold], "
        f"{transactions:,} transactions; {options['shards']} shard(s), worker concurrency "
        f"{options['concurrency']}, backfill max_active_runs {options['max_active_runs']}; "
        f"{platform.node()}, {os.cpu_count()} CPUs"
    )
    table = Table(
        "task", *(f"{result['workers']} worker(s): s (instances, hosts)" for result in results)
    )
    tasks = sorted({task for result in results for task in result["tasks"]})
    for task in tasks:
        cells = []
        for result in results:
            figures = result["tasks"].get(task)
            cells.append(
                "-"
                if figures is None
                else f"{figures['seconds']:.1f} ({figures['instances']}, {len(figures['hosts'])})"
            )
        table.add_row(task, *cells)
    table.add_row(
        "[bold]backfill wall time[/bold]",
        *(f"[bold]{result['wall_seconds']:.1f}[/bold]" for result in results),
    )
    table.add_row(
        "task seconds summed",
        *(f"{sum(t['seconds'] for t in result['tasks'].values()):.1f}" for result in results),
    )
    console.print(table)
    base = results[0]["wall_seconds"]
    for result in results:
        failed = sorted(month for month, state in result["runs"].items() if state != "success")
        console.print(
            f"{result['workers']} worker(s): wall {result['wall_seconds']:.1f} s = "
            f"{result['wall_seconds'] / base:.2f}x the first"
            + (f"; [red]failed runs: {', '.join(failed)}[/red]" if failed else "")
        )


@app.command()
def main(
    customers: Annotated[int, typer.Option(help="Generated customers.")] = 20_000,
    months: Annotated[int, typer.Option(help="Months backfilled, from 2024-01.")] = 12,
    workers: Annotated[
        list[int], typer.Option("--workers", help="Worker counts to compare (repeat it).")
    ] = [1, 2],  # noqa: B006 (typer reads the default, never mutates it)
    shards: Annotated[int, typer.Option(help="CREDIT_RISK_SHARDS: the scoring's shards.")] = 2,
    concurrency: Annotated[int, typer.Option(help="Tasks each worker runs at once.")] = 2,
    max_active_runs: Annotated[int, typer.Option(help="Months of the backfill at once.")] = 2,
    transactions_per_month: Annotated[
        float | None, typer.Option(help="The generator's density (empty: its default).")
    ] = None,
    timeout_minutes: Annotated[float, typer.Option(help="Longest wait for one backfill.")] = 180,
    db_url: ServerUrl = DEFAULT_SERVER_URL,
    json_out: Annotated[Path | None, typer.Option(help="Also write the figures here.")] = None,
) -> None:
    from credit_risk.months import month_range

    span = month_range(START, months)
    generation = generation_env(customers, months, transactions_per_month)
    with console.status("generating the data once"):
        transactions = pregenerate(generation, span)
    results = []
    for count in workers:
        with console.status(f"backfilling {months} months on {count} worker(s)"):
            results.append(
                run_backfill(
                    count,
                    generation=generation,
                    months=span,
                    shards=shards,
                    concurrency=concurrency,
                    max_active_runs=max_active_runs,
                    server_url=db_url,
                    timeout=timeout_minutes * 60,
                )
            )
    options = {
        "customers": customers,
        "months": months,
        "shards": shards,
        "concurrency": concurrency,
        "max_active_runs": max_active_runs,
        "transactions_per_month": transactions_per_month,
    }
    report(results, transactions, options)
    if json_out:
        json_out.write_text(
            json.dumps(
                {"options": options, "transactions": transactions, "results": results}, indent=2
            )
        )


if __name__ == "__main__":
    app()
