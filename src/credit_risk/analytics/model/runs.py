"""What a scoring run is: its record (``ModelRun``, one row of ``model_runs``), a stored champion
(``StoredModel``) and the version names that say which settings and data produced a score."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

from sklearn.base import ClassifierMixin

from credit_risk.analytics.features import FEATURES, high_risk_pct
from credit_risk.analytics.model.training import BASELINE, CHALLENGER, Evaluation, SplitMetrics
from credit_risk.settings.model import ModelSettings

MODEL_FAMILY = "hr1"
"""Bump when the features or the label change meaning: it prefixes every model_version."""

SCORED, SKIPPED = "scored", "skipped"
TRAINED, REUSED = "trained", "reused"
"""``model_runs.training``: the run trained its champion, or scored with a stored one."""
FEATURE_LOOKBACK_MONTHS = 5
"""Months before a row its features read (the 6-month windows)."""


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


def _none_if_nan(value: float) -> float | None:
    return None if value is None or math.isnan(value) else value
