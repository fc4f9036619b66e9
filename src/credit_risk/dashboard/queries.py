"""The SQL behind each widget, over the published objects only, and what it returns.

Why these tables and no others: the published snapshot is what passed validation; the loaded
tables may hold a month that failed. Every query here reads a few rows of a pre-aggregated
table (``published_portfolio_month``, ``published_utilization_buckets``) or walks an index of
``published_customer_month`` for one month, one segment or one customer: none scans the
transactions, so each answers in milliseconds at 100k customers (benchmarks/).

All values come back as plain Python (str, int, float, None) ready for JSON or CSV; money and
percentages are rounded half up to two decimals, like the published views.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from credit_risk import catalog
from credit_risk.months import add_months

RISK_CATEGORIES = catalog.RISK_CATEGORIES
NO_STATEMENT = catalog.NO_STATEMENT
"""``published_portfolio_month``'s row for customer-months without a statement (gap months)."""
WITH_LIMIT = RISK_CATEGORIES[:3]
"""Segments whose statements have a usable limit (all but Unknown): the only ones utilization
is defined for."""
CATEGORY_COLORS: dict[str, str] = dict(
    zip(
        (*RISK_CATEGORIES, NO_STATEMENT),
        ("#c0392b", "#e67e22", "#27ae60", "#95a5a6", "#bdc3c7"),
        strict=True,
    )
)
"""The dashboard's colour of each segment (red, orange, green, grey, light grey), sent to its
JavaScript with the category list."""

SPEND_ANOMALIES = "spend_anomalies"
HIGH_RISK_PREDICTIONS = "high_risk_predictions"
CREDIT_LIMIT_MONTH = "published_credit_limit_month"
PREDICTION_SEGMENTS = "high_risk_prediction_segments"
SCORED_CUSTOMER_MONTH = "scored_customer_month"
OPTIONAL_TABLES: tuple[str, ...] = (
    SPEND_ANOMALIES,
    HIGH_RISK_PREDICTIONS,
    CREDIT_LIMIT_MONTH,
    PREDICTION_SEGMENTS,
    SCORED_CUSTOMER_MONTH,
)
"""Tables other jobs build; each widget that needs one says "not available yet" without it
(``high_risk_prediction_segments`` and ``scored_customer_month`` only make the prediction KPIs
and the export in probability order faster)."""

SMALL_SEGMENT = 5_000
"""Up to this many customers, the at-risk table sorted by probability joins the segment to the
scores; above it, it walks the scores in probability order (needs their ``(month,
probability)`` index) and stops at the page."""

IN_SEGMENT = (
    "exists (select 1 from published_customer_month as segment ignore index (primary) "
    "where segment.month = {alias}.month and segment.risk_category = :category "
    "and segment.customer_id = {alias}.customer_id)"
)
"""Whether a row's customer is in the segment that month. Ignoring the primary key makes MariaDB
answer from the ``(month, risk_category)`` index alone (its entries carry the customer id)
instead of fetching each whole customer-month row: about 8x faster at 100k customers."""

CENT = Decimal("0.01")

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


class NotPublishedError(LookupError):
    """The month or customer asked for is not in the published snapshot."""


def money(value) -> float | None:
    """A decimal rounded half up to cents, as a JSON number (None stays None)."""
    if value is None:
        return None
    return float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def ratio_pct(numerator, denominator) -> float | None:
    """``100 * numerator / denominator`` rounded to 2 decimals; None when undefined."""
    if denominator is None or Decimal(denominator) == 0 or numerator is None:
        return None
    return money(Decimal(100) * Decimal(numerator) / Decimal(denominator))


def per(numerator, denominator) -> float | None:
    """``numerator / denominator`` rounded to cents; None when the denominator is zero."""
    if not denominator or numerator is None:
        return None
    return money(Decimal(numerator) / Decimal(denominator))


def _rows(conn: sa.Connection, sql: str, **params) -> list[dict]:
    return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _expanding(sql: str, name: str) -> sa.TextClause:
    return sa.text(sql).bindparams(sa.bindparam(name, expanding=True))


