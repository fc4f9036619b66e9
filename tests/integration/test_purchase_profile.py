"""The purchase profiles the anomaly baseline reads: built with each month, backfilled for a
warehouse that published months before the table existed, and read back exactly."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from credit_risk.analytics.anomalies import AnomalySettings, profile_aggregates, window_aggregates
from credit_risk.generate.realistic import generate_realistic
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import connect, warehouse_from_url
from credit_risk.warehouse.schema import ensure_tables
from credit_risk.warehouse.upgrade import missing_profile_months
from tests.conftest import execute, query

pytestmark = pytest.mark.integration

SETTINGS = AnomalySettings()
AWKWARD = 'Caf\u00e9 "Chez A", b\\c'
"""A merchant category with a quote, a comma, a backslash and an accent."""


@pytest.fixture(scope="module")
def published(new_db_url, tmp_path_factory) -> str:
    db_url = new_db_url()
    extract = tmp_path_factory.mktemp("profile")
    generate_realistic(extract, customers=60, months=4, start="2024-01", seed=11)
    run(warehouse_from_url(db_url), extract, validate=False)
    return db_url


def profiles(db_url: str) -> list[tuple]:
    return query(db_url, "select * from published_purchase_profile order by customer_id, month")


def read(db_url: str, sql: str) -> pd.DataFrame:
    engine = warehouse_from_url(db_url).engine()
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(sql), conn)
    finally:
        engine.dispose()


def test_every_published_month_has_its_profiles(published):
    months = query(published, "select distinct month from published_purchase_profile")
    assert sorted(month for (month,) in months) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    with connect(warehouse_from_url(published)) as conn:
        assert missing_profile_months(conn.cursor()) == []


def test_a_warehouse_without_profiles_gets_them_back_row_for_row(published):
    built = profiles(published)
    execute(published, "drop table published_purchase_profile")
    with connect(warehouse_from_url(published)) as conn:
        ensure_tables(conn)
    assert profiles(published) == built


def test_a_backfill_stopped_half_way_is_finished(published):
    built = profiles(published)
    execute(published, "delete from published_purchase_profile where month = '2024-03'")
    with connect(warehouse_from_url(published)) as conn:
        assert missing_profile_months(conn.cursor()) == ["2024-03"]
        ensure_tables(conn)
    assert profiles(published) == built


def test_profiles_give_the_figures_of_the_transactions(published):
    """Small online counts, ticket quartiles and categories from the profiles equal those
    computed from the transactions, even for a category that needs JSON escaping."""
    execute(
        published,
        "update published_transactions set merchant_category = %s "
        "where transaction_type = 'purchase' and month = '2024-02' and customer_id in "
        "(select customer_id from (select distinct customer_id from published_transactions "
        "where month = '2024-02' order by customer_id limit 5) as chosen)",
        (AWKWARD,),
    )
    execute(published, "delete from published_purchase_profile where month = '2024-02'")
    with connect(warehouse_from_url(published)) as conn:
        ensure_tables(conn)  # rebuilds 2024-02's profiles from the changed transactions
    transactions = read(
        published,
        "select customer_id, month, cast(transaction_amount as double) as transaction_amount, "
        "transaction_type, merchant_category, channel from published_transactions",
    )
    profile_rows = read(published, "select * from published_purchase_profile")
    expected = window_aggregates(transactions, "2024-04", SETTINGS)
    got = profile_aggregates(profile_rows, "2024-04", SETTINGS)

    def ordered(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
        return frame.sort_values(key, ignore_index=True).astype(object)

    pd.testing.assert_frame_equal(
        ordered(got["tickets"], ["customer_id"]), ordered(expected["tickets"], ["customer_id"])
    )
    pairs = ["customer_id", "merchant_category"]
    pd.testing.assert_frame_equal(
        ordered(got["categories"], pairs), ordered(expected["categories"], pairs)
    )
    assert AWKWARD in set(got["categories"]["merchant_category"])
    counts = expected["counts"]
    counts = counts[counts["small_online_count"] > 0][
        ["customer_id", "month", "small_online_count"]
    ]
    pd.testing.assert_frame_equal(
        ordered(got["small_online"], ["customer_id", "month"]),
        ordered(counts, ["customer_id", "month"]),
    )


def test_a_cut_list_is_refused_with_its_month():
    cut = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "month": ["2024-03"],
            "purchases": [3],
            "online_amounts": [None],
            "other_amounts": ["12.50,40.00"],
            "categories": ['["grocery"]'],
        }
    )
    with pytest.raises(ValueError, match="2024-03 lists fewer amounts than purchases"):
        profile_aggregates(cut, "2024-04", SETTINGS)
