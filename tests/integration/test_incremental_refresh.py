"""Monthly refreshes build only what changes, and always equal a full rebuild.

Every test drives the real steps (``steps.publish_extract`` or the steps the DAG's tasks call)
against a real MariaDB; the reference is ``credit-risk build --full``: every month rebuilt from the
loaded tables."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import MySQLdb
import pandas as pd
import pytest

from credit_risk import catalog, pipeline, steps
from credit_risk.generate.realistic import generate_realistic
from credit_risk.months import month_range
from credit_risk.quality.errors import ValidationFailedError
from credit_risk.quality.loaded_suite import datasets
from credit_risk.warehouse.db import connect, warehouse_from_url
from credit_risk.warehouse.ledger import MonthBlockedError, MonthNotReadyError
from credit_risk.warehouse.load import load_extract
from tests.conftest import query

pytestmark = pytest.mark.integration

MONTHS = month_range("2024-01", 12)
ORDER = {
    "published_customer_month": "customer_id, month",
    "published_transactions": "transaction_id",
    "published_purchase_profile": "customer_id, month",
    "published_portfolio_month": "month, risk_category",
    "published_utilization_buckets": "month, bucket_floor_pct",
    "published_credit_limit_month": "month, credit_limit",
    "published_customer_latest": "customer_id",
}


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    """Monthly drops of a 250-customer realistic portfolio (enough for the distribution gate),
    and a corrected version ``<month>b`` of three of them (every amount 30% higher)."""
    root = tmp_path_factory.mktemp("incremental")
    generate_realistic(root / "full", customers=250, months=12, start="2024-01", seed=3)
    drops = {month: pipeline.slice_month(root / "full", month, root / month) for month in MONTHS}
    for month in ("2024-03", "2024-07", "2024-12"):
        corrected = root / f"{month}b"
        shutil.copytree(drops[month], corrected)
        transactions = pd.read_csv(corrected / "transactions.csv", dtype=str)
        transactions["amount"] = (transactions["amount"].astype(float) * 1.3).map("{:.2f}".format)
        transactions.to_csv(corrected / "transactions.csv", index=False)
        drops[f"{month}b"] = corrected
    return drops


def shifted(drop: Path, target: Path) -> Path:
    """A copy of ``drop`` whose balances all sit at 97% of the limit: every row valid, the
    month's High Risk share far above the month before."""
    shutil.copytree(drop, target)
    statements = pd.read_csv(target / "statements.csv", dtype=str)
    statements["outstanding_balance"] = (statements["credit_limit"].astype(float) * 0.97).map(
        "{:.2f}".format
    )
    statements.to_csv(target / "statements.csv", index=False)
    return target


def published(db_url: str) -> dict[str, list[tuple]]:
    """Every published table, row for row."""
    assert set(ORDER) == set(catalog.PUBLISHED_TABLES)
    return {
        table: query(db_url, f"select * from {table} order by {order}")
        for table, order in ORDER.items()
    }


def assert_equals_a_full_rebuild(db_url: str) -> None:
    before = published(db_url)
    warehouse = warehouse_from_url(db_url)
    built = pipeline.build_refresh(warehouse, None, full=True)
    pipeline.check_published(warehouse, built)
    pipeline.publish_build(warehouse, built)
    after = published(db_url)
    for table in ORDER:
        assert before[table] == after[table], table
    assert all(before.values())


def ledger_states(db_url: str) -> dict[str, str]:
    return dict(query(db_url, "select month, state from month_ledger order by month"))


def candidate_tables(db_url: str) -> list[str]:
    rows = query(
        db_url,
        "select table_name from information_schema.tables where table_schema = database() "
        f"and table_name like '{catalog.CANDIDATE_PREFIX}%%'",
    )
    return [name for (name,) in rows]


