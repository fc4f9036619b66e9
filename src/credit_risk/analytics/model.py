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

import hashlib
import json
import logging
import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn import __version__ as SKLEARN_VERSION
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, precision_recall_curve, roc_auc_score, roc_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from credit_risk.analytics.features import FEATURES, KEY, LABEL, high_risk_pct, load_history
from credit_risk.months import add_months, validate_month
from credit_risk.settings.model import ModelSettings
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.schema import create_tables

log = logging.getLogger(__name__)

BASELINE = "logistic"
CHALLENGER = "gradient_boosting"
MODEL_NAMES = (BASELINE, CHALLENGER)

MODEL_FAMILY = "hr1"
"""Bump when the features or the label change meaning: it prefixes every model_version."""

TABLES = (
    "high_risk_predictions",
    "high_risk_prediction_segments",
    "scored_customer_month",
    "model_runs",
    "model_artifacts",
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

SCORED, SKIPPED = "scored", "skipped"
TRAINED, REUSED = "trained", "reused"
"""``model_runs.training``: the run trained its champion, or scored with a stored one."""
FEATURE_LOOKBACK_MONTHS = 5
"""Months before a row its features read (the 6-month windows)."""

PSI_EPSILON = 0.0001
"""Stand-in share of an empty bucket, as in the published suite's utilization PSI."""

SCORE_EDGES = np.linspace(0.1, 0.9, 9)
"""Inner edges of the score buckets: ten probability deciles of fixed width."""

UTILIZATION_EDGES = np.arange(0.0, 101.0, 10.0)
"""Inner edges of the utilization buckets (percent): below 0, 0-10, ..., 90-100, 100 and up —
the buckets of the published suite's utilization PSI, so both report the same number."""


# --- pure metrics --------------------------------------------------------------------------------


def auc_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC, NaN when only one class is present (it is undefined, not 0.5)."""
    labels = np.asarray(labels)
    if labels.size == 0 or np.unique(labels).size < 2:
        return math.nan
    return float(roc_auc_score(labels, scores))


def gini(auc: float) -> float:
    """Gini coefficient (accuracy ratio) of a score: 2 * AUC - 1."""
    return 2.0 * auc - 1.0


def ks_statistic(labels: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov-Smirnov: largest gap between the score CDFs of positives and negatives."""
    labels = np.asarray(labels)
    if labels.size == 0 or np.unique(labels).size < 2:
        return math.nan
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.max(tpr - fpr))


def population_stability_index(
    expected: Sequence[float] | np.ndarray,
    actual: Sequence[float] | np.ndarray,
    edges: Sequence[float] | np.ndarray,
    epsilon: float = PSI_EPSILON,
) -> float:
    """PSI = sum((actual% - expected%) * ln(actual% / expected%)) over fixed buckets.

    Fixed buckets (rather than quantiles of the expected sample) keep the number comparable
    from month to month and equal to the published suite's utilization PSI.

    Args:
        expected: The reference sample (the previous month).
        actual: The sample to compare (this month).
        edges: Inner bucket edges, ascending; a value equal to an edge falls in the upper bucket.
        epsilon: Share given to an empty bucket so the logarithm stays finite.

    Returns:
        The index (0 is identical; above 0.25 is usually called a significant shift), or NaN
        when either sample is empty.
    """
    expected_shares = _bucket_shares(expected, edges)
    actual_shares = _bucket_shares(actual, edges)
    if expected_shares is None or actual_shares is None:
        return math.nan
    expected_shares = np.maximum(expected_shares, epsilon)
    actual_shares = np.maximum(actual_shares, epsilon)
    terms = (actual_shares - expected_shares) * np.log(actual_shares / expected_shares)
    return float(terms.sum())


