"""The High Risk rule is defined once: with ``CREDIT_RISK_HIGH_RISK_RATIO=0.70`` the published
segments, the published suite, the model's label and features and the dashboard all use 70 %."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from credit_risk.analytics.features import load_history
from credit_risk.dashboard import create_app
from credit_risk.generate.realistic import generate_realistic
from credit_risk.settings import get_settings
from credit_risk.steps import publish_extract as run
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import query

pytestmark = pytest.mark.integration

RATIO = Decimal("0.70")


@pytest.fixture(scope="module")
def published_at_70(new_db_url, tmp_path_factory):
    """A realistic extract built, validated and published with the High Risk ratio at 0.70."""
    folder = tmp_path_factory.mktemp("ratio")
    generate_realistic(folder, customers=300, months=7, start="2024-01", seed=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CREDIT_RISK_HIGH_RISK_RATIO", str(RATIO))
        patch.setenv("CREDIT_RISK_DATA_DOCS_DIR", str(folder / "docs"))
        get_settings.cache_clear()
        db_url = new_db_url()
        try:
            run(warehouse_from_url(db_url), folder, validate=True)  # every gate passes
            yield db_url
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def at_70(monkeypatch):
    monkeypatch.setenv("CREDIT_RISK_HIGH_RISK_RATIO", str(RATIO))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_segments_follow_the_ratio(published_at_70):
    rows = query(
        published_at_70,
        "select outstanding_balance, credit_limit, risk_category from published_customer_month "
        "where has_statement and credit_limit > 0",
    )
    between = [row for row in rows if 70 <= 100 * row[0] / row[1] < 80]
    assert between, "the extract has statements between 70 % and 80 % of the limit"
    assert all(category == "High Risk" for _, _, category in between)
    assert all(
        (balance >= RATIO * limit) == (category == "High Risk") for balance, limit, category in rows
    )
    (stored,) = query(published_at_70, "select high_risk_ratio from risk_thresholds")[0]
    assert stored == RATIO


def test_the_models_label_and_features_follow_the_ratio(published_at_70, at_70):
    history = load_history(warehouse_from_url(published_at_70))
    months = pd.DataFrame(
        query(
            published_at_70,
            "select customer_id, month, risk_category, days_past_due from published_customer_month "
            "where has_statement",
        ),
        columns=["customer_id", "month", "risk_category", "days_past_due"],
    )
    months["event"] = (months["risk_category"] == "High Risk") | (months["days_past_due"] >= 30)
    months["previous"] = (pd.PeriodIndex(months["month"], freq="M") - 1).astype(str)
    nexts = months[["customer_id", "previous", "event"]].rename(columns={"previous": "month"})
    labelled = history.dropna(subset=["label"]).merge(nexts, on=["customer_id", "month"])
    assert len(labelled) > 100
    # the label is exactly "High Risk (at 70 %) or 30+ days past due" the month after
    assert (labelled["label"].astype(bool) == labelled["event"]).all()
    current = history.merge(months, on=["customer_id", "month"])
    high_now = current["risk_category"] == "High Risk"
    assert (current.loc[high_now, "months_high_utilization_6m"] >= 1).all()


def test_the_dashboard_threshold_follows_the_ratio(published_at_70, at_70):
    client = TestClient(create_app(warehouse_from_url(published_at_70)))
    body = client.get("/api/utilization-histogram").json()
    assert body["thresholds"]["high_risk_pct"] == 70.0
