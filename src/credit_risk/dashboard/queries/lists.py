"""The long lists, paged and exported: customers of a segment (at risk first) and the
month's anomalies, sorted by an index so a page costs its size, and their CSV exports."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from credit_risk.dashboard.queries.common import (
    _CUSTOMER_MONTH_COLUMNS,
    HIGH_RISK_PREDICTIONS,
    SCORED_CUSTOMER_MONTH,
    SMALL_SEGMENT,
    _columns,
    _customer_month,
    _expanding,
    _float,
    _prediction,
    _rows,
    has_index,
    index_named,
    like_prefix,
    money,
)
from credit_risk.dashboard.queries.portfolio import portfolio

AT_RISK_SORTS: dict[str, str] = {
    "utilization_pct": "utilization_pct",
    "days_past_due": "days_past_due",
    "monthly_spend": "monthly_spend",
    "customer_id": "customer_id",
}
"""Whitelisted sort keys of the at-risk table -> column of ``published_customer_month`` (plus
``probability``, from the scores). Each has an index that delivers the segment in that order
(docs/dashboard.md), so a page is read, not a sorted segment."""

ANOMALY_SORTS: dict[str, str] = {
    "score": "anomalies.anomaly_score",  # the detectors' strongest evidence
    "strength": "abs(anomalies.z_score)",  # how far spend is from the customer's usual
    "z_score": "anomalies.z_score",
    "monthly_spend": "anomalies.monthly_spend",
    "baseline_mean": "anomalies.baseline_mean",
    "baseline_std": "anomalies.baseline_std",
    "customer_id": "anomalies.customer_id",
    "risk_category": "customer_months.risk_category",
}
"""Whitelisted sort keys of the anomalies table -> SQL expression."""


def _order_by(expression: str, order: str, key: str) -> str:
    """ORDER BY a whitelisted expression, ties by customer id in the same direction.

    Same direction, and no NULL juggling, so an index on ``(..., expression)`` (whose entries
    end with the customer id) can deliver the rows already sorted. NULLs come first ascending
    and last descending, as MySQL/MariaDB sort them.
    """
    direction = "desc" if order == "desc" else "asc"
    return f"order by {expression} {direction}, {key} {direction}"


def _segment_where(
    alias: str, prefix: str | None, mark: Callable[[str], str] = ":{}".format
) -> str:
    """The segment's filter; ``mark`` writes a named parameter (``%({})s`` for a DB-API cursor)."""
    where = f"{alias}.month = {mark('month')} and {alias}.risk_category = {mark('category')}"
    if prefix:
        where += f" and {alias}.customer_id like {mark('pattern')} escape '!'"
    return where


def segment_page(
    conn: sa.Connection,
    month: str,
    category: str,
    *,
    sort: str,
    order: str,
    limit: int,
    offset: int,
    prefix: str | None,
    with_scores: bool,
    segment_size: int,
) -> list[dict]:
    """One page of a segment's customers in ``month`` (the at-risk table).

    The page is cut first (through the index of the sort column), then only its rows are joined
    to the scores. Sorted by probability, the segment's scored customers are listed.
    """
    params = {
        "month": month,
        "category": category,
        "pattern": like_prefix(prefix) if prefix else None,
        "limit": limit,
        "offset": offset,
    }
    if sort == "probability":
        if segment_size == 0:
            return []
        walk = segment_size > SMALL_SEGMENT and not prefix
        if walk and has_index(conn, HIGH_RISK_PREDICTIONS, ("month", "probability")):
            return _page_by_walking_scores(conn, order, params)
        return _page_by_joining_scores(conn, order, prefix, params)
    column = AT_RISK_SORTS[sort]
    page = (
        f"select {_columns('segment')} from published_customer_month as segment "
        f"where {_segment_where('segment', prefix)} "
        f"{_order_by('segment.' + column, order, 'segment.customer_id')} "
        "limit :limit offset :offset"
    )
    if not with_scores:
        return [_customer_month(row) for row in _rows(conn, page, **params)]
    sql = (
        "select page.*, predictions.probability, predictions.is_predicted_high_risk "
        f"from ({page}) as page left join high_risk_predictions as predictions "
        "on predictions.customer_id = page.customer_id and predictions.month = page.month "
        f"{_order_by('page.' + column, order, 'page.customer_id')}"
    )
    return [{**_customer_month(row), **_prediction(row)} for row in _rows(conn, sql, **params)]


AT_RISK_EXPORT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "month",
    "risk_category",
    "utilization_pct",
    "credit_limit",
    "outstanding_balance",
    "days_past_due",
    "monthly_spend",
    "probability",
    "is_predicted_high_risk",
)
"""Columns of the at-risk CSV file, in order."""


