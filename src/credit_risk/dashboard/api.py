"""The JSON endpoints: one behind every widget of the page, reusable by any other tool.

Each route validates its parameters (``params``), opens one read-only connection, runs the
widget's queries (``queries``) and returns plain JSON. Errors are turned into 4xx/503 messages by
the handlers in ``app``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from credit_risk.dashboard import queries
from credit_risk.dashboard.params import (
    AnomalySort,
    AtRiskSort,
    CategoryParam,
    CustomerIdParam,
    CustomerPrefixParam,
    ExportLimitParam,
    MonthParam,
    OffsetParam,
    OrderParam,
    PageLimitParam,
    SearchLimitParam,
    TopLimitParam,
)
from credit_risk.quality.data_docs import site_path
from credit_risk.settings import get_settings
from credit_risk.warehouse.db import WarehouseError

router = APIRouter(prefix="/api")

NOT_AVAILABLE = "not available yet: the {table} table has not been built in this warehouse"
BUCKET_FLOORS = tuple(range(-10, 101, 10))


def _connection(request: Request) -> Iterator[sa.Connection]:
    """A read-only connection for one request (resolving the warehouse if need be)."""
    try:
        warehouse = request.app.state.warehouse_factory()
    except WarehouseError as error:
        raise HTTPException(503, f"the dashboard has no warehouse: {error}") from error
    with request.app.state.engines.connect(warehouse) as conn:
        yield conn


Conn = Annotated[sa.Connection, Depends(_connection)]


class _Json(JSONResponse):
    """JSON with datetimes as ISO 8601 UTC strings, without FastAPI's generic encoder pass."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_encode, separators=(",", ":")).encode("utf-8")


def _json(payload: dict, status_code: int = 200) -> JSONResponse:
    return _Json(payload, status_code=status_code)


def _readable(stamp: dt.datetime) -> str:
    """A UTC timestamp for a sentence: 2024-05-01 09:13 UTC."""
    return f"{stamp:%Y-%m-%d %H:%M} UTC"


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return stamp.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def data_docs_file(path: str) -> Path | None:
    """The file under ``CREDIT_RISK_DATA_DOCS_DIR`` that ``path`` names, never outside it."""
    root = get_settings().data_docs_dir.resolve()
    try:
        target = (root / path).resolve()
        if target != root and root not in target.parents:
            return None
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None
    except (ValueError, OSError):  # a NUL byte, a name too long for the filesystem: no page
        return None


def data_docs_url(path: str | None) -> str | None:
    """The app-relative link to a Data Docs page recorded in ``validation_runs``, if served."""
    relative = site_path(path)
    return None if relative is None else f"data-docs/{relative}"


def _month_context(conn: sa.Connection, month: str | None) -> tuple[list[str], str]:
    months = queries.published_months(conn)
    return months, queries.resolve_month(months, month)


@router.get("/health", tags=["status"])
def health(conn: Conn) -> JSONResponse:
    """The warehouse answers."""
    conn.execute(sa.text("select 1"))
    return _json({"status": "ok"})


@router.get("/months", tags=["status"])
def months(conn: Conn) -> JSONResponse:
    """Published months, the default month, the risk categories (worst first) with their
    colours, and the optional tables."""
    published = queries.published_months(conn)
    available = queries.available_tables(conn)
    return _json(
        {
            "months": published,
            "latest": published[-1] if published else None,
            "categories": list(queries.RISK_CATEGORIES),
            "no_statement": queries.NO_STATEMENT,
            "colors": queries.CATEGORY_COLORS,
            "available": {name: name in available for name in queries.OPTIONAL_TABLES},
        }
    )


@router.get("/freshness", tags=["status"])
def freshness(conn: Conn, month: MonthParam = None) -> JSONResponse:
    """The banner: month shown, its publication, the last validation, and any warning."""
    published = queries.published_months(conn)
    shown = queries.resolve_month(published, month) if published else None
    return _json(freshness_payload(conn, shown))


