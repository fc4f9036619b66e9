"""The model's out-of-time figures across every scored month, as ``credit-risk evaluate``
prints them (AUC, Gini, KS, Brier, PSI per month)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from credit_risk.analytics.model.storage import ensure_model_tables
from credit_risk.warehouse.db import Warehouse

# --- reporting -----------------------------------------------------------------------------------

EVALUATION_COLUMNS = [
    "scored_month",
    "run_status",
    "model_version",
    "champion",
    "champion_auc",
    "baseline_auc",
    "champion_gini",
    "champion_ks",
    "champion_brier",
    "baseline_brier",
    "champion_transition_auc",
    "n_train",
    "n_test",
    "n_scored",
    "decision_threshold",
    "score_psi",
    "utilization_psi",
    "detail",
]


def evaluate_model(warehouse: Warehouse) -> pd.DataFrame:
    """The latest run of every scored month, oldest month first (``EVALUATION_COLUMNS``).

    Why the latest only: a month rescored after a fix replaces its predictions, so its
    earlier runs no longer describe what is published.
    """
    ensure_model_tables(warehouse)
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            runs = pd.read_sql(
                sa.text(
                    f"select run_id, {', '.join(EVALUATION_COLUMNS)} from model_runs "
                    "where run_id in (select max(run_id) from model_runs group by scored_month) "
                    "order by scored_month"
                ),
                conn,
            )
    finally:
        engine.dispose()
    return runs


def format_evaluation(runs: pd.DataFrame) -> str:
    """A fixed-width table of :func:`evaluate_model`'s rows, for the terminal."""
    if runs.empty:
        return "no model runs yet: score a month first"
    shown = runs.rename(
        columns={
            "scored_month": "month",
            "run_status": "status",
            "champion_auc": "auc",
            "baseline_auc": "auc_logit",
            "champion_gini": "gini",
            "champion_ks": "ks",
            "champion_brier": "brier",
            "baseline_brier": "brier_logit",
            "champion_transition_auc": "auc_new",
            "decision_threshold": "threshold",
        }
    ).drop(columns=["run_id", "model_version"], errors="ignore")
    shown["detail"] = shown["detail"].fillna("")
    return shown.to_string(index=False, float_format=lambda value: f"{value:.3f}", na_rep="-")