def segment_export(
    conn: sa.Connection,
    month: str,
    category: str,
    *,
    sort: str,
    order: str,
    limit: int,
    prefix: str | None,
    available: frozenset[str],
) -> list[tuple[str | None, ...]]:
    """The at-risk table's first ``limit`` rows as text, in ``AT_RISK_EXPORT_COLUMNS`` order.

    For the CSV export, up to 100,000 rows in one statement, formatted by the server so Python
    only writes the lines. A scored month is read from ``scored_customer_month`` (the scoring
    job's copy of each score with its published figures, stored by month and segment). Other
    months, in the default order, read the segment from ``ix_published_customer_month_at_risk``
    alone (it carries every column the file needs) and the scores from
    ``ix_high_risk_predictions_customer`` (a month's entries sit together): either way 10,000
    rows never touch the tables' own rows, which are spread over the whole of each table.

    Args:
        available: ``available_tables(conn)``, which the caller has already read.
    """
    with_scores = HIGH_RISK_PREDICTIONS in available
    if with_scores and SCORED_CUSTOMER_MONTH in available and _scored_month_copied(conn, month):
        return _export_rows(
            conn, "scored_customer_month as scored", _export_values("scored", "scored"),
            "scored", sort, order, limit, month, category, prefix,
        )  # fmt: skip
    if sort == "probability":
        rows = segment_page(
            conn, month, category, sort=sort, order=order, limit=limit, offset=0,
            prefix=prefix, with_scores=True,
            segment_size=segment_count(conn, month, category, prefix),
        )  # fmt: skip
        return [_export_line(row) for row in rows]
    source = "published_customer_month as segment"
    if with_scores:
        index = index_named(conn, HIGH_RISK_PREDICTIONS, ("month", "customer_id", "probability"))
        hint = f"force index (`{index}`) " if index else ""
        source += (
            f" left join high_risk_predictions as predictions {hint}"
            "on predictions.customer_id = segment.customer_id "
            "and predictions.month = segment.month"
        )
    values = _export_values("segment", "predictions" if with_scores else None)
    return _export_rows(
        conn, source, values, "segment", sort, order, limit, month, category, prefix
    )


_EXPORT_FORMATS = {
    "utilization_pct": "{:.2f}",
    "credit_limit": "{:.2f}",
    "outstanding_balance": "{:.2f}",
    "monthly_spend": "{:.2f}",
    "days_past_due": "{}",
    "probability": "{:.4f}",
    "is_predicted_high_risk": "{}",
}
"""How ``_export_line`` writes a page row's values: the text the server writes for the rest."""


def _export_values(segment: str, scores: str | None) -> str:
    """The export's columns as text written by the server: the customer-month's from table
    ``segment``, the score's from table ``scores`` (NULL when there are none)."""
    values = [
        f"{segment}.{name}" if name not in _EXPORT_FORMATS else f"cast({segment}.{name} as char)"
        for name in AT_RISK_EXPORT_COLUMNS[:8]
    ]
    if scores is None:
        values += ["null", "null"]
    else:
        values += [
            f"cast(round({scores}.probability, 4) as char)",
            f"case {scores}.is_predicted_high_risk when 1 then 'True' when 0 then 'False' end",
        ]
    return ", ".join(values)


def _scored_month_copied(conn: sa.Connection, month: str) -> bool:
    """Whether the scoring job copied ``month`` into ``scored_customer_month``."""
    row = conn.execute(
        sa.text("select exists (select 1 from scored_customer_month where month = :month) as n"),
        {"month": month},
    ).one()
    return bool(row.n)


def _export_rows(
    conn: sa.Connection,
    source: str,
    values: str,
    alias: str,
    sort: str,
    order: str,
    limit: int,
    month: str,
    category: str,
    prefix: str | None,
) -> list[tuple[str | None, ...]]:
    """``values`` of the segment's first ``limit`` rows of ``source`` (whose segment table is
    ``alias``), as plain DB-API tuples: no row objects for 10,000 rows."""
    column = "probability" if sort == "probability" else AT_RISK_SORTS[sort]
    params = {"month": month, "category": category, "limit": limit}
    if prefix:
        params["pattern"] = like_prefix(prefix)
    sql = (
        f"select {values} from {source} "
        f"where {_segment_where(alias, prefix, '%({})s'.format)} "
        f"{_order_by(f'{alias}.{column}', order, f'{alias}.customer_id')} "
        "limit %(limit)s"
    )
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _export_line(row: dict) -> tuple[str | None, ...]:
    """A page row as the same text the server writes for the export's own query."""
    return tuple(
        None
        if row.get(name) is None
        else _EXPORT_FORMATS[name].format(row[name])
        if name in _EXPORT_FORMATS
        else row[name]
        for name in AT_RISK_EXPORT_COLUMNS
    )


