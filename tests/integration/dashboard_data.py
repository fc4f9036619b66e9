"""Warehouses for the dashboard tests: a published realistic portfolio, optionally with the
analytics tables other jobs build (created here with exactly their columns and known rows).

Why helpers and not fixtures in conftest: the API, browser, plugin and read-only tests each
build their own module-scoped warehouse from these, and conftest belongs to everyone.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pandas as pd
import uvicorn

from credit_risk import pipeline, steps
from credit_risk.analytics.model import refresh_prediction_summaries
from credit_risk.generate.realistic import generate_realistic
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.warehouse.db import connect, warehouse_from_url
from credit_risk.warehouse.load import load_extract
from credit_risk.warehouse.schema import create_tables
from tests.conftest import execute, query

MONTHS = ("2024-01", "2024-02", "2024-03", "2024-04")
PUBLISHED_MONTHS = MONTHS[:3]
CUSTOMERS = 300
SEED = 7

SPEND_ANOMALIES_DDL = """
create table if not exists spend_anomalies (
    customer_id varchar(32) not null,
    month char(7) not null,
    monthly_spend decimal(14, 2) not null,
    baseline_mean decimal(14, 2) null,
    baseline_std decimal(14, 2) null,
    z_score double null,
    anomaly_score double null,
    is_anomaly boolean not null,
    anomaly_reason varchar(255) null,
    primary key (customer_id, month)
)
"""
HIGH_RISK_PREDICTIONS_DDL = """
create table if not exists high_risk_predictions (
    customer_id varchar(32) not null,
    month char(7) not null,
    probability double not null,
    is_predicted_high_risk boolean not null,
    model_version varchar(64) not null,
    primary key (customer_id, month)
)
"""


def generate_drops(root: Path) -> dict[str, Path]:
    """A 300-customer, 4-month realistic extract, cut into monthly drops."""
    generate_realistic(root / "full", customers=CUSTOMERS, months=len(MONTHS), seed=SEED)
    return {month: pipeline.slice_month(root / "full", month, root / month) for month in MONTHS}


def publish_months(
    db_url: str, drops: dict[str, Path], months=PUBLISHED_MONTHS, *, validate_last: bool = True
) -> None:
    """Load and publish each month in turn, as the monthly DAG runs would.

    The last month goes through every gate (so ``validation_runs`` holds passing runs with
    their Data Docs); the earlier ones skip them to keep the tests quick.
    """
    warehouse = warehouse_from_url(db_url)
    for month in months[:-1]:
        steps.publish_extract(warehouse, drops[month], month, validate=False)
    report = steps.publish_extract(warehouse, drops[months[-1]], months[-1], validate=validate_last)
    assert all(result["success"] for result in report.validations)


def fail_next_month(db_url: str, drops: dict[str, Path], month: str = MONTHS[-1]) -> None:
    """Run ``month`` the way the DAG does until its published gate refuses it.

    The month loads and passes the loaded gate; then its candidate snapshot is corrupted (three
    High Risk statements relabelled Low Risk, as a broken build would) and the real published
    suite fails and records the failure. Readers keep the previous snapshot.
    """
    warehouse = warehouse_from_url(db_url)
    load_extract(warehouse, drops[month], month)
    pipeline.check_loaded(warehouse, month)
    built = pipeline.build_refresh(warehouse, month)
    execute(
        db_url,
        f"update {built.table('published_customer_month')} set risk_category = 'Low Risk' "
        f"where month = '{month}' and risk_category = 'High Risk' limit 3",
    )
    try:
        pipeline.check_published(warehouse, built)
    except ValidationFailedError:
        return
    raise AssertionError("the corrupted candidate passed the published suite")


def customer_months(db_url: str) -> pd.DataFrame:
    """Every published customer-month (what the independent computations start from)."""
    columns = [
        "customer_id",
        "month",
        "monthly_spend",
        "rolling_3_month_avg",
        "rolling_6_month_avg",
        "credit_limit",
        "outstanding_balance",
        "utilization_pct",
        "risk_category",
        "days_past_due",
        "has_statement",
    ]
    rows = query(
        db_url,
        f"select {', '.join('customer_months.' + column for column in columns)}, "
        "latest.customer_id is not null as is_latest_statement "
        "from published_customer_month as customer_months "
        "left join published_customer_latest as latest "
        "on latest.customer_id = customer_months.customer_id "
        "and latest.month = customer_months.month",
    )
    columns = [*columns, "is_latest_statement"]
    return pd.DataFrame(rows, columns=columns)


CENT = Decimal("0.01")
HIGH = "High Risk"


def cents(value) -> float:
    """Rounded half up to cents, as the API returns money."""
    return float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def pct(numerator, denominator) -> float | None:
    """``100 * numerator / denominator`` to 2 decimals; None when undefined."""
    if not denominator:
        return None
    return cents(Decimal(100) * Decimal(numerator) / Decimal(denominator))


def total(values) -> Decimal:
    """Exact sum of decimals (NULLs skipped)."""
    return sum((Decimal(value) for value in values if value is not None), Decimal(0))


def analytics_frames(db_url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of spend_anomalies and high_risk_predictions."""
    anomalies = pd.DataFrame(
        query(db_url, "select * from spend_anomalies"),
        columns=["customer_id", "month", "monthly_spend", "baseline_mean", "baseline_std",
                 "z_score", "anomaly_score", "is_anomaly", "anomaly_reason"],
    )  # fmt: skip
    scores = pd.DataFrame(
        query(db_url, "select * from high_risk_predictions"),
        columns=["customer_id", "month", "probability", "is_predicted_high_risk", "model_version"],
    )
    return anomalies, scores


