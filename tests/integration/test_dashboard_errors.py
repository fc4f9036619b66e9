"""The dashboard when things are missing or wrong: bad parameters, tables not built yet, an
empty or unreachable warehouse. Every case must answer 4xx/503 with a message, never a 500 or
SQL text."""

from __future__ import annotations

import httpx
import pytest
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.routing import APIRoute

from credit_risk.dashboard import create_app
from credit_risk.warehouse.db import connect, warehouse_from_url
from credit_risk.warehouse.schema import create_views, ensure_tables
from tests.conftest import execute
from tests.integration import dashboard_data as data

pytestmark = pytest.mark.integration

TWO_MONTHS = data.MONTHS[:2]


@pytest.fixture(scope="module")
def bare(new_db_url, tmp_path_factory):
    """Two published months and none of the tables other jobs build (spend_anomalies & co.)."""
    drops = data.generate_drops(tmp_path_factory.mktemp("drops"))
    db_url = new_db_url()
    data.publish_months(db_url, drops, TWO_MONTHS, validate_last=False)
    with data.running_server(create_app(warehouse_from_url(db_url)), data.free_port()) as base:
        yield base, db_url


def assert_error(response, status: int, error: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"], body
    if error:
        assert body["error"] == error
    lowered = body["message"].lower()
    assert "select " not in lowered and "traceback" not in lowered
    return body["message"]


def test_optional_widgets_say_not_available_yet(bare):
    bare, _ = bare
    kpis = data.get(bare, "/api/kpis").json()["kpis"]
    for name in ("anomalies", "predicted_to_turn_high_risk", "predicted_high_risk"):
        assert kpis[name]["available"] is False
        assert kpis[name]["value"] is None
        assert "not available yet" in kpis[name]["message"]
    assert kpis["utilization_pct"]["available"] is True
    anomalies = data.get(bare, "/api/anomalies").json()
    assert anomalies["available"] is False and "not available yet" in anomalies["message"]
    # every publication builds the credit-limit pre-aggregate, so that widget is always there
    limits = data.get(bare, "/api/transactions-by-limit").json()
    assert limits["available"] is True and limits["rows"]
    at_risk = data.get(bare, "/api/at-risk", limit=3).json()
    assert at_risk["scores_available"] is False and len(at_risk["rows"]) == 3
    assert "probability" not in at_risk["rows"][0]
    customer = data.get(bare, "/api/customer", customer_id="C0000001").json()
    assert customer["scores_available"] is False and customer["months"][0]["prediction"] is None
    assert data.get(bare, "/api/months").json()["available"] == {
        "spend_anomalies": False,
        "high_risk_predictions": False,
        "published_credit_limit_month": True,
        "high_risk_prediction_segments": False,
        "scored_customer_month": False,
    }
    assert_error(data.get(bare, "/api/at-risk", sort="probability"), 400)
    assert_error(data.get(bare, "/api/anomalies.csv"), 404)


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/api/kpis", {"month": "2024-13"}, 422, "YYYY-MM"),
        ("/api/kpis", {"month": "march"}, 422, "YYYY-MM"),
        ("/api/kpis", {"month": "2024-03-01"}, 422, "YYYY-MM"),
        ("/api/kpis", {"month": "2023-01"}, 404, "not published"),
        ("/api/kpis", {"category": "Very High Risk"}, 422, "category"),
        ("/api/kpis", {"category": "' or 1=1 --"}, 422, "category"),
        ("/api/at-risk", {"sort": "utilization_pct; drop table x"}, 422, "sort"),
        ("/api/at-risk", {"order": "sideways"}, 422, "order"),
        ("/api/at-risk", {"limit": "0"}, 422, "limit"),
        ("/api/at-risk", {"limit": "501"}, 422, "limit"),
        ("/api/at-risk", {"limit": "ten"}, 422, "limit"),
        ("/api/at-risk", {"offset": "-1"}, 422, "offset"),
        ("/api/at-risk.csv", {"limit": "100001"}, 422, "limit"),
        ("/api/anomalies", {"sort": "probability"}, 422, "sort"),
        ("/api/top-spenders", {"limit": "1000"}, 422, "limit"),
        ("/api/customers", {"q": "C" * 33}, 422, "q"),
        ("/api/customers", {"limit": "51"}, 422, "limit"),
        ("/api/customer", {}, 422, "customer_id"),
        ("/api/customer", {"customer_id": "C" * 33}, 422, "customer_id"),
        ("/api/customer", {"customer_id": "C0000001\x00"}, 422, "customer_id"),
        ("/api/customer", {"customer_id": "' or '1'='1"}, 404, "not in the published data"),
        ("/api/customer", {"customer_id": "C9999999"}, 404, "not in the published data"),
        ("/api/utilization-histogram", {"month": "2024-04"}, 404, "not published"),
        ("/api/freshness", {"month": "1999-01"}, 404, "not published"),
    ],
)
def test_bad_parameters_get_a_4xx_with_a_message(bare, path, params, status, words):
    bare, _ = bare
    message = assert_error(data.get(bare, path, **params), status)
    assert words.lower() in message.lower()


