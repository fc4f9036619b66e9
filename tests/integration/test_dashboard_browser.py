"""The dashboard page in headless Chromium (Debian's package, driven by Playwright).

The app runs under uvicorn in a thread; the page must load without console errors or failed
requests, fetch nothing from outside the app (no CDN), draw every chart, show KPI values equal
to the database's, react to the slicers, warn when the latest run failed validation, and leave
screenshots in ``artifacts/`` (``CREDIT_RISK_TEST_ARTIFACTS`` to put them elsewhere).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from credit_risk.dashboard import create_app
from credit_risk.settings import get_settings
from credit_risk.warehouse.db import warehouse_from_url
from tests.conftest import REPO_ROOT, query
from tests.integration import dashboard_data as data

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("CREDIT_RISK_TEST_ARTIFACTS", REPO_ROOT / "artifacts"))
LATEST = data.PUBLISHED_MONTHS[-1]
KPI_FORMATS = {
    "utilization_pct": "pct",
    "high_risk_customers": "count",
    "avg_monthly_spend": "money",
    "delinquent_30_plus": "count",
    "anomalies": "count",
    "predicted_to_turn_high_risk": "count",
}
CHARTS = [
    "chart-risk-distribution",
    "chart-risk-trend",
    "chart-utilization",
    "chart-spend-by-category",
    "chart-portfolio-spend",
    "chart-customer-spend",
    "chart-credit-limit",
    "chart-top-spenders",
]


def chromium() -> Path:
    """Debian's chromium; installed with apt when missing and we are root, else skip."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM}; it is not installed and "
            "installing it needs root (sudo apt-get install chromium, or run scripts/setup.sh "
            "as root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def stale(new_db_url, tmp_path_factory):
    """Three months published (analytics tables too), then a fourth refused by its gate."""
    drops = data.generate_drops(tmp_path_factory.mktemp("drops"))
    with data.data_docs_in(tmp_path_factory.mktemp("data_docs")):
        db_url = new_db_url()
        data.publish_months(db_url, drops)
        data.add_analytics_tables(db_url)
        data.fail_next_month(db_url, drops)
        app = create_app(warehouse_from_url(db_url))
        with data.running_server(app, data.free_port()) as base:
            yield db_url, base


@pytest.fixture(scope="module")
def expected(stale):
    db_url, _ = stale
    frame = data.customer_months(db_url)
    anomalies, scores = data.analytics_frames(db_url)
    return lambda month, category=None: data.expected_figures(
        frame, anomalies, scores, month, category
    )


class Watched:
    """A page whose console errors, failed or 4xx/5xx requests and foreign URLs are recorded."""

    def __init__(self, browser, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on(
            "requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}")
        )
        self.page.on("response", self._response)
        self.page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request) -> None:
        if not request.url.startswith((self.base, "data:")):
            self.problems.append(f"request outside the app: {request.url}")

    def open(self, path: str = "/") -> Watched:
        self.page.goto(self.base + path)
        self.wait_until_drawn()
        return self

    def wait_until_drawn(self, after: int = 0) -> None:
        self.page.wait_for_function(
            f"document.body.dataset.loading === 'false' && "
            f"Number(document.body.dataset.generation || 0) > {after}",
            timeout=60_000,
        )

    def generation(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.generation || 0)"))

    def kpis(self) -> dict[str, tuple[str, str]]:
        rows = self.page.eval_on_selector_all(
            ".kpi",
            "cards => cards.map(c => [c.dataset.kpi, c.querySelector('.value').textContent, "
            "c.querySelector('.value').dataset.value || ''])",
        )
        return {name: (text, value) for name, text, value in rows}

    def close(self) -> None:
        self.page.close()


def shown(value, kind: str) -> str:
    """How the page formats a number (en-US grouping, two decimals for money and percent)."""
    if kind == "pct":
        return f"{value:,.2f} %"
    if kind == "money":
        return f"{value:,.2f}"
    return f"{value:,}"


def assert_kpis_equal(page: Watched, figures: dict) -> None:
    on_screen = page.kpis()
    for name, kind in KPI_FORMATS.items():
        text, raw = on_screen[name]
        assert text == shown(figures[name], kind), name
        assert float(raw) == pytest.approx(figures[name]), name
    share = page.page.text_content("#kpi-high_risk_share_pct")
    assert share == f"{shown(figures['high_risk_share_pct'], 'pct')} of statements"
    predicted = page.page.text_content("#kpi-predicted_high_risk")
    assert predicted == f"of {shown(figures['predicted_high_risk'], 'count')} predicted High Risk"


def histogram_counts(page: Watched) -> list[int]:
    return page.page.evaluate("document.getElementById('chart-utilization').data[0].y")