def _in_month(frame: pd.DataFrame, month: str, category: str | None = None) -> pd.DataFrame:
    rows = frame[frame["month"] == month]
    return rows if category is None else rows[rows["risk_category"] == category]


def expected_figures(frame, anomalies, scores, month, category) -> dict:
    """Every KPI card's value, computed with pandas from published_customer_month rows and
    the analytics tables (not from the pre-aggregated tables the app reads)."""
    rows = _in_month(frame, month, category)
    statements = rows[rows["has_statement"] == 1]
    with_limit = statements[
        statements["risk_category"].isin(["High Risk", "Medium Risk", "Low Risk"])
    ]
    high = int((statements["risk_category"] == HIGH).sum())
    flagged = anomalies[(anomalies["month"] == month) & (anomalies["is_anomaly"] == 1)]
    predicted = scores[(scores["month"] == month) & (scores["is_predicted_high_risk"] == 1)]
    segment = frame[frame["month"] == month].set_index("customer_id")["risk_category"]
    flagged_segment = flagged["customer_id"].map(segment)
    predicted_segment = predicted["customer_id"].map(segment)
    if category is not None:
        flagged = flagged[flagged_segment == category]
        predicted = predicted[predicted_segment == category]
        predicted_segment = predicted_segment[predicted_segment == category]
    return {
        "utilization_pct": pct(
            total(with_limit["outstanding_balance"]), total(with_limit["credit_limit"])
        ),
        "high_risk_customers": high,
        "high_risk_share_pct": pct(high, len(statements)),
        "avg_monthly_spend": (
            cents(total(rows["monthly_spend"]) / len(rows)) if len(rows) else None
        ),
        "delinquent_30_plus": int((rows["days_past_due"].fillna(0) >= 30).sum()),
        "customers": len(rows),
        "anomalies": len(flagged),
        "predicted_high_risk": len(predicted),
        "predicted_to_turn_high_risk": int((predicted_segment.fillna("") != HIGH).sum()),
    }


def add_analytics_tables(db_url: str) -> None:
    """Create spend_anomalies and high_risk_predictions and fill them with known rows.

    Rows are a fixed function of each published customer-month's position, so every flag and
    score is known in advance; a few customers are flagged each month with a reason.
    """
    execute(db_url, SPEND_ANOMALIES_DDL)
    execute(db_url, HIGH_RISK_PREDICTIONS_DDL)
    frame = customer_months(db_url).sort_values(["month", "customer_id"]).reset_index(drop=True)
    anomalies, scores = [], []
    for index, row in frame.iterrows():
        flagged = index % 13 == 0
        z_score = round(3.1 + (index % 7) * 0.37, 4) if flagged else round((index % 5) * 0.21, 4)
        reason = f"spend {z_score} sd above the 6-month baseline" if flagged else None
        # a score ordered unlike the z-score, so sorting by one cannot pass for the other
        score = round(2.5 + (index * 7 % 11) * 0.4, 2) if flagged else None
        anomalies.append(
            (
                row.customer_id,
                row.month,
                row.monthly_spend,
                120.5 + index % 50,
                10.25 + index % 9,
                z_score,
                score,
                flagged,
                reason,
            )
        )
        if row.has_statement:
            probability = ((index * 37) % 101) / 100
            scores.append(
                (row.customer_id, row.month, probability, probability >= 0.5, "test-model-1")
            )
    _insert(db_url, "spend_anomalies", anomalies, 9)
    _insert(db_url, "high_risk_predictions", scores, 5)


def upgrade_prediction_tables(db_url: str) -> None:
    """What the scoring job does to a warehouse of an earlier version: the keys its files declare
    added to ``high_risk_predictions``, and its summaries rebuilt for every month."""
    with connect(warehouse_from_url(db_url)) as conn:
        cursor = conn.cursor()
        create_tables(
            cursor,
            ["high_risk_predictions", "high_risk_prediction_segments", "scored_customer_month"],
        )
        for month in PUBLISHED_MONTHS:
            refresh_prediction_summaries(cursor, month)
        conn.commit()


def _insert(db_url: str, table: str, rows: list[tuple], width: int) -> None:
    import MySQLdb
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    conn = MySQLdb.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        passwd=url.password or "",
        database=url.database,
    )
    try:
        placeholders = ", ".join(["%s"] * width)
        conn.cursor().executemany(f"insert into {table} values ({placeholders})", rows)
        conn.commit()
    finally:
        conn.close()


@contextmanager
def running_server(app, port: int):
    """Serve ``app`` with uvicorn in a background thread on 127.0.0.1:``port``."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(base: str, path: str, **params) -> httpx.Response:
    """GET from a running server (parameters that are None are left out)."""
    present = {key: value for key, value in params.items() if value is not None}
    return httpx.get(f"{base}{path}", params=present, timeout=30)


@contextmanager
def data_docs_in(folder: Path):
    """Point CREDIT_RISK_DATA_DOCS_DIR at ``folder`` (where suites write, what the app serves)."""
    import pytest

    from credit_risk.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CREDIT_RISK_DATA_DOCS_DIR", str(folder))
        get_settings.cache_clear()
        try:
            yield folder
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()
