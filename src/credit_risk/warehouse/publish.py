"""Build the next snapshot where readers cannot see it, then swap it in atomically.

Readers query the published views, which read ``published_*`` tables. A run copies the model
views into ``candidate_*`` tables of the same shape, the published suite validates those, and
only then one ``RENAME TABLE`` statement exchanges all candidate and published tables at once:
readers see the previous validated snapshot or the new one, never a mix, and a failed
validation leaves the previous snapshot exactly as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credit_risk import catalog
from credit_risk.settings import Settings, get_settings
from credit_risk.warehouse.build import build_views
from credit_risk.warehouse.db import Warehouse, WarehouseError, connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Row counts of a built (candidate) or published snapshot."""

    customer_month_rows: int
    transaction_rows: int
    latest_month: str | None


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "select column_name from information_schema.columns "
        "where table_schema = database() and table_name = %s order by ordinal_position",
        (table,),
    )
    return [row[0] for row in cursor.fetchall()]


def _counts(cursor, customer_month_table: str, transaction_table: str) -> Snapshot:
    cursor.execute(f"select count(*), max(month) from {customer_month_table}")
    customer_months, latest = cursor.fetchone()
    cursor.execute(f"select count(*) from {transaction_table}")
    (transactions,) = cursor.fetchone()
    return Snapshot(int(customer_months), int(transactions), latest)


def build_candidate(warehouse: Warehouse, settings: Settings | None = None) -> Snapshot:
    """Fill the ``candidate_*`` tables from the model views (published data is untouched).

    Rebuilding replaces any earlier candidate, so rerunning the task is safe.
    """
    settings = settings or get_settings()
    build_views(warehouse, settings)
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        # The model views group and join whole tables through the server's internal temporary
        # tables; past tmp_table_size / max_heap_table_size (16 MB by default) those go to disk.
        # Session values: they need no privilege and end with this connection.
        temp_bytes = settings.build_temp_table_mb * 1024 * 1024
        cursor.execute(
            "set session tmp_table_size = %s, max_heap_table_size = %s", (temp_bytes, temp_bytes)
        )
        for published, model in catalog.SNAPSHOTS.items():
            candidate = catalog.candidate_table(published)
            columns = ", ".join(_columns(cursor, published))
            cursor.execute(f"drop table if exists {candidate}")
            cursor.execute(f"create table {candidate} like {published}")
            cursor.execute(f"insert into {candidate} ({columns}) select {columns} from {model}")
            conn.commit()
            log.info("built %s from %s", candidate, model)
        return _counts(
            cursor,
            catalog.candidate_table("published_customer_month"),
            catalog.candidate_table("published_transactions"),
        )


def candidate_exists(warehouse: Warehouse) -> bool:
    """Whether a built, not yet published, snapshot is waiting."""
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = database() and table_name in %s",
            (tuple(catalog.candidate_table(name) for name in catalog.SNAPSHOTS),),
        )
        return cursor.fetchone()[0] == len(catalog.SNAPSHOTS)


def publish_candidate(
    warehouse: Warehouse, *, run_month: str | None, published_by: str
) -> Snapshot:
    """Swap the validated candidate in, in one atomic rename, and log the publication.

    Raises:
        WarehouseError: there is no candidate to publish (build it first).
    """
    if not candidate_exists(warehouse):
        raise WarehouseError("there is no candidate snapshot to publish: build it first")
    renames = []
    for published in catalog.SNAPSHOTS:
        retired = catalog.retired_table(published)
        renames += [
            f"{published} to {retired}",
            f"{catalog.candidate_table(published)} to {published}",
        ]
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        for published in catalog.SNAPSHOTS:
            cursor.execute(f"drop table if exists {catalog.retired_table(published)}")
        cursor.execute("rename table " + ", ".join(renames))
        for published in catalog.SNAPSHOTS:
            cursor.execute(f"drop table {catalog.retired_table(published)}")
        snapshot = _counts(cursor, "published_customer_month", "published_transactions")
        cursor.execute(
            "insert into publications (run_month, latest_month, customer_month_rows, "
            "transaction_rows, published_by) values (%s, %s, %s, %s, %s)",
            (
                run_month,
                snapshot.latest_month,
                snapshot.customer_month_rows,
                snapshot.transaction_rows,
                published_by,
            ),
        )
        conn.commit()
    log.info("published snapshot: %s", snapshot)
    return snapshot