def freshness_payload(conn: sa.Connection, shown: str | None) -> dict:
    """What the freshness and quality banner says (see docs/dashboard.md)."""
    publication = queries.latest_publication(conn)
    last = queries.latest_validation(conn)
    failed = queries.failed_validation_since(
        conn, publication["published_at"] if publication else None
    )
    if publication is None:
        status, message = "no_publication", "Nothing has been published yet."
    elif failed is not None:
        status = "stale"
        message = (
            f"The latest run failed validation ({failed['stage']} suite, month "
            f"{failed['partition_month']}): the dashboard shows the last validated snapshot, "
            f"up to {publication['latest_month']}, published "
            f"{_readable(publication['published_at'])}."
        )
    else:
        status = "ok"
        message = f"Published snapshot up to {publication['latest_month']}."
    return {
        "status": status,
        "message": message,
        "month_shown": shown,
        "publication": publication,
        "last_validation": _validation(last),
        "failed_validation": _validation(failed),
    }


def _validation(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {
        "suite": row["suite"],
        "stage": row["stage"],
        "month": row["partition_month"],
        "is_success": bool(row["is_success"]),
        "evaluated_expectations": row["evaluated_expectations"],
        "failed_expectations": row["failed_expectations"],
        "validated_at": row["validated_at"],
        "run_id": row["run_id"],
        "data_docs_path": row["data_docs_path"],
        "data_docs_url": data_docs_url(row["data_docs_path"]),
        "failures": _failures(row.get("failures"))[:5],
        # a distribution shift on-call approved: failed checks, published on purpose
        "approved_by": row.get("approved_by"),
        "approval_reason": row.get("approval_reason"),
    }


def _failures(text: str | None) -> list[dict]:
    """The recorded failed expectations; a row the runner did not write stays readable."""
    if not text:
        return []
    try:
        failures = json.loads(text)
    except ValueError:
        return [{"expectation": "unknown", "column": None, "observed": text[:300]}]
    return failures if isinstance(failures, list) else [failures]


def _change(value, previous):
    if value is None or previous is None:
        return None
    if isinstance(value, int) and isinstance(previous, int):
        return value - previous
    return queries.money(Decimal(str(value)) - Decimal(str(previous)))


def _kpi(value, previous, **extra) -> dict:
    return {"value": value, "previous": previous, "change": _change(value, previous), **extra}


def kpis_payload(conn: sa.Connection, month: str | None, category: str | None) -> dict:
    """Every KPI card of ``month`` with its change against the previous month."""
    published, shown = _month_context(conn, month)
    before = queries.previous_month(published, shown)
    wanted = [shown] if before is None else [before, shown]
    rows = queries.portfolio(conn, wanted, category)
    now = queries.month_figures(row for row in rows if row.month == shown)
    then = queries.month_figures(row for row in rows if row.month == before) if before else {}
    cards = {
        name: _kpi(now[name], then.get(name), available=True)
        for name in (
            "utilization_pct",
            "high_risk_customers",
            "high_risk_share_pct",
            "avg_monthly_spend",
            "delinquent_30_plus",
            "customers",
        )
    }
    available = queries.available_tables(conn)
    cards.update(_analytics_kpis(conn, available, wanted, shown, before, category))
    threshold = round(get_settings().high_risk_ratio * 100, 2)
    utilization = now["utilization_pct"]
    flag = None if utilization is None else ("High" if utilization >= threshold else "Normal")
    return {
        "month": shown,
        "previous_month": before,
        "category": category,
        "kpis": cards,
        "high_utilization_flag": {"value": flag, "threshold_pct": threshold},
    }


def _analytics_kpis(conn, available, wanted, shown, before, category) -> dict:
    cards: dict[str, dict] = {}
    if queries.SPEND_ANOMALIES in available:
        counts = queries.anomaly_counts(conn, wanted, category)
        cards["anomalies"] = _kpi(counts[shown], counts.get(before), available=True)
    else:
        cards["anomalies"] = _unavailable(queries.SPEND_ANOMALIES)
    if queries.HIGH_RISK_PREDICTIONS in available:
        counts = queries.prediction_counts(
            conn, wanted, category, summary=queries.PREDICTION_SEGMENTS in available
        )
        previous = counts.get(before, {}) if before else {}
        cards["predicted_to_turn_high_risk"] = _kpi(
            counts[shown]["turning"], previous.get("turning"), available=True
        )
        cards["predicted_high_risk"] = _kpi(
            counts[shown]["predicted"], previous.get("predicted"), available=True
        )
    else:
        cards["predicted_to_turn_high_risk"] = _unavailable(queries.HIGH_RISK_PREDICTIONS)
        cards["predicted_high_risk"] = _unavailable(queries.HIGH_RISK_PREDICTIONS)
    return cards


def _unavailable(table: str) -> dict:
    return {
        "value": None,
        "previous": None,
        "change": None,
        "available": False,
        "message": NOT_AVAILABLE.format(table=table),
    }


@router.get("/kpis", tags=["portfolio"])
def kpis(conn: Conn, month: MonthParam = None, category: CategoryParam = None) -> JSONResponse:
    """KPI cards with their change against the previous month."""
    return _json(kpis_payload(conn, month, category))


@router.get("/risk-distribution", tags=["portfolio"])
def risk_distribution(
    conn: Conn, month: MonthParam = None, category: CategoryParam = None
) -> JSONResponse:
    """Statements per risk segment in one month (the donut); ``category`` is highlighted."""
    _, shown = _month_context(conn, month)
    rows = {row.risk_category: row.statements for row in queries.portfolio(conn, [shown])}
    total = sum(rows.get(name, 0) for name in queries.RISK_CATEGORIES)
    segments = [
        {
            "risk_category": name,
            "customers": rows.get(name, 0),
            "share_pct": queries.ratio_pct(rows.get(name, 0), total),
        }
        for name in queries.RISK_CATEGORIES
    ]
    return _json({"month": shown, "selected": category, "total": total, "segments": segments})


@router.get("/risk-trend", tags=["portfolio"])
def risk_trend(conn: Conn, category: CategoryParam = None) -> JSONResponse:
    """Statements per segment for every published month."""
    return _json({"category": category, "rows": risk_trend_rows(conn, category)})


@router.get("/utilization-histogram", tags=["portfolio"])
def utilization_histogram(conn: Conn, month: MonthParam = None) -> JSONResponse:
    """Statements per 10-point utilization bucket (the whole portfolio)."""
    _, shown = _month_context(conn, month)
    counts = queries.utilization_buckets(conn, shown)
    settings = get_settings()
    return _json(
        {
            "month": shown,
            "buckets": [
                {
                    "bucket_floor_pct": floor,
                    "label": _bucket_label(floor),
                    "statements": counts.get(floor, 0),
                }
                for floor in BUCKET_FLOORS
            ],
            "thresholds": {
                "high_risk_pct": round(settings.high_risk_ratio * 100, 2),
                "medium_risk_pct": round(settings.medium_risk_ratio * 100, 2),
            },
        }
    )


@router.get("/spend-by-category", tags=["spend"])
def spend_by_category(conn: Conn, category: CategoryParam = None) -> JSONResponse:
    """Total monthly spend per segment and month ('No Statement': gap months)."""
    rows = [
        {
            "month": row.month,
            "risk_category": row.risk_category,
            "total_spend": queries.money(row.total_spend),
            "customers": row.customers,
        }
        for row in queries.portfolio(conn, None, category)
    ]
    return _json({"category": category, "rows": rows})


@router.get("/portfolio-spend", tags=["spend"])
def portfolio_spend(conn: Conn, category: CategoryParam = None) -> JSONResponse:
    """Portfolio spend against the sums of customers' 3- and 6-month rolling averages."""
    return _json({"category": category, "rows": portfolio_spend_rows(conn, category)})


@router.get("/top-spenders", tags=["spend"])
def top_spenders(
    conn: Conn,
    month: MonthParam = None,
    category: CategoryParam = None,
    limit: TopLimitParam = 10,
) -> JSONResponse:
    """The month's biggest spenders and the average customer (the report's table)."""
    _, shown = _month_context(conn, month)
    rows = queries.top_spenders(conn, shown, category, limit)
    segment = queries.portfolio(conn, [shown], category)
    customers = sum(row.customers for row in segment)
    totals = {
        "customers": customers,
        "avg_monthly_spend": queries.per(sum(r.total_spend for r in segment), customers),
        "avg_rolling_3_month_avg": queries.per(
            sum(r.total_rolling_3_month_avg for r in segment), customers
        ),
        "avg_rolling_6_month_avg": queries.per(
            sum(r.total_rolling_6_month_avg for r in segment), customers
        ),
    }
    return _json({"month": shown, "category": category, "rows": rows, "totals": totals})


@router.get("/transactions-by-limit", tags=["spend"])
def transactions_by_limit(conn: Conn, month: MonthParam = None) -> JSONResponse:
    """Transactions per credit limit in one month (the report's line chart)."""
    _, shown = _month_context(conn, month)
    if queries.CREDIT_LIMIT_MONTH not in queries.available_tables(conn):
        return _json(
            {
                "month": shown,
                "available": False,
                "message": NOT_AVAILABLE.format(table=queries.CREDIT_LIMIT_MONTH),
                "rows": [],
            }
        )
    rows = queries.credit_limit_counts(conn, shown)
    return _json({"month": shown, "available": True, "rows": rows})


def risk_trend_rows(conn: sa.Connection, category: str | None) -> list[dict]:
    """Statements and share per segment and month (gap months left out)."""
    rows = [row for row in queries.portfolio(conn) if row.risk_category != queries.NO_STATEMENT]
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.month] = totals.get(row.month, 0) + row.statements
    return [
        {
            "month": row.month,
            "risk_category": row.risk_category,
            "customers": row.statements,
            "share_pct": queries.ratio_pct(row.statements, totals[row.month]),
        }
        for row in rows
        if category is None or row.risk_category == category
    ]


