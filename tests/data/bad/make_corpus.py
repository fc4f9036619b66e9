"""Write the bad-input corpus: one folder per case, each a monthly drop for 2024-03 with one
defect (or a harmless variant that must load), and ``expected.json`` with what must happen.

Run it to rebuild the folders after changing a case (``python tests/data/bad/make_corpus.py``);
the outcomes in ``expected.json`` are written by hand, reviewed one by one, and checked by
``tests/unit/test_bad_corpus.py``.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent

CUSTOMERS_HEADER = "customer_id,opened_date,credit_tier,region"
STATEMENTS_HEADER = (
    "customer_id,statement_month,credit_limit,outstanding_balance,payment_amount,minimum_due,"
    "days_past_due"
)
TRANSACTIONS_HEADER = (
    "transaction_id,customer_id,transaction_date,amount,transaction_type,merchant_category,channel"
)
CUSTOMERS = ["C1,2020-01-01,prime,north", "C2,2021-06-15,near_prime,south", "C3,2019-03-01,,"]
STATEMENTS = [
    "C1,2024-03,5000.00,1200.50,100.00,25.00,0",
    "C2,2024-03,2000,1900,,,",
    "C3,2024-03,3000.00,300.00,50.00,15.00,0",
]
TRANSACTIONS = [
    "T1,C1,2024-03-02,45.10,purchase,grocery,pos",
    "T2,C1,2024-03-05,-10.00,refund,grocery,pos",
    "T3,C2,2024-03-31,300,cash_advance,cash,atm",
    "T4,C3,2024-03-10,12.99,purchase,travel,online",
    "T5,C3,2024-03-11,80.00,purchase,,",
]


def _write(folder: Path, customers=None, statements=None, transactions=None, eol="\n") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "customers.csv": [CUSTOMERS_HEADER, *(CUSTOMERS if customers is None else customers)],
        "statements.csv": [STATEMENTS_HEADER, *(STATEMENTS if statements is None else statements)],
        "transactions.csv": [
            TRANSACTIONS_HEADER,
            *(TRANSACTIONS if transactions is None else transactions),
        ],
    }
    for name, lines in files.items():
        (folder / name).write_bytes((eol.join(lines) + eol).encode())


def _replace(lines: list[str], index: int, line: str) -> list[str]:
    return [*lines[:index], line, *lines[index + 1 :]]


def cases() -> dict[str, dict]:
    """Case name -> the arguments of ``_write`` (or a callable that makes the folder)."""
    t, s = TRANSACTIONS, STATEMENTS
    return {
        "clean": {},
        "crlf_line_ends": {"eol": "\r\n"},
        "blank_lines": {"transactions": [t[0], "", t[1], "", *t[2:]]},
        "padded_values": {
            "transactions": _replace(t, 0, " T1 , C1 ,2024-03-02, 45.10 ,purchase,grocery,pos")
        },
        "sql_metacharacters_in_id": {
            "transactions": _replace(
                t, 4, "T5'; drop table transactions;--,C3,2024-03-11,80.00,purchase,,"
            )
        },
        "wrong_header_name": {"transactions": t},  # header patched below
        "missing_column": {},
        "extra_column": {},
        "repeated_column": {},
        "empty_file": {},
        "header_only_statements": {"statements": []},
        "truncated_file": {},
        "too_many_fields": {"transactions": _replace(t, 1, t[1] + ",extra")},
        "too_few_fields": {"transactions": _replace(t, 1, "T2,C1,2024-03-05")},
        "every_row_wrong_width": {"transactions": [row + ",x" for row in t]},
        "not_utf8": {},
        "utf8_bom": {},
        "stray_carriage_return": {},
        "quoted_embedded_newline": {
            "transactions": _replace(t, 3, 'T4,C3,2024-03-10,12.99,purchase,"tra\nvel",online')
        },
        "thousands_separator": {
            "transactions": _replace(t, 2, 'T3,C2,2024-03-31,"1,300.00",cash_advance,cash,atm')
        },
        "too_many_decimals": {
            "transactions": _replace(t, 0, "T1,C1,2024-03-02,45.105,purchase,grocery,pos")
        },
        "huge_magnitude": {
            "transactions": _replace(t, 0, "T1,C1,2024-03-02,12345678901234.00,purchase,,")
        },
        "scientific_notation": {
            "transactions": _replace(t, 0, "T1,C1,2024-03-02,4.5e1,purchase,,")
        },
        "zero_credit_limit": {"statements": _replace(s, 1, "C2,2024-03,0,1900,,,")},
        "negative_credit_limit": {"statements": _replace(s, 1, "C2,2024-03,-2000,1900,,,")},
        "malformed_date": {"transactions": _replace(t, 0, "T1,C1,2024-02-30,45.10,purchase,,")},
        "day_month_year_date": {
            "transactions": _replace(t, 0, "T1,C1,02/03/2024,45.10,purchase,,")
        },
        "malformed_statement_month": {"statements": _replace(s, 0, "C1,2024-3,5000.00,1200.50,,,")},
        "future_date": {"transactions": [*t, "T6,C1,2099-01-01,5.00,purchase,,"]},
        "before_earliest_month": {"statements": [*s, "C1,1999-12,5000,10,,,"]},
        "before_account_opened": {
            "customers": _replace(CUSTOMERS, 2, "C3,2024-03-15,,"),
        },
        "outside_the_month": {"transactions": [*t, "T6,C1,2024-04-01,5.00,purchase,,"]},
        "duplicate_transaction_id": {"transactions": [*t, "T1,C2,2024-03-03,9.00,purchase,,"]},
        "duplicate_statement": {"statements": [*s, "C2,2024-03,2000,1900,,,"]},
        "duplicate_customer": {"customers": [*CUSTOMERS, "C1,2020-01-01,prime,north"]},
        "unknown_customer": {"transactions": [*t, "T6,C9,2024-03-03,9.00,purchase,,"]},
        "empty_customer_id": {"transactions": [*t, "T6,,2024-03-03,9.00,purchase,,"]},
        "missing_amount": {"transactions": _replace(t, 0, "T1,C1,2024-03-02,,purchase,,")},
        "invalid_transaction_type": {
            "transactions": _replace(t, 0, "T1,C1,2024-03-02,45.10,gift,,")
        },
        "ten_thousand_character_id": {
            "transactions": [*t, "T" + "x" * 10_000 + ",C1,2024-03-03,9.00,purchase,,"]
        },
        "nul_byte_in_id": {"transactions": [*t, "T6\x00,C1,2024-03-03,9.00,purchase,,"]},
        "ansi_escape_in_id": {"transactions": [*t, "T6\x1b[31m,C1,2024-03-03,9.00,purchase,,"]},
        "gzip_compressed": {},
        "gzip_damaged": {},
        "folder_instead_of_file": {},
        "no_transactions_file": {},
    }


def _patch(folder: Path, name: str) -> None:
    """The cases a line list cannot express."""
    tx = folder / "transactions.csv"
    if name == "wrong_header_name":
        tx.write_text(tx.read_text().replace("transaction_date", "txn_date", 1))
    elif name == "missing_column":
        st = folder / "statements.csv"
        st.write_text(
            "\n".join(line.rsplit(",", 1)[0] for line in st.read_text().splitlines()) + "\n"
        )
    elif name == "extra_column":
        tx.write_text("\n".join(line + ",x" for line in tx.read_text().splitlines()) + "\n")
    elif name == "repeated_column":
        lines = tx.read_text().splitlines()
        tx.write_text("\n".join([lines[0].replace("channel", "amount"), *lines[1:]]) + "\n")
    elif name == "empty_file":
        tx.write_bytes(b"")
    elif name == "truncated_file":
        data = tx.read_bytes()
        tx.write_bytes(data[: data.rindex(b"purchase") + 3])  # cut inside the last row
    elif name == "not_utf8":
        tx.write_bytes(tx.read_bytes().replace(b"grocery", "épicerie".encode("latin-1"), 1))
    elif name == "utf8_bom":
        tx.write_bytes(b"\xef\xbb\xbf" + tx.read_bytes())
    elif name == "stray_carriage_return":
        tx.write_bytes(tx.read_bytes().replace(b"T3,C2", b"T3,C\r2", 1))
    elif name == "gzip_compressed":
        for path in list(folder.glob("*.csv")):
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), mtime=0))
            path.unlink()
    elif name == "gzip_damaged":
        tx.write_bytes(gzip.compress(tx.read_bytes(), mtime=0)[:-12])
    elif name == "folder_instead_of_file":
        (folder / "customers.csv").unlink()
        (folder / "customers.csv").mkdir()
        (folder / "customers.csv" / ".gitkeep").write_text("")
    elif name == "no_transactions_file":
        tx.unlink()


def main(target: Path = HERE) -> None:
    for name, arguments in cases().items():
        folder = target / name
        shutil.rmtree(folder, ignore_errors=True)
        _write(folder, **arguments)
        _patch(folder, name)
    print(f"wrote {len(cases())} cases under {target}")


if __name__ == "__main__":
    main()
