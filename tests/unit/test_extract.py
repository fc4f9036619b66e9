"""The data contract on small hand-made extracts: every row is loaded or quarantined, with why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from credit_risk.contract import (
    TRANSACTION_COLUMNS,
    ExtractRefusedError,
    money_values,
    read_contract_csv,
)
from credit_risk.contract.checks import _strictly_increasing
from credit_risk.extract import detect_kind, prepare_extract
from credit_risk.months import MonthWindow

CUSTOMERS = "customer_id,opened_date,credit_tier,region\nC1,2020-01-01,prime,north\nC2,,,\n"
STATEMENTS_HEADER = (
    "customer_id,statement_month,credit_limit,outstanding_balance,payment_amount,"
    "minimum_due,days_past_due\n"
)
TRANSACTIONS_HEADER = (
    "transaction_id,customer_id,transaction_date,amount,transaction_type,"
    "merchant_category,channel\n"
)
GOOD_STATEMENTS = "C1,2024-03,5000.00,1200.50,100.00,25.00,0\nC2,2024-03,2000,1900,,,\n"
GOOD_TRANSACTIONS = (
    "T1,C1,2024-03-02,45.10,purchase,grocery,pos\n"
    "T2,C1,2024-03-05,-10.00,refund,grocery,pos\n"
    "T3,C2,2024-03-31,300,cash_advance,cash,atm\n"
)


def write_extract(
    folder: Path,
    *,
    customers: str | None = CUSTOMERS,
    statements: str = GOOD_STATEMENTS,
    transactions: str = GOOD_TRANSACTIONS,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if customers is not None:
        (folder / "customers.csv").write_text(customers)
    (folder / "statements.csv").write_text(STATEMENTS_HEADER + statements)
    (folder / "transactions.csv").write_text(TRANSACTIONS_HEADER + transactions)
    return folder


def reasons(prepared) -> list[tuple[str, int, str, str | None]]:
    frame = prepared.quarantine
    return sorted(
        zip(
            frame["dataset"],
            frame["line_number"],
            frame["reason"],
            frame["field_name"],
            strict=True,
        )
    )


def test_a_clean_extract_loads_every_row(tmp_path):
    prepared = prepare_extract(write_extract(tmp_path), "2024-03", set())
    assert len(prepared.statements) == 2
    assert len(prepared.transactions) == 3
    assert len(prepared.customers) == 2
    assert prepared.quarantine.empty
    assert prepared.partition_months == ["2024-03"]
    assert list(prepared.transactions["statement_month"]) == ["2024-03"] * 3


@pytest.mark.parametrize(
    ("transactions", "reason", "field"),
    [
        ("T9,C1,2024-03-02,12.x,purchase,grocery,pos\n", "unparseable_number", "amount"),
        ("T9,C1,2024-02-30,12,purchase,grocery,pos\n", "unparseable_date", "transaction_date"),
        ("T9,C1,03/02/2024,12,purchase,grocery,pos\n", "unparseable_date", "transaction_date"),
        (",C1,2024-03-02,12,purchase,grocery,pos\n", "missing_key", "transaction_id"),
        ("T9,,2024-03-02,12,purchase,grocery,pos\n", "missing_key", "customer_id"),
        ("T9,C7,2024-03-02,12,purchase,grocery,pos\n", "unknown_customer", "customer_id"),
        (
            "T1,C1,2024-03-09,12,purchase,grocery,pos\n",
            "duplicate_transaction_id",
            "transaction_id",
        ),
        (
            "T9,C1,2024-04-01,12,purchase,grocery,pos\n",
            "month_outside_partition",
            "transaction_date",
        ),
        ("T9,C1,2024-03-02,12,gift,grocery,pos\n", "invalid_value", "transaction_type"),
        ("T9,C1,2024-03-02,12,refund,grocery,pos\n", "invalid_value", "amount"),
        ("T9,C1,2024-03-02,-12,purchase,grocery,pos\n", "invalid_value", "amount"),
        ("T9,C1,2024-03-02,12,purchase\n", "wrong_column_count", None),
    ],
)
def test_each_bad_transaction_is_quarantined_with_its_reason(tmp_path, transactions, reason, field):
    folder = write_extract(tmp_path, transactions=GOOD_TRANSACTIONS + transactions)
    prepared = prepare_extract(folder, "2024-03", set())
    assert reasons(prepared) == [("transactions", 5, reason, field)]
    assert len(prepared.transactions) == 3  # the good rows are all still loaded
    quarantined = prepared.quarantine.iloc[0]
    assert quarantined["raw_line"] == transactions.rstrip("\n")
    assert quarantined["source_file"].endswith("transactions.csv")
    assert quarantined["partition_month"] == "2024-03"


@pytest.mark.parametrize(
    ("statement", "reason", "field"),
    [
        ("C1,2024-03,0,10,,,\n", "non_positive_credit_limit", "credit_limit"),
        ("C1,2024-03,-5,10,,,\n", "non_positive_credit_limit", "credit_limit"),
        ("C1,2024-03,1000,,,,\n", "missing_value", "outstanding_balance"),
        ("C1,2024-03,1000,abc,,,\n", "unparseable_number", "outstanding_balance"),
        ("C1,2024-3,1000,10,,,\n", "unparseable_date", "statement_month"),
        (",2024-03,1000,10,,,\n", "missing_key", "customer_id"),
        ("C1,2024-03,1000,10,,,-1\n", "unparseable_number", "days_past_due"),
        ("C9,2024-03,1000,10,,,\n", "unknown_customer", "customer_id"),
        ("C1,2024-02,1000,10,,,\n", "month_outside_partition", "statement_month"),
        ("C1,2024-03,1000,10,,,\n", "duplicate_statement", "statement_month"),
    ],
)
def test_each_bad_statement_is_quarantined_with_its_reason(tmp_path, statement, reason, field):
    folder = write_extract(tmp_path, statements=GOOD_STATEMENTS + statement)
    prepared = prepare_extract(folder, "2024-03", set())
    assert reasons(prepared) == [("statements", 4, reason, field)]
    assert len(prepared.statements) == 2


@pytest.mark.parametrize(
    ("transactions", "line"),
    [
        # sorted by id, the copy right after the first (the sorted-file shortcut must not hide it)
        (GOOD_TRANSACTIONS + "T3,C2,2024-03-30,5,purchase,,\n", 5),
        # unsorted, the copy far from the first
        (
            "T3,C2,2024-03-31,300,cash_advance,cash,atm\nT1,C1,2024-03-02,45.10,purchase,,\n"
            "T2,C1,2024-03-05,-10.00,refund,,\nT3,C2,2024-03-30,5,purchase,,\n",
            5,
        ),
    ],
    ids=["sorted", "unsorted"],
)
def test_a_repeated_transaction_id_is_found_in_sorted_and_unsorted_files(
    tmp_path, transactions, line
):
    prepared = prepare_extract(write_extract(tmp_path, transactions=transactions), "2024-03", set())
    assert reasons(prepared) == [
        ("transactions", line, "duplicate_transaction_id", "transaction_id")
    ]
    assert "already on line" in prepared.quarantine["detail"].iloc[0]


def test_a_repeated_statement_key_is_found_when_the_file_is_sorted(tmp_path):
    statements = (
        "C1,2024-03,5000,10,,,\nC1,2024-04,5000,10,,,\nC2,2024-03,2000,5,,,\n"
        "C2,2024-03,2000,6,,,\nC2,2024-04,2000,7,,,\n"
    )
    prepared = prepare_extract(write_extract(tmp_path, statements=statements), None, set())
    # C1/2024-04 after C1/2024-03 and C2/2024-03 after C1/2024-04 are new keys; line 5 repeats
    assert reasons(prepared) == [("statements", 5, "duplicate_statement", "statement_month")]


@pytest.mark.parametrize(
    ("amount", "kind", "ok"),
    [("+12.50", "purchase", True), ("+0.00", "purchase", False), ("-0.01", "refund", True)],
)
def test_signed_amounts_are_read_as_numbers(tmp_path, amount, kind, ok):
    row = f"T9,C1,2024-03-02,{amount},{kind},,\n"
    prepared = prepare_extract(
        write_extract(tmp_path, transactions=GOOD_TRANSACTIONS + row), "2024-03", set()
    )
    assert len(prepared.transactions) == (4 if ok else 3)


def test_missing_limit_is_loaded_as_unknown_not_quarantined(tmp_path):
    folder = write_extract(tmp_path, statements="C1,2024-03,,10,,,\n")
    prepared = prepare_extract(folder, "2024-03", set())
    assert prepared.quarantine.empty
    assert prepared.statements["credit_limit"].tolist() == [""]


def test_customers_from_the_warehouse_count_as_known(tmp_path):
    folder = write_extract(
        tmp_path,
        customers=None,
        statements="C5,2024-03,1000,10,,,\n",
        transactions="T1,C5,2024-03-01,5,purchase,,\n",
    )
    assert prepare_extract(folder, "2024-03", {"C5"}).quarantine.empty
    unknown = prepare_extract(folder, "2024-03", set())
    assert set(unknown.quarantine["reason"]) == {"unknown_customer"}


def test_duplicate_customers_keep_the_first_and_quarantine_the_rest(tmp_path):
    folder = write_extract(tmp_path, customers=CUSTOMERS + "C1,2021-01-01,subprime,south\n")
    prepared = prepare_extract(folder, "2024-03", set())
    assert reasons(prepared) == [("customers", 4, "duplicate_customer", "customer_id")]
    assert prepared.customers["credit_tier"].tolist() == ["prime", ""]


def test_without_a_month_every_month_in_the_files_is_a_partition(tmp_path):
    folder = write_extract(
        tmp_path,
        statements=GOOD_STATEMENTS + "C1,2024-04,5000,10,,,\n",
        transactions=GOOD_TRANSACTIONS + "T7,C1,2024-04-03,5,purchase,,\nT8,C1,bad,5,purchase,,\n",
    )
    prepared = prepare_extract(folder, None, set())
    assert prepared.partition_months == ["2024-03", "2024-04"]
    # a row whose month cannot be read is accounted to the latest month of the load
    assert prepared.quarantine["partition_month"].tolist() == ["2024-04"]
    counts = prepared.rows_read.set_index(["dataset", "partition_month"])["rows_read"]
    assert counts[("transactions", "2024-03")] == 3
    assert counts[("transactions", "2024-04")] == 2


WINDOW = MonthWindow("2000-01", "2026-12")


def test_rows_before_the_account_opened_are_quarantined_with_the_opening_date(tmp_path):
    """C3 opened on 2024-03-15 (customers.csv); C4 is a warehouse customer opened 2024-04-02.
    Their statements of earlier months and transactions of earlier days cannot be real."""
    folder = write_extract(
        tmp_path,
        customers=CUSTOMERS + "C3,2024-03-15,near_prime,south\n",
        statements=GOOD_STATEMENTS + "C3,2024-03,1000,10,,,\nC3,2024-02,1000,10,,,\n"
        "C4,2024-03,1000,10,,,\n",
        transactions=GOOD_TRANSACTIONS
        + "T4,C3,2024-03-14,5,purchase,,\nT5,C3,2024-03-15,5,purchase,,\n"
        "T6,C4,2024-03-20,5,purchase,,\n",
    )
    prepared = prepare_extract(folder, None, {"C4": "2024-04-02", "C1": ""}, WINDOW)
    assert reasons(prepared) == [
        ("statements", 5, "before_account_opened", "statement_month"),
        ("statements", 6, "before_account_opened", "statement_month"),
        ("transactions", 5, "before_account_opened", "transaction_date"),
        ("transactions", 7, "before_account_opened", "transaction_date"),
    ]
    details = prepared.quarantine.set_index("line_number")["detail"]
    assert "transaction_date '2024-03-14' is before the account opened (2024-03-15)" in set(details)
    assert "statement_month '2024-03' is before the account opened (2024-04)" in set(details)
    # the opening month itself is fine, and so is the opening day
    assert ("C3", "2024-03") in set(
        zip(prepared.statements["customer_id"], prepared.statements["statement_month"], strict=True)
    )
    assert "T5" in set(prepared.transactions["transaction_id"])


def test_the_extract_s_opening_date_wins_over_the_warehouse_s(tmp_path):
    folder = write_extract(
        tmp_path,
        customers="customer_id,opened_date,credit_tier,region\nC1,2019-05-01,prime,north\nC2,,,\n",
    )
    prepared = prepare_extract(folder, "2024-03", {"C1": "2025-01-01"}, WINDOW)
    assert reasons(prepared) == []


def test_rows_dated_outside_the_window_are_quarantined_and_make_no_month(tmp_path):
    folder = write_extract(
        tmp_path,
        statements=GOOD_STATEMENTS + "C1,2099-06,5000,10,,,\nC2,1999-12,5000,10,,,\n",
        transactions=GOOD_TRANSACTIONS
        + "T7,C1,2150-01-03,5,purchase,,\nT8,C1,9999-12-31,5,purchase,,\n",
    )
    prepared = prepare_extract(folder, None, set(), WINDOW)
    assert prepared.partition_months == ["2024-03"]  # no 2099-06, 2150-01, 9999-12
    assert reasons(prepared) == [
        ("statements", 4, "month_out_of_range", "statement_month"),
        ("statements", 5, "month_out_of_range", "statement_month"),
        ("transactions", 5, "month_out_of_range", "transaction_date"),
        ("transactions", 6, "month_out_of_range", "transaction_date"),
    ]
    details = " ".join(prepared.quarantine["detail"])
    assert "after the month of the load (2026-12)" in details
    assert "before the earliest month loaded (2000-01" in details
    assert len(prepared.statements) == 2 and len(prepared.transactions) == 3
    # without a window (the contract alone) they would be months of their own
    assert "2099-06" in prepare_extract(folder, None, set()).partition_months


def test_an_extract_dated_entirely_outside_the_window_is_refused(tmp_path):
    folder = write_extract(
        tmp_path,
        statements="C1,2099-06,5000,10,,,\n",
        transactions="T7,C1,2099-06-03,5,purchase,,\n",
    )
    with pytest.raises(
        ExtractRefusedError, match=r"every row is dated outside 2000-01 \.\. 2026-12"
    ):
        prepare_extract(folder, None, set(), WINDOW)


def test_legacy_rows_dated_in_the_future_are_quarantined(tmp_path):
    path = tmp_path / "bank_transactions.csv"
    path.write_text(
        LEGACY_HEADER
        + "CUST_001,2024-01-31,100,50000,2000\n"
        + "CUST_001,2099-06-15,20,50000,2000\n"
    )
    prepared = prepare_extract(path, None, set(), WINDOW)
    assert prepared.partition_months == ["2024-01"]
    assert reasons(prepared) == [("bank_transactions", 3, "month_out_of_range", "transaction_date")]


def test_the_first_failure_of_a_row_is_the_reason_given(tmp_path):
    # unknown customer AND bad amount: the parse failure is reported first
    folder = write_extract(tmp_path, transactions="T1,C9,2024-03-02,x,purchase,,\n")
    prepared = prepare_extract(folder, "2024-03", set())
    assert prepared.quarantine["reason"].tolist() == ["unparseable_number"]
    assert "amount='x'" in prepared.quarantine["detail"].iloc[0]


def test_blank_lines_and_crlf_keep_physical_line_numbers(tmp_path):
    folder = write_extract(tmp_path)
    (folder / "transactions.csv").write_bytes(
        (TRANSACTIONS_HEADER + "\n" + GOOD_TRANSACTIONS + "T9,C1,2024-03-02,oops,purchase,,\n")
        .replace("\n", "\r\n")
        .encode()
    )
    prepared = prepare_extract(folder, "2024-03", set())
    assert reasons(prepared) == [("transactions", 6, "unparseable_number", "amount")]
    assert prepared.quarantine["raw_line"].iloc[0] == "T9,C1,2024-03-02,oops,purchase,,"


# --- files refused as a whole -------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_refused_naming_line_and_field(tmp_path):
    folder = write_extract(tmp_path)
    (folder / "transactions.csv").write_bytes(
        (TRANSACTIONS_HEADER + GOOD_TRANSACTIONS).encode()
        + "T4,C1,2024-03-02,5,purchase,caf\xe9,pos\n".encode("latin-1")
    )
    with pytest.raises(ExtractRefusedError) as refused:
        prepare_extract(folder, "2024-03", set())
    message = str(refused.value)
    assert "transactions.csv: line 5, field 'merchant_category'" in message
    assert "UTF-8" in message
    assert refused.value.line == 5


def test_a_wrong_header_is_refused_naming_the_missing_column(tmp_path):
    folder = write_extract(tmp_path)
    (folder / "statements.csv").write_text(
        STATEMENTS_HEADER.replace("outstanding_balance", "balance") + GOOD_STATEMENTS
    )
    with pytest.raises(
        ExtractRefusedError, match=r"statements.csv: line 1, field 'outstanding_balance'"
    ):
        prepare_extract(folder, "2024-03", set())


def test_a_file_with_the_wrong_column_count_everywhere_is_refused(tmp_path):
    folder = write_extract(tmp_path, transactions="T1,C1,2024-03-02\nT2,C1,2024-03-03\n")
    with pytest.raises(ExtractRefusedError, match=r"transactions.csv: line 2.*every row"):
        prepare_extract(folder, "2024-03", set())


def test_an_empty_file_is_refused(tmp_path):
    folder = write_extract(tmp_path)
    (folder / "statements.csv").write_text("")
    with pytest.raises(ExtractRefusedError, match="empty"):
        prepare_extract(folder, "2024-03", set())


# --- legacy format ----------------------------------------------------------------------------


LEGACY_HEADER = "customer_id,transaction_date,transaction_amount,credit_limit,outstanding_balance\n"


def test_legacy_rows_of_one_customer_month_must_agree_on_the_statement(tmp_path):
    path = tmp_path / "bank_transactions.csv"
    path.write_text(
        LEGACY_HEADER
        + "CUST_001,2024-01-31,100,50000,2000\n"
        + "CUST_001,2024-01-15,-20,50000,2000\n"
        + "CUST_001,2024-01-20,30,50000,9999\n"
    )
    prepared = prepare_extract(path, None, set())
    assert reasons(prepared) == [
        ("bank_transactions", 4, "conflicting_statement", "outstanding_balance")
    ]
    assert prepared.transactions["transaction_type"].tolist() == ["purchase", "refund"]
    assert len(prepared.statements) == 1


def test_legacy_transaction_ids_are_stable_and_unique(tmp_path):
    path = tmp_path / "bank_transactions.csv"
    path.write_text(
        LEGACY_HEADER + "CUST_001,2024-01-31,100,50000,2000\nCUST_001,2024-01-31,100,50000,2000\n"
    )
    ids = prepare_extract(path, None, set()).transactions["transaction_id"].tolist()
    assert ids == ["L-CUST_001-2024-01-31-1", "L-CUST_001-2024-01-31-2"]


def test_detect_kind(tmp_path, seed_fixture):
    assert detect_kind(seed_fixture) == "legacy"
    assert detect_kind(seed_fixture.parent) == "legacy"
    assert detect_kind(write_extract(tmp_path / "x")) == "three_file"
    with pytest.raises(FileNotFoundError, match="neither"):
        detect_kind(tmp_path)


def test_plain_line_end_says_when_the_server_may_read_the_file_itself(tmp_path):
    """Only unquoted, unpadded files with one kind of line end (see warehouse.early_load)."""
    cases = {
        "lf": (TRANSACTIONS_HEADER + GOOD_TRANSACTIONS, "\n"),
        "crlf": ((TRANSACTIONS_HEADER + GOOD_TRANSACTIONS).replace("\n", "\r\n"), "\r\n"),
        "quoted": (TRANSACTIONS_HEADER + 'T1,C1,2024-03-02,"45.10",purchase,,\n', None),
        "padded": (TRANSACTIONS_HEADER + "T1 ,C1,2024-03-02,45.10,purchase,,\n", None),
        "mixed": (
            TRANSACTIONS_HEADER
            + "T1,C1,2024-03-02,1,purchase,,\r\nT2,C1,2024-03-02,1,purchase,,\n",
            None,
        ),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(text.encode())
        csv_file = read_contract_csv(path, "transactions", TRANSACTION_COLUMNS)
        assert csv_file.plain_line_end() == expected, name


def test_column_helpers_work_across_arrow_chunks():
    """pyarrow reads a large file in blocks, so a column arrives in several chunks."""
    table = pa.table(
        {
            "id": pa.chunked_array([["a", "b"], ["b", "c"]]),  # b repeats across the boundary
            "month": pa.chunked_array([["01", "01"], ["02", "01"]]),
            "amount": pa.chunked_array([["1.50", "x"], ["-2", "+3.25"]]),
        }
    )
    rows = table.to_pandas()
    assert not _strictly_increasing(rows, ["id"])
    assert _strictly_increasing(rows, ["id", "month"])
    amounts = money_values(rows["amount"], np.array([True, False, True, True]))
    assert np.isnan(amounts[1]) and list(amounts[[0, 2, 3]]) == [1.5, -2.0, 3.25]


def test_a_gzip_extract_is_read_as_delivered_whatever_its_name(tmp_path):
    import gzip

    plain = prepare_extract(write_extract(tmp_path / "plain"), "2024-03", set())
    named = write_extract(tmp_path / "named")
    for name in ("statements.csv", "transactions.csv"):
        path = named / name
        path.with_name(name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    content = write_extract(tmp_path / "content")
    path = content / "transactions.csv"
    path.write_bytes(gzip.compress(path.read_bytes()))  # gzip bytes behind a .csv name
    for folder in (named, content):
        prepared = prepare_extract(folder, "2024-03", set())
        assert prepared.transactions["transaction_id"].tolist() == ["T1", "T2", "T3"]
        assert len(prepared.statements) == len(plain.statements) and reasons(prepared) == []


def test_a_damaged_gzip_file_is_refused_as_compressed(tmp_path):
    import gzip

    folder = write_extract(tmp_path)
    path = folder / "transactions.csv"
    path.write_bytes(gzip.compress(path.read_bytes())[:-12])  # cut short in transit
    with pytest.raises(ExtractRefusedError, match=r"transactions\.csv: line 1: is a compressed"):
        prepare_extract(folder, "2024-03", set())


def test_a_folder_where_a_file_belongs_is_refused_not_ignored(tmp_path):
    folder = write_extract(tmp_path, customers=None)
    (folder / "customers.csv").mkdir()
    with pytest.raises(ExtractRefusedError, match=r"customers\.csv: line 1: is a folder"):
        prepare_extract(folder, "2024-03", set())


def test_a_line_too_long_to_be_a_row_is_refused_with_its_line_number(tmp_path):
    folder = write_extract(
        tmp_path, transactions=GOOD_TRANSACTIONS + "T4," + "9" * (17 << 20) + "\n"
    )
    with pytest.raises(ExtractRefusedError) as refused:
        prepare_extract(folder, "2024-03", set())
    message = str(refused.value)
    assert "transactions.csv: line 5: line 5 is 17,825,796 bytes long" in message
    assert "straddl" not in message and "block" not in message  # no parser jargon


def test_ids_with_control_characters_are_quarantined(tmp_path):
    folder = write_extract(
        tmp_path,
        transactions=GOOD_TRANSACTIONS
        + "T4\x00,C1,2024-03-06,5,purchase,,\n"
        + "T5\x1b[31m,C1,2024-03-06,5,purchase,,\n"
        + "T6,C\t1,2024-03-06,5,purchase,,\n"
        + "T7é,C1,2024-03-06,5,purchase,,\n",
    )
    prepared = prepare_extract(folder, "2024-03", set())
    assert reasons(prepared) == [
        ("transactions", 5, "invalid_value", "transaction_id"),
        ("transactions", 6, "invalid_value", "transaction_id"),
        ("transactions", 7, "invalid_value", "customer_id"),
    ]
    assert "holds a control character" in prepared.quarantine["detail"].iloc[0]
    assert "T7é" in set(prepared.transactions["transaction_id"])  # non-ASCII is fine
