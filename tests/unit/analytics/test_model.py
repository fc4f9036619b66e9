"""The next-month high-risk model without a database: metrics, PSI, settings, out-of-time
training and scoring on a small synthetic feature frame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from credit_risk.analytics.features import FEATURES, LABEL
from credit_risk.analytics.model import (
    BASELINE,
    CHALLENGER,
    MODEL_NAMES,
    PSI_EPSILON,
    SCORED,
    SKIPPED,
    UTILIZATION_EDGES,
    ModelSettings,
    auc_score,
    best_f1_threshold,
    format_evaluation,
    gini,
    ks_statistic,
    labelled_months_before,
    model_version,
    population_stability_index,
    predict,
    train_and_evaluate,
)
from credit_risk.analytics.model.job import _score_month
from credit_risk.months import month_range

FAST = ModelSettings(max_iter=40, min_samples_leaf=20)
MONTHS = month_range("2024-01", 9)

# --- PSI -------------------------------------------------------------------------------------


def test_psi_of_identical_samples_is_zero():
    sample = np.linspace(0, 1, 101)
    assert population_stability_index(sample, sample, [0.25, 0.5, 0.75]) == 0.0


def test_psi_matches_a_hand_computation():
    expected = [0.1, 0.2, 0.7, 0.8]  # half below 0.5, half above
    actual = [0.1, 0.7, 0.8, 0.9]  # a quarter below, three quarters above
    want = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert population_stability_index(expected, actual, [0.5]) == pytest.approx(want)


def test_psi_gives_an_empty_bucket_a_small_share_instead_of_infinity():
    psi = population_stability_index([0.1, 0.2], [0.8, 0.9], [0.5])
    want = 2 * (1 - PSI_EPSILON) * math.log((1 - 0.0) / PSI_EPSILON)
    assert psi == pytest.approx(want, rel=1e-3)
    assert math.isfinite(psi)


def test_psi_ignores_missing_values_and_is_nan_without_data():
    assert population_stability_index([0.1, np.nan], [0.1], [0.5]) == 0.0
    assert math.isnan(population_stability_index([], [0.1], [0.5]))
    assert math.isnan(population_stability_index([0.1], [np.nan], [0.5]))


def test_utilization_buckets_are_the_published_suites_ten_point_buckets():
    values = np.array([-5.0, 0.0, 9.99, 10.0, 79.99, 80.0, 99.99, 100.0, 130.0])
    suite_bucket = np.clip(np.floor(values / 10), -1, 10)
    ours = np.searchsorted(UTILIZATION_EDGES, values, side="right") - 1
    assert ours.tolist() == suite_bucket.tolist()


# --- AUC, Gini, KS, threshold ----------------------------------------------------------------


def test_gini_and_ks_on_a_hand_example():
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])
    auc = auc_score(labels, scores)
    assert auc == pytest.approx(0.75)
    assert gini(auc) == pytest.approx(0.5)
    assert ks_statistic(labels, scores) == pytest.approx(0.5)


def test_a_perfect_score_has_auc_gini_and_ks_of_one():
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    assert auc_score(labels, scores) == 1.0
    assert gini(1.0) == 1.0
    assert ks_statistic(labels, scores) == 1.0


def test_metrics_are_undefined_with_one_class():
    assert math.isnan(auc_score(np.array([1, 1]), np.array([0.2, 0.3])))
    assert math.isnan(ks_statistic(np.array([0, 0]), np.array([0.2, 0.3])))


def test_best_f1_threshold():
    labels = np.array([0, 0, 1, 1])
    assert best_f1_threshold(labels, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(0.8)
    assert best_f1_threshold(np.array([0, 0]), np.array([0.1, 0.2])) == 0.5


# --- settings --------------------------------------------------------------------------------


def with_env(monkeypatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_settings_come_from_credit_risk_model_variables(monkeypatch):
    defaults = ModelSettings()
    with_env(
        monkeypatch,
        {
            "CREDIT_RISK_MODEL_TEST_MONTHS": "3",
            "CREDIT_RISK_MODEL_THRESHOLD": "0.4",
            "CREDIT_RISK_MODEL_LEARNING_RATE": "0.1",
            "CREDIT_RISK_MODEL_MAX_ITER": "",  # empty means unset
            "CREDIT_RISK_OTHER": "ignored",
        },
    )
    settings = ModelSettings()
    assert settings.test_months == 3
    assert settings.threshold == "0.4"
    assert settings.learning_rate == 0.1
    assert settings.max_iter == defaults.max_iter
    assert settings.min_labelled_months == 2 + 1 + 3
    assert ModelSettings(test_months=5).test_months == 5  # arguments win over the environment
    assert settings != defaults


@pytest.mark.parametrize(
    "env",
    [
        {"CREDIT_RISK_MODEL_TEST_MONTHS": "0"},
        {"CREDIT_RISK_MODEL_THRESHOLD": "1.5"},
        {"CREDIT_RISK_MODEL_THRESHOLD": "best"},
        {"CREDIT_RISK_MODEL_MAX_ITER": "many"},
    ],
)
def test_bad_settings_are_refused(monkeypatch, env):
    with_env(monkeypatch, env)
    with pytest.raises(ValueError, match=r"(?i)model"):
        ModelSettings()


# --- training and scoring on a synthetic feature frame ---------------------------------------


def synthetic_history(customers: int = 250, seed: int = 0) -> pd.DataFrame:
    """A load_history-shaped frame where a persistent latent risk drives features and label.

    The label of the last month is unknown, as in a real snapshot.
    """
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=customers)
    frames = []
    for month in MONTHS:
        risk = 0.8 * risk + 0.6 * rng.normal(size=customers)
        frame = pd.DataFrame(
            {name: rng.normal(size=customers) for name in FEATURES},
            index=pd.RangeIndex(customers),
        )
        frame["utilization"] = 1 / (1 + np.exp(-risk)) + 0.1 * rng.normal(size=customers)
        frame["payment_behaviour"] = np.clip(np.round(risk + 1.5), 0, 3)
        frame["days_past_due"] = np.where(risk > 1.5, 40, 0)
        frame["payment_to_minimum"] = np.where(rng.random(customers) < 0.2, np.nan, 1.0)
        next_risk = 0.8 * risk + 0.6 * rng.normal(size=customers)
        frame[LABEL] = (next_risk > 0.7).astype(float)
        frame["customer_id"] = [f"C{i:04d}" for i in range(customers)]
        frame["month"] = month
        frame["utilization_pct"] = frame["utilization"] * 100
        frames.append(frame)
    history = pd.concat(frames, ignore_index=True)
    history.loc[history["month"] == MONTHS[-1], LABEL] = np.nan
    return history


def test_train_and_evaluate_measures_both_models_out_of_time():
    history = synthetic_history()
    models, evaluation = train_and_evaluate(history, MONTHS[:5], MONTHS[5:7], FAST)
    assert set(models) == set(MODEL_NAMES)
    assert evaluation.champion in MODEL_NAMES
    assert evaluation.fit_months == MONTHS[:4]
    assert evaluation.validation_months == [MONTHS[4]]
    assert evaluation.test_months == MONTHS[5:7]
    assert evaluation.n_train == 5 * 250
    for name in MODEL_NAMES:
        test = evaluation.test[name]
        assert test.n == 2 * 250
        assert test.auc > 0.75
        assert test.gini == pytest.approx(2 * test.auc - 1)
        assert 0 < test.ks <= 1
        assert 0 <= test.brier < 0.25
        assert 0 < test.positive_rate < 1
        assert evaluation.validation[name].n == 250
    assert 0 < evaluation.threshold < 1
    # the baseline explains itself: one coefficient per feature (+ missing indicators)
    assert set(FEATURES) <= set(evaluation.baseline_coefficients)
    assert "missing: payment_to_minimum" in evaluation.baseline_coefficients
    probabilities = models[evaluation.champion].predict_proba(history[FEATURES])[:, 1]
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_rows_probability_does_not_depend_on_the_rows_scored_with_it(name):
    history = synthetic_history(customers=400)
    models, _ = train_and_evaluate(history, MONTHS[:5], MONTHS[5:7], FAST)
    model, rows = models[name], history[history["month"] == MONTHS[-1]]
    whole = predict(model, rows)
    assert whole == pytest.approx(model.predict_proba(rows[FEATURES])[:, 1], abs=1e-12)
    for part in np.array_split(np.random.default_rng(3).permutation(len(rows)), 7):
        assert (predict(model, rows.iloc[part]) == whole[part]).all(), "bit for bit, per row"


def test_a_feature_without_any_value_in_training_is_harmless():
    history = synthetic_history()
    early = history["month"] <= MONTHS[4]
    history.loc[early, "utilization_change_3m"] = np.nan  # no 3-month trend yet for anyone
    models, evaluation = train_and_evaluate(history, MONTHS[:4], MONTHS[4:6], FAST)
    assert evaluation.test[evaluation.champion].auc > 0.75
    assert evaluation.baseline_coefficients["utilization_change_3m"] == 0.0
    later = history[~early]
    assert models[CHALLENGER].predict_proba(later[FEATURES])[:, 1].shape == (len(later),)


def test_a_fixed_threshold_is_used_as_given():
    _, evaluation = train_and_evaluate(
        synthetic_history(), MONTHS[:4], MONTHS[4:6], ModelSettings(max_iter=20, threshold="0.3")
    )
    assert evaluation.threshold == 0.3


def test_the_challenger_must_beat_the_baseline_by_the_configured_gain():
    settings = ModelSettings(max_iter=20, min_auc_gain=1.0)  # impossible to beat by a whole AUC
    _, evaluation = train_and_evaluate(synthetic_history(), MONTHS[:4], MONTHS[4:6], settings)
    assert evaluation.champion == BASELINE


@pytest.mark.parametrize(
    ("train", "test"),
    [(MONTHS[:5], MONTHS[4:6]), (MONTHS[3:6], MONTHS[1:2]), (MONTHS[:1], MONTHS[2:3])],
)
def test_train_and_evaluate_refuses_windows_that_are_not_out_of_time(train, test):
    with pytest.raises(ValueError):
        train_and_evaluate(synthetic_history(customers=50), train, test, FAST)


def test_labelled_months_before_a_month_are_strictly_earlier():
    history = synthetic_history(customers=20)
    assert labelled_months_before(history, MONTHS[-1]) == MONTHS[:-1]
    assert labelled_months_before(history, MONTHS[3]) == MONTHS[:3]


def test_scoring_with_too_little_history_is_skipped_not_crashed():
    history = synthetic_history(customers=50)
    run, predictions = _score_month(history, MONTHS[4], FAST, previous=None)  # 4 labelled
    assert run.status == SKIPPED
    assert predictions is None
    assert "not enough history" in run.detail
    assert run.evaluation is None
    assert run.utilization_psi is not None


def test_scoring_a_month_gives_one_probability_per_customer_and_records_the_windows():
    history = synthetic_history()
    month = MONTHS[-1]
    run, predictions = _score_month(history, month, FAST, previous=None)
    assert run.status == SCORED
    assert len(predictions) == 250 == run.n_scored
    assert predictions["customer_id"].is_unique
    assert (predictions["month"] == month).all()
    assert predictions["probability"].between(0, 1).all()
    expected_flags = predictions["probability"] >= run.evaluation.threshold
    assert (predictions["is_predicted_high_risk"] == expected_flags).all()
    assert (predictions["model_version"] == run.model_version).all()
    evaluation = run.evaluation
    assert evaluation.test_months == MONTHS[-3:-1]
    assert max(evaluation.train_months) < min(evaluation.test_months) < month
    assert run.score_psi is None  # no previous month to compare with
    assert run.champion_auc > 0.75


def test_score_psi_compares_with_the_previous_months_scores():
    history = synthetic_history()
    _, previous = _score_month(history, MONTHS[-2], FAST, previous=None)
    run, _ = _score_month(history, MONTHS[-1], FAST, previous=previous["probability"])
    assert run.score_psi is not None and 0 <= run.score_psi < 0.25


def test_scores_of_a_month_do_not_depend_on_later_months():
    history = synthetic_history()
    month = MONTHS[-3]
    _, before = _score_month(history, month, FAST, previous=None)
    later = history["month"] > month
    scrambled = history.copy()
    scrambled.loc[later, FEATURES] = 7.0
    scrambled.loc[later, LABEL] = 1.0 - scrambled.loc[later, LABEL]
    _, after = _score_month(scrambled, month, FAST, previous=None)
    pd.testing.assert_frame_equal(before, after)


def test_model_version_is_deterministic_and_follows_the_settings():
    first = model_version(CHALLENGER, "2024-11", ModelSettings())
    assert first == model_version(CHALLENGER, "2024-11", ModelSettings())
    assert first.startswith("hr1-hgb-2024-11-")
    assert first != model_version(CHALLENGER, "2024-11", ModelSettings(max_iter=10))
    assert model_version(BASELINE, "2024-11", ModelSettings()).startswith("hr1-logit-")


def test_format_evaluation():
    assert "no model runs" in format_evaluation(pd.DataFrame())
    runs = pd.DataFrame(
        {
            "run_id": [1, 2],
            "scored_month": ["2024-03", "2024-12"],
            "run_status": [SKIPPED, SCORED],
            "model_version": [None, "hr1-hgb-2024-11-abcdef12"],
            "champion": [None, CHALLENGER],
            "champion_auc": [None, 0.9531],
            "baseline_auc": [None, 0.95],
            "detail": ["not enough history", None],
        }
    )
    text = format_evaluation(runs)
    assert "2024-12" in text and "0.953" in text and "not enough history" in text
