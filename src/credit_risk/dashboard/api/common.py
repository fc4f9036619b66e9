"""What every endpoint shares: the router, one read-only connection per request, JSON and CSV
responses, the month a request means, and links to the Data Docs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from credit_risk.dashboard import queries
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


def _unavailable(table: str) -> dict:
    return {
        "value": None,
        "previous": None,
        "change": None,
        "available": False,
        "message": NOT_AVAILABLE.format(table=table),
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