def test_refreshes_and_out_of_order_reloads_equal_a_full_rebuild(db_url, drops):
    warehouse = warehouse_from_url(db_url)
    built = {}
    for month in MONTHS:
        built[month] = steps.publish_extract(warehouse, drops[month], month).published["months"]
    # a new month builds itself alone, whatever the history
    assert all(months == [month] for month, months in built.items())
    for step, drop in (
        ("2024-07", "2024-07b"),
        ("2024-03", "2024-03b"),
        ("2024-12", "2024-12b"),
        ("2024-03", "2024-03"),
    ):
        months = steps.publish_extract(warehouse, drops[drop], step).published["months"]
        # a reload rebuilds the month and the five after it whose windows read it, no more
        assert months == MONTHS[MONTHS.index(step) :][:6]
    assert set(ledger_states(db_url).values()) == {"published"}
    assert candidate_tables(db_url) == []
    assert_equals_a_full_rebuild(db_url)
    # the published rows of July are the corrected ones: 30% more spend than the original
    (spend,) = query(
        db_url, "select sum(monthly_spend) from monthly_customer_spend where month = '2024-07'"
    )[0]
    (original,) = query(
        db_url, "select sum(amount) from transactions where statement_month = '2024-07'"
    )[0]
    assert spend == original


def test_a_failed_month_is_never_published_by_the_good_months_after_it(db_url, drops, tmp_path):
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:3]:
        steps.publish_extract(warehouse, drops[month], month)
    with pytest.raises(ValidationFailedError, match="High Risk share"):
        steps.publish_extract(
            warehouse, shifted(drops["2024-04"], tmp_path / "bad-april"), "2024-04"
        )
    for month in ("2024-05", "2024-06"):
        with pytest.raises(MonthBlockedError) as blocked:
            steps.publish_extract(warehouse, drops[month], month)
        message = str(blocked.value)
        assert message.startswith(f"{month} is blocked: 2024-04")
        assert "failed validate_published" in message and "rerun 2024-04" in message
        assert "\n" not in message
    # readers never saw April, May or June
    assert query(db_url, "select distinct month from risk_segmentation order by month") == [
        (month,) for month in MONTHS[:3]
    ]
    assert ledger_states(db_url) == {
        "2024-01": "published",
        "2024-02": "published",
        "2024-03": "published",
        "2024-04": "failed",
        "2024-05": "validated",
        "2024-06": "validated",
    }
    # the fix: April's good extract; its run publishes May and June, which were waiting
    report = steps.publish_extract(warehouse, drops["2024-04"], "2024-04")
    assert report.published["months"] == ["2024-04", "2024-05", "2024-06"]
    assert set(ledger_states(db_url).values()) == {"published"}
    assert_equals_a_full_rebuild(db_url)


def test_a_month_that_fails_on_reload_keeps_its_last_good_version(db_url, drops, tmp_path):
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:4]:
        steps.publish_extract(warehouse, drops[month], month)
    before = published(db_url)
    with pytest.raises(ValidationFailedError):
        steps.publish_extract(warehouse, shifted(drops["2024-02"], tmp_path / "bad-feb"), "2024-02")
    assert published(db_url) == before
    # the months after it that read it are blocked until it is fixed
    with pytest.raises(MonthBlockedError, match="2024-05 is blocked: 2024-02"):
        steps.publish_extract(warehouse, drops["2024-05"], "2024-05")
    assert steps.publish_extract(warehouse, drops["2024-02"], "2024-02").published["months"] == [
        "2024-02",
        "2024-03",
        "2024-04",
        "2024-05",
    ]
    assert_equals_a_full_rebuild(db_url)