def _bucket_shares(values: Sequence[float] | np.ndarray, edges: Sequence[float] | np.ndarray):
    """Share of the non-missing ``values`` in each bucket, or None when there are none."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    if array.size == 0:
        return None
    edges = np.asarray(edges, dtype=float)
    buckets = np.searchsorted(edges, array, side="right")
    return np.bincount(buckets, minlength=edges.size + 1) / array.size


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The probability cut maximizing F1 (0.5 when F1 is undefined, e.g. no positives)."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.sum() == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    # The last precision/recall pair has no threshold (it is the "predict nothing" point).
    return float(thresholds[int(np.argmax(f1[:-1]))])


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
    """Probability of the positive class for each row."""
    if rows.empty:
        return np.empty(0)
    with threadpool_limits(limits=1):
        return model.predict_proba(rows[FEATURES])[:, 1]


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


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredModel:
    """A champion as a training run stored it in ``model_artifacts``."""

    model_version: str
    trained_for_month: str
    champion: str
    threshold: float
    train_first_month: str
    train_last_month: str
    model: ClassifierMixin = field(repr=False)


@dataclass
class ModelRun:
    """One scoring run: what was scored with which model, or why nothing was.

    A run either trained (``evaluation`` says how, ``model`` is the champion it scored with)
    or reused a stored champion (``reused``; ``monitoring`` measures it on the months
    labelled since it was trained, ``monitor_months``).
    """

    month: str
    status: str
    run_id: int | None = None
    detail: str | None = None
    model_version: str | None = None
    n_scored: int = 0
    predicted_positive_rate: float | None = None
    score_psi: float | None = None
    utilization_psi: float | None = None
    evaluation: Evaluation | None = None
    model: ClassifierMixin | None = field(default=None, repr=False)
    reused: StoredModel | None = None
    monitoring: SplitMetrics | None = None
    monitor_months: list[str] = field(default_factory=list)

    @property
    def training(self) -> str | None:
        """``trained``, ``reused``, or None when skipped."""
        if self.evaluation is not None:
            return TRAINED
        return REUSED if self.reused is not None else None

    @property
    def champion_auc(self) -> float | None:
        """Out-of-time AUC of the champion on the test months (of a reused champion: on the
        months labelled since its training; None when skipped or nothing is labelled yet)."""
        if self.evaluation is not None:
            return self.evaluation.test[self.evaluation.champion].auc
        return None if self.monitoring is None else self.monitoring.auc

    @property
    def baseline_auc(self) -> float | None:
        """Out-of-time AUC of the logistic baseline on the test months (None when skipped or
        reused: only the champion is stored)."""
        return None if self.evaluation is None else self.evaluation.test[BASELINE].auc


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


def model_version(champion: str, last_month: str, settings: ModelSettings) -> str:
    """``hr1-<champion>-<last labelled month>-<hash of features and settings>``.

    Deterministic, so rescoring a month with the same data and settings gives the same
    version (idempotent), and any change of features or knobs gives a new one.
    """
    short = {BASELINE: "logit", CHALLENGER: "hgb"}[champion]
    return f"{MODEL_FAMILY}-{short}-{last_month}-{_settings_digest(settings)}"


def _settings_digest(settings: ModelSettings) -> str:
    """Hash of the features, the label's High Risk rule and the knobs that shape a model (not
    how often it is retrained): a stored model is reused only for the label it learnt."""
    knobs = settings.model_dump(exclude={"retrain_every_months"})
    rule = {"high_risk_pct": high_risk_pct()}
    blob = json.dumps({"features": FEATURES, "settings": knobs, "label": rule}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def score_customers(
    warehouse: Warehouse, month: str | None = None, settings: ModelSettings | None = None
) -> ModelRun:
    """Score every customer with a statement at ``month`` and record the run.

    The model learns from labelled months strictly before ``month``; the last
    ``test_months`` of them are held out and measured (see :func:`train_and_evaluate`), then
    the champion is refitted on all of them, because the most recent months describe next
    month best and the measurement already says how this procedure does out of time. The
    month's rows in ``high_risk_predictions`` are replaced in one transaction, and a row is
    added to ``model_runs``. With too little history, nothing is predicted and the
    ``model_runs`` row says ``skipped`` and why.

    Args:
        warehouse: The warehouse with a published snapshot.
        month: Month end to score (YYYY-MM); the latest published month when omitted. Use
            :func:`score_all_months` to backfill every month.
        settings: Model knobs; ``ModelSettings()`` when omitted.

    Returns:
        What the run did.

    Raises:
        ValueError: When ``month`` has no published statements.
    """
    settings = settings or ModelSettings()
    month = validate_month(month) if month else _latest_published_month(warehouse)
    stored = _reusable_model(warehouse, month, settings)
    # a stored champion needs only the months since its training; a new one its whole window
    first = stored.trained_for_month if stored else add_months(month, -settings.window_months)
    history = load_history(
        warehouse, first_month=add_months(first, -FEATURE_LOOKBACK_MONTHS), last_month=month
    )
    if month not in published_months(history):
        raise ValueError(f"month {month} has no published statements")
    previous = _previous_scores(warehouse, month)
    if stored is not None:
        run, predictions = _score_with_stored(history, month, stored, previous)
    else:
        run, predictions = _score_month(history, month, settings, previous)
    _record(warehouse, run, predictions)
    return run


def _reusable_model(
    warehouse: Warehouse, month: str, settings: ModelSettings
) -> StoredModel | None:
    """The champion stored for one of the ``retrain_every_months - 1`` months before ``month``
    with today's features and knobs (the latest), or None: then the run trains.

    A model trained for month ``t`` learnt labels up to ``t``'s own statements, all published
    before ``month``: scoring ``month`` with it never uses the future.
    """
    if settings.retrain_every_months <= 1:
        return None
    ensure_model_tables(warehouse)
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "select model_version, trained_for_month, champion, decision_threshold, "
            "train_first_month, train_last_month, sklearn_version, pickled_model "
            "from model_artifacts "
            "where trained_for_month < %s and trained_for_month >= %s and model_version like %s "
            "order by trained_for_month desc, created_at desc limit 1",
            (
                month,
                add_months(month, -(settings.retrain_every_months - 1)),
                f"{MODEL_FAMILY}-%-{_settings_digest(settings)}",
            ),
        )
        row = cursor.fetchone()
    if row is None:
        return None
    version, trained_for, champion, threshold, first, last, sklearn_version, blob = row
    if sklearn_version != SKLEARN_VERSION:
        log.warning(
            "model %s was stored by scikit-learn %s, this is %s: training a new one",
            version,
            sklearn_version,
            SKLEARN_VERSION,
        )
        return None
    model = pickle.loads(blob)  # written only by _store_model, into our own warehouse
    return StoredModel(version, trained_for, champion, float(threshold), first, last, model)


def _score_with_stored(
    history: pd.DataFrame, month: str, stored: StoredModel, previous: pd.Series | None
) -> tuple[ModelRun, pd.DataFrame]:
    """Score ``month`` with a stored champion, and measure it on the months labelled since it
    was trained (out of time for it: it never saw their labels)."""
    rows = history[history["month"] == month]
    scored = _scored(rows, stored.model, stored.threshold, stored.model_version, previous)
    monitor_months = [
        m for m in labelled_months_before(history, month) if m >= stored.trained_for_month
    ]
    monitored = _labelled(history, monitor_months)
    monitoring = (
        split_metrics(monitored, predict(stored.model, monitored)) if len(monitored) else None
    )
    run = ModelRun(
        month,
        SCORED,
        detail=f"champion trained for {stored.trained_for_month} reused",
        model_version=stored.model_version,
        n_scored=len(rows),
        predicted_positive_rate=scored.predicted_positive_rate,
        score_psi=scored.score_psi,
        utilization_psi=_utilization_psi(history, month),
        reused=stored,
        monitoring=monitoring,
        monitor_months=monitor_months,
    )
    log.info(
        "scored %s: %d customers with the champion trained for %s (%s), AUC %s on %s",
        month,
        run.n_scored,
        stored.trained_for_month,
        stored.model_version,
        "-" if run.champion_auc is None else f"{run.champion_auc:.3f}",
        ", ".join(monitor_months) or "no month labelled since",
    )
    return run, scored.predictions


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


def score_all_months(warehouse: Warehouse, settings: ModelSettings | None = None) -> list[ModelRun]:
    """Backfill: score every published month in order, each with a model trained before it.

    Early months without enough history are recorded as skipped. Each month's score PSI
    compares with the month before, as scored by its own model.
    """
    settings = settings or ModelSettings()
    history = load_history(warehouse)
    runs = []
    previous: pd.Series | None = None
    for month in published_months(history):
        run, predictions = _score_month(history, month, settings, previous)
        _record(warehouse, run, predictions)
        previous = None if predictions is None else predictions["probability"]
        runs.append(run)
    return runs


def _score_month(
    history: pd.DataFrame, month: str, settings: ModelSettings, previous: pd.Series | None
) -> tuple[ModelRun, pd.DataFrame | None]:
    """Train, evaluate, refit and score one month (no database access).

    Returns:
        The run and the month's rows of high_risk_predictions (None when skipped).
    """
    labelled = labelled_months_before(history, month)[-settings.window_months :]
    utilization_psi = _utilization_psi(history, month)
    if len(labelled) < settings.min_labelled_months:
        detail = (
            f"not enough history: {len(labelled)} labelled month(s) before {month}, "
            f"need {settings.min_labelled_months} (train {settings.min_train_months} + "
            f"validation {settings.validation_months} + test {settings.test_months})"
        )
        log.info("model run for %s skipped: %s", month, detail)
        return ModelRun(month, SKIPPED, detail=detail, utilization_psi=utilization_psi), None
    train_months, test_months = labelled[: -settings.test_months], labelled[-settings.test_months :]
    learning = _sample(_labelled(history, labelled), settings)
    models, evaluation = train_and_evaluate(learning, train_months, test_months, settings)
    champion = _fit(models[evaluation.champion], learning)
    rows = history[history["month"] == month]
    version = model_version(evaluation.champion, labelled[-1], settings)
    scored = _scored(rows, champion, evaluation.threshold, version, previous)
    run = ModelRun(
        month,
        SCORED,
        model_version=version,
        n_scored=len(rows),
        predicted_positive_rate=scored.predicted_positive_rate,
        score_psi=scored.score_psi,
        utilization_psi=utilization_psi,
        evaluation=evaluation,
        model=champion,
    )
    log.info(
        "scored %s: %d customers, champion %s, out-of-time AUC %.3f (baseline %.3f)",
        month,
        run.n_scored,
        evaluation.champion,
        run.champion_auc,
        run.baseline_auc,
    )
    return run, scored.predictions


@dataclass(frozen=True)
class _Scored:
    """A month's rows scored by one champion."""

    predictions: pd.DataFrame
    """The month's rows of ``high_risk_predictions``."""
    predicted_positive_rate: float | None
    score_psi: float | None
    """Against the month before's stored probabilities (None when it was not scored)."""