def portfolio_spend_rows(conn: sa.Connection, category: str | None) -> list[dict]:
    """Per month: total spend and the sums of rolling averages, also per customer."""
    by_month: dict[str, list[queries.SegmentMonth]] = {}
    for row in queries.portfolio(conn, None, category):
        by_month.setdefault(row.month, []).append(row)
    out = []
    for month, rows in sorted(by_month.items()):
        customers = sum(row.customers for row in rows)
        spend = sum(row.total_spend for row in rows)
        rolling_3 = sum(row.total_rolling_3_month_avg for row in rows)
        rolling_6 = sum(row.total_rolling_6_month_avg for row in rows)
        out.append(
            {
                "month": month,
                "customers": customers,
                "total_spend": queries.money(spend),
                "total_rolling_3_month_avg": queries.money(rolling_3),
                "total_rolling_6_month_avg": queries.money(rolling_6),
                "avg_spend": queries.per(spend, customers),
                "avg_rolling_3_month_avg": queries.per(rolling_3, customers),
                "avg_rolling_6_month_avg": queries.per(rolling_6, customers),
            }
        )
    return out


def _bucket_label(floor: int) -> str:
    if floor < 0:
        return "<0"
    if floor >= 100:
        return "100+"
    return f"{floor}-{floor + 10}"


