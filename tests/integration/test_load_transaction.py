"""The load's two-branch XA transaction: all or nothing, even when the process dies half way.

A crash is simulated by stopping the commit protocol at a step and leaving the connections
without rolling back, which is what the server sees when a worker is killed: prepared branches
stay on the server, unprepared ones are undone when their connection goes.
"""

from __future__ import annotations

import pytest

from credit_risk.warehouse import load_transaction
from credit_risk.warehouse.db import connect, warehouse_from_url
from credit_risk.warehouse.load import load_extract
from credit_risk.warehouse.load_transaction import (
    MAIN,
    TRANSACTIONS,
    LoadTransaction,
    load_lock,
    resolve_interrupted_loads,
    xid_prefix,
)
from tests.conftest import query
from tests.unit.test_extract import write_extract

pytestmark = pytest.mark.integration

MARCH_FIXED = "T1,C1,2024-03-02,45.10,purchase,grocery,pos\nT9,C2,2024-03-20,9.99,purchase,,\n"


class Crash(BaseException):
    """The process dying (a BaseException, like the KeyboardInterrupt or SystemExit it models)."""


def in_doubt(db_url: str) -> list[str]:
    """Branches of this warehouse's loads still prepared on the server."""
    database = warehouse_from_url(db_url).database
    prefix = xid_prefix(database).encode()
    rows = query(db_url, "xa recover")
    return sorted(
        data[gtrid : gtrid + bqual].decode()
        for _format, gtrid, bqual, data in rows
        if data[:gtrid].startswith(prefix)
    )


def xa_rollback(db_url: str, gtrid: str, bqual: str) -> None:
    with connect(warehouse_from_url(db_url)) as conn:
        conn.autocommit(True)  # XA ROLLBACK of a detached branch: outside any transaction
        conn.cursor().execute("xa rollback %s, %s", (gtrid, bqual))


def march_state(db_url: str) -> tuple[list, list]:
    return (
        query(db_url, "select transaction_id from transactions order by 1"),
        query(db_url, "select customer_id, outstanding_balance from statements order by 1"),
    )


@pytest.fixture
def loaded(db_url, tmp_path):
    """A warehouse holding the March drop, and a corrected March drop to load next."""
    warehouse = warehouse_from_url(db_url)
    load_extract(warehouse, write_extract(tmp_path / "march"), "2024-03")
    corrected = write_extract(
        tmp_path / "march-fixed",
        statements="C1,2024-03,5000.00,1300.00,,,\nC2,2024-03,2000,1950,,,\n",
        transactions=MARCH_FIXED,
    )
    yield warehouse, corrected
    # a failed test may leave a prepared branch, which would block dropping the database
    for _format, gtrid, bqual, data in query(db_url, "xa recover"):
        if data[:gtrid].startswith(xid_prefix(warehouse.database).encode()):
            xa_rollback(db_url, data[:gtrid].decode(), data[gtrid : gtrid + bqual].decode())


def crash_at(monkeypatch, step: str) -> None:
    """Make the commit protocol die just before ``step`` (e.g. "commit transactions")."""
    verb, branch = step.split()
    original = getattr(LoadTransaction, f"_{verb}")

    def stop(self, which):
        if which == branch:
            raise Crash(step)
        return original(self, which)

    monkeypatch.setattr(LoadTransaction, f"_{verb}", stop)
    monkeypatch.setattr(LoadTransaction, "rollback", lambda self: None)  # a dead process


def test_a_load_commits_both_branches_and_leaves_nothing_in_doubt(db_url, loaded):
    warehouse, corrected = loaded
    load_extract(warehouse, corrected, "2024-03")
    transactions, statements = march_state(db_url)
    assert transactions == [("T1",), ("T9",)]
    assert [balance for _, balance in statements] == [1300, 1950]
    assert in_doubt(db_url) == []
    assert query(db_url, "select count(*) from load_commits") == [(2,)]


def test_a_crash_before_the_decision_is_rolled_back_by_the_next_load(db_url, loaded, monkeypatch):
    warehouse, corrected = loaded
    before = march_state(db_url)
    with monkeypatch.context() as patch:
        crash_at(patch, f"prepare {MAIN}")
        with pytest.raises(Crash):
            load_extract(warehouse, corrected, "2024-03")
    assert in_doubt(db_url) == [TRANSACTIONS]  # prepared, waiting
    assert march_state(db_url) == before  # readers see the previous load only

    with connect(warehouse) as conn, load_lock(conn, warehouse.database):
        assert resolve_interrupted_loads(conn, warehouse.database) == [(TRANSACTIONS, "rollback")]
    assert in_doubt(db_url) == []
    assert march_state(db_url) == before


