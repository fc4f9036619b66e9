"""Dashboard benchmark: latency of every endpoint on a 100k-customer, 12-month warehouse.

One run generates (or reuses) a realistic extract, loads and publishes it with
``steps.publish_extract(validate=False)`` into a throwaway database, adds the analytics tables
other jobs build (``spend_anomalies``, ``high_risk_predictions``, created by their include/sql
files, one synthetic row per customer-month, and ``high_risk_prediction_segments`` counted by the
scoring job's own statements), then starts the dashboard with uvicorn in a subprocess and times
each endpoint N times over loopback HTTP with httpx. It prints p50/p95/max per endpoint and whether
p95 < 100 ms.

It is a measurement, not a test: the exit code is 0 whatever the figures.

    python benchmarks/dashboard_benchmark.py                          # 100k x 12, 50 requests
    python benchmarks/dashboard_benchmark.py --customers 5000 --requests 20
    python benchmarks/dashboard_benchmark.py --keep-db                # then --reuse-db NAME
    python benchmarks/dashboard_benchmark.py --reuse-db NAME --only csv   # one endpoint again
"""

from __future__ import annotations

import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import URL, make_url

from bench_db import (
    DEFAULT_SERVER_URL,
    ServerUrl,
    drop_database,
    recreate_database,
    server_cursor,
    warehouse_in,
)
from credit_risk import steps
from credit_risk.analytics.model import refresh_prediction_summaries
from credit_risk.generate.realistic import generate_realistic
from credit_risk.warehouse.schema import create_tables

REPO = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO / "data" / "bench"
START = "2024-01"
TARGET_P95_MS = 100.0

app = typer.Typer(add_completion=False)
console = Console()

SYNTHETIC_ANOMALIES = """
insert into spend_anomalies (customer_id, month, monthly_spend, baseline_mean, baseline_std,
    z_score, is_anomaly, anomaly_reason, history_months, model_version)
select customer_id, month, monthly_spend, rolling_6_month_avg, 10.00,
    (crc32(concat(customer_id, month)) % 1000) / 200.0 - 1,
    crc32(concat(customer_id, month)) % 50 = 0,
    if(crc32(concat(customer_id, month)) % 50 = 0, 'spend far above the 6-month baseline', null),
    6, 'bench'
from published_customer_month
"""
SYNTHETIC_PREDICTIONS = """
insert into high_risk_predictions (customer_id, month, probability, is_predicted_high_risk,
    model_version)
select customer_id, month, (crc32(concat(month, customer_id)) % 1000) / 1000.0,
    (crc32(concat(month, customer_id)) % 1000) >= 700, 'bench'
from published_customer_month where has_statement
"""


ANALYTICS_TABLES = (
    "spend_anomalies",
    "high_risk_predictions",
    "high_risk_prediction_segments",
    "scored_customer_month",
)
"""Created exactly as their jobs create them (their include/sql files, keys included)."""


@dataclass(frozen=True)
class Endpoint:
    """One request shape to time; ``{customer}`` / ``{prefix}`` vary per request."""

    name: str
    path: str
    params: dict


