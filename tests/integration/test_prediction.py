"""Next-month high-risk predictions on a real MariaDB: realistic data, published, then scored."""

from __future__ import annotations

import json

import pytest

from credit_risk.analytics.features import FEATURES, load_history
from credit_risk.analytics.model import (
    MODEL_NAMES,
    SCORED,
    SKIPPED,
    evaluate_model,
    format_evaluation,
    score_all_months,
    score_customers,
)
from credit_risk.generate.realistic import generate_realistic
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import query

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS, MONTHS, SEED = 600, 10, 11
LATEST = "2024-10"
AUC_FLOOR = 0.70  # the target is 0.80 at 2,000 customers; this only catches a broken model


@pytest.fixture(scope="module")
def published(new_db_url, tmp_path_factory):
    """A database holding a published realistic snapshot of 600 customers x 10 months."""
    extract = tmp_path_factory.mktemp("realistic")
    generate_realistic(extract, customers=CUSTOMERS, months=MONTHS, seed=SEED)
    db_url = new_db_url()
    run(warehouse_from_url(db_url), extract, validate=False)
    return db_url


@pytest.fixture(scope="module")
def scored(published):
    """The latest month scored once (the run every other test looks at)."""
    return published, score_customers(warehouse_from_url(published))


def test_every_customer_with_a_statement_gets_one_probability(scored):
    db_url, model_run = scored
    assert model_run.status == SCORED
    assert model_run.month == LATEST
    statements = query(
        db_url,
        "select count(*) from published_customer_month where month = %s and has_statement",
        (LATEST,),
    )[0][0]
    rows = query(
        db_url,
        "select count(*), count(distinct customer_id), min(probability), max(probability), "
        "count(distinct model_version), max(model_version) "
        "from high_risk_predictions where month = %s",
        (LATEST,),
    )[0]
    count, customers, lowest, highest, versions, version = rows
    assert count == customers == statements == CUSTOMERS == model_run.n_scored
    assert 0.0 <= lowest <= highest <= 1.0
    assert versions == 1 and version == model_run.model_version
    missing = query(
        db_url,
        "select count(*) from published_customer_month as p "
        "left join high_risk_predictions as h on h.customer_id = p.customer_id "
        "and h.month = p.month where p.month = %s and p.has_statement and h.customer_id is null",
        (LATEST,),
    )
    assert missing == [(0,)]
    # only the scored month is written
    assert query(db_url, "select distinct month from high_risk_predictions") == [(LATEST,)]


def test_the_flag_follows_the_recorded_threshold(scored):
    db_url, model_run = scored
    threshold = model_run.evaluation.threshold
    wrong = query(
        db_url,
        "select count(*) from high_risk_predictions "
        "where month = %s and is_predicted_high_risk <> (probability >= %s)",
        (LATEST, threshold),
    )
    assert wrong == [(0,)]


def test_the_model_run_is_recorded_with_out_of_time_metrics(scored):
    db_url, model_run = scored
    row = query(
        db_url,
        "select run_status, champion, train_first_month, train_last_month, test_first_month, "
        "test_last_month, n_train, n_test, champion_auc, champion_gini, champion_ks, "
        "champion_brier, baseline_auc, baseline_brier, features, utilization_psi, "
        "decision_threshold, model_version from model_runs where run_id = %s",
        (model_run.run_id,),
    )[0]
    (status, champion, train_first, train_last, test_first, test_last, n_train, n_test) = row[:8]
    (auc, gini, ks, brier, baseline_auc, baseline_brier, features, utilization_psi) = row[8:16]
    assert status == SCORED and champion in MODEL_NAMES
    # labelled months before 2024-10 are 2024-01..2024-09; the last two are the test window
    assert (train_first, train_last, test_first, test_last) == (
        "2024-01",
        "2024-07",
        "2024-08",
        "2024-09",
    )
    assert n_train == 7 * CUSTOMERS and n_test == 2 * CUSTOMERS
    assert auc >= AUC_FLOOR and baseline_auc >= AUC_FLOOR
    assert gini == pytest.approx(2 * auc - 1)
    assert 0 < ks <= 1 and 0 <= brier < 0.25 and 0 <= baseline_brier < 0.25
    assert json.loads(features) == FEATURES
    assert utilization_psi is not None and utilization_psi >= 0
    assert row[16] == pytest.approx(model_run.evaluation.threshold)
    assert row[17] == model_run.model_version