@router.get("/customers", tags=["customers"])
def customers(
    conn: Conn, q: CustomerPrefixParam = None, limit: SearchLimitParam = 20
) -> JSONResponse:
    """Customers whose id starts with ``q`` (the search box), with their current segment."""
    rows = queries.search_customers(conn, q or "", limit)
    return _json({"query": q, "rows": rows})


@router.get("/customer", tags=["customers"])
def customer(conn: Conn, customer_id: CustomerIdParam) -> JSONResponse:
    """One customer's months: spend and rolling averages, utilization, segment, scores."""
    return _json(customer_payload(conn, customer_id))


def customer_payload(conn: sa.Connection, customer_id: str) -> dict:
    """Everything the selected-customer panel shows."""
    history = queries.customer_history(conn, customer_id)
    available = queries.available_tables(conn)
    scores = (
        queries.customer_scores(conn, customer_id)
        if queries.HIGH_RISK_PREDICTIONS in available
        else {}
    )
    flags = (
        queries.customer_anomalies(conn, customer_id)
        if queries.SPEND_ANOMALIES in available
        else {}
    )
    months = [
        {**row, "prediction": scores.get(row["month"]), "anomaly": flags.get(row["month"])}
        for row in history
    ]
    statements = [row for row in history if row["has_statement"]]
    return {
        "customer_id": customer_id,
        "current": statements[-1] if statements else None,
        "summary": queries.customer_summary(conn, customer_id),
        "scores_available": queries.HIGH_RISK_PREDICTIONS in available,
        "anomalies_available": queries.SPEND_ANOMALIES in available,
        "months": months,
    }


@router.get("/at-risk", tags=["tables"])
def at_risk(
    conn: Conn,
    month: MonthParam = None,
    category: CategoryParam = None,
    q: CustomerPrefixParam = None,
    sort: AtRiskSort = "utilization_pct",
    order: OrderParam = "desc",
    limit: PageLimitParam = 50,
    offset: OffsetParam = 0,
) -> JSONResponse:
    """Customers of a segment (default High Risk) with utilization, score and arrears."""
    return _json(at_risk_payload(conn, month, category, q, sort, order, limit, offset))


