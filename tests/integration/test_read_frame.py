"""``read_frame`` streams a result in chunks and gives what one unstreamed read gives."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from credit_risk.warehouse.frames import read_frame

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(warehouse):
    engine = warehouse.engine()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "create table sample_rows (id int primary key, amount double null, "
                "label varchar(8) null, opened date null, total decimal(10, 2) null)"
            )
        )
        # Rows 1-5 are NULL in every nullable column: with 5-row chunks, a whole chunk is.
        conn.execute(
            sa.text(
                "insert into sample_rows "
                "select seq, if(seq <= 5, null, seq / 4), if(seq <= 5, null, concat('c', seq)), "
                "if(seq <= 5, null, '2024-01-02' + interval seq day), if(seq <= 5, null, seq) "
                "from seq_1_to_23"
            )
        )
    yield engine
    engine.dispose()


def test_chunked_read_equals_one_read(engine):
    query = "select * from sample_rows where id >= :first order by id"
    with engine.connect() as conn:
        streamed = read_frame(conn, query, {"first": 1}, chunk_rows=5)
        whole = pd.read_sql(sa.text(query), conn, params={"first": 1})
    assert len(streamed) == 23
    assert streamed["amount"].dtype == "float64"
    pd.testing.assert_frame_equal(streamed, whole)


def test_connection_is_usable_after_a_streamed_read(engine):
    with engine.connect() as conn:
        first = read_frame(conn, "select id from sample_rows order by id", chunk_rows=4)
        second = read_frame(conn, "select count(*) as n from sample_rows")
    assert first["id"].tolist() == list(range(1, 24))
    assert second["n"].tolist() == [23]


def test_empty_result_keeps_its_columns(engine):
    with engine.connect() as conn:
        empty = read_frame(conn, "select id, amount from sample_rows where id < 0")
    assert list(empty.columns) == ["id", "amount"]
    assert empty.empty
