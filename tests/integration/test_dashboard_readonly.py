"""The dashboard with the read-only MySQL user of docs/dashboard.md.

The user gets ``GRANT SELECT`` on the published objects only (``credit_risk.dashboard.access``):
every endpoint must answer with it exactly as with the owner's account, also after the next
publication swaps the snapshot tables, and the user must not read the loaded tables or write
anything.
"""

from __future__ import annotations

import secrets

import httpx
import MySQLdb
import pytest
import sqlalchemy as sa
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.routing import APIRoute
from sqlalchemy.engine import make_url

from credit_risk.dashboard import access, create_app
from credit_risk.dashboard.connection import EngineCache
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import execute
from tests.integration import dashboard_data as data

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def drops(tmp_path_factory):
    return data.generate_drops(tmp_path_factory.mktemp("drops"))


@pytest.fixture(scope="module")
def readonly(new_db_url, drops, db_server):
    """(owner's URL, read-only user's URL) of a warehouse with two published months."""
    db_url = new_db_url()
    data.publish_months(db_url, drops, data.MONTHS[:2], validate_last=False)
    data.add_analytics_tables(db_url)
    data.upgrade_prediction_tables(db_url)
    user, password = f"crm_dash_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    database = make_url(db_url).database
    cursor = db_server.cursor()
    cursor.execute(f"create user '{user}'@'%%' identified by %s", (password,))
    try:
        for statement in access.grant_statements(database, user):
            cursor.execute(statement)
        user_url = make_url(db_url).set(username=user, password=password)
        yield db_url, user_url.render_as_string(hide_password=False)
    finally:
        cursor.execute(f"drop user if exists '{user}'@'%'")


def every_request(customer: str) -> list[tuple[str, dict]]:
    """Each API route once, with the parameters it needs."""
    app = create_app(warehouse_from_url("mysql://unused@127.0.0.1:1/unused"))
    requests = []
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api/"):
            names = {param.name for param in get_flat_dependant(route.dependant).query_params}
            params = {"customer_id": customer} if "customer_id" in names else {}
            requests.append((route.path, params))
    assert len(requests) >= 17
    return requests


def responses(db_url: str, requests: list[tuple[str, dict]]) -> dict[str, tuple[int, str]]:
    app = create_app(warehouse_from_url(db_url))
    with data.running_server(app, data.free_port()) as base, httpx.Client(base_url=base) as client:
        return {
            path: (response.status_code, response.text)
            for path, params in requests
            for response in [client.get(path, params=params, timeout=30)]
        }


def test_every_endpoint_answers_the_same_for_the_read_only_user(readonly, drops):
    owner_url, user_url = readonly
    requests = every_request("C0000001")
    as_user = responses(user_url, requests)
    assert {path: status for path, (status, _) in as_user.items()} == dict.fromkeys(as_user, 200)
    assert as_user == responses(owner_url, requests)

    # the next publication swaps the snapshot tables: table grants are kept by name
    data.publish_months(owner_url, drops, data.MONTHS[:3], validate_last=False)
    after = responses(user_url, [("/api/months", {}), ("/api/kpis", {}), ("/api/at-risk", {})])
    assert all(status == 200 for status, _ in after.values())
    assert '"latest":"2024-03"' in after["/api/months"][1]


@pytest.mark.parametrize(
    "statement",
    [
        "select count(*) from transactions",
        "select count(*) from statements",
        "select count(*) from quarantined_rows",
        "select count(*) from int_customer_month",
        "insert into publications (customer_month_rows, transaction_rows, published_by) "
        "values (0, 0, 'x')",
        "update published_customer_month set monthly_spend = 0",
        "delete from validation_runs",
        "drop view risk_segmentation",
        "create table dashboard_scratch (x int)",
        "create or replace view risk_segmentation as select 1 as x",
    ],
)
def test_the_read_only_user_cannot_read_raw_data_or_write(readonly, statement):
    _, user_url = readonly
    url = make_url(user_url)
    conn = MySQLdb.connect(
        host=url.host, port=url.port or 3306, user=url.username, passwd=url.password,
        database=url.database,
    )  # fmt: skip
    try:
        with pytest.raises((MySQLdb.OperationalError, MySQLdb.ProgrammingError)) as refused:
            conn.cursor().execute(statement)
        assert refused.value.args[0] in (1142, 1044, 1045, 1143), refused.value
    finally:
        conn.close()


def test_the_apps_sessions_are_read_only_even_for_the_owner(readonly):
    owner_url, _ = readonly
    engines = EngineCache()
    try:
        with engines.connect(warehouse_from_url(owner_url)) as conn:
            assert conn.execute(sa.text("select count(*) from publications")).scalar() >= 1
            with pytest.raises(sa.exc.DBAPIError) as refused:
                conn.execute(sa.text("delete from publications"))
            assert "READ ONLY" in str(refused.value.orig).upper()
    finally:
        engines.dispose()
    execute(owner_url, "select 1")
