"""Data Docs retention: results older than CREDIT_RISK_DATA_DOCS_KEEP_DAYS leave the site."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from credit_risk.quality.data_docs import prune_results
from credit_risk.settings import Settings

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def _validation(site: Path, run_time: str, month: str) -> tuple[Path, Path]:
    parts = ("published", f"distribution_{month}", f"published-{month}-ab12", run_time)
    result = site.joinpath(".results", *parts, "warehouse-distribution.json")
    page = site.joinpath("validations", *parts, "warehouse-distribution.html")
    for path in (result, page):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    return result, page


def test_old_results_and_their_pages_go_recent_ones_and_the_rest_of_the_site_stay(tmp_path):
    site = tmp_path / "docs"
    old_result, old_page = _validation(site, "20250101T000000.000000Z", "2024-12")
    new_result, new_page = _validation(site, "20261101T093000.123456Z", "2026-10")
    (site / ".results" / ".ge_store_backend_id").write_text("store_backend_id = x\n")
    (site / "static").mkdir()
    (site / "static" / "styles.css").write_text("body {}")
    (site / "index.html").write_text("<html></html>")

    removed = prune_results(site, site / ".results", keep_days=400, now=NOW)

    assert removed == [old_result]
    assert not old_result.exists() and not old_page.exists()
    assert not (site / ".results" / "published" / "distribution_2024-12").exists()  # emptied
    assert not (site / "validations" / "published" / "distribution_2024-12").exists()
    assert new_result.exists() and new_page.exists()
    assert (site / ".results" / ".ge_store_backend_id").exists()
    assert (site / "static" / "styles.css").exists() and (site / "index.html").exists()


def test_zero_keeps_everything_and_the_default_is_thirteen_months(tmp_path):
    site = tmp_path / "docs"
    result, _ = _validation(site, "20100101T000000.000000Z", "2009-12")
    assert prune_results(site, site / ".results", keep_days=0, now=NOW) == []
    assert result.exists()
    assert Settings().data_docs_keep_days == 400