def test_a_backfill_behind_later_months_fills_the_gap_it_leaves(db_url, drops):
    """The first hour in Airflow: the scheduler runs the last month on unpause, a manual run the
    month before it, then a backfill loads older months in order. Each step passes the
    published gate (a 3-month window with a month not loaded yet starts at its first row) and
    the end equals a full rebuild."""
    warehouse = warehouse_from_url(db_url)
    publishes = {
        "2024-06": ["2024-06"],
        "2024-05": ["2024-05", "2024-06"],
        "2024-02": ["2024-02", "2024-05", "2024-06"],  # 03 and 04 not loaded yet
        "2024-03": ["2024-03", "2024-05", "2024-06"],
        "2024-04": ["2024-04", "2024-05", "2024-06"],
    }
    for month, expected in publishes.items():
        published = steps.publish_extract(warehouse, drops[month], month).published
        assert published["months"] == expected, month
    assert query(db_url, "select count(*) from validation_runs where not is_success") == [(0,)]
    assert_equals_a_full_rebuild(db_url)


def test_months_published_in_any_order_equal_a_full_rebuild(db_url, drops):
    """A parallel backfill publishes months in whatever order their runs get there."""
    warehouse = warehouse_from_url(db_url)
    assert steps.publish_extract(warehouse, drops["2024-02"], "2024-02").published["months"] == [
        "2024-02"
    ]
    # January comes later: it is published with February, whose windows read it
    assert steps.publish_extract(warehouse, drops["2024-01"], "2024-01").published["months"] == [
        "2024-01",
        "2024-02",
    ]
    # March and April loaded and validated, April's run first: it publishes both
    for month in ("2024-03", "2024-04"):
        load_extract(warehouse, drops[month], month)
        pipeline.check_loaded(warehouse, month)
    built = pipeline.build_refresh(warehouse, "2024-04")
    assert built.plan.months == ["2024-03", "2024-04"]
    pipeline.check_published(warehouse, built)
    pipeline.publish_build(warehouse, built)
    assert_equals_a_full_rebuild(db_url)


def test_a_refresh_waits_for_a_month_another_run_is_loading(db_url, drops):
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:2]:
        steps.publish_extract(warehouse, drops[month], month)
    for month in ("2024-03", "2024-04"):
        load_extract(warehouse, drops[month], month)
    pipeline.check_loaded(warehouse, "2024-04")
    with pytest.raises(MonthNotReadyError, match="2024-04 waits for 2024-03: loaded by run cli"):
        pipeline.build_refresh(warehouse, "2024-04")
    validator = threading.Timer(1.5, pipeline.check_loaded, (warehouse, "2024-03"))
    validator.start()
    built = pipeline.build_refresh(warehouse, "2024-04", wait_seconds=60)
    validator.join()
    assert built.plan.months == ["2024-03", "2024-04"]


def test_a_gap_in_the_months_is_named(db_url, drops):
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:2]:
        steps.publish_extract(warehouse, drops[month], month)
    with pytest.raises(MonthNotReadyError, match="2024-04 waits for 2024-03: not loaded"):
        steps.publish_extract(warehouse, drops["2024-04"], "2024-04")
    assert "2024-04" not in {m for (m,) in query(db_url, "select month from risk_segmentation")}


def test_two_runs_of_one_month_at_once_both_end_well(db_url, drops, caplog):
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:5]:
        steps.publish_extract(warehouse, drops[month], month)
    outcomes: list[object] = []

    def run_june() -> None:
        try:
            outcomes.append(
                steps.publish_extract(warehouse, drops["2024-06"], "2024-06", run_id="twin")
            )
        except Exception as error:
            outcomes.append(error)

    # Airflow's logging setup (imported by other tests) may stop propagation: listen directly
    logger = logging.getLogger("credit_risk.pipeline")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="credit_risk.pipeline"):
            runs = [threading.Thread(target=run_june) for _ in range(2)]
            for thread in runs:
                thread.start()
            for thread in runs:
                thread.join()
    finally:
        logger.removeHandler(caplog.handler)
    assert [type(outcome).__name__ for outcome in outcomes] == ["ChainReport", "ChainReport"]
    assert "another run of 2024-06 is in progress" in caplog.text
    assert candidate_tables(db_url) == []
    assert query(db_url, "select count(*) from validation_runs where not is_success") == [(0,)]
    assert_equals_a_full_rebuild(db_url)


