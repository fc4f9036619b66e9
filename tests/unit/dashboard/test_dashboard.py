"""Pure parts of the dashboard: rounding, month handling, KPI arithmetic, LIKE escaping, the
read-only grants, Data Docs paths and where the warehouse comes from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from credit_risk.dashboard import access, api, queries
from credit_risk.dashboard.app import invalid_parameter_detail
from credit_risk.dashboard.connection import (
    CachedFactory,
    as_factory,
    standalone_warehouse,
)
from credit_risk.warehouse.db import warehouse_from_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("0.125"), 0.13), (Decimal("-0.125"), -0.13), (Decimal("2.675"), 2.68), (None, None)],
)
def test_money_rounds_half_up_like_the_views(value, expected):
    assert queries.money(value) == expected


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(1, 3, 33.33), (2, 3, 66.67), (0, 5, 0.0), (5, 0, None), (None, 5, None)],
)
def test_ratio_pct(numerator, denominator, expected):
    assert queries.ratio_pct(numerator, denominator) == expected


def test_resolve_month():
    months = ["2024-01", "2024-02", "2024-04"]
    assert queries.resolve_month(months, None) == "2024-04"
    assert queries.resolve_month(months, "2024-02") == "2024-02"
    with pytest.raises(queries.NotPublishedError, match="2024-01 to 2024-04"):
        queries.resolve_month(months, "2024-03")
    with pytest.raises(queries.NotPublishedError, match="nothing is published"):
        queries.resolve_month([], None)


def test_previous_month_is_the_calendar_month_before_when_published():
    months = ["2023-12", "2024-01", "2024-03"]
    assert queries.previous_month(months, "2024-01") == "2023-12"
    assert queries.previous_month(months, "2024-03") is None  # February is not published
    assert queries.previous_month(months, "2023-12") is None


def segment(category: str, **values) -> queries.SegmentMonth:
    defaults = {
        "customers": 0,
        "statements": 0,
        "total_spend": Decimal(0),
        "total_rolling_3_month_avg": Decimal(0),
        "total_rolling_6_month_avg": Decimal(0),
        "total_credit_limit": Decimal(0),
        "total_balance": Decimal(0),
        "delinquent_30_plus": 0,
    }
    return queries.SegmentMonth(month="2024-03", risk_category=category, **{**defaults, **values})


def test_month_figures_weigh_balances_not_ratios():
    rows = [
        segment("High Risk", customers=1, statements=1, total_spend=Decimal("100"),
                total_credit_limit=Decimal("1000"), total_balance=Decimal("900"),
                delinquent_30_plus=1),
        segment("Low Risk", customers=2, statements=2, total_spend=Decimal("50"),
                total_credit_limit=Decimal("50000"), total_balance=Decimal("1000")),
        segment("Unknown", customers=1, statements=1, total_balance=Decimal("700")),
        segment("No Statement", customers=2, total_spend=Decimal("10")),
    ]  # fmt: skip
    assert queries.month_figures(rows) == {
        "utilization_pct": 3.73,  # 1900 / 51000; Unknown's balance has no limit to divide by
        "high_risk_customers": 1,
        "high_risk_share_pct": 25.0,  # 1 of 4 statements (Unknown counts, gap months do not)
        "avg_monthly_spend": 26.67,  # 160 over 6 customer-months, gap months included
        "delinquent_30_plus": 1,
        "customers": 6,
        "statements": 4,
    }


def test_month_figures_of_nothing():
    assert queries.month_figures([])["utilization_pct"] is None
    assert queries.month_figures([])["avg_monthly_spend"] is None


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("C0001", "C0001%"), ("CUST_", "CUST!_%"), ("50%", "50!%%"), ("a!b", "a!!b%")],
)
def test_like_prefix_takes_wildcards_literally(text, pattern):
    assert queries.like_prefix(text) == pattern


def test_grants_cover_every_published_object_and_nothing_else():
    statements = access.grant_statements("credit_risk", "dash", "10.0.%")
    objects = [statement.split(" on ")[1].split(" to ")[0] for statement in statements]
    assert "`credit_risk`.`risk_segmentation`" in objects
    assert "`credit_risk`.`published_portfolio_month`" in objects
    assert "`credit_risk`.`spend_anomalies`" in objects
    assert not any(name.split(".")[1][1:] == "transactions`" for name in objects)
    assert all(s.startswith("grant select on ") and s.endswith("to 'dash'@'10.0.%'")
               for s in statements)  # fmt: skip
    assert len(access.grant_statements("x", optional=())) == len(access.READABLE_OBJECTS)


def test_data_docs_paths_stay_inside_the_docs_folder(tmp_path, settings_env):
    page = tmp_path / "2024-03" / "published" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    settings_env(data_docs_dir=tmp_path)
    assert api.data_docs_file("2024-03/published/index.html") == page
    assert api.data_docs_file("2024-03/published") == page
    assert api.data_docs_file("../../etc/passwd") is None
    assert api.data_docs_file("2024-03/missing.html") is None
    assert api.data_docs_url(str(page)) == "data-docs/2024-03/published/index.html"
    assert api.data_docs_url("/elsewhere/index.html") is None
    assert api.data_docs_url(None) is None


def test_invalid_parameter_messages_say_what_is_expected():
    detail = invalid_parameter_detail(
        {"loc": ("query", "month"), "msg": "pattern", "type": "string_pattern_mismatch",
         "input": "2024-13"}
    )  # fmt: skip
    assert detail == {
        "parameter": "month",
        "message": "must be a month written YYYY-MM, for example 2024-03 (got '2024-13')",
    }


def test_standalone_warehouse_prefers_the_argument_then_the_dashboard_url(monkeypatch):
    monkeypatch.setenv("CREDIT_RISK_DASHBOARD_DB_URL", "mysql://reader@db:3306/credit_risk")
    assert standalone_warehouse("mysql://x@h/y").url.host == "h"
    assert standalone_warehouse().url.username == "reader"
    monkeypatch.delenv("CREDIT_RISK_DASHBOARD_DB_URL")
    monkeypatch.setenv("CREDIT_RISK_DB_URL", "mysql://owner@db:3306/credit_risk")
    from credit_risk.settings import get_settings

    get_settings.cache_clear()
    try:
        assert standalone_warehouse().url.username == "owner"
    finally:
        get_settings.cache_clear()


def test_cached_factory_resolves_once_per_ttl():
    calls = []

    def resolve():
        calls.append(1)
        return warehouse_from_url("mysql://u@h/d")

    cached = CachedFactory(resolve, ttl_seconds=60)
    assert cached() is cached()
    assert len(calls) == 1
    expired = CachedFactory(resolve, ttl_seconds=0)
    expired(), expired()
    assert len(calls) == 3


def test_as_factory_accepts_a_warehouse_or_a_callable():
    warehouse = warehouse_from_url("mysql://u@h/d")
    assert as_factory(warehouse)() is warehouse
    assert as_factory(lambda: warehouse)() is warehouse
    with pytest.raises(TypeError):
        as_factory("mysql://u@h/d")