def _page_by_joining_scores(
    conn: sa.Connection, order: str, prefix: str | None, params: dict
) -> list[dict]:
    sql = (
        f"select {_columns('segment')}, predictions.probability, "
        "predictions.is_predicted_high_risk "
        "from published_customer_month as segment "
        "inner join high_risk_predictions as predictions "
        "on predictions.customer_id = segment.customer_id "
        "and predictions.month = segment.month "
        f"where {_segment_where('segment', prefix)} "
        f"{_order_by('predictions.probability', order, 'predictions.customer_id')} "
        "limit :limit offset :offset"
    )
    return [{**_customer_month(row), **_prediction(row)} for row in _rows(conn, sql, **params)]


def _page_by_walking_scores(conn: sa.Connection, order: str, params: dict) -> list[dict]:
    """Scores in probability order, kept when the customer is in the segment, until the page
    is full; then the page's customer-months by primary key."""
    keys = _rows(
        conn,
        "select straight_join predictions.customer_id, predictions.probability, "
        "predictions.is_predicted_high_risk from high_risk_predictions as predictions "
        "inner join published_customer_month as segment ignore index (primary) "
        "on segment.month = predictions.month and segment.risk_category = :category "
        "and segment.customer_id = predictions.customer_id "
        "where predictions.month = :month "
        f"{_order_by('predictions.probability', order, 'predictions.customer_id')} "
        "limit :limit offset :offset",
        **params,
    )
    if not keys:
        return []
    details = conn.execute(
        _expanding(
            f"select {_CUSTOMER_MONTH_COLUMNS} from published_customer_month "
            "where month = :month and customer_id in :ids",
            "ids",
        ),
        {"month": params["month"], "ids": [key["customer_id"] for key in keys]},
    )
    by_id = {row.customer_id: dict(row._mapping) for row in details}
    return [{**_customer_month(by_id[key["customer_id"]]), **_prediction(key)} for key in keys]


def segment_count(conn: sa.Connection, month: str, category: str, prefix: str | None) -> int:
    """How many customers the at-risk table has in all (for paging)."""
    if not prefix:
        rows = portfolio(conn, [month], category)
        return sum(row.statements for row in rows)
    row = conn.execute(
        sa.text(
            "select count(*) as n from published_customer_month "
            "where month = :month and risk_category = :category "
            "and customer_id like :pattern escape '!'"
        ),
        {"month": month, "category": category, "pattern": like_prefix(prefix)},
    ).one()
    return int(row.n)


def anomaly_page(
    conn: sa.Connection,
    month: str,
    category: str | None,
    *,
    sort: str,
    order: str,
    limit: int,
    offset: int,
    prefix: str | None,
) -> tuple[list[dict], int]:
    """One page of the month's flagged customers with their reasons, and the total."""
    where = "anomalies.month = :month and anomalies.is_anomaly"
    if category:
        where += " and customer_months.risk_category = :category"
    if prefix:
        where += " and anomalies.customer_id like :pattern escape '!'"
    params = {
        "month": month,
        "category": category,
        "pattern": like_prefix(prefix) if prefix else None,
        "limit": limit,
        "offset": offset,
    }
    source = (
        "from spend_anomalies as anomalies left join published_customer_month as customer_months "
        "on customer_months.customer_id = anomalies.customer_id "
        "and customer_months.month = anomalies.month "
        f"where {where}"
    )
    rows = _rows(
        conn,
        "select anomalies.customer_id, customer_months.risk_category, "
        "customer_months.utilization_pct, anomalies.monthly_spend, anomalies.baseline_mean, "
        "anomalies.baseline_std, anomalies.z_score, anomalies.anomaly_score, "
        "anomalies.anomaly_reason "
        f"{source} {_order_by(ANOMALY_SORTS[sort], order, 'anomalies.customer_id')} "
        "limit :limit offset :offset",
        **params,
    )
    total = conn.execute(sa.text(f"select count(*) as n {source}"), params).one().n
    page = [
        {
            **row,
            "utilization_pct": money(row["utilization_pct"]),
            "monthly_spend": money(row["monthly_spend"]),
            "baseline_mean": money(row["baseline_mean"]),
            "baseline_std": money(row["baseline_std"]),
            "z_score": _float(row["z_score"]),
            "anomaly_score": _float(row["anomaly_score"]),
        }
        for row in rows
    ]
    return page, int(total)
