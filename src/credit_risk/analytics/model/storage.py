"""Where the model's results live: the tables it owns (``high_risk_predictions``,
``model_runs``, ``model_artifacts``, ...), the run records and stored champions written to
them, and the months the published data offers for training and scoring."""

from __future__ import annotations

import json
import logging
import pickle
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sklearn import __version__ as SKLEARN_VERSION

from credit_risk.analytics.features import FEATURES, LABEL
from credit_risk.analytics.model.runs import ModelRun, _none_if_nan
from credit_risk.analytics.model.training import BASELINE, Evaluation, SplitMetrics
from credit_risk.months import add_months
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.schema import create_tables

log = logging.getLogger(__name__)

TABLES = (
    "high_risk_predictions",
    "high_risk_prediction_segments",
    "scored_customer_month",
    "model_runs",
    "model_artifacts",
    "model_scoring_plans",
    "high_risk_prediction_shards",
)
"""Tables this module owns, each created from ``include/sql/analytics/<name>.sql`` when missing."""

REFRESH_PREDICTION_SEGMENTS = (
    "delete from high_risk_prediction_segments where month = %(month)s",
    """
    insert into high_risk_prediction_segments (month, risk_category, scored, predicted_high_risk)
    select month, risk_category, count(*), sum(is_predicted_high_risk)
    from scored_customer_month
    where month = %(month)s
    group by month, risk_category
    """,
)
"""Re-count a scored month's ``high_risk_prediction_segments`` from ``scored_customer_month``
(refreshed first: it already holds each score with its published segment), in the transaction
that writes the scores (the dashboard's prediction card reads it)."""

REFRESH_SCORED_CUSTOMER_MONTH = (
    "delete from scored_customer_month where month = %(month)s",
    """
    insert into scored_customer_month (month, risk_category, probability, customer_id,
        is_predicted_high_risk, utilization_pct, credit_limit, outstanding_balance,
        days_past_due, monthly_spend)
    select
        predictions.month,
        coalesce(customer_months.risk_category, 'No Statement'),
        predictions.probability,
        predictions.customer_id,
        predictions.is_predicted_high_risk,
        customer_months.utilization_pct,
        customer_months.credit_limit,
        customer_months.outstanding_balance,
        customer_months.days_past_due,
        customer_months.monthly_spend
    from high_risk_predictions as predictions
    left join published_customer_month as customer_months
        on predictions.customer_id = customer_months.customer_id
        and predictions.month = customer_months.month
    where predictions.month = %(month)s
    """,
)
"""Copy a scored month's scores with their published figures into ``scored_customer_month``
(the dashboard's export in probability order), in the same transaction."""


def published_months(features: pd.DataFrame) -> list[str]:
    """Months with at least one statement, ascending."""
    return sorted(features["month"].unique().tolist())


def labelled_months_before(features: pd.DataFrame, month: str) -> list[str]:
    """Months strictly before ``month`` with at least one known label.

    The label of ``month - 1`` reads ``month`` itself, which is published: that is the most
    recent thing a model for ``month`` may learn.
    """
    known = features.loc[features[LABEL].notna() & (features["month"] < month), "month"]
    return sorted(known.unique().tolist())


def _latest_published_month(warehouse: Warehouse) -> str:
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            latest = conn.execute(
                sa.text("select max(month) from published_customer_month where has_statement")
            ).scalar()
    finally:
        engine.dispose()
    if latest is None:
        raise ValueError("nothing is published yet: run the pipeline first")
    return latest


# --- warehouse -----------------------------------------------------------------------------------


_ADDED_RUN_COLUMNS = {
    "training": "varchar(16) null after model_version",
    "model_trained_for": "char(7) null after training",
}
"""Columns ``model_runs`` gained after it was first deployed (added to older warehouses)."""


def ensure_model_tables(warehouse: Warehouse) -> None:
    """Create this module's tables when missing, with the keys their files declare, and add
    the columns ``model_runs`` gained since (idempotent)."""
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        create_tables(cursor, TABLES)
        cursor.execute(
            "select column_name from information_schema.columns "
            "where table_schema = database() and table_name = 'model_runs'"
        )
        present = {name.lower() for (name,) in cursor.fetchall()}
        for column, definition in _ADDED_RUN_COLUMNS.items():
            if column not in present:
                log.info("adding column %s to model_runs", column)
                cursor.execute(f"alter table model_runs add column {column} {definition}")


def _previous_scores(warehouse: Warehouse, month: str) -> pd.Series | None:
    """Stored probabilities of the month before ``month`` (None when it was not scored)."""
    ensure_model_tables(warehouse)
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            rows = pd.read_sql(
                sa.text("select probability from high_risk_predictions where month = :month"),
                conn,
                params={"month": add_months(month, -1)},
            )
    finally:
        engine.dispose()
    return rows["probability"] if len(rows) else None


