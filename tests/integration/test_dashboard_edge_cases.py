"""The dashboard on a hand-written portfolio with the cases realistic data lacks: a gap month
(a customer-month without a statement, 'No Statement' in the pre-aggregates) and a missing
credit limit ('Unknown'). Expected numbers are worked out by hand."""

from __future__ import annotations

import pytest

from credit_risk.dashboard import create_app
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from tests.integration import dashboard_data as data

pytestmark = pytest.mark.integration

LEGACY = """customer_id,transaction_date,transaction_amount,credit_limit,outstanding_balance
CUST_A,2024-01-15,100,1000,900
CUST_A,2024-02-15,200,1000,600
CUST_A,2024-03-15,300,1000,100
CUST_B,2024-01-10,50,2000,1800
CUST_B,2024-03-10,70,2000,500
CUST_C,2024-01-05,40,,300
CUST_C,2024-02-05,60,,350
CUST_C,2024-03-05,80,,400
CUST_D,2024-03-20,500,5000,4000
"""


@pytest.fixture(scope="module")
def base(new_db_url, tmp_path_factory):
    source = tmp_path_factory.mktemp("legacy") / "bank_transactions.csv"
    source.write_text(LEGACY, encoding="utf-8")
    db_url = new_db_url()
    run(warehouse_from_url(db_url), source, validate=False)
    with data.running_server(create_app(warehouse_from_url(db_url)), data.free_port()) as url:
        yield url


def kpi_values(base: str, **params) -> dict:
    body = data.get(base, "/api/kpis", **params).json()
    return {name: card["value"] for name, card in body["kpis"].items() if card["available"]}


def test_a_gap_month_counts_as_a_customer_but_not_a_statement(base):
    # February: A Medium (600 / 1000), B has no statement (spend 0), C has no limit (Unknown)
    assert kpi_values(base, month="2024-02") == {
        "utilization_pct": 60.0,
        "high_risk_customers": 0,
        "high_risk_share_pct": 0.0,
        "avg_monthly_spend": 86.67,  # (200 + 0 + 60) / 3
        "delinquent_30_plus": 0,
        "customers": 3,
    }


def test_unknown_limits_stay_out_of_utilization_but_in_the_share(base):
    # March: A Low 10%, B Low 25%, C Unknown, D High (4000 >= 0.8 x 5000)
    assert kpi_values(base, month="2024-03") == {
        "utilization_pct": 57.5,  # (100 + 500 + 4000) / (1000 + 2000 + 5000)
        "high_risk_customers": 1,
        "high_risk_share_pct": 25.0,  # 1 of 4 statements, Unknown included
        "avg_monthly_spend": 237.5,  # (300 + 70 + 80 + 500) / 4
        "delinquent_30_plus": 0,
        "customers": 4,
    }
    assert kpi_values(base, month="2024-03", category="Unknown")["utilization_pct"] is None


def test_gap_months_appear_in_spend_but_not_in_segments(base):
    spend = data.get(base, "/api/spend-by-category").json()["rows"]
    february = {
        row["risk_category"]: row["total_spend"] for row in spend if row["month"] == "2024-02"
    }
    assert february == {"Medium Risk": 200.0, "No Statement": 0.0, "Unknown": 60.0}
    trend = data.get(base, "/api/risk-trend").json()["rows"]
    assert {row["risk_category"] for row in trend} == {
        "High Risk",
        "Medium Risk",
        "Low Risk",
        "Unknown",
    }
    distribution = data.get(base, "/api/risk-distribution", month="2024-02").json()
    assert distribution["total"] == 2
    assert {s["risk_category"]: s["customers"] for s in distribution["segments"]} == {
        "High Risk": 0,
        "Medium Risk": 1,
        "Low Risk": 0,
        "Unknown": 1,
    }
    histogram = data.get(base, "/api/utilization-histogram", month="2024-03").json()["buckets"]
    assert {b["bucket_floor_pct"]: b["statements"] for b in histogram if b["statements"]} == {
        10: 1,
        20: 1,
        80: 1,
    }


def test_customer_with_a_gap(base):
    body = data.get(base, "/api/customer", customer_id="CUST_B").json()
    assert [(m["month"], m["has_statement"], m["monthly_spend"]) for m in body["months"]] == [
        ("2024-01", True, 50.0),
        ("2024-02", False, 0.0),
        ("2024-03", True, 70.0),
    ]
    assert body["current"]["month"] == "2024-03"
    assert body["summary"]["avg_monthly_spend"] == 40.0
    assert body["summary"]["avg_credit_limit"] == 2000.0  # the gap month has no limit
    # the id's underscore is literal in the search: "CUS_" is no wildcard
    assert [
        r["customer_id"] for r in data.get(base, "/api/customers", q="CUST_").json()["rows"]
    ] == [
        "CUST_A",
        "CUST_B",
        "CUST_C",
        "CUST_D",
    ]
    assert data.get(base, "/api/customers", q="CUS_").json()["rows"] == []
