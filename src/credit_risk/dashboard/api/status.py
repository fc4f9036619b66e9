"""Is there data, and is it sound: health, the published months (with the risk categories
and their colours for the page), freshness and the month's KPIs."""

from __future__ import annotations

import json
from decimal import Decimal

import sqlalchemy as sa
from fastapi.responses import JSONResponse

from credit_risk.dashboard import queries
from credit_risk.dashboard.api.common import (
    Conn,
    _json,
    _month_context,
    _readable,
    _unavailable,
    data_docs_url,
    router,
)
from credit_risk.dashboard.params import (
    CategoryParam,
    MonthParam,
)
from credit_risk.settings import get_settings


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


@router.get("/kpis", tags=["portfolio"])
def kpis(conn: Conn, month: MonthParam = None, category: CategoryParam = None) -> JSONResponse:
    """KPI cards with their change against the previous month."""
    return _json(kpis_payload(conn, month, category))