def endpoints(month: str) -> list[Endpoint]:
    """Every widget's endpoint, with the parameters the page sends (and the heavy variants)."""
    return [
        Endpoint("page", "/", {}),
        Endpoint("months", "/api/months", {}),
        Endpoint("freshness", "/api/freshness", {"month": month}),
        Endpoint("kpis", "/api/kpis", {"month": month}),
        Endpoint("kpis High Risk", "/api/kpis", {"month": month, "category": "High Risk"}),
        Endpoint("risk-distribution", "/api/risk-distribution", {"month": month}),
        Endpoint("risk-trend", "/api/risk-trend", {}),
        Endpoint("utilization-histogram", "/api/utilization-histogram", {"month": month}),
        Endpoint("spend-by-category", "/api/spend-by-category", {}),
        Endpoint("portfolio-spend", "/api/portfolio-spend", {}),
        Endpoint("top-spenders", "/api/top-spenders", {"month": month}),
        Endpoint(
            "top-spenders Medium", "/api/top-spenders", {"month": month, "category": "Medium Risk"}
        ),
        Endpoint("transactions-by-limit", "/api/transactions-by-limit", {"month": month}),
        Endpoint("customers search", "/api/customers", {"q": "{prefix}"}),
        Endpoint("customer", "/api/customer", {"customer_id": "{customer}"}),
        Endpoint("at-risk", "/api/at-risk", {"month": month, "limit": 25}),
        Endpoint(
            "at-risk by probability",
            "/api/at-risk",
            {"month": month, "sort": "probability", "limit": 25},
        ),
        Endpoint(
            "at-risk Medium by dpd",
            "/api/at-risk",
            {"month": month, "category": "Medium Risk", "sort": "days_past_due", "limit": 25},
        ),
        Endpoint(
            "at-risk Low by spend asc",
            "/api/at-risk",
            {"month": month, "category": "Low Risk", "sort": "monthly_spend", "order": "asc"},
        ),
        Endpoint(
            "at-risk page 200",
            "/api/at-risk",
            {"month": month, "limit": 25, "offset": 5000},
        ),
        Endpoint("at-risk search", "/api/at-risk", {"month": month, "q": "{prefix}"}),
        Endpoint("anomalies", "/api/anomalies", {"month": month, "limit": 25}),
        Endpoint(
            "anomalies High Risk",
            "/api/anomalies",
            {"month": month, "category": "High Risk", "limit": 25},
        ),
        Endpoint("at-risk.csv (10k rows)", "/api/at-risk.csv", {"month": month, "limit": 10000}),
        Endpoint(
            "at-risk.csv Medium by dpd (10k rows)",
            "/api/at-risk.csv",
            {"month": month, "category": "Medium Risk", "sort": "days_past_due", "limit": 10000},
        ),
        Endpoint(
            "at-risk.csv Low by spend (10k rows)",
            "/api/at-risk.csv",
            {"month": month, "category": "Low Risk", "sort": "monthly_spend", "limit": 10000},
        ),
        Endpoint(
            "at-risk.csv by probability (10k rows)",
            "/api/at-risk.csv",
            {"month": month, "sort": "probability", "limit": 10000},
        ),
        Endpoint("plotly.min.js", "/vendor/plotly.min.js", {}),
    ]


# --- data ----------------------------------------------------------------------------------------


def _extract(customers: int, months: int, seed: int) -> Path:
    folder = CACHE_ROOT / f"dashboard-c{customers}-m{months}-{START}-s{seed}"
    if folder.is_dir():
        console.print(f"reusing the extract in {folder}")
        return folder
    scratch = folder.with_name(folder.name + ".partial")
    console.print(f"generating {customers:,} customers x {months} months into {folder} ...")
    started = time.perf_counter()
    generate_realistic(scratch, customers=customers, months=months, start=START, seed=seed)
    scratch.rename(folder)
    console.print(f"  generated in {time.perf_counter() - started:.0f} s")
    return folder


