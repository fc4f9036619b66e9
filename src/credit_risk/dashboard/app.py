"""The dashboard's FastAPI app: one page, and a JSON endpoint behind every widget on it.

Why JSON endpoints and client-side charts: the same numbers then serve the page, the tests and
any other tool (a notebook, a BI tool, an alert), and the page stays a thin renderer. Plotly's
JavaScript is served from the installed ``plotly`` package, never a CDN, so the page works on a
machine without internet access.

The app reads only the published objects (see ``queries``), through read-only sessions
(``connection``). It is mounted on the Airflow API server by ``plugins/credit_risk_dashboard.py``
and served standalone by ``serve`` (``credit-risk dashboard``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import plotly
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from credit_risk.dashboard import queries
from credit_risk.dashboard.api import data_docs_file, router
from credit_risk.dashboard.connection import (
    EngineCache,
    WarehouseFactory,
    as_factory,
    standalone_warehouse,
)
from credit_risk.warehouse.db import Warehouse, WarehouseError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
"""The plotly.js bundle shipped inside the Python package (same version as the package)."""


def create_app(
    warehouse_or_factory: Warehouse | WarehouseFactory,
    *,
    dependencies: Sequence[Any] | None = None,
    title: str = "Credit Risk dashboard",
) -> FastAPI:
    """Build the dashboard app.

    Args:
        warehouse_or_factory: The warehouse, or a function returning it that is called when a
            request needs the database (so the connection can be resolved late, e.g. in Airflow).
        dependencies: FastAPI dependencies run before every route, e.g. an authentication check
            when the app is mounted inside Airflow.
        title: Shown in the OpenAPI docs.

    Returns:
        The FastAPI application; its routes are relative, so it can be mounted under any prefix.
    """
    engines = EngineCache()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engines.dispose()

    app = FastAPI(
        title=title,
        dependencies=list(dependencies or []),
        docs_url="/api/docs",
        lifespan=lifespan,
    )
    app.state.warehouse_factory = as_factory(warehouse_or_factory)
    app.state.engines = engines
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _add_error_handlers(app)
    _add_page_routes(app)
    app.include_router(router)
    return app


def standalone_app() -> FastAPI:
    """The app on the warehouse named by the environment (``standalone_warehouse``).

    For process managers: ``uvicorn --factory credit_risk.dashboard.app:standalone_app``.
    """
    return create_app(standalone_warehouse())


def serve(host: str = "127.0.0.1", port: int = 8050, db_url: str | None = None) -> None:
    """Serve the dashboard with uvicorn until interrupted (``credit-risk dashboard``).

    Args:
        host: Interface to listen on; keep the default unless a proxy or firewall guards it,
            since the standalone app has no login of its own.
        port: TCP port.
        db_url: Warehouse URL; default ``CREDIT_RISK_DASHBOARD_DB_URL``, then
            ``CREDIT_RISK_DB_URL``.
    """
    import uvicorn

    warehouse = standalone_warehouse(db_url)
    log.info("credit-risk dashboard on http://%s:%s/ reading %s", host, port, warehouse.safe_url)
    uvicorn.run(create_app(warehouse), host=host, port=port, log_level="info")


# --- plumbing ----------------------------------------------------------------------------------


def _error(status_code: int, error: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message": message}, status_code=status_code, headers=headers
    )


def _add_error_handlers(app: FastAPI) -> None:
    """4xx with a message for every bad request; never a stack trace or SQL text."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [invalid_parameter_detail(err) for err in exc.errors()]
        message = "; ".join(f"{item['parameter']}: {item['message']}" for item in details)
        return JSONResponse(
            {"error": "invalid_parameter", "message": message, "details": details},
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        slug = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 503: "unavailable"}
        return _error(
            exc.status_code, slug.get(exc.status_code, "bad_request"), str(exc.detail), exc.headers
        )

    @app.exception_handler(queries.NotPublishedError)
    async def _not_published(_request: Request, exc: queries.NotPublishedError) -> JSONResponse:
        return _error(404, "not_published", str(exc))

    @app.exception_handler(sa.exc.DBAPIError)
    async def _database(_request: Request, exc: sa.exc.DBAPIError) -> JSONResponse:
        log.error("dashboard query failed: %s", exc.orig if exc.orig else exc)
        message = (
            "the warehouse could not answer (unreachable, or the published snapshot is missing "
            "or not readable by the dashboard's user); see the server log"
        )
        return _error(503, "warehouse_unavailable", message)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("dashboard request failed", exc_info=exc)
        return _error(500, "internal_error", "unexpected error; see the dashboard's log")

    @app.exception_handler(WarehouseError)
    async def _warehouse(_request: Request, exc: WarehouseError) -> JSONResponse:
        return _error(503, "warehouse_unavailable", str(exc))


PATTERN_HINTS = {
    "month": "a month written YYYY-MM, for example 2024-03",
    "q": "printable text of at most 32 characters",
    "customer_id": "printable text of at most 32 characters",
}


def invalid_parameter_detail(err: dict) -> dict:
    """One failed parameter, in words: which, what was wrong, and what was sent."""
    parameter = ".".join(str(part) for part in err["loc"][1:]) or str(err["loc"][0])
    message = err["msg"]
    if err.get("type") == "string_pattern_mismatch" and parameter in PATTERN_HINTS:
        message = f"must be {PATTERN_HINTS[parameter]}"
    sent = err.get("input")
    if isinstance(sent, str | int | float):
        message += f" (got {str(sent)[:40]!r})"
    return {"parameter": parameter, "message": message}


def _add_page_routes(app: FastAPI) -> None:
    templates = Jinja2Templates(directory=HERE / "templates")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        return templates.TemplateResponse(request, "index.html", {"base": base})

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/data-docs/{path:path}", include_in_schema=False)
    def data_docs(path: str) -> FileResponse:
        file = data_docs_file(path)
        if file is None:
            raise HTTPException(404, f"no Data Docs page {path!r}")
        return FileResponse(file)
