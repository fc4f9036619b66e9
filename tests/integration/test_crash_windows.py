"""A load killed for real at any step: each month stays whole, and readers do not wait.

A private MariaDB (``private_mariadb``: own datadir and port) holds a warehouse with January
and February published. A ``credit-risk load`` of a corrected February then dies while writing
its rows or just before one step of its two-branch commit (``crash_load``): either the client
is SIGKILLed (a worker killed by the OOM killer) or the server is (a power cut of the database
host; it is started again on the same datadir, and InnoDB recovers). After each crash the
loaded gate and a build of February run as the next run would: each reads February whole (as
before the load when the crash came before its decision, the main branch's commit, and as
after it when it came later), and neither waits on the dead load's locks. A plain rerun of the
load then ends exactly like an undisturbed load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from credit_risk import pipeline, steps
from credit_risk.generate.realistic import generate_realistic
from credit_risk.warehouse.db import warehouse_from_url
from credit_risk.warehouse.load import load_extract
from credit_risk.warehouse.load_transaction import MAIN, TRANSACTIONS, xid_prefix
from tests.conftest import REPO_ROOT, query

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = [
    "write rows",
    f"prepare {TRANSACTIONS}",
    f"prepare {MAIN}",
    f"commit {MAIN}",  # the decision: before it nothing happened, after it all did
    f"commit {TRANSACTIONS}",
]
DECIDED = {f"commit {TRANSACTIONS}"}
READERS_WAIT_AT_MOST_SECONDS = 15  # a dead load's row locks would hold them 50 s


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, object]:
    """January, February, and a corrected February: a tenth of its transactions withdrawn
    and every balance 1.00 higher, so the old and the new February tell themselves apart."""
    root = tmp_path_factory.mktemp("crash_drops")
    generate_realistic(root / "full", customers=150, months=2, start="2024-01", seed=5)
    found = {m: pipeline.slice_month(root / "full", m, root / m) for m in ("2024-01", "2024-02")}
    corrected = root / "2024-02-corrected"
    corrected.mkdir()
    for name in ("customers.csv",):
        (corrected / name).write_bytes((found["2024-02"] / name).read_bytes())
    statements = pd.read_csv(found["2024-02"] / "statements.csv", dtype=str)
    statements["outstanding_balance"] = (statements["outstanding_balance"].astype(float) + 1).map(
        "{:.2f}".format
    )
    statements.to_csv(corrected / "statements.csv", index=False)
    transactions = pd.read_csv(found["2024-02"] / "transactions.csv", dtype=str)
    kept = transactions.iloc[: len(transactions) * 9 // 10]
    kept.to_csv(corrected / "transactions.csv", index=False)
    found["corrected"] = corrected
    found["old"] = (set(transactions["transaction_id"]), _balance_sum(statements, -1))
    found["new"] = (set(kept["transaction_id"]), _balance_sum(statements, 0))
    return found


def _balance_sum(statements: pd.DataFrame, shift: float) -> float:
    return round(float((statements["outstanding_balance"].astype(float) + shift).sum()), 2)


def february(url: str, transactions: str, statements: str, month_column: str) -> tuple:
    """February as a table pair holds it: transaction ids, and the sum of balances."""
    ids = {
        row[0]
        for row in query(
            url, f"select transaction_id from {transactions} where {month_column} = '2024-02'"
        )
    }
    (total,) = query(
        url,
        f"select coalesce(sum(outstanding_balance), 0) from {statements} "
        f"where {month_column} = '2024-02'",
    )[0]
    return ids, round(float(total), 2)


def in_doubt(url: str, database: str) -> list:
    prefix = xid_prefix(database).encode()
    return [row for row in query(url, "xa recover") if row[3][: row[1]].startswith(prefix)]


def crashing_load(server, step: str, target: str, url: str, source) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_load",
            step,
            target,
            str(server.process.pid),
            "--",
            "load",
            "--source",
            str(source),
            "--month",
            "2024-02",
            "--db-url",
            url,
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
        timeout=300,
    )


@pytest.mark.parametrize("target", ["client", "server"])
@pytest.mark.parametrize("step", STEPS)
def test_a_load_killed_at_any_step_leaves_february_whole_and_readers_do_not_wait(
    private_mariadb,
    drops,
    step,
    target,
):
    server = private_mariadb
    database = f"crash_{target}_{step.replace(' ', '_')}"
    url = server.url(database)
    warehouse = warehouse_from_url(url)
    for month in ("2024-01", "2024-02"):
        steps.publish_extract(warehouse, drops[month], month)

    crashed = crashing_load(server, step, target, url, drops["corrected"])
    if target == "client":
        assert crashed.returncode == -9, crashed.stderr
    else:
        assert crashed.returncode == 1, crashed.stderr
        message = " ".join(crashed.stderr.split())
        assert "Traceback" not in crashed.stderr
        if step in DECIDED:  # the load happened; only its second commit is left
            assert message.startswith("error: the load was committed but its transactions")
            assert "the next gate, build or load finishes it" in message
        else:
            assert message.startswith(
                f"error: the warehouse at mysql://root@127.0.0.1:{server.port}"
            )
        server.start()  # InnoDB recovers; prepared branches survive as they would in production

    expected = drops["new"] if step in DECIDED else drops["old"]
    started = time.monotonic()
    pipeline.check_loaded(warehouse, "2024-02")
    built = pipeline.build_refresh(warehouse, "2024-02")
    waited = time.monotonic() - started
    assert waited < READERS_WAIT_AT_MOST_SECONDS, f"readers waited {waited:.0f} s"
    assert february(url, "transactions", "statements", "statement_month") == expected
    assert (
        february(
            url,
            built.table("published_transactions"),
            built.table("published_customer_month"),
            "month",
        )
        == expected
    )
    if step in DECIDED:
        assert in_doubt(url, database) == []  # the readers finished the decided load

    rerun = load_extract(warehouse, drops["corrected"], "2024-02")
    assert rerun.rows_quarantined == 0
    assert in_doubt(url, database) == []
    assert february(url, "transactions", "statements", "statement_month") == drops["new"]
    pipeline.check_loaded(warehouse, "2024-02")
    rebuilt = pipeline.build_refresh(warehouse, "2024-02")
    assert (
        february(
            url,
            rebuilt.table("published_transactions"),
            rebuilt.table("published_customer_month"),
            "month",
        )
        == drops["new"]
    )