def _scored(
    rows: pd.DataFrame,
    model: ClassifierMixin,
    threshold: float,
    version: str,
    previous: pd.Series | None,
) -> _Scored:
    """Probabilities and flags of ``rows`` (the scored month), and their stability."""
    probability = np.clip(predict(model, rows), 0.0, 1.0)
    is_predicted = probability >= threshold
    predictions = rows[KEY].assign(
        probability=probability, is_predicted_high_risk=is_predicted, model_version=version
    )
    return _Scored(
        predictions.reset_index(drop=True),
        float(np.mean(is_predicted)) if len(rows) else None,
        _none_if_nan(
            population_stability_index(
                [] if previous is None else previous, probability, SCORE_EDGES
            )
        ),
    )


def _sample(rows: pd.DataFrame, settings: ModelSettings) -> pd.DataFrame:
    """At most ``max_training_rows`` of the labelled rows: the same share of each month."""
    if len(rows) <= settings.max_training_rows:
        return rows
    share = settings.max_training_rows / len(rows)
    return rows.groupby("month", group_keys=False).sample(
        frac=share, random_state=settings.random_state
    )


def _none_if_nan(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value


def _utilization_psi(history: pd.DataFrame, month: str) -> float | None:
    """PSI of utilization (percent) between ``month`` and the calendar month before."""
    previous = history.loc[history["month"] == add_months(month, -1), "utilization_pct"]
    current = history.loc[history["month"] == month, "utilization_pct"]
    return _none_if_nan(population_stability_index(previous, current, UTILIZATION_EDGES))


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


def _record(warehouse: Warehouse, run: ModelRun, predictions: pd.DataFrame | None) -> None:
    """Replace the month's predictions (scored runs) and add the model_runs row, atomically."""
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
        if run.evaluation is not None and run.model is not None:
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
