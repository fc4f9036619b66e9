"""The long lists: customers at risk and the month's anomalies, paged as JSON and exported as
CSV."""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from credit_risk.dashboard import queries
from credit_risk.dashboard.api.common import (
    NOT_AVAILABLE,
    Conn,
    _csv,
    _json,
    _month_context,
    router,
)
from credit_risk.dashboard.params import (
    AnomalySort,
    AtRiskSort,
    CategoryParam,
    CustomerPrefixParam,
    ExportLimitParam,
    MonthParam,
    OffsetParam,
    OrderParam,
    PageLimitParam,
)


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