def _load(url: URL, database: str, folder: Path) -> None:
    recreate_database(url, database)
    warehouse = warehouse_in(url, database)
    started = time.perf_counter()
    steps.publish_extract(warehouse, folder, validate=False, run_id="bench")
    console.print(f"  loaded and published in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with server_cursor(url, database) as cursor:
        create_tables(cursor, ANALYTICS_TABLES)
        cursor.execute(SYNTHETIC_ANOMALIES)
        cursor.execute(SYNTHETIC_PREDICTIONS)
        for month in _months(url, database):
            refresh_prediction_summaries(cursor, month)
    console.print(f"  analytics tables filled in {time.perf_counter() - started:.0f} s")


def _sample_customers(url: URL, database: str, count: int) -> list[str]:
    with server_cursor(url, database) as cursor:
        cursor.execute(
            "select customer_id from published_customer_latest "
            "order by crc32(customer_id) limit %s",
            (count,),
        )
        return [row[0] for row in cursor.fetchall()]


def _months(url: URL, database: str) -> list[str]:
    with server_cursor(url, database) as cursor:
        cursor.execute("select distinct month from published_portfolio_month order by month")
        return [row[0] for row in cursor.fetchall()]


# --- server and timing ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _running_dashboard(db_url: str):
    """The standalone app under uvicorn, in its own process (so it does not share our GIL)."""
    port = _free_port()
    env = {**os.environ, "CREDIT_RISK_DASHBOARD_DB_URL": db_url}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "credit_risk.dashboard.app:standalone_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _params(endpoint: Endpoint, customers: list[str], rng: random.Random) -> dict:
    customer = rng.choice(customers)
    values = {"{customer}": customer, "{prefix}": customer[:6]}
    return {key: values.get(value, value) for key, value in endpoint.params.items()}


def _time(
    client: httpx.Client, endpoint: Endpoint, customers: list[str], requests: int, seed: int
) -> list[float]:
    rng = random.Random(seed)
    for _ in range(3):  # warm the pool, the plan cache and InnoDB pages the endpoint touches
        client.get(endpoint.path, params=_params(endpoint, customers, rng)).raise_for_status()
    timings = []
    for _ in range(requests):
        params = _params(endpoint, customers, rng)
        started = time.perf_counter()
        response = client.get(endpoint.path, params=params)
        response.read()
        timings.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return timings


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _measure(
    base: str, month: str, customers: list[str], requests: int, only: str | None = None
) -> dict[str, list[float]]:
    results = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for index, endpoint in enumerate(endpoints(month)):
            if only is None or only in endpoint.name:
                results[endpoint.name] = _time(client, endpoint, customers, requests, index)
    return results


def _report(title: str, results: dict[str, list[float]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("endpoint", "p50 ms", "p95 ms", "max ms", "p95 < 100 ms"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, timings in results.items():
        p95 = _percentile(timings, 0.95)
        table.add_row(
            name,
            f"{statistics.median(timings):.1f}",
            f"{p95:.1f}",
            f"{max(timings):.1f}",
            "[green]yes[/]" if p95 < TARGET_P95_MS else "[red]NO[/]",
        )
    console.print(table)


@app.command()
def main(
    customers: Annotated[int, typer.Option(min=100, help="Customers to generate.")] = 100_000,
    months: Annotated[int, typer.Option(min=2, help="Statement months.")] = 12,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    requests: Annotated[int, typer.Option(min=5, help="Timed requests per endpoint.")] = 50,
    db_url: ServerUrl = DEFAULT_SERVER_URL,
    reuse_db: Annotated[
        str | None, typer.Option(help="Time an already loaded benchmark database.")
    ] = None,
    keep_db: Annotated[bool, typer.Option(help="Keep the database afterwards.")] = False,
    only: Annotated[
        str | None, typer.Option(help="Time only the endpoints whose name contains this.")
    ] = None,
) -> None:
    """Load 100k customers x 12 months and report p50/p95 latency per dashboard endpoint."""
    url = make_url(db_url)
    database = reuse_db or f"crm_bench_dash_{secrets.token_hex(3)}"
    console.print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}; server {url.render_as_string(hide_password=True)}"
    )
    try:
        if reuse_db is None:
            _load(url, database, _extract(customers, months, seed))
        db = url.set(database=database).render_as_string(False)
        months_published = _months(url, database)
        month = months_published[-1]
        sample = _sample_customers(url, database, 500)
        with _running_dashboard(db) as base:
            _report(f"{database} ({requests} requests each)",
                    _measure(base, month, sample, requests, only))  # fmt: skip
    finally:
        if keep_db or reuse_db:
            console.print(f"kept database {database}")
        else:
            drop_database(url, database)


if __name__ == "__main__":
    app()
