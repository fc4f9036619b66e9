"""The dashboard's JSON endpoints against independent computations on the same data.

Two warehouses, and every numeric test runs on both: ``published`` (three months published, the
last through every gate) and ``failed`` (the same, then a fourth month loaded whose published
gate fails). The expected numbers come from pandas over ``published_customer_month`` rows and
the analytics tables, never from the pre-aggregated tables the app reads, and a few also from
the raw extract files.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pandas as pd
import pytest

from credit_risk.dashboard import create_app, queries
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import query
from tests.integration import dashboard_data as data
from tests.integration.dashboard_data import cents, pct, total

pytestmark = pytest.mark.integration

HIGH, MEDIUM, LOW, UNKNOWN = "High Risk", "Medium Risk", "Low Risk", "Unknown"
CATEGORIES = (HIGH, MEDIUM, LOW, UNKNOWN)
LATEST = data.PUBLISHED_MONTHS[-1]


def decimal_or_none(value) -> Decimal | None:
    return None if value is None or pd.isna(value) else Decimal(value)


# --- warehouses ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory):
    """Data Docs go to a temporary folder, which the app serves."""
    with data.data_docs_in(tmp_path_factory.mktemp("data_docs")) as folder:
        yield folder


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> dict[str, Path]:
    return data.generate_drops(tmp_path_factory.mktemp("dashboard_drops"))


@pytest.fixture(scope="module", params=["published", "failed"])
def scenario(request, new_db_url, drops, docs_dir):
    """(scenario name, database URL, base URL of a running dashboard).

    The ``failed`` warehouse also has the scores' probability key and the prediction summary
    the scoring job keeps (the ``published`` one lacks both, like a warehouse scored by an
    earlier version), and every segment counts as large, so the same tests cover the app's
    other query paths.
    """
    db_url = new_db_url()
    data.publish_months(db_url, drops)
    data.add_analytics_tables(db_url)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "failed":
            data.fail_next_month(db_url, drops)
            data.upgrade_prediction_tables(db_url)
            patch.setattr(queries.lists, "SMALL_SEGMENT", 0)
        app = create_app(warehouse_from_url(db_url))
        with data.running_server(app, data.free_port()) as base:
            yield request.param, db_url, base


@pytest.fixture(scope="module")
def frame(scenario) -> pd.DataFrame:
    return data.customer_months(scenario[1])


@pytest.fixture(scope="module")
def analytics(scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    return data.analytics_frames(scenario[1])


@pytest.fixture(scope="module")
def anomalies(analytics) -> pd.DataFrame:
    return analytics[0]


@pytest.fixture(scope="module")
def scores(analytics) -> pd.DataFrame:
    return analytics[1]


def get_json(base: str, path: str, **params) -> dict:
    response = data.get(base, path, **params)
    assert response.status_code == 200, response.text
    return response.json()


def in_month(frame: pd.DataFrame, month: str, category: str | None = None) -> pd.DataFrame:
    rows = frame[frame["month"] == month]
    return rows if category is None else rows[rows["risk_category"] == category]


# --- KPI cards -----------------------------------------------------------------------------------


@pytest.mark.parametrize("month", data.PUBLISHED_MONTHS)
@pytest.mark.parametrize("category", [None, *CATEGORIES])
def test_kpis_equal_an_independent_computation(scenario, frame, anomalies, scores, month, category):
    _, _, base = scenario
    body = get_json(base, "/api/kpis", month=month, category=category)
    index = data.PUBLISHED_MONTHS.index(month)
    previous = data.PUBLISHED_MONTHS[index - 1] if index else None
    assert (body["month"], body["previous_month"], body["category"]) == (month, previous, category)
    now = data.expected_figures(frame, anomalies, scores, month, category)
    then = data.expected_figures(frame, anomalies, scores, previous, category) if previous else {}
    for name, value in now.items():
        card = body["kpis"][name]
        assert card["available"] is True
        assert card["value"] == value, name
        assert card["previous"] == then.get(name), name
        if previous and value is not None and then[name] is not None:
            assert card["change"] == pytest.approx(value - then[name], abs=1e-9), name
    flag = body["high_utilization_flag"]
    utilization = now["utilization_pct"]
    if utilization is not None:
        assert flag["value"] == ("High" if utilization >= 80 else "Normal")


def test_kpis_default_to_the_latest_published_month(scenario):
    _, _, base = scenario
    assert get_json(base, "/api/kpis")["month"] == LATEST


def test_utilization_and_high_risk_equal_the_raw_extract(scenario, drops):
    """From statements.csv alone, with the segment rule of docs/data_contract.md."""
    _, _, base = scenario
    statements = pd.read_csv(drops[LATEST] / "statements.csv", dtype=str)
    balance = statements["outstanding_balance"].map(Decimal)
    limit = statements["credit_limit"].map(Decimal)
    high = int((balance >= Decimal("0.8") * limit).sum())
    kpis = get_json(base, "/api/kpis", month=LATEST)["kpis"]
    assert kpis["utilization_pct"]["value"] == pct(total(balance), total(limit))
    assert kpis["high_risk_customers"]["value"] == high
    assert kpis["high_risk_share_pct"]["value"] == pct(high, len(statements))


# --- charts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("month", data.PUBLISHED_MONTHS)
def test_risk_distribution(scenario, frame, month):
    _, _, base = scenario
    body = get_json(base, "/api/risk-distribution", month=month, category=MEDIUM)
    statements = in_month(frame, month)
    statements = statements[statements["has_statement"] == 1]
    counts = statements["risk_category"].value_counts()
    assert body["selected"] == MEDIUM and body["total"] == len(statements)
    assert body["segments"] == [
        {
            "risk_category": name,
            "customers": int(counts.get(name, 0)),
            "share_pct": pct(int(counts.get(name, 0)), len(statements)),
        }
        for name in CATEGORIES
    ]


@pytest.mark.parametrize("category", [None, HIGH])
def test_risk_trend(scenario, frame, category):
    _, _, base = scenario
    statements = frame[frame["has_statement"] == 1]
    expected = []
    for (month, name), group in statements.groupby(["month", "risk_category"]):
        if category in (None, name):
            month_total = int((statements["month"] == month).sum())
            expected.append(
                {
                    "month": month,
                    "risk_category": name,
                    "customers": len(group),
                    "share_pct": pct(len(group), month_total),
                }
            )
    assert get_json(base, "/api/risk-trend", category=category)["rows"] == expected


@pytest.mark.parametrize("month", data.PUBLISHED_MONTHS)
def test_utilization_histogram(scenario, frame, month):
    _, _, base = scenario
    rows = in_month(frame, month)
    rows = rows[(rows["has_statement"] == 1) & rows["utilization_pct"].notna()]
    floors = [
        max(-10, min(100, int((Decimal(value) / 10).to_integral_value(ROUND_FLOOR)) * 10))
        for value in rows["utilization_pct"]
    ]
    counts = pd.Series(floors).value_counts()
    body = get_json(base, "/api/utilization-histogram", month=month)
    assert [bucket["bucket_floor_pct"] for bucket in body["buckets"]] == list(range(-10, 101, 10))
    assert {b["bucket_floor_pct"]: b["statements"] for b in body["buckets"]} == {
        floor: int(counts.get(floor, 0)) for floor in range(-10, 101, 10)
    }
    assert sum(b["statements"] for b in body["buckets"]) == len(rows)
    assert body["thresholds"] == {"high_risk_pct": 80.0, "medium_risk_pct": 50.0}


@pytest.mark.parametrize("category", [None, LOW])
def test_spend_by_category_and_portfolio_spend(scenario, frame, category):
    _, _, base = scenario
    rows = frame.assign(segment=frame["risk_category"].fillna("No Statement"))
    if category:
        rows = rows[rows["segment"] == category]
    expected = [
        {
            "month": month,
            "risk_category": segment,
            "total_spend": cents(total(group["monthly_spend"])),
            "customers": len(group),
        }
        for (month, segment), group in rows.groupby(["month", "segment"])
    ]
    assert get_json(base, "/api/spend-by-category", category=category)["rows"] == expected
    portfolio = []
    for month, group in rows.groupby("month"):
        spend = total(group["monthly_spend"])
        rolling_3 = total(group["rolling_3_month_avg"])
        rolling_6 = total(group["rolling_6_month_avg"])
        portfolio.append(
            {
                "month": month,
                "customers": len(group),
                "total_spend": cents(spend),
                "total_rolling_3_month_avg": cents(rolling_3),
                "total_rolling_6_month_avg": cents(rolling_6),
                "avg_spend": cents(spend / len(group)),
                "avg_rolling_3_month_avg": cents(rolling_3 / len(group)),
                "avg_rolling_6_month_avg": cents(rolling_6 / len(group)),
            }
        )
    assert get_json(base, "/api/portfolio-spend", category=category)["rows"] == portfolio


@pytest.mark.parametrize("category", [None, HIGH])
def test_top_spenders(scenario, frame, category):
    _, _, base = scenario
    rows = in_month(frame, LATEST, category)
    ranked = rows.assign(spend=rows["monthly_spend"].map(Decimal)).sort_values(
        ["spend", "customer_id"], ascending=[False, True]
    )
    body = get_json(base, "/api/top-spenders", month=LATEST, category=category, limit=7)
    assert [row["customer_id"] for row in body["rows"]] == list(ranked["customer_id"][:7])
    assert [row["monthly_spend"] for row in body["rows"]] == [
        cents(value) for value in ranked["spend"][:7]
    ]
    assert body["totals"] == {
        "customers": len(rows),
        "avg_monthly_spend": cents(total(rows["monthly_spend"]) / len(rows)),
        "avg_rolling_3_month_avg": cents(total(rows["rolling_3_month_avg"]) / len(rows)),
        "avg_rolling_6_month_avg": cents(total(rows["rolling_6_month_avg"]) / len(rows)),
    }


@pytest.mark.parametrize("month", data.PUBLISHED_MONTHS)
def test_transactions_by_credit_limit_equal_the_raw_extract(scenario, drops, month):
    _, _, base = scenario
    statements = pd.read_csv(drops[month] / "statements.csv", dtype=str)
    transactions = pd.read_csv(drops[month] / "transactions.csv", dtype=str)
    joined = transactions.merge(statements, on="customer_id")
    expected = [
        {
            "credit_limit": cents(limit),
            "customers": group["customer_id"].nunique(),
            "transactions": len(group),
            "total_amount": cents(total(group["amount"])),
        }
        for limit, group in sorted(
            joined.groupby("credit_limit"), key=lambda item: Decimal(item[0])
        )
    ]
    body = get_json(base, "/api/transactions-by-limit", month=month)
    assert body["available"] is True and body["rows"] == expected


# --- customers -----------------------------------------------------------------------------------


def test_customer_search(scenario, frame):
    _, _, base = scenario
    current = frame[frame["is_latest_statement"] == 1]
    expected = sorted(current[current["customer_id"].str.startswith("C00001")]["customer_id"])
    body = get_json(base, "/api/customers", q="C00001", limit=20)
    assert [row["customer_id"] for row in body["rows"]] == expected[:20]
    # LIKE wildcards are literal: nothing starts with "C%"
    assert get_json(base, "/api/customers", q="C%")["rows"] == []
    assert (
        get_json(base, "/api/customers", q="c00001", limit=1)["rows"][0]["customer_id"]
        == (expected[0])
    )


@pytest.mark.parametrize("customer", ["C0000001", "C0000142", "C0000300"])
def test_customer_history_and_card(scenario, frame, scores, anomalies, customer):
    _, _, base = scenario
    rows = frame[frame["customer_id"] == customer].sort_values("month")
    body = get_json(base, "/api/customer", customer_id=customer)
    assert [m["month"] for m in body["months"]] == list(rows["month"])
    assert [m["monthly_spend"] for m in body["months"]] == [cents(v) for v in rows["monthly_spend"]]
    assert [m["rolling_3_month_avg"] for m in body["months"]] == [
        cents(v) for v in rows["rolling_3_month_avg"]
    ]
    assert [m["rolling_6_month_avg"] for m in body["months"]] == [
        cents(v) for v in rows["rolling_6_month_avg"]
    ]
    limits = [value for value in rows["credit_limit"] if value is not None]
    assert body["summary"] == {
        "months": len(rows),
        "avg_monthly_spend": cents(total(rows["monthly_spend"]) / len(rows)),
        "avg_rolling_3_month_avg": cents(total(rows["rolling_3_month_avg"]) / len(rows)),
        "avg_rolling_6_month_avg": cents(total(rows["rolling_6_month_avg"]) / len(rows)),
        "avg_credit_limit": cents(total(limits) / len(limits)),
    }
    latest = rows[rows["has_statement"] == 1].iloc[-1]
    assert body["current"]["month"] == latest["month"]
    assert body["current"]["risk_category"] == latest["risk_category"]
    own_scores = scores[scores["customer_id"] == customer].set_index("month")["probability"]
    for month in body["months"]:
        expected = own_scores.get(month["month"])
        got = month["prediction"]["probability"] if month["prediction"] else None
        assert got == (None if expected is None else round(expected, 4))
    own_flags = anomalies[anomalies["customer_id"] == customer].set_index("month")["is_anomaly"]
    assert [bool(m["anomaly"]["is_anomaly"]) for m in body["months"]] == [
        bool(own_flags[month]) for month in rows["month"]
    ]


# --- tables --------------------------------------------------------------------------------------


def ordered(rows: list[dict], key: str, order: str) -> list[dict]:
    """What the API promises: NULLs lowest (first ascending, last descending), ties by customer
    id in the same direction as the sort."""
    return sorted(
        rows,
        key=lambda row: (row[key] is not None, row[key] or 0, row["customer_id"]),
        reverse=order == "desc",
    )


def expected_at_risk(frame, scores, month, category) -> list[dict]:
    rows = in_month(frame, month, category)
    score = scores[scores["month"] == month].set_index("customer_id")["probability"]
    return [
        {
            "customer_id": row.customer_id,
            "utilization_pct": decimal_or_none(row.utilization_pct),
            "outstanding_balance": Decimal(row.outstanding_balance),
            "credit_limit": decimal_or_none(row.credit_limit),
            "days_past_due": row.days_past_due,
            "monthly_spend": Decimal(row.monthly_spend),
            "probability": score.get(row.customer_id),
        }
        for row in rows.itertuples()
    ]


SORTS = ["utilization_pct", "days_past_due", "monthly_spend", "probability", "customer_id"]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize(("category", "order"), [(None, "desc"), (MEDIUM, "asc")])
def test_at_risk_pages_sort_like_pandas(scenario, frame, scores, sort, category, order):
    _, _, base = scenario
    month = data.PUBLISHED_MONTHS[1]
    segment = category or HIGH
    expected = ordered(expected_at_risk(frame, scores, month, segment), sort, order)
    body = get_json(
        base, "/api/at-risk", month=month, category=category, sort=sort, order=order,
        limit=9, offset=4,
    )  # fmt: skip
    assert (body["category"], body["total"]) == (segment, len(expected))
    assert [row["customer_id"] for row in body["rows"]] == [
        row["customer_id"] for row in expected[4:13]
    ]
    first = body["rows"][0]
    assert first["risk_category"] == segment
    assert first["probability"] == round(expected[4]["probability"], 4)


def test_at_risk_prefix_search_and_csv_export(scenario, frame, scores):
    _, _, base = scenario
    expected = [
        row
        for row in ordered(expected_at_risk(frame, scores, LATEST, HIGH), "utilization_pct", "desc")
        if row["customer_id"].startswith("C00001")
    ]
    body = get_json(base, "/api/at-risk", q="C00001", limit=500)
    assert body["total"] == len(expected)
    assert [row["customer_id"] for row in body["rows"]] == [row["customer_id"] for row in expected]
    response = data.get(base, "/api/at-risk.csv", q="C00001")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["customer_id"] for row in exported] == [row["customer_id"] for row in expected]
    assert [float(row["utilization_pct"]) for row in exported] == [
        row["utilization_pct"] for row in body["rows"]
    ]


@pytest.mark.parametrize(
    ("sort", "order", "category"),
    [
        ("utilization_pct", "desc", None),
        ("days_past_due", "asc", "Medium Risk"),
        ("probability", "desc", None),
        ("monthly_spend", "desc", "Low Risk"),
    ],
)
def test_at_risk_csv_holds_the_table_rows_in_the_table_order(scenario, sort, order, category):
    """The export reads through its own query (covering indexes); it must equal the table."""
    _, _, base = scenario
    params = {"month": LATEST, "sort": sort, "order": order}
    if category:
        params["category"] = category
    body = get_json(base, "/api/at-risk", limit=500, **params)
    response = data.get(base, "/api/at-risk.csv", limit=500, **params)
    assert response.status_code == 200
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert len(exported) == len(body["rows"]) > 0
    for line, row in zip(exported, body["rows"], strict=True):
        assert line["customer_id"] == row["customer_id"] and line["month"] == LATEST
        assert line["risk_category"] == row["risk_category"]
        for column in ("utilization_pct", "credit_limit", "outstanding_balance", "monthly_spend"):
            assert (float(line[column]) if line[column] else None) == row[column], column
        assert (int(line["days_past_due"]) if line["days_past_due"] else None) == row[
            "days_past_due"
        ]
        assert (float(line["probability"]) if line["probability"] else None) == row["probability"]
        flag = {"True": True, "False": False, "": None}[line["is_predicted_high_risk"]]
        assert flag == row["is_predicted_high_risk"]


@pytest.mark.parametrize(
    ("sort", "order", "category"),
    [
        ("score", "desc", None),
        ("strength", "desc", None),
        ("z_score", "desc", None),
        ("monthly_spend", "asc", None),
        ("customer_id", "desc", HIGH),
    ],
)
def test_anomalies_table_and_csv(scenario, frame, anomalies, sort, order, category):
    _, _, base = scenario
    segment = frame[frame["month"] == LATEST].set_index("customer_id")["risk_category"]
    flagged = anomalies[(anomalies["month"] == LATEST) & (anomalies["is_anomaly"] == 1)]
    rows = [
        {
            "customer_id": row.customer_id,
            "risk_category": segment.get(row.customer_id),
            "z_score": row.z_score,
            "strength": None if pd.isna(row.z_score) else abs(row.z_score),
            "score": None if pd.isna(row.anomaly_score) else row.anomaly_score,
            "monthly_spend": Decimal(row.monthly_spend),
            "anomaly_reason": row.anomaly_reason,
        }
        for row in flagged.itertuples()
        if category in (None, segment.get(row.customer_id))
    ]
    expected = ordered(rows, sort, order)
    body = get_json(base, "/api/anomalies", month=LATEST, sort=sort, order=order,
                    category=category, limit=500)  # fmt: skip
    assert body["available"] is True and body["total"] == len(expected)
    assert [(r["customer_id"], r["anomaly_reason"]) for r in body["rows"]] == [
        (r["customer_id"], r["anomaly_reason"]) for r in expected
    ]
    response = data.get(base, "/api/anomalies.csv", month=LATEST, sort=sort, order=order,
                        category=category)  # fmt: skip
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["customer_id"], r["anomaly_reason"]) for r in exported] == [
        (r["customer_id"], r["anomaly_reason"]) for r in expected
    ]


# --- freshness and quality -----------------------------------------------------------------------


def test_freshness_banner(scenario, docs_dir):
    name, db_url, base = scenario
    body = get_json(base, "/api/freshness")
    publication = query(
        db_url, "select latest_month, run_month from publications order by publication_id desc"
    )[0]
    assert body["month_shown"] == LATEST
    assert (body["publication"]["latest_month"], body["publication"]["run_month"]) == publication
    last = body["last_validation"]
    if name == "published":
        assert body["status"] == "ok" and body["failed_validation"] is None
        assert (last["stage"], last["month"], last["is_success"]) == ("published", LATEST, True)
    else:
        failed = body["failed_validation"]
        assert body["status"] == "stale"
        assert (failed["stage"], failed["month"], failed["is_success"]) == (
            "published",
            data.MONTHS[-1],
            False,
        )
        assert failed["failed_expectations"] >= 1 and failed["failures"]
        assert "failed validation" in body["message"] and LATEST in body["message"]
        assert last == failed
    docs = data.get(base, "/" + last["data_docs_url"])
    assert docs.status_code == 200 and "<html" in docs.text.lower()
    assert Path(last["data_docs_path"]).resolve().is_relative_to(docs_dir.resolve())


def test_failed_month_is_loaded_but_never_shown(scenario):
    name, db_url, base = scenario
    loaded = {row[0] for row in query(db_url, "select distinct statement_month from statements")}
    months = get_json(base, "/api/months")
    assert months["months"] == list(data.PUBLISHED_MONTHS)
    if name == "failed":
        assert data.MONTHS[-1] in loaded
        response = data.get(base, "/api/kpis", month=data.MONTHS[-1])
        assert response.status_code == 404
        assert "not published" in response.json()["message"]


def test_data_docs_route_stays_inside_its_folder(scenario):
    _, _, base = scenario
    for path in (
        "/data-docs/../../../../etc/passwd",
        "/data-docs/%2e%2e/%2e%2e/etc/passwd",
        "/data-docs/%00",  # a NUL byte was a 500
        "/data-docs/" + "x" * 5000,
    ):
        response = data.get(base, path)
        assert response.status_code == 404, path
