"""The Airflow plugin: discovered by ``airflow plugins``, and served by a real ``airflow
api-server`` under /credit-risk behind Airflow's login.

Finding behind the auth tests: the API server mounts plugin FastAPI apps as they are, without
its authentication; the plugin adds Airflow's own user check. So, as a user would: anonymous
requests are refused (401 for the API, a redirect to the login page for a browser), then we log
in with the simple auth manager's ``POST /auth/token`` and send the JWT the way the UI does (the
``_token`` cookie) and the way scripts do (``Authorization: Bearer``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration import dashboard_data as data
from tests.integration.airflow_stack import stop_process, wait_for_health

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AIRFLOW = Path(sys.executable).with_name("airflow")
USER = "analyst"


def test_airflow_plugins_lists_the_dashboard():
    result = subprocess.run(
        [str(AIRFLOW), "plugins", "--output", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)}
    plugin = plugins["credit_risk_dashboard"]
    assert plugin["source"] == "$PLUGINS_FOLDER/credit_risk_dashboard.py"
    assert "'url_prefix': '/credit-risk'" in str(plugin["fastapi_apps"])
    assert "'name': 'Credit Risk'" in str(plugin["external_views"])


@pytest.fixture(scope="module")
def api_server(airflow_home, new_db_url, tmp_path_factory):
    """``airflow api-server`` on a free port, reading a published warehouse through the
    ``credit_risk_dashboard`` Airflow connection; yields (base URL, password, db URL)."""
    folder = tmp_path_factory.mktemp("api_server")
    drops = data.generate_drops(folder / "drops")
    db_url = new_db_url()
    data.publish_months(db_url, drops, data.MONTHS[:2], validate_last=False)
    password = secrets.token_urlsafe(12)
    (folder / "passwords.json").write_text(json.dumps({USER: password}))
    port = data.free_port()
    env = {
        **os.environ,
        "AIRFLOW_CONN_CREDIT_RISK_DASHBOARD": db_url,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(folder / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
    }
    env.pop("CREDIT_RISK_DASHBOARD_DB_URL", None)
    log = (folder / "api-server.log").open("w")
    process = subprocess.Popen(
        [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops its workers
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(
            base,
            {"api-server": process},
            lambda: (folder / "api-server.log").read_text()[-3000:],
            timeout=180,
        )
        yield base, password, db_url
    finally:
        stop_process(process)
        log.close()


def _login(base: str, password: str) -> str:
    response = httpx.post(
        f"{base}/auth/token", json={"username": USER, "password": password}, timeout=30
    )
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def test_anonymous_requests_are_refused(api_server):
    base, _, _ = api_server
    api = httpx.get(f"{base}/credit-risk/api/months", timeout=30)
    assert api.status_code == 401
    assert api.json()["message"]
    page = httpx.get(
        f"{base}/credit-risk/", headers={"Accept": "text/html"}, timeout=30, follow_redirects=False
    )
    assert page.status_code == 307
    login = page.headers["location"]
    assert login.startswith("/auth/login?next=") and "credit-risk" in login
    assert httpx.get(f"{base}{login}", timeout=30).status_code == 200
    forged = httpx.get(
        f"{base}/credit-risk/api/months",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=30,
    )
    assert forged.status_code in (401, 403)


def test_a_logged_in_user_gets_the_dashboard_through_the_api_server(api_server):
    base, password, db_url = api_server
    token = _login(base, password)
    with httpx.Client(base_url=base, cookies={"_token": token}, timeout=30) as browser:
        page = browser.get("/credit-risk/", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert '<base href="/credit-risk/">' in page.text and "Credit Risk Analytics" in page.text
        plotly_js = browser.get("/credit-risk/vendor/plotly.min.js")
        assert plotly_js.status_code == 200 and "plotly.js" in plotly_js.text[:200]
        assert browser.get("/credit-risk/static/dashboard.js").status_code == 200
        months = browser.get("/credit-risk/api/months").json()
        assert months["months"] == list(data.MONTHS[:2])
        kpis = browser.get("/credit-risk/api/kpis").json()
    frame = data.customer_months(db_url)
    month = data.MONTHS[1]
    rows = frame[(frame["month"] == month) & (frame["has_statement"] == 1)]
    assert kpis["month"] == month
    assert kpis["kpis"]["utilization_pct"]["value"] == data.pct(
        data.total(rows["outstanding_balance"]), data.total(rows["credit_limit"])
    )
    assert kpis["kpis"]["high_risk_customers"]["value"] == int(
        (rows["risk_category"] == "High Risk").sum()
    )
    assert kpis["kpis"]["anomalies"]["available"] is False
    script = httpx.get(
        f"{base}/credit-risk/api/kpis",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert script.status_code == 200 and script.json() == kpis


def test_the_ui_lists_the_credit_risk_view(api_server):
    base, password, _ = api_server
    token = _login(base, password)
    plugins = httpx.get(
        f"{base}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["plugins"]
    views = [view for plugin in plugins for view in plugin["external_views"]]
    assert {
        "name": "Credit Risk",
        "href": "credit-risk/",
        "url_route": "credit-risk",
        "destination": "nav",
    }.items() <= next(view for view in views if view["name"] == "Credit Risk").items()
