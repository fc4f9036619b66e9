"""Next-month high-risk model: train out of time, score every customer, record every run.

What it predicts: for each customer with a statement at month end ``m``, the probability of
being High Risk (utilization >= 80 %) or 30+ days past due at ``m + 1``.

Why two models: a logistic regression on scaled features is the baseline that a risk committee
can read coefficient by coefficient; a histogram gradient-boosting model is the challenger that
may capture thresholds and interactions. Both are always trained and recorded; the champion is
the one with the better AUC on a validation window that is itself out of time, so the final
test months are never used to choose anything.

Why out of time everywhere: a credit model is used on months it has never seen. Random splits
would mix a customer's month ``m`` into training and ``m + 1`` into test and flatter the model.
Here the splits are calendar windows: train < validation < test < scored month.

Scoring month ``m`` trains only on labelled months strictly before ``m`` (the label of ``m - 1``
is read from ``m``, which is published by then), so predictions never use the future, also when
a backfill scores old months while later months are already published.

Settings are read from ``CREDIT_RISK_MODEL_*`` environment variables
(:class:`credit_risk.settings.model.ModelSettings`).
"""

from __future__ import annotations

from credit_risk.analytics.model.evaluation import (
    EVALUATION_COLUMNS,
    evaluate_model,
    format_evaluation,
)
from credit_risk.analytics.model.job import (
    record_scores,
    score_all_months,
    score_customers,
    score_shard,
    train_model,
)
from credit_risk.analytics.model.metrics import (
    PSI_EPSILON,
    SCORE_EDGES,
    UTILIZATION_EDGES,
    auc_score,
    best_f1_threshold,
    gini,
    ks_statistic,
    population_stability_index,
)
from credit_risk.analytics.model.plans import ScoringIncompleteError, ScoringPlan
from credit_risk.analytics.model.runs import (
    FEATURE_LOOKBACK_MONTHS,
    MODEL_FAMILY,
    REUSED,
    SCORED,
    SKIPPED,
    TRAINED,
    ModelRun,
    StoredModel,
    model_version,
)
from credit_risk.analytics.model.storage import (
    TABLES,
    ensure_model_tables,
    labelled_months_before,
    published_months,
    refresh_prediction_summaries,
)
from credit_risk.analytics.model.training import (
    BASELINE,
    CHALLENGER,
    MODEL_NAMES,
    Evaluation,
    SplitMetrics,
    baseline_coefficients,
    make_models,
    predict,
    split_metrics,
    train_and_evaluate,
)
from credit_risk.settings.model import ModelSettings

__all__ = [
    "BASELINE",
    "CHALLENGER",
    "EVALUATION_COLUMNS",
    "FEATURE_LOOKBACK_MONTHS",
    "MODEL_FAMILY",
    "MODEL_NAMES",
    "PSI_EPSILON",
    "REUSED",
    "SCORED",
    "SCORE_EDGES",
    "SKIPPED",
    "TABLES",
    "TRAINED",
    "UTILIZATION_EDGES",
    "Evaluation",
    "ModelRun",
    "ModelSettings",
    "ScoringIncompleteError",
    "ScoringPlan",
    "SplitMetrics",
    "StoredModel",
    "auc_score",
    "baseline_coefficients",
    "best_f1_threshold",
    "ensure_model_tables",
    "evaluate_model",
    "format_evaluation",
    "gini",
    "ks_statistic",
    "labelled_months_before",
    "make_models",
    "model_version",
    "population_stability_index",
    "predict",
    "published_months",
    "record_scores",
    "refresh_prediction_summaries",
    "score_all_months",
    "score_customers",
    "score_shard",
    "split_metrics",
    "train_and_evaluate",
    "train_model",
]
