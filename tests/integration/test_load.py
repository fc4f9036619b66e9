"""Loading into a real MariaDB: golden counts, idempotency, accounting, refusals."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal

import MySQLdb
import pytest
from sqlalchemy.engine import make_url

from credit_risk.contract import ExtractRefusedError
from credit_risk.generate.realistic import generate_realistic
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import WarehouseError, warehouse_from_url
from credit_risk.warehouse.load import load_extract
from tests.conftest import TEST_SERVER_URL, query
from tests.integration.refresh_helpers import build_month, rebuild_everything
from tests.unit.test_extract import CUSTOMERS, GOOD_TRANSACTIONS, write_extract

pytestmark = pytest.mark.integration


def table_counts(db_url: str) -> dict[str, int]:
    return {
        table: query(db_url, f"select count(*) from {table}")[0][0]
        for table in ("customers", "statements", "transactions", "quarantined_rows", "load_audit")
    }


def test_the_seed_fixture_gives_26_high_31_medium_43_low_every_month(
    warehouse, db_url, seed_fixture
):
    loaded = run(warehouse, seed_fixture).loaded
    assert (loaded["rows_read"], loaded["rows_loaded"], loaded["rows_quarantined"]) == (
        1200,
        1200,
        0,
    )
    rows = query(
        db_url,
        "select month, risk_category, count(*) from risk_segmentation "
        "group by month, risk_category",
    )
    by_month: dict[str, dict[str, int]] = {}
    for month, category, customers in rows:
        by_month.setdefault(month, {})[category] = customers
    assert len(by_month) == 12
    for month, counts in by_month.items():
        assert counts == {"High Risk": 26, "Medium Risk": 31, "Low Risk": 43}, month
    assert query(db_url, "select count(*) from bank_transactions")[0][0] == 1200
    assert query(db_url, "select count(*) from customer_risk_current")[0][0] == 100


def test_loading_a_month_twice_leaves_one_copy(warehouse, db_url, seed_fixture):
    load_extract(warehouse, seed_fixture)
    first = table_counts(db_url)
    load_extract(warehouse, seed_fixture)
    load_extract(warehouse, seed_fixture)
    assert table_counts(db_url) == first
    assert first["transactions"] == 1200 and first["statements"] == 1200


def test_a_corrected_file_replaces_its_month_and_only_that_month(warehouse, db_url, tmp_path):
    folder = write_extract(
        tmp_path / "march",
        transactions=GOOD_TRANSACTIONS + "T4,C1,2024-03-09,oops,purchase,,\n",
    )
    april = write_extract(
        tmp_path / "april",
        statements="C1,2024-04,5000,10,,,\n",
        transactions="T40,C1,2024-04-02,7.00,purchase,,\n",
    )
    load_extract(warehouse, folder, "2024-03")
    load_extract(warehouse, april, "2024-04")
    assert query(
        db_url, "select count(*) from quarantined_rows where partition_month='2024-03'"
    ) == [(1,)]

    corrected = write_extract(
        tmp_path / "march-fixed",
        transactions=GOOD_TRANSACTIONS + "T4,C1,2024-03-09,99.90,purchase,,\n",
    )
    report = load_extract(warehouse, corrected, "2024-03")
    assert report.rows_quarantined == 0
    march = query(
        db_url, "select transaction_id, amount from transactions where statement_month='2024-03'"
    )
    assert sorted(march) == [
        ("T1", Decimal("45.10")),
        ("T2", Decimal("-10.00")),
        ("T3", Decimal("300.00")),
        ("T4", Decimal("99.90")),
    ]
    assert query(db_url, "select count(*) from quarantined_rows") == [(0,)]
    assert query(
        db_url, "select transaction_id from transactions where statement_month='2024-04'"
    ) == [("T40",)]


def test_a_reload_without_a_row_removes_it(warehouse, db_url, tmp_path):
    load_extract(warehouse, write_extract(tmp_path / "first"), "2024-03")
    shorter = write_extract(
        tmp_path / "second", transactions="T1,C1,2024-03-02,45.10,purchase,grocery,pos\n"
    )
    load_extract(warehouse, shorter, "2024-03")
    assert query(db_url, "select transaction_id from transactions") == [("T1",)]


def month_partitions(db_url: str, table: str) -> list[str]:
    rows = query(
        db_url,
        "select partition_name from information_schema.partitions "
        "where table_schema = database() and table_name = %s order by partition_ordinal_position",
        (table,),
    )
    return [name for (name,) in rows]


def test_each_loaded_month_gets_its_partitions_a_marker_and_a_ledger_row(
    warehouse, db_url, tmp_path
):
    load_extract(warehouse, write_extract(tmp_path / "march"), "2024-03", run_id="run-march")
    # April's only transaction is quarantined: the month holds none, and says so
    april = write_extract(
        tmp_path / "april",
        statements="C1,2024-04,5000,10,,,\n",
        transactions="T40,C1,2024-04-02,oops,purchase,,\n",
    )
    load_extract(warehouse, april, "2024-04", run_id="run-april")
    for table in ("statements", "transactions"):
        assert month_partitions(db_url, table) == ["p000000", "p202403", "p202404"]
    markers = query(
        db_url,
        "select month, transactions, first_transaction_id, last_transaction_id "
        "from transaction_months order by month",
    )
    assert markers == [("2024-03", 3, "T1", "T3"), ("2024-04", 0, None, None)]
    ledger = query(
        db_url,
        "select ledger.month, state, loaded_by, ledger.load_id = markers.load_id "
        "from month_ledger as ledger join transaction_months as markers using (month) "
        "order by month",
    )
    assert ledger == [("2024-03", "loaded", "run-march", 1), ("2024-04", "loaded", "run-april", 1)]


def test_a_legacy_file_gets_a_partition_per_month_of_its_dates(warehouse, db_url, seed_fixture):
    load_extract(warehouse, seed_fixture)
    assert month_partitions(db_url, "transactions")[1:] == [
        f"p2024{month:02d}" for month in range(1, 13)
    ]
    assert query(db_url, "select count(*), sum(transactions) from transaction_months") == [
        (12, 1200)
    ]


def test_every_row_is_accounted_for_in_load_audit_and_quarantine(warehouse, db_url, tmp_path):
    folder = write_extract(
        tmp_path,
        statements="C1,2024-03,0,10,,,\nC2,2024-03,2000,1900,,,\n",
        transactions=GOOD_TRANSACTIONS
        + "T1,C1,2024-03-09,12,purchase,,\n"  # duplicate id
        + "T5,C1,2024-04-01,12,purchase,,\n"  # other month
        + "T6,C1,2024-03-01\n",  # wrong width
    )
    report = load_extract(warehouse, folder, "2024-03")
    audit = {
        row[0]: row[1:]
        for row in query(
            db_url,
            "select dataset, rows_read, rows_loaded, rows_quarantined from load_audit "
            "where partition_month = '2024-03'",
        )
    }
    assert audit == {
        "customers": (2, 2, 0),
        "statements": (2, 1, 1),
        "transactions": (6, 3, 3),
    }
    quarantined = query(
        db_url,
        "select dataset, line_number, reason, raw_line from quarantined_rows "
        "order by dataset, line_number",
    )
    assert quarantined == [
        ("statements", 2, "non_positive_credit_limit", "C1,2024-03,0,10,,,"),
        ("transactions", 5, "duplicate_transaction_id", "T1,C1,2024-03-09,12,purchase,,"),
        ("transactions", 6, "month_outside_partition", "T5,C1,2024-04-01,12,purchase,,"),
        ("transactions", 7, "wrong_column_count", "T6,C1,2024-03-01"),
    ]
    assert report.rows_read == report.rows_loaded + report.rows_quarantined == 10


def test_a_transaction_id_already_loaded_for_another_month_is_quarantined(
    warehouse, db_url, tmp_path
):
    load_extract(warehouse, write_extract(tmp_path / "march"), "2024-03")
    april = write_extract(
        tmp_path / "april",
        statements="C1,2024-04,5000,10,,,\n",
        transactions="T1,C1,2024-04-02,7.00,purchase,,\nT41,C1,2024-04-03,8.00,purchase,,\n",
    )
    report = load_extract(warehouse, april, "2024-04")
    assert report.rows_quarantined == 1
    assert query(
        db_url,
        "select reason, line_number, detail from quarantined_rows where partition_month='2024-04'",
    ) == [("duplicate_transaction_id", 2, "transaction_id already loaded for month 2024-03")]
    assert query(db_url, "select statement_month from transactions where transaction_id='T1'") == [
        ("2024-03",)
    ]
    assert query(
        db_url, "select transaction_id from transactions where statement_month='2024-04'"
    ) == [("T41",)]


def test_a_refused_file_loads_nothing_and_keeps_the_previous_data(warehouse, db_url, tmp_path):
    good = write_extract(tmp_path / "good")
    load_extract(warehouse, good, "2024-03")
    before = table_counts(db_url)
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    (broken / "transactions.csv").write_bytes(b"transaction_id,customer_id\nT1,C1\n")
    with pytest.raises(ExtractRefusedError, match="line 1, field 'transaction_date'"):
        load_extract(warehouse, broken, "2024-03")
    assert table_counts(db_url) == before


def test_a_file_refused_after_the_accounts_were_written_keeps_the_stored_accounts(
    warehouse, db_url, tmp_path
):
    """The customers and statements are written while transactions.csv is still being
    checked: when that file is then refused, the load's rollback takes them back too."""
    load_extract(warehouse, write_extract(tmp_path / "good"), "2024-03")
    accounts = "select * from statements order by customer_id, statement_month"
    customers = "select * from customers order by customer_id"
    before = (query(db_url, accounts), query(db_url, customers))
    changed = write_extract(
        tmp_path / "changed",
        customers=CUSTOMERS + "C9,2023-06-01,gold,north\n",
        statements="C1,2024-03,9000.00,1.00,,,\nC9,2024-03,100,1,,,\n",
    )
    (changed / "transactions.csv").write_bytes(b"transaction_id,customer_id\nT1,C1\n")
    with pytest.raises(ExtractRefusedError, match=r"transactions\.csv"):
        load_extract(warehouse, changed, "2024-03")
    assert (query(db_url, accounts), query(db_url, customers)) == before