def test_a_warehouse_with_nothing_published(db_url):
    with connect(warehouse_from_url(db_url)) as conn:
        ensure_tables(conn)
        create_views(conn.cursor())
    with data.running_server(create_app(warehouse_from_url(db_url)), data.free_port()) as base:
        assert data.get(base, "/api/months").json()["months"] == []
        assert data.get(base, "/api/freshness").json()["status"] == "no_publication"
        assert "nothing is published" in assert_error(data.get(base, "/api/kpis"), 404)
        assert data.get(base, "/").status_code == 200


def test_a_warehouse_without_the_published_tables(db_url):
    with data.running_server(create_app(warehouse_from_url(db_url)), data.free_port()) as base:
        assert_error(data.get(base, "/api/kpis"), 503, "warehouse_unavailable")
        assert_error(data.get(base, "/api/months"), 503, "warehouse_unavailable")


def test_an_unreachable_warehouse():
    warehouse = warehouse_from_url("mysql://nobody@127.0.0.1:1/credit_risk")
    with data.running_server(create_app(warehouse), data.free_port()) as base:
        assert_error(data.get(base, "/api/kpis"), 503, "warehouse_unavailable")
        assert data.get(base, "/").status_code == 200


NASTY_VALUES = [
    *("", " ", "'", '"', "%", "_", "\\", "\x00", "-1", "0", "1e9", "NaN", "9" * 40),
    *("2024-13", "2024-00", "ü", "<script>", "' or 1=1 --", "High Risk; drop table x"),
]


def test_no_parameter_value_makes_any_endpoint_fail(bare):
    """Every query parameter of every endpoint, with hostile values: a 2xx or 4xx, never 5xx."""
    bare, _ = bare
    app = create_app(warehouse_from_url("mysql://unused@127.0.0.1:1/unused"))
    routes = [
        route
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
    ]
    assert len(routes) >= 15
    with httpx.Client(base_url=bare, timeout=30) as client:
        for route in routes:
            for parameter in get_flat_dependant(route.dependant).query_params:
                for value in NASTY_VALUES:
                    response = client.get(route.path, params={parameter.name: value})
                    assert response.status_code < 500, (route.path, parameter.name, value)
                    if response.status_code >= 400:
                        assert response.json()["message"], (route.path, parameter.name, value)


def test_a_warehouse_published_before_the_credit_limit_table(bare):
    base, db_url = bare
    execute(db_url, "drop table published_credit_limit_month")
    limits = data.get(base, "/api/transactions-by-limit").json()
    assert limits["available"] is False and "not available yet" in limits["message"]
    assert data.get(base, "/api/kpis").status_code == 200
