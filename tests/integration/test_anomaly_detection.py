"""spend_anomalies on a real warehouse: filled from the published snapshot, idempotent, a month
at a time, and good enough against the generator's labels (a floor well under the target)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from credit_risk.analytics.anomalies import (
    COMBINED,
    SEED_RULE,
    TABLE,
    AnomalySettings,
    detect_anomalies,
    evaluate_anomalies,
    score_customer_months,
    table_rows,
)
from credit_risk.generate.realistic import LABELS_FILE, generate_realistic
from credit_risk.months import month_range
from credit_risk.quality.analytics_suite import validate_anomalies
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import execute, query

pytestmark = pytest.mark.integration

SIZE = {"customers": 400, "months": 8, "start": "2024-01", "seed": 11}
MONTHS = month_range(SIZE["start"], SIZE["months"])
ROWS = (
    f"select customer_id, month, monthly_spend, baseline_mean, baseline_std, z_score, "
    f"anomaly_score, is_anomaly, anomaly_reason, history_months, detectors, model_version "
    f"from {TABLE}"
)
ORDER = " order by customer_id, month"
RECALL_FLOOR, PRECISION_FLOOR = 0.40, 0.60


@pytest.fixture(scope="module")
def published(new_db_url, tmp_path_factory) -> tuple[str, Path]:
    """A realistic extract (with labels.csv beside it) loaded and published, unvalidated."""
    folder = tmp_path_factory.mktemp("anomalies")
    generate_realistic(folder, **SIZE)
    db_url = new_db_url()
    run(warehouse_from_url(db_url), folder, validate=False)
    return db_url, folder


@pytest.fixture(scope="module")
def detected(published) -> tuple[str, Path, list[tuple]]:
    """spend_anomalies filled for every month, and its rows."""
    db_url, folder = published
    detect_anomalies(warehouse_from_url(db_url))
    return db_url, folder, query(db_url, ROWS + ORDER)


def test_one_row_per_published_customer_month(detected):
    db_url, _, rows = detected
    (published,) = query(db_url, "select count(*) from published_customer_month")[0]
    assert len(rows) == published == SIZE["customers"] * SIZE["months"]
    keys = query(
        db_url,
        "select column_name from information_schema.key_column_usage "
        f"where table_schema = database() and table_name = '{TABLE}' "
        "and constraint_name = 'PRIMARY' order by ordinal_position",
    )
    assert [key[0] for key in keys] == ["customer_id", "month"]


def test_rows_carry_the_issue_columns_and_reasons(detected):
    db_url, _, _ = detected
    flagged = query(
        db_url,
        f"select anomaly_reason, detectors from {TABLE} where is_anomaly",
    )
    assert flagged
    assert all(reason and detectors for reason, detectors in flagged)
    too_new = query(
        db_url,
        f"select is_anomaly, anomaly_reason from {TABLE} where history_months < 3",
    )
    assert len(too_new) == 3 * SIZE["customers"]
    assert all(not flag and reason.startswith("insufficient history") for flag, reason in too_new)
    (detected_at,) = query(db_url, f"select count(*) from {TABLE} where detected_at is null")[0]
    assert detected_at == 0


def test_running_again_gives_the_same_rows(detected):
    db_url, _, rows = detected
    detect_anomalies(warehouse_from_url(db_url))
    assert query(db_url, ROWS + ORDER) == rows


def test_one_month_replaces_only_that_month_with_the_same_rows(detected):
    db_url, _, rows = detected
    month, other = MONTHS[-1], MONTHS[-2]
    execute(db_url, f"delete from {TABLE} where month = %s", (month,))
    execute(db_url, f"update {TABLE} set anomaly_reason = 'stale' where month = %s", (other,))
    written = detect_anomalies(warehouse_from_url(db_url), month)
    assert set(written["month"]) == {month}
    expected = [row for row in rows if row[1] == month]
    assert query(db_url, ROWS + " where month = %s" + ORDER, (month,)) == expected
    # Other months are left alone, even when they are out of date.
    stale = query(db_url, f"select count(*) from {TABLE} where anomaly_reason = 'stale'")
    assert stale == [(SIZE["customers"],)]
    detect_anomalies(warehouse_from_url(db_url))  # leave the table as the module found it
    assert query(db_url, ROWS + ORDER) == rows


def test_the_server_aggregates_give_the_rows_of_scoring_in_memory(detected):
    """A month is scored from its baseline window summed up by the server (counts, ticket
    quartiles, categories used); scoring the whole published history in memory, with the same
    figures computed by pandas, gives exactly the same rows."""
    db_url, _, rows = detected
    engine = warehouse_from_url(db_url).engine()
    try:
        customer_months = pd.read_sql(
            "select customer_id, month, cast(monthly_spend as double) as monthly_spend, "
            "cast(rolling_6_month_avg as double) as rolling_6_month_avg, "
            "cast(credit_limit as double) as credit_limit, "
            "cast(utilization_pct as double) as utilization_pct from published_customer_month",
            engine,
        )
        transactions = pd.read_sql(
            "select customer_id, month, transaction_date, "
            "cast(transaction_amount as double) as transaction_amount, transaction_type, "
            "merchant_category, channel from published_transactions",
            engine,
        )
    finally:
        engine.dispose()
    in_memory = table_rows(score_customer_months(customer_months, transactions))
    stored = pd.DataFrame(rows, columns=in_memory.columns)
    for column in ("monthly_spend", "baseline_mean", "baseline_std", "z_score", "anomaly_score"):
        stored[column] = stored[column].astype(float)
    stored["is_anomaly"] = stored["is_anomaly"].astype(bool)
    for frame in (in_memory, stored):  # NULL comes back as None, pandas writes NaN
        for column in ("anomaly_reason", "detectors"):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    pd.testing.assert_frame_equal(
        in_memory.astype({"history_months": "int64"}),
        stored.astype({"history_months": "int64"}),
        check_dtype=False,
        atol=0.011,
    )
    assert stored["is_anomaly"].sum() > 0


def test_labels_are_never_loaded(published):
    db_url, folder = published
    assert (folder / LABELS_FILE).is_file()
    sources = query(db_url, "select source_file from load_audit")
    assert sources and not any(LABELS_FILE in source for (source,) in sources)
    tables = query(
        db_url,
        "select table_name from information_schema.tables "
        "where table_schema = database() and table_name like '%label%'",
    )
    assert tables == []


def test_precision_and_recall_clear_the_floor_and_beat_the_seed_rule(detected):
    db_url, folder, _ = detected
    table = evaluate_anomalies(
        warehouse_from_url(db_url), folder / LABELS_FILE, AnomalySettings()
    ).set_index("rule")
    combined, seed_rule = table.loc[COMBINED], table.loc[SEED_RULE]
    assert combined["recall"] >= RECALL_FLOOR
    assert combined["precision"] >= PRECISION_FLOOR
    assert combined["f1"] > seed_rule["f1"]
    # Same eligible customer-months for every rule: the label count is shared.
    positives = (table["true_positives"] / table["recall"]).dropna().round().unique()
    assert len(positives) == 1


def test_the_analytics_suite_holds_the_flags_to_the_target_alert_rate(detected, tmp_path):
    db_url, _, rows = detected
    month = MONTHS[-1]
    warehouse = warehouse_from_url(db_url)
    assert validate_anomalies(warehouse, month, docs_root=tmp_path).success
    try:
        # detectors that flag half the month break the cap
        execute(
            db_url,
            f"update {TABLE} set is_anomaly = true, anomaly_score = 9 "
            "where month = %s and anomaly_score is not null and mod(crc32(customer_id), 2) = 0",
            (month,),
        )
        failed = validate_anomalies(warehouse, month, docs_root=tmp_path)
        assert not failed.success
        texts = " ".join(failure.description for failure in failed.failures)
        assert "flags stay within the target alert rate" in texts
        assert "wave of anomalies" in texts
        # a wave the cap holds back (flags within the rate, many more scores above the minimum)
        execute(db_url, f"update {TABLE} set is_anomaly = false where month = %s", (month,))
        wave = validate_anomalies(warehouse, month, docs_root=tmp_path)
        assert [failure.description for failure in wave.failures] == [
            failure.description
            for failure in failed.failures
            if "wave of anomalies" in failure.description
        ]
    finally:
        detect_anomalies(warehouse, month)  # leave the table as the module found it
    assert query(db_url, ROWS + ORDER) == rows