def test_a_crash_after_the_decision_is_finished_by_the_next_load(db_url, loaded, monkeypatch):
    warehouse, corrected = loaded
    with monkeypatch.context() as patch:
        crash_at(patch, f"commit {TRANSACTIONS}")
        with pytest.raises(Crash):
            load_extract(warehouse, corrected, "2024-03")
    assert in_doubt(db_url) == [TRANSACTIONS]
    # the main branch committed: the new statements are visible, its transactions not yet
    assert [b for _, b in march_state(db_url)[1]] == [1300, 1950]

    april = write_extract(
        corrected.parent / "april",
        statements="C1,2024-04,5000,10,,,\n",
        transactions="T40,C1,2024-04-02,7.00,purchase,,\n",
    )
    load_extract(warehouse, april, "2024-04")  # resolves the March branch first
    assert in_doubt(db_url) == []
    assert query(db_url, "select transaction_id, statement_month from transactions order by 1") == [
        ("T1", "2024-03"),
        ("T40", "2024-04"),
        ("T9", "2024-03"),
    ]


def test_a_load_that_writes_no_transaction_commits(db_url, tmp_path):
    """Its transactions branch changes nothing (MariaDB then ends it at PREPARE)."""
    warehouse = warehouse_from_url(db_url)
    drop = write_extract(tmp_path, transactions="T1,C1,2024-03-02,oops,purchase,,\n")
    report = load_extract(warehouse, drop, "2024-03")
    assert (report.rows_loaded, report.rows_quarantined) == (4, 1)  # 2 customers, 2 statements
    assert query(db_url, "select count(*) from statements") == [(2,)]
    assert query(db_url, "select count(*) from transactions") == [(0,)]
    assert in_doubt(db_url) == []


def test_an_error_in_the_middle_leaves_the_previous_data(db_url, loaded, monkeypatch):
    warehouse, corrected = loaded
    before = march_state(db_url)

    def broken_audit(prepared):
        raise RuntimeError("audit failed")

    monkeypatch.setattr("credit_risk.warehouse.load._audit", broken_audit)
    with pytest.raises(RuntimeError, match="audit failed"):
        load_extract(warehouse, corrected, "2024-03")
    assert march_state(db_url) == before
    assert in_doubt(db_url) == []


def test_loads_of_one_warehouse_wait_for_each_other(db_url, loaded, monkeypatch):
    warehouse, corrected = loaded
    monkeypatch.setattr(load_transaction, "LOCK_TIMEOUT_SECONDS", 1)
    with (
        connect(warehouse) as holder,
        load_lock(holder, warehouse.database),
        pytest.raises(Exception, match="another load into"),
    ):
        load_extract(warehouse, corrected, "2024-03")
    load_extract(warehouse, corrected, "2024-03")  # the lock was released
    assert march_state(db_url)[0] == [("T1",), ("T9",)]


def test_another_warehouses_prepared_branch_is_left_alone(db_url, new_db_url, tmp_path):
    """XA RECOVER lists every database's branches: a load resolves only its own warehouse's."""
    other_url = new_db_url()
    other = warehouse_from_url(other_url)
    load_extract(other, write_extract(tmp_path / "x"), "2024-03")
    warehouse = warehouse_from_url(db_url)
    load_extract(warehouse, write_extract(tmp_path / "y"), "2024-03")
    with connect(other) as main_conn, connect(other) as tx_conn:
        xa = LoadTransaction(main_conn, tx_conn, other.database)
        xa.start()
        tx_conn.cursor().execute(  # a branch with no change would be prepared as rolled back
            "insert into transactions values ('TX', 'C1', '2024-03-03', '2024-03', 1, "
            "'purchase', null, null)"
        )
        xa._prepare(TRANSACTIONS)
    try:
        assert in_doubt(other_url) == [TRANSACTIONS]
        load_extract(warehouse, write_extract(tmp_path / "z"), "2024-03")
        assert in_doubt(other_url) == [TRANSACTIONS]
    finally:
        xa_rollback(other_url, xa.gtrid, TRANSACTIONS)


def test_readers_of_a_month_finish_a_load_left_between_its_two_commits(db_url, loaded, monkeypatch):
    """Between the commits the month's ledger row (main branch) is the new load's and its
    transactions marker (transactions branch) the old one's: the gate and the build see that,
    finish the decided load (XA COMMIT) and then read the new month whole, never half of it."""
    from credit_risk import pipeline

    warehouse, corrected = loaded
    with monkeypatch.context() as patch:
        crash_at(patch, f"commit {TRANSACTIONS}")
        with pytest.raises(Crash):
            load_extract(warehouse, corrected, "2024-03")
    assert query(
        db_url,
        "select ledger.load_id = markers.load_id from month_ledger as ledger "
        "join transaction_months as markers using (month)",
    ) == [(0,)]
    pipeline.check_loaded(warehouse, "2024-03")  # waits for nothing: the load was decided
    assert in_doubt(db_url) == []
    built = pipeline.build_refresh(warehouse, "2024-03")
    assert query(
        db_url, f"select transaction_id from {built.table('published_transactions')} order by 1"
    ) == [("T1",), ("T9",)]