def test_a_month_only_transactions_csv_has_loses_its_stored_statements(warehouse, db_url, tmp_path):
    """Loading a whole extract replaces every month it covers, including a month that only
    its transactions.csv dates rows in: the statements stored for that month go, as the
    months' other rows do."""
    load_extract(
        warehouse,
        write_extract(
            tmp_path / "april",
            statements="C1,2024-04,5000,10,,,\n",
            transactions="T40,C1,2024-04-02,7.00,purchase,,\n",
        ),
    )
    extract = write_extract(
        tmp_path / "march",
        transactions=GOOD_TRANSACTIONS + "T41,C1,2024-04-03,8.00,purchase,,\n",
    )
    report = load_extract(warehouse, extract)
    assert report.partition_months == ["2024-03", "2024-04"]
    assert query(db_url, "select statement_month, count(*) from statements group by 1") == [
        ("2024-03", 2)
    ]
    assert query(
        db_url, "select transaction_id from transactions where statement_month = '2024-04'"
    ) == [("T41",)]


def test_a_failure_in_the_middle_of_a_load_rolls_everything_back(warehouse, db_url, tmp_path):
    load_extract(warehouse, write_extract(tmp_path / "march"), "2024-03")
    before = table_counts(db_url)
    before_rows = query(db_url, "select * from transactions order by transaction_id")
    conn = MySQLdb.connect(
        host="127.0.0.1", user="root", database=warehouse.database, autocommit=True
    )
    try:
        # a trigger that fails on the third row makes the bulk insert die half way
        conn.cursor().execute(
            "create trigger break_load before insert on transactions for each row "
            "begin if new.transaction_id = 'T3' then "
            "signal sqlstate '45000' set message_text = 'simulated failure'; end if; end"
        )
        with pytest.raises(MySQLdb.OperationalError, match="simulated failure"):
            load_extract(warehouse, write_extract(tmp_path / "again"), "2024-03")
    finally:
        conn.cursor().execute("drop trigger if exists break_load")
        conn.close()
    assert table_counts(db_url) == before
    assert query(db_url, "select * from transactions order by transaction_id") == before_rows