def test_the_prediction_summary_counts_the_scores_by_current_segment(scored):
    """The dashboard's prediction card reads this summary; it must equal the scores it counts."""
    db_url, model_run = scored
    expected = query(
        db_url,
        "select p.risk_category, count(*), sum(h.is_predicted_high_risk) "
        "from high_risk_predictions as h join published_customer_month as p "
        "on p.customer_id = h.customer_id and p.month = h.month "
        "where h.month = %s group by p.risk_category order by p.risk_category",
        (LATEST,),
    )
    summary = query(
        db_url,
        "select risk_category, scored, predicted_high_risk from high_risk_prediction_segments "
        "where month = %s order by risk_category",
        (LATEST,),
    )
    assert [(category, int(n), int(flagged)) for category, n, flagged in expected] == summary
    assert sum(row[1] for row in summary) == model_run.n_scored
    assert query(db_url, "select distinct month from high_risk_prediction_segments") == [(LATEST,)]


def test_scored_customer_month_copies_each_score_with_its_published_figures(scored):
    """The dashboard's export in probability order reads this copy; it must equal the join."""
    db_url, model_run = scored
    joined = query(
        db_url,
        "select h.customer_id, p.risk_category, h.probability, h.is_predicted_high_risk, "
        "p.utilization_pct, p.credit_limit, p.outstanding_balance, p.days_past_due, "
        "p.monthly_spend from high_risk_predictions as h join published_customer_month as p "
        "on p.customer_id = h.customer_id and p.month = h.month where h.month = %s "
        "order by h.customer_id",
        (LATEST,),
    )
    copied = query(
        db_url,
        "select customer_id, risk_category, probability, is_predicted_high_risk, "
        "utilization_pct, credit_limit, outstanding_balance, days_past_due, monthly_spend "
        "from scored_customer_month where month = %s order by customer_id",
        (LATEST,),
    )
    assert copied == joined and len(copied) == model_run.n_scored


def test_rescoring_a_month_replaces_its_rows_idempotently(scored):
    db_url, first = scored
    before = query(
        db_url,
        "select customer_id, probability, is_predicted_high_risk, model_version "
        "from high_risk_predictions where month = %s order by customer_id",
        (LATEST,),
    )
    again = score_customers(warehouse_from_url(db_url), LATEST)
    after = query(
        db_url,
        "select customer_id, probability, is_predicted_high_risk, model_version "
        "from high_risk_predictions where month = %s order by customer_id",
        (LATEST,),
    )
    assert after == before
    assert query(
        db_url,
        "select sum(scored) from high_risk_prediction_segments where month = %s",
        (LATEST,),
    ) == [(len(after),)]
    assert again.model_version == first.model_version
    assert again.run_id > first.run_id  # every run is recorded


def test_a_month_without_enough_history_is_skipped_and_says_why(scored):
    db_url, _ = scored
    model_run = score_customers(warehouse_from_url(db_url), "2024-03")
    assert model_run.status == SKIPPED
    assert query(db_url, "select count(*) from high_risk_predictions where month = '2024-03'") == [
        (0,)
    ]
    status, detail, auc = query(
        db_url,
        "select run_status, detail, champion_auc from model_runs where run_id = %s",
        (model_run.run_id,),
    )[0]
    assert status == SKIPPED and "not enough history" in detail and auc is None


def test_an_unpublished_month_is_refused(scored):
    db_url, _ = scored
    with pytest.raises(ValueError, match="no published statements"):
        score_customers(warehouse_from_url(db_url), "2025-06")


def test_features_come_only_from_the_published_snapshot(scored):
    db_url, _ = scored
    history = load_history(warehouse_from_url(db_url))
    assert len(history) == CUSTOMERS * MONTHS
    assert history[["customer_id", "month"]].drop_duplicates().shape[0] == len(history)
    # the label of the latest month needs a month that is not published yet
    assert history.loc[history["month"] == LATEST, "label"].isna().all()
    assert history.loc[history["month"] < LATEST, "label"].notna().all()


def test_a_backfill_scores_every_month_with_enough_history(published):
    db_url = published
    runs = score_all_months(warehouse_from_url(db_url))
    statuses = {model_run.month: model_run.status for model_run in runs}
    # 2 train + 1 validation + 2 test labelled months are needed: 2024-06 is the first scored
    assert [month for month, status in statuses.items() if status == SCORED] == [
        "2024-06",
        "2024-07",
        "2024-08",
        "2024-09",
        "2024-10",
    ]
    per_month = query(
        db_url,
        "select month, count(*), count(distinct customer_id) from high_risk_predictions "
        "group by month order by month",
    )
    assert per_month == [
        (month, CUSTOMERS, CUSTOMERS) for month, s in statuses.items() if s == SCORED
    ]
    # each month after the first scored one is compared with its predecessor
    assert all(r.score_psi is not None for r in runs if r.status == SCORED and r.month > "2024-06")
    for model_run in runs:
        if model_run.status == SCORED:
            assert max(model_run.evaluation.test_months) < model_run.month
    evaluation = evaluate_model(warehouse_from_url(db_url))
    assert evaluation["scored_month"].tolist() == sorted(statuses)
    assert "2024-10" in format_evaluation(evaluation)
