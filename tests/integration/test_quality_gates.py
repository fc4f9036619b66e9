"""Each Great Expectations suite passes on good data and fails on the breakage it guards against."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from credit_risk import pipeline, steps
from credit_risk.generate.realistic import generate_realistic
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.quality.input_suite import validate_input
from credit_risk.quality.loaded_suite import validate_loaded
from credit_risk.warehouse.db import warehouse_from_url
from credit_risk.warehouse.load import load_extract
from tests.conftest import execute, query
from tests.integration.refresh_helpers import build_month, validate_build

pytestmark = pytest.mark.integration

MONTHS = ("2024-01", "2024-02", "2024-03")


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    """Monthly drops of a 300-customer realistic portfolio (enough for distribution checks)."""
    root = tmp_path_factory.mktemp("drops")
    generate_realistic(root / "full", customers=300, months=3, start="2024-01", seed=5)
    return {month: pipeline.slice_month(root / "full", month, root / month) for month in MONTHS}


@pytest.fixture(scope="module")
def published_two_months(new_db_url, drops, tmp_path_factory):
    """A warehouse where January and February went through every gate and were published."""
    db_url = new_db_url()
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:2]:
        report = steps.publish_extract(warehouse, drops[month], month)
        assert [result["success"] for result in report.validations] == [True, True, True]
    return warehouse, db_url


def failed(result) -> set[str]:
    return {failure.expectation for failure in result.failures}


def copy_drop(drop: Path, target: Path) -> Path:
    shutil.copytree(drop, target)
    return target


# --- input --------------------------------------------------------------------------------------


def test_input_suite_passes_on_a_good_monthly_drop(drops, tmp_path):
    result = validate_input(drops["2024-02"], "2024-02", docs_root=tmp_path)
    assert result.success, result.summary()
    assert result.evaluated >= 20
    assert Path(result.data_docs).is_file()


def test_input_suite_fails_on_a_missing_column(drops, tmp_path):
    drop = copy_drop(drops["2024-02"], tmp_path / "drop")
    statements = pd.read_csv(drop / "statements.csv", dtype=str)
    statements.drop(columns=["days_past_due"]).to_csv(drop / "statements.csv", index=False)
    result = validate_input(drop, "2024-02", docs_root=tmp_path)
    assert not result.success
    assert "expect_table_columns_to_match_set" in failed(result)
    # the columns as delivered, never the suite's own numeric copies
    (columns,) = [
        f for f in result.failures if f.expectation == "expect_table_columns_to_match_set"
    ]
    assert "credit_limit" in columns.observed and "__number" not in str(result.error())


def test_input_suite_fails_on_duplicate_transaction_ids(drops, tmp_path):
    drop = copy_drop(drops["2024-02"], tmp_path / "drop")
    transactions = pd.read_csv(drop / "transactions.csv", dtype=str)
    doubled = pd.concat([transactions, transactions.head(len(transactions) // 20)])
    doubled.to_csv(drop / "transactions.csv", index=False)
    result = validate_input(drop, "2024-02", docs_root=tmp_path)
    assert failed(result) == {"expect_column_values_to_be_unique"}
    assert "transaction_id" in str(result.error())


def test_input_suite_fails_when_the_drop_holds_another_month(drops, tmp_path):
    result = validate_input(drops["2024-01"], "2024-02", docs_root=tmp_path)
    assert "expect_column_values_to_match_regex" in failed(result)
    assert "month being loaded" in str(result.error())


def test_input_suite_tolerates_a_few_bad_rows_the_loader_will_quarantine(drops, tmp_path):
    drop = copy_drop(drops["2024-02"], tmp_path / "drop")
    transactions = pd.read_csv(drop / "transactions.csv", dtype=str)
    transactions.loc[0, "amount"] = "twelve"
    transactions.to_csv(drop / "transactions.csv", index=False)
    assert validate_input(drop, "2024-02", docs_root=tmp_path).success


# --- loaded -------------------------------------------------------------------------------------


def test_loaded_suite_passes_after_a_clean_load(published_two_months, tmp_path):
    warehouse, _ = published_two_months
    result = validate_loaded(warehouse, "2024-02", docs_root=tmp_path)
    assert result.success, result.summary()


def test_loaded_suite_fails_when_too_many_rows_are_quarantined(new_db_url, drops, tmp_path):
    warehouse = warehouse_from_url(new_db_url())
    drop = copy_drop(drops["2024-01"], tmp_path / "drop")
    transactions = pd.read_csv(drop / "transactions.csv", dtype=str)
    transactions.loc[: len(transactions) // 10, "amount"] = "n/a"
    transactions.to_csv(drop / "transactions.csv", index=False)
    load_extract(warehouse, drop, "2024-01")
    result = validate_loaded(warehouse, "2024-01", docs_root=tmp_path)
    assert failed(result) == {"expect_column_max_to_be_between"}
    assert "quarantine_rate" in str(result.error())
    # the value beside its bound, in the same unit: "0.1 (allowed: at most 0.01)"
    (failure,) = result.failures
    assert failure.observed.endswith("(allowed: at most 0.01)"), failure.observed
    assert not failure.observed.startswith("observed")


def test_loaded_suite_fails_when_a_transaction_has_no_statement(new_db_url, drops, tmp_path):
    db_url = new_db_url()
    warehouse = warehouse_from_url(db_url)
    load_extract(warehouse, drops["2024-01"], "2024-01")
    (customer,) = query(db_url, "select customer_id from transactions limit 1")[0]
    execute(db_url, "delete from statements where customer_id = %s", (customer,))
    result = validate_loaded(warehouse, "2024-01", docs_root=tmp_path)
    assert "unexpected_rows_expectation" in failed(result)
    assert "has a statement" in str(result.error())


def test_loaded_suite_fails_when_the_transactions_vanish_beside_their_statements(
    new_db_url, drops, tmp_path
):
    """A header-only transactions.csv: every row accounted for, nothing quarantined, and yet
    the month lost its transactions. The gate says so, and the month cannot be built."""
    warehouse = warehouse_from_url(new_db_url())
    drop = copy_drop(drops["2024-01"], tmp_path / "drop")
    header = (drop / "transactions.csv").read_text().splitlines()[0]
    (drop / "transactions.csv").write_text(header + "\n")
    load_extract(warehouse, drop, "2024-01")
    result = validate_loaded(warehouse, "2024-01", docs_root=tmp_path)
    assert failed(result) == {"expect_column_values_to_be_between"}
    assert "transactions_stored" in str(result.error())
    assert "header-only or lost transactions.csv" in str(result.error())


def test_loaded_suite_fails_on_a_drop_loaded_under_the_wrong_month(new_db_url, drops, tmp_path):
    warehouse = warehouse_from_url(new_db_url())
    load_extract(warehouse, drops["2024-01"], "2024-02")  # every row is of another month
    result = validate_loaded(warehouse, "2024-02", docs_root=tmp_path)
    assert not result.success
    assert "statements were loaded for 2024-02" in str(result.error())


# --- published ----------------------------------------------------------------------------------


def test_published_suite_passes_on_a_fresh_candidate(published_two_months, tmp_path):
    warehouse, _ = published_two_months
    built = build_month(warehouse, "2024-02")
    result = validate_build(warehouse, built, tmp_path)
    assert result.success, result.summary()
    assert built.plan.months == ["2024-02"] and built.plan.lookback == ["2024-01"]


def test_published_suite_catches_a_wrong_category(published_two_months, tmp_path):
    warehouse, db_url = published_two_months
    built = build_month(warehouse, "2024-02")
    execute(
        db_url,
        f"update {built.table('published_customer_month')} set risk_category = 'Low Risk' "
        "where risk_category = 'High Risk' limit 1",
    )
    result = validate_build(warehouse, built, tmp_path)
    assert failed(result) == {"unexpected_rows_expectation"}
    assert "agrees with the thresholds" in str(result.error())


def test_published_suite_catches_a_utilization_mismatch(published_two_months, tmp_path):
    warehouse, db_url = published_two_months
    built = build_month(warehouse, "2024-02")
    execute(
        db_url,
        f"update {built.table('published_customer_month')} "
        "set utilization_pct = utilization_pct + 0.01 "
        "where has_statement and credit_limit > 0 limit 3",
    )
    result = validate_build(warehouse, built, tmp_path)
    assert failed(result) == {"unexpected_rows_expectation"}
    error = str(result.error())
    assert "utilization_pct = round" in error and "3 unexpected rows" in error


@pytest.mark.parametrize(
    ("column", "change"), [("rolling_3_month_avg", 0.01), ("rolling_6_month_avg", -0.01)]
)
def test_published_suite_catches_a_rolling_average_off_by_a_cent(
    published_two_months, tmp_path, column, change
):
    """The averages recompute from the spend of their window, January read from the published
    table: a cent off is caught."""
    warehouse, db_url = published_two_months
    built = build_month(warehouse, "2024-02")
    execute(
        db_url,
        f"update {built.table('published_customer_month')} set {column} = {column} + {change} "
        "where month = '2024-02' limit 1",
    )
    result = validate_build(warehouse, built, tmp_path)
    assert failed(result) == {"unexpected_rows_expectation"}
    assert "mean spend of their 3 and 6 calendar months" in str(result.error())


def test_published_suite_catches_a_distribution_shift_of_valid_rows(
    published_two_months, drops, tmp_path
):
    """Every row of the shifted month is valid; only the comparison with February catches it."""
    warehouse, _ = published_two_months
    drop = copy_drop(drops["2024-03"], tmp_path / "drop")
    statements = pd.read_csv(drop / "statements.csv", dtype=str)
    limits = statements["credit_limit"].astype(float)
    statements["outstanding_balance"] = (limits * 0.93).map("{:.2f}".format)
    statements.to_csv(drop / "statements.csv", index=False)
    assert validate_input(drop, "2024-03", docs_root=tmp_path).success
    load_extract(warehouse, drop, "2024-03")
    assert validate_loaded(warehouse, "2024-03", docs_root=tmp_path).success
    pipeline.check_loaded(warehouse, "2024-03")
    built = build_month(warehouse, "2024-03")
    result = validate_build(warehouse, built, tmp_path)
    assert {failure.column for failure in result.failures} == {
        "high_risk_share_shift_beyond_noise",
        "utilization_psi_beyond_noise",
    }
    assert "against 2024-02" in str(result.error())
    # put the real March back for the other tests of this module
    load_extract(warehouse, drops["2024-03"], "2024-03")


def test_validate_and_record_raises_and_records(published_two_months, tmp_path):
    warehouse, db_url = published_two_months
    built = build_month(warehouse, "2024-02")
    execute(
        db_url,
        f"update {built.table('published_customer_month')} set risk_category = 'Bogus' limit 1",
    )
    with pytest.raises(ValidationFailedError) as raised:
        pipeline.check_published(warehouse, built, run_id="test-run")
    assert raised.value.suite == "published"
    assert "Bogus" in str(raised.value)
    row = query(
        db_url,
        "select stage, partition_month, is_success, failed_expectations, run_id, failures "
        "from validation_runs order by validation_run_id desc limit 1",
    )[0]
    assert row[:5] == ("published", "2024-02", 0, 2, "test-run")
    assert "Bogus" in row[5]


def test_a_small_portfolio_turning_high_risk_is_caught_beyond_sampling_noise(new_db_url, tmp_path):
    """60 customers: a month going (nearly) all High Risk must not publish, though sampling
    noise on so few rows is wide; the months before, moving by chance, pass."""
    root = tmp_path / "small"
    generate_realistic(root / "full", customers=60, months=3, start="2024-01", seed=8)
    small = {month: pipeline.slice_month(root / "full", month, root / month) for month in MONTHS}
    warehouse = warehouse_from_url(new_db_url())
    for month in MONTHS[:2]:
        report = steps.publish_extract(warehouse, small[month], month)  # every gate passes
        assert all(result["success"] for result in report.validations), month
    statements = pd.read_csv(small["2024-03"] / "statements.csv", dtype=str)
    limits = statements["credit_limit"].astype(float)
    statements["outstanding_balance"] = (limits * 0.95).map("{:.2f}".format)
    statements.to_csv(small["2024-03"] / "statements.csv", index=False)
    with pytest.raises(ValidationFailedError) as refused:
        steps.publish_extract(warehouse, small["2024-03"], "2024-03")
    columns = {failure.column for failure in refused.value.failures}
    assert columns == {"high_risk_share_shift_beyond_noise", "utilization_psi_beyond_noise"}
    assert "what sampling noise explains" in " ".join(str(refused.value).split())  # wrapped