def _record(
    warehouse: Warehouse,
    run: ModelRun,
    predictions: pd.DataFrame | None,
    *,
    store_model: bool = True,
) -> None:
    """Replace the month's predictions (scored runs) and add the model_runs row, atomically
    (with the champion a training run scored with, unless ``store_model`` is off: the
    training step stored it already)."""
    ensure_model_tables(warehouse)
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        if predictions is not None:
            cursor.execute("delete from high_risk_predictions where month = %s", (run.month,))
            cursor.executemany(
                "insert into high_risk_predictions "
                "(customer_id, month, probability, is_predicted_high_risk, model_version) "
                "values (%s, %s, %s, %s, %s)",
                [
                    (
                        row.customer_id,
                        row.month,
                        float(row.probability),
                        bool(row.flag),
                        row.version,
                    )
                    for row in predictions.rename(
                        columns={"is_predicted_high_risk": "flag", "model_version": "version"}
                    ).itertuples(index=False)
                ],
            )
            refresh_prediction_summaries(cursor, run.month)
        if store_model and run.evaluation is not None and run.model is not None:
            _store_model(cursor, run)
        row = _run_row(run)
        columns = ", ".join(row)
        placeholders = ", ".join(["%s"] * len(row))
        cursor.execute(
            f"insert into model_runs ({columns}) values ({placeholders})", list(row.values())
        )
        run.run_id = int(cursor.lastrowid)
        conn.commit()


def _store_model(cursor, run: ModelRun) -> None:
    """Keep a trained run's champion for the runs that reuse it (same version: same model)."""
    evaluation = run.evaluation
    cursor.execute(
        "insert into model_artifacts (model_version, trained_for_month, champion, "
        "decision_threshold, train_first_month, train_last_month, sklearn_version, pickled_model) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s) on duplicate key update "
        "trained_for_month = values(trained_for_month), champion = values(champion), "
        "decision_threshold = values(decision_threshold), "
        "train_first_month = values(train_first_month), "
        "train_last_month = values(train_last_month), "
        "sklearn_version = values(sklearn_version), pickled_model = values(pickled_model), "
        "created_at = current_timestamp(6)",
        (
            run.model_version,
            run.month,
            evaluation.champion,
            evaluation.threshold,
            evaluation.train_months[0],
            evaluation.test_months[-1],
            SKLEARN_VERSION,
            pickle.dumps(run.model, protocol=pickle.HIGHEST_PROTOCOL),
        ),
    )


def refresh_prediction_summaries(cursor, month: str) -> None:
    """Rebuild ``month`` of ``high_risk_prediction_segments`` and ``scored_customer_month`` from
    its scores (inside the caller's transaction)."""
    for statement in (*REFRESH_SCORED_CUSTOMER_MONTH, *REFRESH_PREDICTION_SEGMENTS):
        cursor.execute(statement, {"month": month})


def _run_row(run: ModelRun) -> dict[str, Any]:
    """The model_runs columns of a run (metrics NULL when skipped)."""
    row: dict[str, Any] = {
        "scored_month": run.month,
        "run_status": run.status,
        "detail": run.detail,
        "model_version": run.model_version,
        "training": run.training,
        "model_trained_for": run.reused.trained_for_month if run.reused else None,
        "n_scored": run.n_scored,
        "predicted_positive_rate": run.predicted_positive_rate,
        "score_psi": run.score_psi,
        "utilization_psi": run.utilization_psi,
        "features": json.dumps(FEATURES),
    }
    evaluation = run.evaluation
    if run.reused is not None:
        row |= _reused_fields(run)
    elif evaluation is not None:
        row |= _evaluation_fields(evaluation)
    return {
        key: _none_if_nan(value) if isinstance(value, float) else value
        for key, value in row.items()
    }


def _evaluation_fields(evaluation: Evaluation) -> dict[str, Any]:
    """What a training run measured: its windows, sizes and both models' metrics."""
    champion, baseline = evaluation.test[evaluation.champion], evaluation.test[BASELINE]
    row: dict[str, Any] = {
        "champion": evaluation.champion,
        "decision_threshold": evaluation.threshold,
        "train_first_month": evaluation.train_months[0],
        "train_last_month": evaluation.train_months[-1],
        "validation_first_month": evaluation.validation_months[0],
        "validation_last_month": evaluation.validation_months[-1],
        "test_first_month": evaluation.test_months[0],
        "test_last_month": evaluation.test_months[-1],
        "n_train": evaluation.n_train,
        "n_validation": evaluation.validation[BASELINE].n,
        "n_test": champion.n,
        "train_positive_rate": evaluation.train_positive_rate,
        "test_positive_rate": champion.positive_rate,
        "champion_validation_auc": evaluation.validation[evaluation.champion].auc,
        "baseline_validation_auc": evaluation.validation[BASELINE].auc,
        "baseline_coefficients": json.dumps(evaluation.baseline_coefficients),
    }
    for prefix, metrics in (("champion", champion), ("baseline", baseline)):
        row |= _metric_fields(prefix, metrics)
    return row


def _reused_fields(run: ModelRun) -> dict[str, Any]:
    """A reused champion's run: what it learnt from, and how it did on the months since."""
    stored, metrics = run.reused, run.monitoring
    row: dict[str, Any] = {
        "champion": stored.champion,
        "decision_threshold": stored.threshold,
        "train_first_month": stored.train_first_month,
        "train_last_month": stored.train_last_month,
    }
    if metrics is not None:
        row |= {
            "test_first_month": run.monitor_months[0],
            "test_last_month": run.monitor_months[-1],
            "n_test": metrics.n,
            "test_positive_rate": metrics.positive_rate,
            **_metric_fields("champion", metrics),
        }
    return row


def _metric_fields(prefix: str, metrics: SplitMetrics) -> dict[str, Any]:
    """``<prefix>_auc``, ``_gini``, ``_ks``, ``_brier``, ``_transition_auc``."""
    return {
        f"{prefix}_{name}": getattr(metrics, name)
        for name in ("auc", "gini", "ks", "brier", "transition_auc")
    }
