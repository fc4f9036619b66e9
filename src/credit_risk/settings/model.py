"""Settings of the high-risk model (``CREDIT_RISK_MODEL_*``); training and scoring are in
``credit_risk.analytics.model``."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelSettings(BaseSettings):
    """Knobs of the model, each read from ``CREDIT_RISK_MODEL_<FIELD>`` when the settings are
    made (so a job sees the values set when it runs); keyword arguments win.

    Attributes:
        test_months: Latest labelled months held out to measure the model out of time.
        validation_months: Months before the test window that choose the champion and the
            threshold.
        min_train_months: Fewest months left for fitting; with less history a run is skipped.
        window_months: The labelled months a run learns from, at most: the latest ones before
            the scored month (fitting, validation and test together). A run reads only them
            and the 5 months before (the features' windows), so its cost does not grow with
            the history, and the model follows the portfolio as it changes.
        max_training_rows: Labelled customer-months a run learns from and is measured on, at
            most: a larger window is sampled (the same share of every month, the same rows for
            the same data), so a run's cost stops growing with the portfolio; the month being
            scored is always scored whole.
        retrain_every_months: How long a trained champion scores: 1 (the default) trains
            every month; with 3, the run of a month scores with the champion trained for one
            of the 2 months before it when there is one (``model_runs.training = 'reused'``,
            its test figures measured on the months labelled since), so two runs in three only
            predict. Training is most of a run's cost once the window is full.
        threshold: ``"f1"`` (the cut maximizing F1 on the validation months) or a probability.
        min_auc_gain: Validation AUC the challenger must add over the baseline to become the
            champion; ties go to the explainable baseline.
        max_iter: Boosting iterations of the challenger.
        learning_rate: Shrinkage of the challenger.
        max_leaf_nodes: Leaves per tree of the challenger.
        min_samples_leaf: Smallest leaf of the challenger (guards against fitting noise).
        l2_regularization: L2 penalty of the challenger's leaf values.
        logistic_c: Inverse regularization strength of the baseline.
        random_state: Seed of the challenger (the baseline is deterministic).
    """

    model_config = SettingsConfigDict(
        env_prefix="CREDIT_RISK_MODEL_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    test_months: int = 2
    validation_months: int = 1
    min_train_months: int = 2
    window_months: int = 12
    max_training_rows: int = 300_000
    retrain_every_months: int = 1
    threshold: str = "f1"
    min_auc_gain: float = 0.0
    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 80
    l2_regularization: float = 1.0
    logistic_c: float = 1.0
    random_state: int = 0

    @model_validator(mode="after")
    def _check(self) -> ModelSettings:
        """Refuse window sizes and thresholds that cannot work."""
        if self.test_months < 1 or self.validation_months < 1 or self.min_train_months < 1:
            raise ValueError("model test, validation and minimum train months must be >= 1")
        if self.retrain_every_months < 1:
            raise ValueError(
                f"CREDIT_RISK_MODEL_RETRAIN_EVERY_MONTHS={self.retrain_every_months}: "
                "it must be 1 (train every month) or more"
            )
        if self.window_months < self.min_labelled_months:
            raise ValueError(
                f"CREDIT_RISK_MODEL_WINDOW_MONTHS={self.window_months} leaves fewer than the "
                f"{self.min_labelled_months} labelled months a run needs"
            )
        if self.threshold != "f1" and not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"model threshold must be 'f1' or in (0, 1), got {self.threshold}")
        return self

    @property
    def min_labelled_months(self) -> int:
        """Labelled months a run needs: fitting, validation and test windows."""
        return self.min_train_months + self.validation_months + self.test_months