def test_interleaved_task_steps_of_two_runs_of_one_month(db_url, drops):
    """What the DAG's tasks of two runs of one month can do in between each other."""
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:3]:
        steps.publish_extract(warehouse, drops[month], month)
    month = "2024-04"
    # run A loads, validates and builds; run B reloads the month before A publishes
    load_extract(warehouse, drops[month], month, run_id="A")
    pipeline.check_loaded(warehouse, month, "A")
    build_a = pipeline.build_refresh(warehouse, month, "A")
    pipeline.check_published(warehouse, build_a, "A")
    load_extract(warehouse, drops[month], month, run_id="B")
    pipeline.check_loaded(warehouse, month, "B")
    assert pipeline.publish_build(warehouse, build_a, "A").outcome == "superseded"
    build_b = pipeline.build_refresh(warehouse, month, "B")
    pipeline.check_published(warehouse, build_b, "B")
    assert pipeline.publish_build(warehouse, build_b, "B").outcome == "published"
    # two builds of the same loads: the second publication has nothing left to do
    load_extract(warehouse, drops[month], month, run_id="C")
    pipeline.check_loaded(warehouse, month, "C")
    build_c = pipeline.build_refresh(warehouse, month, "C")
    build_d = pipeline.build_refresh(warehouse, month, "D")
    for built in (build_c, build_d):
        pipeline.check_published(warehouse, built)
    assert pipeline.publish_build(warehouse, build_c, "C").outcome == "published"
    assert pipeline.publish_build(warehouse, build_d, "D").outcome == "already published"
    assert candidate_tables(db_url) == []
    assert_equals_a_full_rebuild(db_url)


def test_a_build_gone_stale_is_built_again_before_publishing(db_url, drops):
    """Run of May builds; then a reload of April is published (May is not published yet, so
    April's refresh leaves it); May's publication notices and builds again."""
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:4]:
        steps.publish_extract(warehouse, drops[month], month)
    load_extract(warehouse, drops["2024-05"], "2024-05")
    pipeline.check_loaded(warehouse, "2024-05")
    build_may = pipeline.build_refresh(warehouse, "2024-05")
    pipeline.check_published(warehouse, build_may)
    # April reloaded with a corrected extract (the same rows: a new load all the same)
    load_extract(warehouse, drops["2024-04"], "2024-04")
    pipeline.check_loaded(warehouse, "2024-04")
    april = pipeline.build_refresh(warehouse, "2024-04")
    assert april.plan.months == ["2024-04", "2024-05"]
    pipeline.check_published(warehouse, april)
    publication = pipeline.publish_build(warehouse, build_may)
    assert publication.outcome == "published" and publication.build_id != build_may.build_id
    # April's own build holds the same loads: nothing left to publish
    assert pipeline.publish_build(warehouse, april).outcome == "already published"
    assert_equals_a_full_rebuild(db_url)


def test_the_loaded_suite_reads_only_the_month_it_checks(db_url, drops):
    """Every query of the loaded suite is pruned to the month's partition of the loaded tables
    (EXPLAIN PARTITIONS), whatever the history around it."""
    warehouse = warehouse_from_url(db_url)
    for month in MONTHS[:3]:
        load_extract(warehouse, drops[month], month)
    queries = []
    for dataset in datasets("2024-02"):
        queries.append(dataset.query)
        for expectation in dataset.expectations:
            unexpected = getattr(expectation, "unexpected_rows_query", None)
            if unexpected:
                queries.append(unexpected.replace("{batch}", f"({dataset.query})"))
    pruned = 0
    for sql in queries:
        with connect(warehouse) as conn:
            cursor = conn.cursor(MySQLdb.cursors.DictCursor)
            cursor.execute("explain partitions " + sql)
            for row in cursor.fetchall():
                if row["table"] in ("transactions", "statements", "month_statements"):
                    assert row["partitions"] == "p202402", (sql, row)
                    pruned += 1
    assert pruned >= 3