def expected_histogram(db_url: str, month: str) -> list[int]:
    frame = data.customer_months(db_url)
    rows = frame[(frame["month"] == month) & (frame["has_statement"] == 1)]
    floors = pd.Series(
        [max(-10, min(100, int(float(u) // 10) * 10)) for u in rows["utilization_pct"].dropna()]
    )
    counts = floors.value_counts()
    return [int(counts.get(floor, 0)) for floor in range(-10, 101, 10)]


def test_page_loads_draws_every_chart_and_shows_the_databases_kpis(browser, stale, expected):
    db_url, base = stale
    page = Watched(browser, base).open()
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        for chart in CHARTS:
            node = page.page.locator(f"#{chart}")
            if chart == "chart-customer-spend":  # empty until someone picks a customer
                assert node.get_attribute("data-rendered") == "unavailable"
                assert "Pick a customer" in node.inner_text()
                continue
            assert node.get_attribute("data-rendered") == "true", chart
            assert node.locator(".main-svg").count() >= 1, chart
        assert page.page.input_value("#month-slicer") == LATEST
        assert_kpis_equal(page, expected(LATEST))
        assert histogram_counts(page) == expected_histogram(db_url, LATEST)
        assert page.page.locator("#table-at-risk tbody tr").count() == 25
        assert page.page.locator("#table-anomalies tbody tr").count() > 0
        assert page.problems == []
    finally:
        page.close()


def test_banner_warns_that_the_latest_run_failed_validation(browser, stale):
    _, base = stale
    page = Watched(browser, base).open()
    try:
        banner = page.page.locator("#banner")
        assert banner.get_attribute("data-status") == "stale"
        text = banner.inner_text()
        assert "failed validation" in text and "published suite" in text
        assert data.MONTHS[-1] in text and f"Showing {LATEST}" in text
        link = banner.locator("a", has_text="Data Docs")
        href = link.get_attribute("href")
        # the failed dataset's own page of the one Data Docs site
        assert href.startswith("data-docs/validations/published/") and href.endswith(".html")
        assert data.get(base, "/" + href).status_code == 200
        assert page.problems == []
    finally:
        page.close()


def test_slicers_change_what_is_shown(browser, stale, expected):
    db_url, base = stale
    page = Watched(browser, base).open()
    try:
        february = data.PUBLISHED_MONTHS[1]
        before = page.generation()
        page.page.select_option("#month-slicer", february)
        page.wait_until_drawn(after=before)
        assert_kpis_equal(page, expected(february))
        assert histogram_counts(page) == expected_histogram(db_url, february)
        assert february in page.page.text_content("#at-risk-title")

        before = page.generation()
        page.page.select_option("#category-slicer", "Low Risk")
        page.wait_until_drawn(after=before)
        assert_kpis_equal(page, expected(february, "Low Risk"))
        segments = page.page.eval_on_selector_all(
            "#table-at-risk tbody tr td:nth-child(2)", "cells => cells.map(c => c.textContent)"
        )
        assert segments and set(segments) == {"Low Risk"}
        assert "month=2024-02" in page.page.url and "category=Low+Risk" in page.page.url

        page.page.fill("#customer-search", "C00001")
        page.page.wait_for_function(
            "[...document.querySelectorAll('#table-at-risk tbody tr')]"
            ".every(row => row.dataset.customer.startsWith('C00001'))",
            timeout=30_000,
        )
        customer = page.page.eval_on_selector(
            "#table-at-risk tbody tr", "row => row.dataset.customer"
        )
        page.page.fill("#customer-search", customer)
        page.page.wait_for_function(
            f"document.getElementById('customer-title').textContent.endsWith('{customer}')",
            timeout=30_000,
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / "dashboard-slicers.png"), full_page=True)
        assert page.problems == []
    finally:
        page.close()


def test_sorting_a_table_and_the_csv_link(browser, stale):
    _, base = stale
    page = Watched(browser, base).open()
    try:
        page.page.click("#table-at-risk th[data-sort='days_past_due']")
        page.page.wait_for_selector("#table-at-risk th.sorted[data-sort='days_past_due']")
        days = page.page.eval_on_selector_all(
            "#table-at-risk tbody tr td:nth-child(6)",
            "cells => cells.map(c => Number(c.textContent.replace(/,/g, '')))",
        )
        assert days == sorted(days, reverse=True) and days[0] > 0
        href = page.page.get_attribute("#at-risk-export", "href")
        assert "sort=days_past_due" in href and "at-risk.csv" in href
        assert href.startswith(base)
        export = data.get(base, href[len(base) :])
        assert export.status_code == 200 and export.text.startswith("customer_id,month,")
        assert page.problems == []
    finally:
        page.close()


def test_panels_say_not_available_yet_without_the_analytics_tables(
    browser, new_db_url, tmp_path_factory
):
    drops = data.generate_drops(tmp_path_factory.mktemp("bare_drops"))
    db_url = new_db_url()
    data.publish_months(db_url, drops, data.MONTHS[:2], validate_last=False)
    with data.running_server(create_app(warehouse_from_url(db_url)), data.free_port()) as base:
        page = Watched(browser, base).open()
        try:
            kpis = page.kpis()
            assert kpis["anomalies"][0] == "not available yet"
            assert kpis["predicted_to_turn_high_risk"][0] == "not available yet"
            assert "Not available yet" in page.page.text_content("#table-anomalies")
            # the credit-limit pre-aggregate comes with every publication: it always renders
            for chart in CHARTS:
                if chart != "chart-customer-spend":  # empty until a customer is picked
                    assert page.page.get_attribute(f"#{chart}", "data-rendered") == "true"
            assert page.page.is_hidden("#anomalies-export")
            assert page.problems == []
        finally:
            page.close()


def test_the_page_tells_the_truth_about_its_figures(browser, stale):
    """Colours follow meaning, axes start at zero, nothing shown for nothing, labels fit, odd
    values explained, and no customer is picked for the reader."""
    _, base = stale
    page = Watched(browser, base).open()
    try:
        # a change in spend is neither good nor bad news: grey; risk KPIs red when they rise
        spend = page.page.locator("#kpi-avg_monthly_spend .change")
        assert "neutral" in spend.get_attribute("class")
        assert "better" not in spend.get_attribute("class")
        assert "worse" not in spend.get_attribute("class")
        # grey as the KPI titles are (var(--muted)), neither the red nor the green of risk
        title = page.page.locator("#kpi-avg_monthly_spend h2")
        color = "node => getComputedStyle(node).color"
        assert spend.evaluate(color) == title.evaluate(color)
        for name in ("utilization_pct", "high_risk_customers", "delinquent_30_plus"):
            classes = page.page.get_attribute(f"#kpi-{name} .change", "class")
            if " up" in f" {classes}":
                assert "worse" in classes, name
            if " down" in f" {classes}":
                assert "better" in classes, name
        # the portfolio's spend axis starts at zero
        low = page.page.evaluate(
            "document.getElementById('chart-portfolio-spend')._fullLayout.yaxis.range[0]"
        )
        assert low <= 0
        # no slice, hence no "0%" label, for an empty segment
        values = page.page.evaluate(
            "document.getElementById('chart-risk-distribution').data[0].values"
        )
        assert values and all(value > 0 for value in values)
        # the last month's label is inside its chart at 1,400 px
        for chart in ("chart-portfolio-spend", "chart-risk-trend"):
            inside = page.page.evaluate(
                f"""(() => {{
                    const node = document.getElementById('{chart}');
                    const ticks = node.querySelectorAll('.xtick text');
                    const last = ticks[ticks.length - 1].getBoundingClientRect();
                    const box = node.getBoundingClientRect();
                    return last.right <= box.right && last.left >= box.left;
                }})()"""
            )
            assert inside, chart
        # negative spend and utilization over 100 % say what they are
        assert "refunds" in page.page.text_content("#explain-spend")
        assert "over the limit" in page.page.text_content("#explain-utilization")
        # anomalies: what was unusual first, the highest score first
        assert page.page.text_content("#table-anomalies thead th:first-child") == "Reason"
        # ... and the Score header shows it sorts by it, highest first
        assert page.page.text_content("#table-anomalies thead th:nth-child(2)") == "Score ▼"
        cells = page.page.eval_on_selector_all(
            "#table-anomalies tbody tr td:nth-child(2)",
            "cells => cells.map(c => c.textContent)",
        )
        scores = [float(text.replace(",", "")) for text in cells if text not in ("", "–")]
        assert scores and scores == sorted(scores, reverse=True)
        # the drill-down waits for a choice, then shows that customer
        assert "Pick a customer" in page.page.inner_text("#chart-customer-spend")
        row = page.page.locator("#table-at-risk tbody tr").first
        customer = row.get_attribute("data-customer")
        row.click()
        page.page.wait_for_selector("#chart-customer-spend[data-rendered='true']")
        assert page.page.text_content("#customer-title").endswith(customer)
        assert page.problems == []
    finally:
        page.close()


def test_the_data_docs_site_lists_every_validation_and_works_offline(browser, stale):
    """One site for the warehouse, served by the dashboard: with every request to another host
    refused (an offline machine), its index lists the month's validations, nothing fails to
    load, and each page is readable."""
    db_url, base = stale
    page = Watched(browser, base)
    outside: list[str] = []

    def offline(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.page.route("**/*", offline)
    try:
        page.page.goto(f"{base}/data-docs/index.html")
        links = page.page.eval_on_selector_all(
            "table a[href*='validations/']", "links => links.map(a => a.getAttribute('href'))"
        )
        # the validations of every gate of the last published month, and the refused month's
        recorded = query(db_url, "select distinct stage, partition_month from validation_runs")
        for stage, month in recorded:
            assert any(f"validations/{stage}/" in link for link in links), (stage, month)
        assert any(f"_{data.MONTHS[-1]}" in link for link in links)  # the refused month too
        assert outside == [] and page.problems == []
        # a validation page opens, still offline, and shows its results as text
        page.page.click("table a[href*='validations/published/']")
        page.page.wait_for_load_state()
        assert "Expectation" in page.page.inner_text("body")
        assert outside == [] and page.problems == []
        # the static assets exist once for the whole site
        docs = get_settings().data_docs_dir  # the fixture's site, served by the app
        assert [path.relative_to(docs) for path in docs.rglob("static")] == [Path("static")]
    finally:
        page.close()
