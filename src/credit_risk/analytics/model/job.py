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
from credit_risk.analytics.model.plans import (
    ScoringPlan,
    load_plan,
    read_shard_scores,
    save_plan,
    write_shard_scores,
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
    _store_model,
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
from credit_risk.shards import Shard, all_shards
from credit_risk.warehouse.db import Warehouse, connect

log = logging.getLogger(__name__)


def score_customers(
    warehouse: Warehouse,
    month: str | None = None,
    settings: ModelSettings | None = None,
    *,
    shards: int = 1,
) -> ModelRun:
    """Score every customer with a statement at ``month`` and record the run: the DAG's
    three steps in one call (:func:`train_model`, :func:`score_shard` for each of ``shards``
    shards, :func:`record_scores`).

    The model learns from labelled months strictly before ``month``; the last
    ``test_months`` of them are held out and measured (see :func:`train_and_evaluate`), then
    the champion is refitted on all of them, because the most recent months describe next
    month best and the measurement already says how this procedure does out of time. The
    month's rows in ``high_risk_predictions`` are replaced in one transaction, and a row is
    added to ``model_runs``. With too little history, nothing is predicted and the
    ``model_runs`` row says ``skipped`` and why. The shard count never changes a score.

    Args:
        warehouse: The warehouse with a published snapshot.
        month: Month end to score (YYYY-MM); the latest published month when omitted. Use
            :func:`score_all_months` to backfill every month.
        settings: Model knobs; ``ModelSettings()`` when omitted.
        shards: Customer shards to score in turn (the DAG runs them in parallel).

    Returns:
        What the run did.

    Raises:
        ValueError: When ``month`` has no published statements.
    """
    plan = train_model(warehouse, month, settings)
    for shard in all_shards(shards):
        score_shard(warehouse, plan.month, shard)
    return record_scores(warehouse, plan.month)


def train_model(
    warehouse: Warehouse, month: str | None = None, settings: ModelSettings | None = None
) -> ScoringPlan:
    """Train (or reuse) the month's champion on the whole portfolio and leave the plan for
    the shards (``model_scoring_plans``); a new champion is stored for the runs that reuse it.
    Clears the month's shard scores of any earlier plan.

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
    if stored is not None:
        plan = _plan_with_stored(history, month, stored)
    else:
        plan = _plan_month(history, month, settings)
    ensure_model_tables(warehouse)  # the plan tables too
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        if plan.run.evaluation is not None and plan.run.model is not None:
            _store_model(cursor, plan.run)
        save_plan(cursor, plan)
        conn.commit()
    return plan


def score_shard(warehouse: Warehouse, month: str, shard: Shard) -> int:
    """Score the shard's customers of ``month`` with the plan's champion and replace the
    shard's rows of ``high_risk_prediction_shards``. Reads the month and the
    ``FEATURE_LOOKBACK_MONTHS`` before it, of the shard's customers only.

    Returns:
        The customers scored (0 when the plan skipped the month).
    """
    plan = load_plan(warehouse, validate_month(month))
    if plan.run.status != SCORED:
        return 0
    history = load_history(
        warehouse,
        first_month=add_months(month, -FEATURE_LOOKBACK_MONTHS),
        last_month=month,
        shard=shard,
    )
    rows = history[history["month"] == month]
    probability = np.clip(predict(plan.model, rows), 0.0, 1.0)
    scores = rows[["customer_id"]].assign(
        probability=probability, is_predicted_high_risk=probability >= plan.threshold
    )
    write_shard_scores(warehouse, plan, shard, scores)
    log.info("scored %s, %s: %d customers", month, shard.label(), len(rows))
    return len(rows)


def record_scores(warehouse: Warehouse, month: str) -> ModelRun:
    """Record the month's run once every shard is in: its scores replace the month's rows of
    ``high_risk_predictions`` in one transaction, with the run's row in ``model_runs``.

    Raises:
        ScoringIncompleteError: a shard has not written its scores since the month was planned.
    """
    plan = load_plan(warehouse, validate_month(month))
    run = plan.run
    predictions = None
    if run.status == SCORED:
        predictions = read_shard_scores(warehouse, plan)
        flags = predictions["is_predicted_high_risk"].to_numpy(bool)
        run.predicted_positive_rate = float(np.mean(flags)) if len(flags) else None
        previous = _previous_scores(warehouse, month)
        run.score_psi = _none_if_nan(
            population_stability_index(
                [] if previous is None else previous, predictions["probability"], SCORE_EDGES
            )
        )
    _record(warehouse, run, predictions, store_model=False)
    _log_run(run)
    return run


def _log_run(run: ModelRun) -> None:
    if run.status != SCORED:
        return
    how = (
        f"the champion trained for {run.reused.trained_for_month} ({run.model_version})"
        if run.reused
        else f"champion {run.model_version}"
    )
    log.info(
        "scored %s: %d customers with %s, out-of-time AUC %s",
        run.month,
        run.n_scored,
        how,
        "-" if run.champion_auc is None else f"{run.champion_auc:.3f}",
    )


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


def _plan_with_stored(history: pd.DataFrame, month: str, stored: StoredModel) -> ScoringPlan:
    """The plan of scoring ``month`` with a stored champion, measured on the months labelled
    since it was trained (out of time for it: it never saw their labels)."""
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
        n_scored=int((history["month"] == month).sum()),
        utilization_psi=_utilization_psi(history, month),
        reused=stored,
        monitoring=monitoring,
        monitor_months=monitor_months,
    )
    return ScoringPlan(run, stored.threshold)


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
    plan = _plan_month(history, month, settings)
    run = plan.run
    if run.status != SCORED:
        return run, None
    rows = history[history["month"] == month]
    scored = _scored(rows, run.model, plan.threshold, run.model_version, previous)
    run.predicted_positive_rate = scored.predicted_positive_rate
    run.score_psi = scored.score_psi
    _log_run(run)
    return run, scored.predictions


def _plan_month(history: pd.DataFrame, month: str, settings: ModelSettings) -> ScoringPlan:
    """Train, evaluate and refit the champion for ``month`` (no database access), or skip
    the month when too little is labelled before it."""
    labelled = labelled_months_before(history, month)[-settings.window_months :]
    utilization_psi = _utilization_psi(history, month)
    if len(labelled) < settings.min_labelled_months:
        detail = (
            f"not enough history: {len(labelled)} labelled month(s) before {month}, "
            f"need {settings.min_labelled_months} (train {settings.min_train_months} + "
            f"validation {settings.validation_months} + test {settings.test_months})"
        )
        log.info("model run for %s skipped: %s", month, detail)
        return ScoringPlan(ModelRun(month, SKIPPED, detail=detail, utilization_psi=utilization_psi))
    train_months, test_months = labelled[: -settings.test_months], labelled[-settings.test_months :]
    learning = _sample(_labelled(history, labelled), settings)
    models, evaluation = train_and_evaluate(learning, train_months, test_months, settings)
    champion = _fit(models[evaluation.champion], learning)
    run = ModelRun(
        month,
        SCORED,
        model_version=model_version(evaluation.champion, labelled[-1], settings),
        n_scored=int((history["month"] == month).sum()),
        utilization_psi=utilization_psi,
        evaluation=evaluation,
        model=champion,
    )
    return ScoringPlan(run, evaluation.threshold)


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
