"""One load, two connections, one outcome: an XA transaction with a branch per connection.

Why two connections: the server runs each connection's statements on one core. A load's
largest piece, ``LOAD DATA`` of the transactions, goes through its own connection (branch
``transactions``) while the statements, customers, quarantine and audit go through the other
(branch ``main``), so the server works on both at once instead of one after the other
(``benchmarks/load_benchmark.py``). An ordinary transaction belongs to one connection; XA
(two-phase commit, in MySQL and MariaDB) makes both branches commit or roll back together.

The protocol, and why it can always be finished:

1. Both branches are prepared: ``transactions`` first, then ``main``, which first records the
   transaction id in ``load_commits``. A prepared branch survives a crash of this process.
2. ``main`` commits. This is the decision: from here on the load has happened.
3. ``transactions`` commits.

A crash leaves at most prepared branches behind. The next load (loads take a named lock, so
none is running) resolves them before it starts: a branch whose id is in ``load_commits``
commits (the crash came after step 2), any other rolls back (it came before: nothing of that
load is visible). Operators can see such branches with ``XA RECOVER``; see docs/operations.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Iterator

import MySQLdb

from credit_risk.warehouse.db import WarehouseError

log = logging.getLogger(__name__)

MAIN, TRANSACTIONS = "main", "transactions"
XID_PREFIX = "credit-risk-load"
LOCK_TIMEOUT_SECONDS = 600
XA_RBROLLBACK = 1402


def _database_tag(database: str) -> str:
    """A short stable tag of the database, so a load only ever resolves its own warehouse's
    branches (``XA RECOVER`` lists those of every database on the server)."""
    return hashlib.sha256(database.encode()).hexdigest()[:8]


def xid_prefix(database: str) -> str:
    """The start of every transaction id of loads into ``database``."""
    return f"{XID_PREFIX}-{_database_tag(database)}-"


def _load_lock_name(database: str) -> str:
    return f"credit_risk_load:{database}"[:64]


@contextlib.contextmanager
def load_lock(conn: MySQLdb.Connection, database: str) -> Iterator[None]:
    """One load at a time per warehouse (a named lock, released if the process dies)."""
    name = _load_lock_name(database)
    cursor = conn.cursor()
    cursor.execute("select is_used_lock(%s)", (name,))
    holder = cursor.fetchone()[0]
    if holder is not None:
        log.warning(
            "another load into %s is running (connection %s): waiting for it to finish",
            database,
            holder,
        )
    cursor.execute("select get_lock(%s, %s)", (name, LOCK_TIMEOUT_SECONDS))
    if cursor.fetchone()[0] != 1:
        raise WarehouseError(
            f"another load into {database} has been running for {LOCK_TIMEOUT_SECONDS} s; "
            "try again when it has finished"
        )
    try:
        yield
    finally:
        with contextlib.suppress(MySQLdb.Error):
            cursor.execute("select release_lock(%s)", (name,))


def _branches_in_doubt(conn: MySQLdb.Connection, database: str) -> list[tuple[str, str]] | None:
    """(transaction id, branch) of every prepared branch of ``database``'s loads, or None when
    the server will not list them (MySQL 8 without ``XA_RECOVER_ADMIN``)."""
    cursor = conn.cursor()
    try:
        cursor.execute("xa recover")
    except MySQLdb.OperationalError as error:
        log.debug("XA RECOVER refused: %s", error)
        return None
    prefix = xid_prefix(database).encode()
    branches = []
    for _format, gtrid_length, bqual_length, data in cursor.fetchall():
        data = data if isinstance(data, bytes) else str(data).encode()
        gtrid, bqual = data[:gtrid_length], data[gtrid_length : gtrid_length + bqual_length]
        if gtrid.startswith(prefix):
            branches.append((gtrid.decode(), bqual.decode()))
    return branches


def _is_decided(conn: MySQLdb.Connection, gtrid: str) -> bool:
    """Whether the load's main branch committed (it records its id in ``load_commits``)."""
    cursor = conn.cursor()
    cursor.execute("select count(*) from load_commits where xa_transaction_id = %s", (gtrid,))
    decided = bool(cursor.fetchone()[0])
    conn.commit()
    return decided


def _xa_outside_transaction(conn: MySQLdb.Connection, verb: str, gtrid: str, bqual: str) -> None:
    """``XA COMMIT`` / ``XA ROLLBACK`` of a detached branch, with autocommit on (else the server
    counts this session as inside a transaction)."""
    conn.autocommit(True)
    try:
        conn.cursor().execute(f"xa {verb} %s, %s", (gtrid, bqual))
    finally:
        conn.autocommit(False)


def resolve_interrupted_loads(conn: MySQLdb.Connection, database: str) -> list[tuple[str, str]]:
    """Finish or undo the prepared branches a crashed load of ``database`` left behind.

    Call it holding ``load_lock``. Returns (branch, "commit" | "rollback") per branch resolved.
    """
    branches = _branches_in_doubt(conn, database)
    if branches is None:
        log.warning("cannot list interrupted loads (XA RECOVER needs XA_RECOVER_ADMIN); skipping")
        return []
    resolved = []
    for gtrid, bqual in branches:
        action = "commit" if _is_decided(conn, gtrid) else "rollback"
        _xa_outside_transaction(conn, action, gtrid, bqual)
        log.warning(
            "an earlier load was interrupted: %s its %s branch %s",
            "committed" if action == "commit" else "rolled back",
            bqual,
            gtrid,
        )
        resolved.append((bqual, action))
    conn.commit()
    return resolved


