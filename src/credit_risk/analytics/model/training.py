"""Training out of time: the baseline (logistic regression on scaled features) and the
challenger (histogram gradient boosting), each fitted on calendar windows (train < validation <
test), measured on the test months, the champion chosen on the validation months only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from credit_risk.analytics.features import FEATURES, LABEL
from credit_risk.analytics.model.metrics import auc_score, best_f1_threshold, gini, ks_statistic
from credit_risk.settings.model import ModelSettings

BASELINE = "logistic"
CHALLENGER = "gradient_boosting"
MODEL_NAMES = (BASELINE, CHALLENGER)


# --- training ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitMetrics:
    """How one model scored on one window of months."""

    auc: float
    gini: float
    ks: float
    brier: float
    n: int
    positive_rate: float
    transition_auc: float
    """AUC among rows not already High Risk or 30+ dpd at scoring time: how well the model
    finds who will *become* high risk, which persistence alone cannot do."""


@dataclass
class Evaluation:
    """Everything :func:`train_and_evaluate` measured, for both models."""

    champion: str
    threshold: float
    fit_months: list[str]
    validation_months: list[str]
    test_months: list[str]
    n_train: int
    validation: dict[str, SplitMetrics]
    test: dict[str, SplitMetrics]
    train_positive_rate: float
    baseline_coefficients: dict[str, float] = field(default_factory=dict)

    @property
    def train_months(self) -> list[str]:
        """All months the reported (refitted) models learnt from: fitting + validation."""
        return [*self.fit_months, *self.validation_months]


def make_models(settings: ModelSettings) -> dict[str, ClassifierMixin]:
    """Unfitted baseline and challenger.

    The baseline imputes medians (with missing-value indicators: a first statement has no
    previous payment ratio, and that absence is itself informative), scales, then fits a
    logistic regression. The challenger handles missing values natively.
    """
    baseline = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
            ("logit", LogisticRegression(C=settings.logistic_c, max_iter=2000)),
        ]
    )
    challenger = HistGradientBoostingClassifier(
        max_iter=settings.max_iter,
        learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        early_stopping=False,
        random_state=settings.random_state,
    )
    return {BASELINE: baseline, CHALLENGER: challenger}


def _training_matrix(rows: pd.DataFrame) -> pd.DataFrame:
    """The feature matrix to fit on, with features that have no value at all set to 0.

    Why: the earliest months of a backfill have no 3-month trend yet for anyone. Such a column
    carries no information, but the gradient-boosting binner crashes on it and the imputer
    would drop it; as a constant it is simply never used (no split, a zero coefficient).
    """
    matrix = rows[FEATURES].copy()
    empty = matrix.columns[matrix.isna().all()]
    matrix[empty] = 0.0
    return matrix


def _fit(model: ClassifierMixin, rows: pd.DataFrame) -> ClassifierMixin:
    """Fit a fresh copy on labelled rows, on one thread (the workers share 2 cores)."""
    fitted = clone(model)
    with threadpool_limits(limits=1):
        fitted.fit(_training_matrix(rows), rows[LABEL].astype(int))
    return fitted


def predict(model: ClassifierMixin, rows: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class for each row, a function of that row alone.

    Why not always ``predict_proba``: the logistic baseline's matrix product goes through
    BLAS, whose result for a row can differ in the last bit with the number of rows around it.
    A customer's score must not depend on which other customers share its shard, so the
    baseline's linear part is summed row by row (numpy reduces each row on its own).
    """
    if rows.empty:
        return np.empty(0)
    with threadpool_limits(limits=1):
        if isinstance(model, Pipeline) and isinstance(model[-1], LogisticRegression):
            return _logistic_by_row(model, rows[FEATURES])
        return model.predict_proba(rows[FEATURES])[:, 1]


def _logistic_by_row(model: Pipeline, matrix: pd.DataFrame) -> np.ndarray:
    """``predict_proba(matrix)[:, 1]`` of a binary pipeline ending in a logistic regression,
    without a matrix product (see :func:`predict`)."""
    logit = model[-1]
    transformed = np.ascontiguousarray(model[:-1].transform(matrix), dtype=float)
    decision = (transformed * logit.coef_[0]).sum(axis=1) + logit.intercept_[0]
    return expit(decision)


def _already_high_risk(rows: pd.DataFrame) -> np.ndarray:
    """Rows that are High Risk or 30+ dpd at scoring time (the label's event, now)."""
    return ((rows["utilization"] >= 0.80) | (rows["days_past_due"] >= 30)).to_numpy()


