"""Airflow plugin: the credit-risk dashboard on the API server, and a "Credit Risk" menu entry.

The dashboard app (``credit_risk.dashboard``) is mounted at ``/credit-risk`` of the API server;
the UI shows it inside Airflow (an iframe under ``/plugin/credit-risk``) from the navigation.

Why a login check here: the API server mounts plugin apps as they are, without Airflow's
authentication, so anyone reaching the server could read the portfolio. Every route therefore
asks Airflow's auth manager for the user first, with the same JWT the UI uses (the ``_token``
cookie the browser already holds, or an ``Authorization: Bearer`` header for scripts). Without
one, the API answers 401 and the page redirects to Airflow's login.

Why the warehouse is resolved per request: plugins are imported when the API server starts,
maybe before the connection exists. ``CREDIT_RISK_DASHBOARD_DB_URL`` wins, then the Airflow
connection ``credit_risk_dashboard`` (the read-only user, docs/dashboard.md), then the DAG's
``credit_risk_mysql``; the answer is cached for a minute.
"""

from __future__ import annotations

from typing import Annotated

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from credit_risk.alerts import DASHBOARD_URL_PREFIX
from credit_risk.dashboard import create_app
from credit_risk.dashboard.connection import CachedFactory, airflow_warehouse

URL_PREFIX = DASHBOARD_URL_PREFIX  # alerts link Data Docs pages under it
CONNECTION_CACHE_SECONDS = 60.0

_bearer = HTTPBearer(auto_error=False)


def _wants_page(request: Request) -> bool:
    """A browser navigating (HTML), as opposed to the page's own fetches of JSON."""
    return "text/html" in request.headers.get("accept", "")


async def require_airflow_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only for a user logged in to Airflow.

    Raises:
        HTTPException: 401/403 for API calls; a 307 to Airflow's login page for a browser.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user

    try:
        await get_user(request, None, credentials)
    except HTTPException as error:
        if error.status_code in (401, 403) and _wants_page(request):
            login = get_auth_manager().get_url_login(next_url=str(request.url))
            raise HTTPException(307, "log in to Airflow first", {"Location": login}) from error
        raise


dashboard_app = create_app(
    CachedFactory(airflow_warehouse, ttl_seconds=CONNECTION_CACHE_SECONDS),
    dependencies=[Depends(require_airflow_user)],
)


class CreditRiskDashboardPlugin(AirflowPlugin):
    """Mounts the dashboard and links it from the Airflow UI's navigation."""

    name = "credit_risk_dashboard"
    fastapi_apps = [  # noqa: RUF012 (AirflowPlugin's attributes are class-level lists)
        {"app": dashboard_app, "url_prefix": URL_PREFIX, "name": "Credit Risk dashboard"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "Credit Risk",
            # relative to the UI's base URL, so it works under a proxy path too
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "credit-risk",
            "destination": "nav",
        }
    ]