def test_a_server_refusing_local_infile_gets_a_clear_error(warehouse, db_server, tmp_path):
    cursor = db_server.cursor()
    cursor.execute("select @@global.local_infile")
    (previous,) = cursor.fetchone()
    cursor.execute("set global local_infile = 0")
    try:
        with pytest.raises(WarehouseError, match="refuses LOAD DATA LOCAL INFILE"):
            load_extract(warehouse, write_extract(tmp_path), "2024-03")
    finally:
        cursor.execute(f"set global local_infile = {int(previous)}")


def test_building_and_publishing_again_is_harmless(warehouse, db_url, seed_fixture):
    run(warehouse, seed_fixture)
    first = query(db_url, "select * from customer_spend_rolling_avg order by customer_id, month")
    build_month(warehouse, "2024-12")  # built and never published: harmless
    publication = rebuild_everything(warehouse)
    assert publication.outcome == "published" and len(publication.months) == 12
    assert (
        query(db_url, "select * from customer_spend_rolling_avg order by customer_id, month")
        == first
    )
    assert query(db_url, "select count(*) from publications") == [(2,)]
    # the refresh of a month already published builds that month alone
    assert build_month(warehouse, "2024-06").plan.months == ["2024-06"]


def test_a_missing_warehouse_database_is_created_by_the_first_load(db_server, tmp_path):
    name = f"crm_test_missing_{tmp_path.name[-8:].replace('-', '_')}"
    url = make_url(TEST_SERVER_URL).set(database=name).render_as_string(False)
    db_server.cursor().execute(f"drop database if exists `{name}`")
    try:
        report = load_extract(warehouse_from_url(url), write_extract(tmp_path), "2024-03")
        assert report.rows_loaded == 7
        assert query(
            url,
            "select default_collation_name from information_schema.schemata "
            "where schema_name = database()",
        ) == [("utf8mb4_unicode_ci",)]
        assert table_counts(url)["transactions"] == 3
    finally:
        db_server.cursor().execute(f"drop database if exists `{name}`")


