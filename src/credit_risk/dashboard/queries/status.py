"""Is the data fresh and sound: the latest publication and validation, and the failed
validations since the last good one (the dashboard's banner)."""

from __future__ import annotations

import sqlalchemy as sa

from credit_risk.dashboard.queries.common import _rows

# --- freshness and quality ---------------------------------------------------------------------

_VALIDATION_COLUMNS = (
    "validation_run_id, suite, stage, partition_month, is_success, evaluated_expectations, "
    "failed_expectations, data_docs_path, failures, run_id, validated_at, approved_by, "
    "approval_reason"
)


def latest_publication(conn: sa.Connection) -> dict | None:
    """The publication readers see now."""
    rows = _rows(
        conn,
        "select publication_id, run_month, latest_month, customer_month_rows, transaction_rows, "
        "published_by, published_at from publications "
        "order by published_at desc, publication_id desc limit 1",
    )
    return rows[0] if rows else None


def latest_validation(conn: sa.Connection) -> dict | None:
    """The most recent suite run, whatever its stage and outcome."""
    rows = _rows(
        conn,
        f"select {_VALIDATION_COLUMNS} from validation_runs "
        "order by validated_at desc, validation_run_id desc limit 1",
    )
    return rows[0] if rows else None


def failed_validation_since(conn: sa.Connection, published_at) -> dict | None:
    """The latest failed suite run after ``published_at`` (all of them when None).

    A failure after the last publication means a newer month was refused: readers are looking
    at older data than the pipeline tried to give them, and the banner must say so.
    """
    where = "not is_success" + (" and validated_at > :published_at" if published_at else "")
    rows = _rows(
        conn,
        f"select {_VALIDATION_COLUMNS} from validation_runs where {where} "
        "order by validated_at desc, validation_run_id desc limit 1",
        published_at=published_at,
    )
    return rows[0] if rows else None
