"""spend_anomalies on a real warehouse: filled from the published snapshot, idempotent, a month
at a time, and good enough against the generator's labels (a floor well under the target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from credit_risk.analytics.anomalies import (
    COMBINED,
    SEED_RULE,
    TABLE,
    AnomalySettings,
    detect_anomalies,
    evaluate_anomalies,
)
from credit_risk.generate.realistic import LABELS_FILE, generate_realistic
from credit_risk.months import month_range
from credit_risk.pipeline import run
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import execute, query

pytestmark = pytest.mark.integration

SIZE = {"customers": 400, "months": 8, "start": "2024-01", "seed": 11}
MONTHS = month_range(SIZE["start"], SIZE["months"])
ROWS = (
    f"select customer_id, month, monthly_spend, baseline_mean, baseline_std, z_score, "
    f"is_anomaly, anomaly_reason, history_months, detectors, model_version from {TABLE}"
)
ORDER = " order by customer_id, month"
RECALL_FLOOR, PRECISION_FLOOR = 0.75, 0.60


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


def test_every_month_alone_gives_the_rows_of_the_whole_history(detected):
    """A month scored alone reads its baseline window and the server's sums of its
    transactions (counts, median purchase); it gives exactly what scoring everything does."""
    db_url, _, rows = detected
    flagged = 0
    for month in MONTHS:
        written = detect_anomalies(warehouse_from_url(db_url), month)
        flagged += int(written["is_anomaly"].sum())
        expected = [row for row in rows if row[1] == month]
        assert query(db_url, ROWS + " where month = %s" + ORDER, (month,)) == expected, month
    assert flagged == sum(1 for row in rows if row[6])
    assert flagged > 0


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
