"""The scoring job: for a month, train (or reuse) the champion on the labelled months before
it, score every customer with a statement, measure, and record the run; see the package's
docstring for why it is built this way."""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import __version__ as SKLEARN_VERSION
from sklearn.base import ClassifierMixin

from credit_risk.analytics.features import KEY, load_history
from credit_risk.analytics.model.metrics import (
    SCORE_EDGES,
    UTILIZATION_EDGES,
    population_stability_index,
)
from credit_risk.analytics.model.runs import (
    FEATURE_LOOKBACK_MONTHS,
    MODEL_FAMILY,
    SCORED,
    SKIPPED,
    ModelRun,
    StoredModel,
    _none_if_nan,
    _settings_digest,
    model_version,
)
from credit_risk.analytics.model.storage import (
    _latest_published_month,
    _previous_scores,
    _record,
    ensure_model_tables,
    labelled_months_before,
    published_months,
)
from credit_risk.analytics.model.training import (
    _fit,
    _labelled,
    predict,
    split_metrics,
    train_and_evaluate,
)
from credit_risk.months import add_months, validate_month
from credit_risk.settings.model import ModelSettings
from credit_risk.warehouse.db import Warehouse, connect

log = logging.getLogger(__name__)


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


def _utilization_psi(history: pd.DataFrame, month: str) -> float | None:
    """PSI of utilization (percent) between ``month`` and the calendar month before."""
    previous = history.loc[history["month"] == add_months(month, -1), "utilization_pct"]
    current = history.loc[history["month"] == month, "utilization_pct"]
    return _none_if_nan(population_stability_index(previous, current, UTILIZATION_EDGES))