@router.get("/at-risk.csv", tags=["tables"])
def at_risk_csv(
    conn: Conn,
    month: MonthParam = None,
    category: CategoryParam = None,
    q: CustomerPrefixParam = None,
    sort: AtRiskSort = "utilization_pct",
    order: OrderParam = "desc",
    limit: ExportLimitParam = 10_000,
) -> Response:
    """The at-risk table as a CSV file (the first ``limit`` rows in the table's order)."""
    _, shown = _month_context(conn, month)
    segment = category or "High Risk"
    available = queries.available_tables(conn)
    _require_scores_for(sort, available)
    rows = queries.segment_export(
        conn, shown, segment, sort=sort, order=order, limit=limit, prefix=q, available=available
    )
    name = f"at-risk-{shown}-{segment.lower().replace(' ', '-')}.csv"
    return _csv(queries.AT_RISK_EXPORT_COLUMNS, rows, name)


@router.get("/anomalies", tags=["tables"])
def anomalies(
    conn: Conn,
    month: MonthParam = None,
    category: CategoryParam = None,
    q: CustomerPrefixParam = None,
    sort: AnomalySort = "score",
    order: OrderParam = "desc",
    limit: PageLimitParam = 50,
    offset: OffsetParam = 0,
) -> JSONResponse:
    """The month's spend anomalies with their reasons."""
    return _json(anomalies_payload(conn, month, category, q, sort, order, limit, offset))


@router.get("/anomalies.csv", tags=["tables"])
def anomalies_csv(
    conn: Conn,
    month: MonthParam = None,
    category: CategoryParam = None,
    q: CustomerPrefixParam = None,
    sort: AnomalySort = "score",
    order: OrderParam = "desc",
    limit: ExportLimitParam = 10_000,
) -> Response:
    """The anomalies table as a CSV file."""
    payload = anomalies_payload(conn, month, category, q, sort, order, limit, 0)
    if not payload["available"]:
        raise HTTPException(404, payload["message"])
    rows = [tuple(row.get(name) for name in ANOMALY_CSV_COLUMNS) for row in payload["rows"]]
    return _csv(ANOMALY_CSV_COLUMNS, rows, f"anomalies-{payload['month']}.csv")


ANOMALY_CSV_COLUMNS = (
    "customer_id",
    "risk_category",
    "utilization_pct",
    "monthly_spend",
    "baseline_mean",
    "baseline_std",
    "z_score",
    "anomaly_score",
    "anomaly_reason",
)


def at_risk_payload(conn, month, category, prefix, sort, order, limit, offset) -> dict:
    """One page of the at-risk table and its total."""
    _, shown = _month_context(conn, month)
    segment = category or "High Risk"
    available = queries.available_tables(conn)
    _require_scores_for(sort, available)
    with_scores = queries.HIGH_RISK_PREDICTIONS in available
    total = queries.segment_count(conn, shown, segment, prefix)
    rows = queries.segment_page(
        conn,
        shown,
        segment,
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
        prefix=prefix,
        with_scores=with_scores,
        segment_size=total,
    )
    return {
        "month": shown,
        "category": segment,
        "sort": sort,
        "order": order,
        "limit": limit,
        "offset": offset,
        "total": total,
        "scores_available": with_scores,
        "rows": rows,
    }


def _require_scores_for(sort: str, available: frozenset[str]) -> None:
    """A 400 when the requested order needs the scores and there are none."""
    if sort == "probability" and queries.HIGH_RISK_PREDICTIONS not in available:
        raise HTTPException(
            400,
            "cannot sort by probability: "
            + NOT_AVAILABLE.format(table=queries.HIGH_RISK_PREDICTIONS),
        )


def anomalies_payload(conn, month, category, prefix, sort, order, limit, offset) -> dict:
    """One page of the anomalies table and its total (or why there is none)."""
    _, shown = _month_context(conn, month)
    base = {"month": shown, "category": category, "sort": sort, "order": order}
    if queries.SPEND_ANOMALIES not in queries.available_tables(conn):
        message = NOT_AVAILABLE.format(table=queries.SPEND_ANOMALIES)
        return {**base, "available": False, "message": message, "total": 0, "rows": []}
    rows, total = queries.anomaly_page(
        conn,
        shown,
        category,
        sort=sort,
        order=order,
        limit=limit,
        offset=offset,
        prefix=prefix,
    )
    return {
        **base,
        "available": True,
        "limit": limit,
        "offset": offset,
        "total": total,
        "rows": rows,
    }


def _csv(header: Sequence[str], rows: Sequence[Sequence], filename: str) -> Response:
    """A CSV download: ``header``, then ``rows`` (None written as an empty field)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
