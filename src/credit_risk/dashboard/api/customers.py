"""One customer: search by id prefix, and their history, scores and anomalies."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.responses import JSONResponse

from credit_risk.dashboard import queries
from credit_risk.dashboard.api.common import Conn, _json, router
from credit_risk.dashboard.params import (
    CustomerIdParam,
    CustomerPrefixParam,
    SearchLimitParam,
)


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
