"""A champion trained once scores the next months (CREDIT_RISK_MODEL_RETRAIN_EVERY_MONTHS).

Training is most of a scoring run's cost once the window is full; with a cadence of N months
the runs in between only predict, with the champion stored by the last training run.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from credit_risk.analytics.features import FEATURES, load_history
from credit_risk.analytics.model import (
    REUSED,
    SCORED,
    TRAINED,
    ModelSettings,
    ensure_model_tables,
    score_customers,
)
from credit_risk.generate.realistic import generate_realistic
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import execute, query

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUARTERLY = ModelSettings(retrain_every_months=3, max_iter=40)


@pytest.fixture(scope="module")
def published(new_db_url, tmp_path_factory):
    """400 customers x 10 months, published."""
    extract = tmp_path_factory.mktemp("realistic")
    generate_realistic(extract, customers=400, months=10, seed=21)
    db_url = new_db_url()
    run(warehouse_from_url(db_url), extract, validate=False)
    return db_url


def run_row(db_url: str, run_id: int) -> dict:
    columns = (
        "training, model_trained_for, model_version, champion, decision_threshold, "
        "test_first_month, test_last_month, champion_auc, baseline_auc, n_test"
    )
    values = query(db_url, f"select {columns} from model_runs where run_id = %s", (run_id,))[0]
    return dict(zip([c.strip() for c in columns.split(",")], values, strict=True))


def test_runs_between_retrainings_score_with_the_stored_champion(published):
    warehouse = warehouse_from_url(published)
    runs = {
        month: score_customers(warehouse, month, QUARTERLY)
        for month in ("2024-07", "2024-08", "2024-09", "2024-10")
    }
    assert {m: r.status for m, r in runs.items()} == dict.fromkeys(runs, SCORED)
    assert [runs[m].training for m in runs] == [TRAINED, REUSED, REUSED, TRAINED]

    trained, august, september = runs["2024-07"], runs["2024-08"], runs["2024-09"]
    assert august.model_version == september.model_version == trained.model_version
    assert runs["2024-10"].model_version != trained.model_version
    row = run_row(published, august.run_id)
    assert row["training"] == REUSED and row["model_trained_for"] == "2024-07"
    assert row["champion"] == trained.evaluation.champion
    assert row["decision_threshold"] == pytest.approx(trained.evaluation.threshold)
    # measured on the months labelled since the training, which it never saw
    assert (row["test_first_month"], row["test_last_month"]) == ("2024-07", "2024-07")
    assert run_row(published, september.run_id)["test_last_month"] == "2024-08"
    assert row["champion_auc"] is not None and 0.5 < row["champion_auc"] <= 1.0
    assert row["baseline_auc"] is None and row["n_test"] == 400
    assert run_row(published, trained.run_id)["training"] == TRAINED

    # the stored champion is what scored August
    (blob,) = query(
        published,
        "select pickled_model from model_artifacts where model_version = %s",
        (trained.model_version,),
    )[0]
    history = load_history(warehouse, first_month="2024-03", last_month="2024-08")
    rows = history[history["month"] == "2024-08"].sort_values("customer_id")
    expected = pickle.loads(blob).predict_proba(rows[FEATURES])[:, 1]
    stored = query(
        published,
        "select probability from high_risk_predictions where month = '2024-08' "
        "order by customer_id",
    )
    np.testing.assert_allclose([p for (p,) in stored], expected, rtol=1e-9)


def test_a_model_of_another_scikit_learn_or_other_knobs_is_not_reused(published):
    warehouse = warehouse_from_url(published)
    score_customers(warehouse, "2024-07", QUARTERLY)
    other_knobs = ModelSettings(retrain_every_months=3, max_iter=41)
    assert score_customers(warehouse, "2024-08", other_knobs).training == TRAINED
    execute(published, "update model_artifacts set sklearn_version = '0.0'")
    assert score_customers(warehouse, "2024-08", QUARTERLY).training == TRAINED
    # monthly retraining (the default) always trains
    assert score_customers(warehouse, "2024-08", ModelSettings(max_iter=40)).training == TRAINED


def test_an_older_model_runs_table_gets_the_new_columns(new_db_url):
    db_url = new_db_url()
    warehouse = warehouse_from_url(db_url)
    ensure_model_tables(warehouse)
    execute(db_url, "alter table model_runs drop column model_trained_for, drop column training")
    ensure_model_tables(warehouse)
    columns = {
        name
        for (name,) in query(
            db_url,
            "select column_name from information_schema.columns "
            "where table_schema = database() and table_name = 'model_runs'",
        )
    }
    assert {"training", "model_trained_for"} <= columns


def test_the_cadence_must_be_a_positive_number_of_months():
    with pytest.raises(ValueError, match="RETRAIN_EVERY_MONTHS=0"):
        ModelSettings(retrain_every_months=0)
