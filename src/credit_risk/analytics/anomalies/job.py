"""The ``spend_anomalies`` job: score published months from the warehouse (a month and its
baseline window only) and replace their rows in one transaction; and the same scoring measured
against labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from credit_risk.analytics.anomalies.baselines import KEY, read_month
from credit_risk.analytics.anomalies.evaluation import evaluation_table, read_labels
from credit_risk.analytics.anomalies.scoring import TABLE_COLUMNS, score_month
from credit_risk.months import validate_month
from credit_risk.settings.anomalies import AnomalySettings
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.schema import create_tables

TABLE = "spend_anomalies"


def published_months(warehouse: Warehouse) -> list[str]:
    """Every month of the published snapshot, oldest first."""
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("select distinct month from published_customer_month order by month")
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def score_published_month(
    warehouse: Warehouse, month: str, settings: AnomalySettings
) -> pd.DataFrame:
    """Score one published month from its window's customer-months and purchase profiles."""
    customer_months, transactions, aggregates = read_month(warehouse, month, settings)
    return score_month(customer_months, transactions, month, settings, **aggregates)


def detect_anomalies(
    warehouse: Warehouse, month: str | None = None, settings: AnomalySettings | None = None
) -> pd.DataFrame:
    """Score the published data and replace ``month``'s rows of spend_anomalies.

    For one month it reads that month and the baseline months before it only, with the
    baseline's purchases read from their profiles (``read_month``), so its cost is a year's
    customer-months and one month's transactions, whatever the history. With ``month=None`` it
    scores every published month the same way, one at a time. The delete and the inserts run
    in one database transaction, so a rerun gives the same rows and readers never see a
    half-written month.

    Returns:
        The rows written, with the ``TABLE_COLUMNS`` columns.
    """
    settings = settings or AnomalySettings()
    months = published_months(warehouse) if month is None else [validate_month(month)]
    parts = [score_published_month(warehouse, each, settings) for each in months]
    scored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TABLE_COLUMNS)
    rows = table_rows(scored)
    write_spend_anomalies(warehouse, rows, month)
    return rows


def table_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored frame reduced to spend_anomalies' columns, money rounded to cents; the
    columns mean what the table's SQL says (the usual month is the prior months' median)."""
    rows = scored.rename(columns={"usual_spend": "baseline_mean", "usual_spread": "baseline_std"})
    rows = rows[TABLE_COLUMNS].copy()
    for column in ("monthly_spend", "baseline_mean", "baseline_std", "z_score", "anomaly_score"):
        rows[column] = pd.to_numeric(rows[column], errors="coerce").astype(float).round(2)
    rows["z_score"] = rows["z_score"].clip(-1e6, 1e6)
    return rows.sort_values(KEY, ignore_index=True)


def write_spend_anomalies(warehouse: Warehouse, rows: pd.DataFrame, month: str | None) -> None:
    """Replace ``month`` (every month when None) of spend_anomalies with ``rows``, atomically."""
    values = [
        tuple(None if _is_missing(value) else _plain(value) for value in record)
        for record in rows[TABLE_COLUMNS].itertuples(index=False, name=None)
    ]
    placeholders = ", ".join(["%s"] * len(TABLE_COLUMNS))
    insert = f"insert into {TABLE} ({', '.join(TABLE_COLUMNS)}) values ({placeholders})"
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        create_tables(cursor, [TABLE])  # DDL commits on its own: before the transaction
        if month is None:
            cursor.execute(f"delete from {TABLE}")
        else:
            cursor.execute(f"delete from {TABLE} where month = %s", (month,))
        if values:
            cursor.executemany(insert, values)
        conn.commit()


def _is_missing(value: object) -> bool:
    """NaN, None and pandas' NA all become SQL NULL."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _plain(value: object) -> object:
    """numpy scalars as Python values, which the driver knows how to quote."""
    return value.item() if isinstance(value, np.generic) else value


def evaluate_anomalies(
    warehouse: Warehouse, labels_path: Path, settings: AnomalySettings | None = None
) -> pd.DataFrame:
    """Precision and recall of every detector against a labels.csv, on the published data.

    Scores every published month afresh (the same function that fills spend_anomalies) so the
    evaluation covers the whole history whatever months the table holds.
    """
    settings = settings or AnomalySettings()
    scored = pd.concat(
        [
            score_published_month(warehouse, month, settings)
            for month in published_months(warehouse)
        ],
        ignore_index=True,
    )
    return evaluation_table(scored, read_labels(Path(labels_path)), settings.min_history)