def test_rows_dated_in_the_future_are_quarantined_and_never_become_a_month(
    warehouse, db_url, tmp_path
):
    folder = write_extract(
        tmp_path / "drop",
        statements="C1,2024-03,5000.00,1200.50,100.00,25.00,0\nC1,2099-06,5000,10,,,\n",
        transactions=GOOD_TRANSACTIONS.split("T3")[0] + "T8,C1,9999-12-31,5,purchase,,\n",
    )
    report = load_extract(warehouse, folder, latest_month="2026-12")
    assert report.partition_months == ["2024-03"]
    assert query(
        db_url,
        "select reason, count(*) from quarantined_rows group by reason",
    ) == [("month_out_of_range", 2)]
    partitions = {
        name
        for (name,) in query(
            db_url,
            "select partition_name from information_schema.partitions "
            "where table_schema = database() and partition_name is not null",
        )
    }
    assert partitions and not {"p209906", "p999912"} & partitions
    assert query(db_url, "select month from month_ledger") == [("2024-03",)]
    # a month to load that is itself in the future is refused before anything is written
    with pytest.raises(ExtractRefusedError, match=r"2099-06, is outside 2000-01 \.\. 2026-12"):
        load_extract(warehouse, folder, "2099-06", latest_month="2026-12")
    assert query(db_url, "select month from month_ledger") == [("2024-03",)]


def test_a_load_removes_the_scratch_files_a_killed_load_left(warehouse, tmp_path, monkeypatch):
    """A load killed by SIGKILL cannot clean up after itself: the next load removes its
    scratch folder (named after the dead process), and leaves a live process's alone."""
    import subprocess
    import tempfile

    from credit_risk.warehouse import bulk

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    dead = subprocess.Popen(["sleep", "0"])
    dead.wait()
    leftover = tmp_path / "tmp" / f"{bulk.SCRATCH_PREFIX}{dead.pid}-abc"
    leftover.mkdir()
    (leftover / "transactions.csv").write_text("x" * 1000)
    live = tmp_path / "tmp" / f"{bulk.SCRATCH_PREFIX}{os.getppid()}-def"
    live.mkdir()
    generate_realistic(tmp_path / "drop", customers=20, months=1, start="2024-01", seed=2)
    load_extract(warehouse, tmp_path / "drop")
    assert not leftover.exists() and live.exists()
    assert [path.name for path in (tmp_path / "tmp").iterdir()] == [live.name]  # its own is gone
