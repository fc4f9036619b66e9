"""The month's scoring in customer shards: trained once, scored per shard, recorded once.

What must hold, whatever ``CREDIT_RISK_SHARDS`` says: every customer is in exactly one shard
(the server's ``crc32`` and Python's agree), the recorded scores and the run's record are those
of one shard, row for row, and a month is never recorded with a shard missing.
"""

from __future__ import annotations

import pandas as pd
import pytest

from credit_risk.analytics.model import (
    REUSED,
    SCORED,
    TRAINED,
    ModelSettings,
    ScoringIncompleteError,
    record_scores,
    score_customers,
    score_shard,
    train_model,
)
from credit_risk.generate.realistic import generate_realistic
from credit_risk.shards import Shard, all_shards
from credit_risk.steps import publish_extract
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import query

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUARTERLY = ModelSettings(retrain_every_months=3, max_iter=40)
MONTHS = ("2024-08", "2024-09")
"""Scored in turn with QUARTERLY: the first trains its champion, the second reuses it."""
RECORDED = (
    ("high_risk_predictions", "*", "month, customer_id"),
    ("scored_customer_month", "*", "month, customer_id"),
    ("high_risk_prediction_segments", "*", "month, risk_category"),
)


@pytest.fixture(scope="module")
def published(new_db_url, tmp_path_factory):
    """300 realistic customers x 9 months, published."""
    extract = tmp_path_factory.mktemp("realistic")
    generate_realistic(extract, customers=300, months=9, seed=31)
    db_url = new_db_url()
    publish_extract(warehouse_from_url(db_url), extract, validate=False)
    return db_url


def model_run_rows(db_url: str) -> list[tuple]:
    """model_runs without what differs between any two runs (the id, the time)."""
    columns = [
        name
        for (name,) in query(
            db_url,
            "select column_name from information_schema.columns where table_schema = database() "
            "and table_name = 'model_runs' and column_name not in ('run_id', 'trained_at') "
            "order by ordinal_position",
        )
    ]
    return query(db_url, f"select {', '.join(columns)} from model_runs order by scored_month")


def recorded(db_url: str) -> dict[str, list[tuple]]:
    tables = {
        table: query(db_url, f"select {columns} from {table} order by {order}")
        for table, columns, order in RECORDED
    }
    return tables | {"model_runs": model_run_rows(db_url)}


def test_every_customer_is_in_exactly_the_shard_the_server_filters(published):
    ids = pd.Series(
        [row[0] for row in query(published, "select distinct customer_id from statements")]
    )
    for count in (1, 2, 5):
        by_python = {i: set(ids[Shard(i, count).contains(ids)]) for i in range(count)}
        for shard in all_shards(count):
            by_server = {
                row[0]
                for row in query(
                    published,
                    f"select distinct customer_id from statements where {shard.sql()}",
                )
            }
            assert by_server == by_python[shard.index], shard
        assert sum(len(each) for each in by_python.values()) == len(ids)
    assert all(by_python.values()), "five shards of 300 customers: none is empty"


def test_the_shard_count_changes_no_score_and_no_record(published, new_db_url):
    warehouse = warehouse_from_url(published)
    runs = {month: score_customers(warehouse, month, QUARTERLY, shards=1) for month in MONTHS}
    assert [runs[m].status for m in MONTHS] == [SCORED, SCORED]
    assert [runs[m].training for m in MONTHS] == [TRAINED, REUSED]
    one_shard = recorded(published)
    assert len(one_shard["high_risk_predictions"]) == sum(runs[m].n_scored for m in MONTHS) > 0

    query(published, "delete from model_runs")  # what the second pass records anew
    sharded = {month: score_customers(warehouse, month, QUARTERLY, shards=4) for month in MONTHS}
    assert [sharded[m].training for m in MONTHS] == [TRAINED, REUSED]
    assert recorded(published) == one_shard
    shards_used = query(
        published,
        "select month, count(distinct shard_index), max(shard_count) "
        "from high_risk_prediction_shards group by month order by month",
    )
    assert shards_used == [(month, 4, 4) for month in MONTHS]


def test_a_month_is_not_recorded_before_every_shard_is_in(published):
    warehouse = warehouse_from_url(published)
    month = MONTHS[-1]
    score_customers(warehouse, month)
    before = recorded(published)

    plan = train_model(warehouse, month)
    first, second = all_shards(2)
    scored_first = score_shard(warehouse, month, first)
    assert 0 < scored_first < plan.customers
    with pytest.raises(ScoringIncompleteError, match=r"shards written: 1/2"):
        record_scores(warehouse, month)
    assert recorded(published) == before, "a refused record changed what readers see"

    # a rerun of a shard replaces its rows; the month records once both are in
    assert score_shard(warehouse, month, first) == scored_first
    assert score_shard(warehouse, month, second) == plan.customers - scored_first
    assert record_scores(warehouse, month).n_scored == plan.customers

    # a new plan (a rerun of the training step) drops the shards scored for the last one
    train_model(warehouse, month)
    with pytest.raises(ScoringIncompleteError, match=r"shards written: none"):
        record_scores(warehouse, month)