def finish_decided_loads(conn: MySQLdb.Connection, database: str) -> list[str]:
    """Commit the transactions branch of loads of ``database`` that were decided (their main
    branch committed) but not finished; returns the ids finished.

    Safe without the load lock: a decided load can only be committed, and a branch still
    attached to the live process that prepared it refuses (that process commits it itself, a
    moment later). Readers of the loaded tables call it when a month's ledger row and its
    transactions disagree.
    """
    branches = _branches_in_doubt(conn, database)
    if branches is None:
        log.warning("cannot list interrupted loads (XA RECOVER needs XA_RECOVER_ADMIN)")
        return []
    finished = []
    for gtrid, bqual in branches:
        if bqual != TRANSACTIONS or not _is_decided(conn, gtrid):
            continue
        try:
            _xa_outside_transaction(conn, "commit", gtrid, bqual)
            finished.append(gtrid)
            log.warning("finished the interrupted load %s (its transactions branch)", gtrid)
        except MySQLdb.Error as error:  # still attached to its live process, or done already
            log.info("load %s is finishing by itself (%s)", gtrid, error)
    return finished


def settle_interrupted_loads(conn: MySQLdb.Connection, database: str) -> list[tuple[str, str]]:
    """For readers of the loaded tables: settle what a dead load left prepared.

    A load killed after preparing its branches leaves them on the server, holding row locks
    (the month's ledger row among them) until someone commits or rolls them back; the next
    load would, but a gate or build started before it would wait 50 s on those locks and fail.
    When no load is running (its named lock is free: a dead process holds no lock) the
    branches can only be a dead load's, so they are resolved here as the next load would:
    committed when decided, rolled back otherwise. While a load runs, only decided loads are
    finished (``finish_decided_loads``); an undecided branch is that live load's own, a moment
    from its commit.

    Returns (branch, "commit" | "rollback") per branch resolved.
    """
    if not _branches_in_doubt(conn, database):  # none, or the server will not say
        return []
    cursor = conn.cursor()
    name = _load_lock_name(database)
    cursor.execute("select get_lock(%s, 0)", (name,))
    if cursor.fetchone()[0] != 1:
        return [(TRANSACTIONS, "commit") for _ in finish_decided_loads(conn, database)]
    try:
        return resolve_interrupted_loads(conn, database)
    finally:
        with contextlib.suppress(MySQLdb.Error):
            cursor.execute("select release_lock(%s)", (name,))


class LoadTransaction:
    """The XA transaction of one load: branch ``main`` on ``main_conn``, ``transactions`` on
    ``transactions_conn``."""

    def __init__(
        self,
        main_conn: MySQLdb.Connection,
        transactions_conn: MySQLdb.Connection,
        database: str,
    ) -> None:
        self.conns = {MAIN: main_conn, TRANSACTIONS: transactions_conn}
        self.gtrid = xid_prefix(database) + uuid.uuid4().hex
        self.states = {MAIN: "idle", TRANSACTIONS: "idle"}

    def _xa(self, branch: str, verb: str) -> None:
        self.conns[branch].cursor().execute(f"xa {verb} %s, %s", (self.gtrid, branch))

    def start(self) -> None:
        """Begin both branches (ending whatever plain transaction each connection had open)."""
        for branch, conn in self.conns.items():
            conn.commit()
            self._xa(branch, "start")
            self.states[branch] = "active"

    def _prepare(self, branch: str) -> None:
        if branch == MAIN:
            self.conns[MAIN].cursor().execute(
                "insert into load_commits (xa_transaction_id) values (%s)", (self.gtrid,)
            )
        self._xa(branch, "end")
        self.states[branch] = "ended"
        try:
            self._xa(branch, "prepare")
        except MySQLdb.OperationalError as error:
            if error.args[0] != XA_RBROLLBACK:
                raise
            # MariaDB ends a branch that changed nothing at PREPARE: nothing to commit
            self.states[branch] = "read-only"
            return
        self.states[branch] = "prepared"

    def _commit(self, branch: str) -> None:
        if self.states[branch] == "read-only":
            return
        self._xa(branch, "commit")
        self.states[branch] = "committed"

    def commit(self) -> None:
        """Two-phase commit in the order the module describes."""
        self._prepare(TRANSACTIONS)
        self._prepare(MAIN)
        self._commit(MAIN)
        try:
            self._commit(TRANSACTIONS)
        except MySQLdb.Error as error:
            raise WarehouseError(
                f"the load was committed but its transactions branch {self.gtrid} could not be "
                f"({error}); the next gate, build or load finishes it (or run: XA COMMIT "
                f"'{self.gtrid}', '{TRANSACTIONS}')"
            ) from error

    def rollback(self) -> None:
        """Undo every branch not committed yet (best effort: a dead connection undoes an
        unprepared branch by itself, and the next load undoes a prepared one). Once ``main``
        has committed the load has happened: nothing is undone."""
        if self.states[MAIN] == "committed":
            return
        for branch in (MAIN, TRANSACTIONS):
            state = self.states[branch]
            with contextlib.suppress(MySQLdb.Error):
                if state == "active":
                    self._xa(branch, "end")
                    state = "ended"
                if state in ("ended", "prepared"):
                    self._xa(branch, "rollback")
                    self.states[branch] = "rolled back"