def split_metrics(rows: pd.DataFrame, scores: np.ndarray) -> SplitMetrics:
    """AUC, Gini, KS, Brier, size, positive rate and transition AUC of scores on rows."""
    labels = rows[LABEL].to_numpy(dtype=int)
    auc = auc_score(labels, scores)
    newcomers = ~_already_high_risk(rows)
    return SplitMetrics(
        auc=auc,
        gini=gini(auc),
        ks=ks_statistic(labels, scores),
        brier=float(brier_score_loss(labels, scores)) if labels.size else math.nan,
        n=int(labels.size),
        positive_rate=float(labels.mean()) if labels.size else math.nan,
        transition_auc=auc_score(labels[newcomers], scores[newcomers]),
    )


def _labelled(features: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    """Rows of ``months`` whose label is known."""
    return features[features["month"].isin(list(months)) & features[LABEL].notna()]


def _choose_champion(validation: dict[str, SplitMetrics], min_gain: float) -> str:
    """The challenger only when it beats the baseline's validation AUC by ``min_gain``."""
    challenger, baseline = validation[CHALLENGER].auc, validation[BASELINE].auc
    if not math.isnan(challenger) and (math.isnan(baseline) or challenger > baseline + min_gain):
        return CHALLENGER
    return BASELINE


def _threshold(settings: ModelSettings, rows: pd.DataFrame, scores: np.ndarray) -> float:
    """The configured cut, or the one maximizing F1 on the validation window."""
    if settings.threshold == "f1":
        return best_f1_threshold(rows[LABEL].to_numpy(dtype=int), scores)
    return float(settings.threshold)


def baseline_coefficients(baseline: Pipeline) -> dict[str, float]:
    """Standardized logistic coefficients by feature (log-odds per standard deviation).

    Why: this is the baseline's explanation. Indicator columns ("<feature> missing") only
    appear for features that had missing values in training.
    """
    imputer: SimpleImputer = baseline.named_steps["impute"]
    names = list(imputer.get_feature_names_out(FEATURES))
    names = [name.replace("missingindicator_", "missing: ") for name in names]
    coefficients = baseline.named_steps["logit"].coef_[0]
    return {name: round(float(value), 4) for name, value in zip(names, coefficients, strict=True)}


def train_and_evaluate(
    features: pd.DataFrame,
    train_months: Sequence[str],
    test_months: Sequence[str],
    settings: ModelSettings | None = None,
) -> tuple[dict[str, ClassifierMixin], Evaluation]:
    """Train baseline and challenger on ``train_months``, measure both on ``test_months``.

    Steps: the last ``settings.validation_months`` of ``train_months`` are the validation
    window; both models are fitted on the months before it and compared there, which chooses
    the champion and (with ``threshold="f1"``) the decision threshold. Then both are refitted
    on all of ``train_months`` and measured on ``test_months``, which nothing was tuned on.

    Args:
        features: Rows from :func:`credit_risk.analytics.features.load_history` (``FEATURES``,
            ``KEY``, ``label``); rows with an unknown label are ignored.
        train_months: Months to learn from, all before every test month.
        test_months: Months to measure on.
        settings: Model knobs; ``ModelSettings()`` when omitted.

    Returns:
        The models refitted on ``train_months`` by name, and their evaluation.

    Raises:
        ValueError: When a test month is not after every train month, or the train months
            leave no month to fit on before the validation window.
    """
    settings = settings or ModelSettings()
    train_months, test_months = sorted(train_months), sorted(test_months)
    if not test_months or (train_months and train_months[-1] >= test_months[0]):
        raise ValueError("test months must exist and come after every train month (out of time)")
    if len(train_months) <= settings.validation_months:
        raise ValueError(
            f"{len(train_months)} train months leave none to fit on before "
            f"{settings.validation_months} validation month(s)"
        )
    fit_months = train_months[: -settings.validation_months]
    validation_months = train_months[-settings.validation_months :]
    fit_rows = _labelled(features, fit_months)
    validation_rows = _labelled(features, validation_months)
    train_rows = _labelled(features, train_months)
    test_rows = _labelled(features, test_months)
    candidates = make_models(settings)

    validation: dict[str, SplitMetrics] = {}
    validation_scores: dict[str, np.ndarray] = {}
    for name, model in candidates.items():
        validation_scores[name] = predict(_fit(model, fit_rows), validation_rows)
        validation[name] = split_metrics(validation_rows, validation_scores[name])
    champion = _choose_champion(validation, settings.min_auc_gain)
    threshold = _threshold(settings, validation_rows, validation_scores[champion])

    models = {name: _fit(model, train_rows) for name, model in candidates.items()}
    test = {name: split_metrics(test_rows, predict(m, test_rows)) for name, m in models.items()}
    evaluation = Evaluation(
        champion=champion,
        threshold=threshold,
        fit_months=fit_months,
        validation_months=validation_months,
        test_months=test_months,
        n_train=len(train_rows),
        validation=validation,
        test=test,
        train_positive_rate=float(train_rows[LABEL].mean()),
        baseline_coefficients=baseline_coefficients(models[BASELINE]),
    )
    return models, evaluation