def like_prefix(text: str) -> str:
    """A LIKE pattern matching ids that start with ``text`` (wildcards in it taken literally)."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"{escaped}%"


# --- what is published -------------------------------------------------------------------------


def published_months(conn: sa.Connection) -> list[str]:
    """Every month of the published snapshot, oldest first."""
    rows = conn.execute(sa.text("select distinct month from published_portfolio_month"))
    return sorted(row.month for row in rows)


def available_tables(conn: sa.Connection) -> frozenset[str]:
    """Which optional tables exist and are readable (information_schema hides the others)."""
    sql = _expanding(
        "select table_name as name from information_schema.tables "
        "where table_schema = database() and table_name in :names",
        "names",
    )
    return frozenset(row.name for row in conn.execute(sql, {"names": list(OPTIONAL_TABLES)}))


def resolve_month(months: Sequence[str], month: str | None) -> str:
    """The month to show: the one asked for if published, else the latest.

    Raises:
        NotPublishedError: nothing is published, or ``month`` is not.
    """
    if not months:
        raise NotPublishedError("nothing is published yet: run the pipeline first")
    if month is None:
        return months[-1]
    if month not in months:
        raise NotPublishedError(
            f"month {month} is not published; published months are {months[0]} to {months[-1]}"
        )
    return month


def previous_month(months: Sequence[str], month: str) -> str | None:
    """The calendar month before ``month`` when it is published (KPI changes compare with it)."""
    before = add_months(month, -1)
    return before if before in months else None


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


# --- the portfolio, from the pre-aggregated table ----------------------------------------------


@dataclass(frozen=True)
class SegmentMonth:
    """One row of ``published_portfolio_month``."""

    month: str
    risk_category: str
    customers: int
    statements: int
    total_spend: Decimal
    total_rolling_3_month_avg: Decimal
    total_rolling_6_month_avg: Decimal
    total_credit_limit: Decimal
    total_balance: Decimal
    delinquent_30_plus: int


def portfolio(
    conn: sa.Connection, months: Iterable[str] | None = None, category: str | None = None
) -> list[SegmentMonth]:
    """Rows of ``published_portfolio_month`` (a few per month), optionally filtered."""
    sql = (
        "select month, risk_category, customers, statements, total_spend, "
        "total_rolling_3_month_avg, total_rolling_6_month_avg, total_credit_limit, "
        "total_balance, delinquent_30_plus from published_portfolio_month where 1 = 1"
    )
    params: dict = {}
    if months is not None:
        sql += " and month in :months"
        params["months"] = list(months) or [""]
    if category is not None:
        sql += " and risk_category = :category"
        params["category"] = category
    statement = sa.text(sql + " order by month, risk_category")
    if months is not None:
        statement = statement.bindparams(sa.bindparam("months", expanding=True))
    return [SegmentMonth(**row._mapping) for row in conn.execute(statement, params)]


def month_figures(rows: Iterable[SegmentMonth]) -> dict:
    """The portfolio KPIs of one month from its segment rows (already filtered by segment).

    Utilization is total balance over total limit of the statements that have a limit, the
    portfolio's own ratio (not an average of ratios, which would weigh a 500 card like a 50k
    one). Average spend is per customer-month of ``monthly_customer_spend``, gap months included,
    as the original report's "Average Spend" card computed it.
    """
    rows = list(rows)
    with_limit = [row for row in rows if row.risk_category in WITH_LIMIT]
    statements = sum(row.statements for row in rows if row.risk_category != NO_STATEMENT)
    high = sum(row.statements for row in rows if row.risk_category == "High Risk")
    customers = sum(row.customers for row in rows)
    return {
        "utilization_pct": ratio_pct(
            sum((row.total_balance for row in with_limit), Decimal(0)),
            sum((row.total_credit_limit for row in with_limit), Decimal(0)),
        ),
        "high_risk_customers": high,
        "high_risk_share_pct": ratio_pct(high, statements),
        "avg_monthly_spend": per(sum((row.total_spend for row in rows), Decimal(0)), customers),
        "delinquent_30_plus": sum(row.delinquent_30_plus for row in rows),
        "customers": customers,
        "statements": statements,
    }


def _count_flagged(
    conn: sa.Connection, table: str, flag: str, month: str, category: str | None
) -> int:
    """Rows of ``table`` flagged in ``month`` (of the segment's customers, when given)."""
    where = f"{table}.month = :month and {table}.{flag}"
    if category is not None:
        where += " and " + IN_SEGMENT.format(alias=table)
    statement = sa.text(f"select count(*) from {table} where {where}")
    return int(conn.execute(statement, {"month": month, "category": category}).scalar_one())


def anomaly_counts(
    conn: sa.Connection, months: Sequence[str], category: str | None
) -> dict[str, int]:
    """Flagged customer-months per month (of the segment, when given)."""
    return {
        month: _count_flagged(conn, SPEND_ANOMALIES, "is_anomaly", month, category)
        for month in months
    }


def prediction_counts(
    conn: sa.Connection, months: Sequence[str], category: str | None, *, summary: bool
) -> dict[str, dict[str, int]]:
    """Customers predicted High Risk next month, and those of them not High Risk now.

    From ``high_risk_prediction_segments`` (``summary``) for the months it holds, else counted
    in ``high_risk_predictions`` (two index scans and a semi-join per month).
    """
    segments = _prediction_segments(conn, months) if summary else {}
    out = {}
    for month in months:
        if month in segments:
            by_segment = segments[month]
            predicted = (
                sum(by_segment.values()) if category is None else by_segment.get(category, 0)
            )
            high = by_segment.get("High Risk", 0)
        else:
            predicted = _count_flagged(
                conn, HIGH_RISK_PREDICTIONS, "is_predicted_high_risk", month, category
            )
            high = (
                0
                if category is not None
                else _count_flagged(
                    conn, HIGH_RISK_PREDICTIONS, "is_predicted_high_risk", month, "High Risk"
                )
            )
        if category is None:
            turning = predicted - high
        else:
            turning = 0 if category == "High Risk" else predicted
        out[month] = {"predicted": predicted, "turning": turning}
    return out


def _prediction_segments(conn: sa.Connection, months: Sequence[str]) -> dict[str, dict[str, int]]:
    statement = _expanding(
        "select month, risk_category, predicted_high_risk from high_risk_prediction_segments "
        "where month in :months",
        "months",
    )
    segments: dict[str, dict[str, int]] = {}
    for row in conn.execute(statement, {"months": list(months)}):
        segments.setdefault(row.month, {})[row.risk_category] = int(row.predicted_high_risk)
    return segments


def has_index(conn: sa.Connection, table: str, columns: Sequence[str]) -> bool:
    """Whether ``table`` has an index whose leading columns are ``columns``, in order."""
    return index_named(conn, table, columns) is not None


def index_named(conn: sa.Connection, table: str, columns: Sequence[str]) -> str | None:
    """The name of an index of ``table`` whose leading columns are ``columns`` (None if none)."""
    rows = conn.execute(
        sa.text(
            "select index_name, column_name from information_schema.statistics "
            "where table_schema = database() and table_name = :table "
            "order by index_name, seq_in_index"
        ),
        {"table": table},
    )
    indexes: dict[str, list[str]] = {}
    for row in rows:
        indexes.setdefault(row.index_name, []).append(row.column_name.lower())
    wanted = [column.lower() for column in columns]
    return next((name for name, found in indexes.items() if found[: len(wanted)] == wanted), None)


def utilization_buckets(conn: sa.Connection, month: str) -> dict[int, int]:
    """Statements per 10-point utilization bucket (-10 = credit balance, 100 = at/over limit)."""
    rows = conn.execute(
        sa.text(
            "select bucket_floor_pct, statements from published_utilization_buckets "
            "where month = :month"
        ),
        {"month": month},
    )
    return {int(row.bucket_floor_pct): int(row.statements) for row in rows}


def credit_limit_counts(conn: sa.Connection, month: str) -> list[dict]:
    """Transactions and customers per credit limit (the original report's line chart)."""
    rows = _rows(
        conn,
        "select credit_limit, customers, transactions, total_amount "
        "from published_credit_limit_month where month = :month order by credit_limit",
        month=month,
    )
    return [
        {
            "credit_limit": money(row["credit_limit"]),
            "customers": int(row["customers"]),
            "transactions": int(row["transactions"]),
            "total_amount": money(row["total_amount"]),
        }
        for row in rows
    ]


# --- customers, through the primary key or the (month, risk_category) index ---------------------

_CUSTOMER_MONTH_COLUMNS = (
    "customer_id, month, risk_category, utilization_pct, credit_limit, outstanding_balance, "
    "days_past_due, monthly_spend, rolling_3_month_avg, rolling_6_month_avg"
)


def search_customers(conn: sa.Connection, prefix: str, limit: int) -> list[dict]:
    """Customers whose id starts with ``prefix``, with their current segment (a primary-key
    range of each customer's latest month, then one row per customer)."""
    rows = _rows(
        conn,
        "select latest.customer_id, latest.month, customer_months.risk_category, "
        "customer_months.utilization_pct "
        "from published_customer_latest as latest "
        "inner join published_customer_month as customer_months "
        "on customer_months.customer_id = latest.customer_id "
        "and customer_months.month = latest.month "
        "where latest.customer_id like :pattern escape '!' "
        "order by latest.customer_id limit :limit",
        pattern=like_prefix(prefix),
        limit=limit,
    )
    return [{**row, "utilization_pct": money(row["utilization_pct"])} for row in rows]


def customer_history(conn: sa.Connection, customer_id: str) -> list[dict]:
    """Every published month of one customer, oldest first.

    Raises:
        NotPublishedError: the customer is not in the published snapshot.
    """
    rows = _rows(
        conn,
        f"select {_CUSTOMER_MONTH_COLUMNS}, payment_amount, minimum_due, has_statement "
        "from published_customer_month where customer_id = :customer_id order by month",
        customer_id=customer_id,
    )
    if not rows:
        raise NotPublishedError(f"customer {customer_id!r} is not in the published data")
    return [_customer_month(row) for row in rows]


def customer_summary(conn: sa.Connection, customer_id: str) -> dict:
    """The customer's averages over the published months (the original report's card).

    Averaged in Python on the exact decimals, so the rounding is the views' (half up).
    """
    rows = conn.execute(
        sa.text(
            "select monthly_spend, rolling_3_month_avg, rolling_6_month_avg, credit_limit "
            "from published_customer_month where customer_id = :customer_id"
        ),
        {"customer_id": customer_id},
    ).all()

    def mean(values: list) -> float | None:
        present = [Decimal(value) for value in values if value is not None]
        return per(sum(present, Decimal(0)), len(present))

    return {
        "months": len(rows),
        "avg_monthly_spend": mean([row.monthly_spend for row in rows]),
        "avg_rolling_3_month_avg": mean([row.rolling_3_month_avg for row in rows]),
        "avg_rolling_6_month_avg": mean([row.rolling_6_month_avg for row in rows]),
        "avg_credit_limit": mean([row.credit_limit for row in rows]),
    }


def customer_scores(conn: sa.Connection, customer_id: str) -> dict[str, dict]:
    """The customer's predictions per month (primary-key range)."""
    rows = _rows(
        conn,
        "select month, probability, is_predicted_high_risk, model_version "
        "from high_risk_predictions where customer_id = :customer_id",
        customer_id=customer_id,
    )
    return {row["month"]: _prediction(row) for row in rows}


def customer_anomalies(conn: sa.Connection, customer_id: str) -> dict[str, dict]:
    """The customer's anomaly decisions per month (primary-key range)."""
    rows = _rows(
        conn,
        "select month, is_anomaly, z_score, anomaly_reason "
        "from spend_anomalies where customer_id = :customer_id",
        customer_id=customer_id,
    )
    return {
        row["month"]: {
            "is_anomaly": bool(row["is_anomaly"]),
            "z_score": _float(row["z_score"]),
            "anomaly_reason": row["anomaly_reason"],
        }
        for row in rows
    }


def _float(value, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _prediction(row: dict) -> dict:
    flag = row.get("is_predicted_high_risk")
    out = {
        "probability": _float(row.get("probability")),
        "is_predicted_high_risk": None if flag is None else bool(flag),
    }
    if "model_version" in row:
        out["model_version"] = row["model_version"]
    return out


def _customer_month(row: dict) -> dict:
    out = dict(row)
    for column in (
        "utilization_pct",
        "credit_limit",
        "outstanding_balance",
        "monthly_spend",
        "rolling_3_month_avg",
        "rolling_6_month_avg",
        "payment_amount",
        "minimum_due",
    ):
        if column in out:
            out[column] = money(out[column])
    if "has_statement" in out:
        out["has_statement"] = bool(out["has_statement"])
    return out


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


def _columns(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in _CUSTOMER_MONTH_COLUMNS.split(","))


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


def top_spenders(conn: sa.Connection, month: str, category: str | None, limit: int) -> list[dict]:
    """The month's biggest spenders (the original report's "Average Spend by customer_id")."""
    where = "month = :month" + (" and risk_category = :category" if category else "")
    rows = _rows(
        conn,
        "select customer_id, risk_category, monthly_spend, rolling_3_month_avg, "
        f"rolling_6_month_avg from published_customer_month where {where} "
        "order by monthly_spend desc, customer_id desc limit :limit",
        month=month,
        category=category,
        limit=limit,
    )
    return [_customer_month(row) for row in rows]
