"""The early load (the server reads transactions.csv while the client checks the extract).

Each case loads the same extract twice into fresh databases, once as shipped and once with the
early load switched off, and requires identical tables: whether the early load is kept or
thrown away must never change the result. Each case also says which of the two happened, so a
change that silently stops using it (or keeps it when it must not) fails here.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from credit_risk.contract import ExtractRefusedError
from credit_risk.generate.realistic import generate_realistic
from credit_risk.warehouse.db import warehouse_from_url
from credit_risk.warehouse.early_load import EarlyTransactionLoad
from credit_risk.warehouse.load import load_extract
from tests.conftest import query
from tests.unit.test_extract import GOOD_TRANSACTIONS, TRANSACTIONS_HEADER, write_extract

pytestmark = pytest.mark.integration

KEPT = "kept the early load"
INSTEAD = "loading the checked transactions instead of the early load"

SNAPSHOT_QUERIES = {
    "customers": "select customer_id, opened_date, credit_tier, region from customers "
    "order by customer_id",
    "statements": "select * from statements order by customer_id, statement_month",
    "transactions": "select * from transactions order by transaction_id",
    "quarantined_rows": "select partition_month, dataset, line_number, field_name, reason, "
    "detail, raw_line from quarantined_rows order by dataset, line_number",
    "load_audit": "select dataset, partition_month, source_sha256, rows_read, rows_loaded, "
    "rows_quarantined from load_audit order by dataset, partition_month",
}


def snapshot(db_url: str) -> dict[str, list[tuple]]:
    return {table: query(db_url, sql) for table, sql in SNAPSHOT_QUERIES.items()}


def load_both_ways(new_db_url, source: Path, month: str | None, caplog) -> tuple[dict, str]:
    """(tables, what the early load did) after loading ``source`` with and without it."""
    with_early, without = new_db_url(), new_db_url()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="credit_risk.warehouse.early_load"):
        load_extract(warehouse_from_url(with_early), source, month)
    messages = " ".join(record.getMessage() for record in caplog.records)
    decision = "kept" if KEPT in messages else "replaced" if INSTEAD in messages else "not tried"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EarlyTransactionLoad, "start", classmethod(lambda *args: None))
        load_extract(warehouse_from_url(without), source, month)
    tables = snapshot(with_early)
    assert tables == snapshot(without), "the early load changed what was loaded"
    return tables, decision


def transactions_text(body: str, header: str = TRANSACTIONS_HEADER, line_end: str = "\n") -> str:
    return (header + body).replace("\n", line_end)


def test_a_plain_generated_extract_is_loaded_by_the_server_directly(new_db_url, tmp_path, caplog):
    generate_realistic(tmp_path, customers=60, months=3, start="2024-01", seed=3)
    tables, decision = load_both_ways(new_db_url, tmp_path, None, caplog)
    assert decision == "kept"
    lines = (tmp_path / "transactions.csv").read_text().count("\n") - 1
    assert len(tables["transactions"]) == lines
    assert tables["quarantined_rows"] == []
    # nulls for empty optional values, the statement month from the date
    assert all(row[3] == row[2].strftime("%Y-%m") for row in tables["transactions"])


def test_a_monthly_drop_with_its_month_given(new_db_url, tmp_path, caplog):
    tables, decision = load_both_ways(new_db_url, write_extract(tmp_path), "2024-03", caplog)
    assert decision == "kept"
    assert [row[0] for row in tables["transactions"]] == ["T1", "T2", "T3"]


GOOD = GOOD_TRANSACTIONS
FILES = {
    "windows line ends": (transactions_text(GOOD, line_end="\r\n"), "kept"),
    "columns in another order": (
        "channel,transaction_id,customer_id,transaction_date,amount,transaction_type,"
        "merchant_category\npos,T1,C1,2024-03-02,45.10,purchase,grocery\n"
        ",T2,C1,2024-03-05,-10.00,refund,\n",
        "kept",
    ),
    "a quoted field": (
        transactions_text(GOOD + 'T4,C1,2024-03-06,5.00,purchase,"home, garden",pos\n'),
        "replaced",
    ),
    "a padded value": (
        transactions_text("T1,C1,2024-03-02,45.10,purchase, grocery,pos\n"),
        "replaced",
    ),
    "mixed line ends": (
        TRANSACTIONS_HEADER + "T1,C1,2024-03-02,45.10,purchase,grocery,pos\r\n"
        "T2,C1,2024-03-05,-10.00,refund,grocery,pos\n",
        "replaced",
    ),
    "a blank line": (
        transactions_text(GOOD + "\nT9,C2,2024-03-09,1,purchase,,\n"),
        "replaced",
    ),
    "a quarantined row": (
        transactions_text(GOOD + "T4,C1,2024-03-09,oops,purchase,,\n"),
        "replaced",
    ),
    "a malformed line": (transactions_text(GOOD + "T6,C1,2024-03-01\n"), "replaced"),
    "text that is not ASCII": (
        transactions_text(GOOD + "T4,C2,2024-03-06,5.00,purchase,café ñ 😀,pos\n"),
        "kept",
    ),
    "a date the server would read but the contract refuses": (
        transactions_text(GOOD + "T4,C1,2024-3-6,5.00,purchase,,\n"),
        "replaced",
    ),
    "a duplicate id": (
        transactions_text(GOOD + "T1,C2,2024-03-09,1,purchase,,\n"),
        "replaced",
    ),
}


@pytest.mark.parametrize("name", FILES)
def test_files_the_server_would_read_differently_fall_back_to_the_checked_rows(
    new_db_url, tmp_path, caplog, name
):
    text, decision = FILES[name]
    folder = write_extract(tmp_path)
    (folder / "transactions.csv").write_bytes(text.encode())
    tables, decided = load_both_ways(new_db_url, folder, "2024-03", caplog)
    assert decided == decision, name
    channels = {row[7] for row in tables["transactions"]}
    assert not any(value and value != value.strip() for value in channels), channels


def test_a_month_found_only_in_transactions_is_not_missed(new_db_url, tmp_path, caplog):
    """The early load guesses the months from statements.csv; a wrong guess is thrown away."""
    folder = write_extract(
        tmp_path, transactions=GOOD_TRANSACTIONS + "T7,C1,2024-04-02,7.00,purchase,,\n"
    )
    tables, decision = load_both_ways(new_db_url, folder, None, caplog)
    assert decision == "replaced"
    assert ("T7", "2024-04") in {(row[0], row[3]) for row in tables["transactions"]}


def test_reloading_replaces_the_month_and_keeps_the_others(new_db_url, tmp_path, caplog):
    db_url = new_db_url()
    warehouse = warehouse_from_url(db_url)
    april = write_extract(
        tmp_path / "april",
        statements="C1,2024-04,5000,10,,,\n",
        transactions="T40,C1,2024-04-02,7.00,purchase,,\n",
    )
    load_extract(warehouse, april, "2024-04")
    load_extract(warehouse, write_extract(tmp_path / "march"), "2024-03")
    corrected = write_extract(
        tmp_path / "march-fixed", transactions="T1,C1,2024-03-02,45.10,purchase,grocery,pos\n"
    )
    with caplog.at_level(logging.INFO, logger="credit_risk.warehouse.early_load"):
        load_extract(warehouse, corrected, "2024-03")
    assert KEPT in caplog.text
    assert query(db_url, "select transaction_id from transactions order by 1") == [
        ("T1",),
        ("T40",),
    ]


def test_an_id_another_month_holds_is_still_quarantined(new_db_url, tmp_path, caplog):
    db_url = new_db_url()
    warehouse = warehouse_from_url(db_url)
    load_extract(warehouse, write_extract(tmp_path / "march"), "2024-03")
    april = write_extract(
        tmp_path / "april",
        statements="C1,2024-04,5000,10,,,\n",
        transactions="T1,C1,2024-04-02,7.00,purchase,,\nT41,C1,2024-04-03,8.00,purchase,,\n",
    )
    with caplog.at_level(logging.INFO, logger="credit_risk.warehouse.early_load"):
        report = load_extract(warehouse, april, "2024-04")
    assert "some transaction ids are held by other months" in caplog.text
    assert report.rows_quarantined == 1
    assert query(db_url, "select transaction_id, statement_month from transactions order by 1") == [
        ("T1", "2024-03"),
        ("T2", "2024-03"),
        ("T3", "2024-03"),
        ("T41", "2024-04"),
    ]


def test_a_refused_extract_stops_the_early_load_and_changes_nothing(db_url, tmp_path):
    warehouse = warehouse_from_url(db_url)
    generate_realistic(tmp_path / "good", customers=40, months=2, start="2024-01", seed=4)
    load_extract(warehouse, tmp_path / "good")
    before = snapshot(db_url)
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "good", broken)
    text = (broken / "statements.csv").read_text()
    (broken / "statements.csv").write_text(text.replace("credit_limit", "limit", 1))
    with pytest.raises(ExtractRefusedError, match=r"statements\.csv: line 1"):
        load_extract(warehouse, broken)
    assert snapshot(db_url) == before


def test_a_legacy_extract_never_tries_it(warehouse, seed_fixture, caplog):
    with caplog.at_level(logging.INFO, logger="credit_risk.warehouse.early_load"):
        report = load_extract(warehouse, seed_fixture)
    assert report.rows_loaded == 1200
    assert KEPT not in caplog.text and INSTEAD not in caplog.text


def test_a_file_refused_while_the_server_loads_it_stops_that_load_cleanly(db_url, tmp_path, caplog):
    """A 100 MB line makes the client refuse transactions.csv while the server is loading it
    early: the load is stopped (KILL QUERY from a connection of its own), nothing changes, and
    the message names the line in plain words."""
    warehouse = warehouse_from_url(db_url)
    generate_realistic(tmp_path / "good", customers=40, months=1, start="2024-01", seed=4)
    load_extract(warehouse, tmp_path / "good")
    before = snapshot(db_url)
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "good", broken)
    lines = (broken / "transactions.csv").read_text().splitlines(keepends=True)
    lines.insert(5, "X" * (100 << 20) + "\n")
    (broken / "transactions.csv").write_text("".join(lines))
    with (
        caplog.at_level(logging.WARNING, logger="credit_risk.warehouse.early_load"),
        pytest.raises(ExtractRefusedError, match=r"line 6: line 6 is 104,857,601 bytes long"),
    ):
        load_extract(warehouse, broken)
    assert "could not stop" not in caplog.text
    assert snapshot(db_url) == before


def test_a_quarantined_line_far_longer_than_a_row_is_kept_cut(db_url, tmp_path):
    warehouse = warehouse_from_url(db_url)
    generate_realistic(tmp_path / "good", customers=40, months=1, start="2024-01", seed=4)
    lines = (tmp_path / "good" / "transactions.csv").read_text().splitlines(keepends=True)
    long_line = "T-long,C1,2024-01-05,5,purchase," + "m" * 200_000 + ",pos,extra"
    lines.append(long_line + "\n")
    (tmp_path / "good" / "transactions.csv").write_text("".join(lines))
    report = load_extract(warehouse, tmp_path / "good")
    assert report.rows_quarantined == 1
    ((raw,),) = query(db_url, "select raw_line from quarantined_rows")
    assert raw.startswith("T-long,C1,") and raw.endswith(
        f" [cut: {len(long_line):,} characters in all]"
    )
    assert len(raw) < 16_100
