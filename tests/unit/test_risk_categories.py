"""The list of risk categories is written once (``catalog.RISK_CATEGORIES``): the build's SQL is
held to it, and the published suite, the API and the page read it."""

from __future__ import annotations

import re
import typing

from credit_risk import catalog
from credit_risk.dashboard import queries
from credit_risk.dashboard.params import Category
from credit_risk.settings import PROJECT_ROOT, SQL_DIR

DASHBOARD_JS = PROJECT_ROOT / "src" / "credit_risk" / "dashboard" / "static" / "dashboard.js"


def test_the_build_writes_exactly_the_catalog_categories():
    sql = (SQL_DIR / "models" / "int_customer_month.sql").read_text(encoding="utf-8")
    case = sql[sql.index("case\n            when not customer_months.has_statement") :]
    case = case[: case.index("end as risk_category")]
    written = re.findall(r"(?:then|else) '([^']+)'", case)
    assert sorted(written) == sorted(catalog.RISK_CATEGORIES)
    # worst first in the catalog: the CASE tests High before Medium before Low
    ordered = [name for name in written if name != "Unknown"]
    assert ordered == [name for name in catalog.RISK_CATEGORIES if name != "Unknown"]


def test_the_api_and_the_page_read_the_catalog():
    assert typing.get_args(Category) == catalog.RISK_CATEGORIES
    assert set(queries.CATEGORY_COLORS) == {*catalog.RISK_CATEGORIES, catalog.NO_STATEMENT}
    script = DASHBOARD_JS.read_text(encoding="utf-8")
    for name in (*catalog.RISK_CATEGORIES, catalog.NO_STATEMENT):
        assert f'"{name}"' not in script, f"dashboard.js types {name!r}: read it from api/months"


def test_the_published_suite_checks_the_catalog_categories():
    from credit_risk.quality import published_suite

    source = (PROJECT_ROOT / "src" / "credit_risk" / "quality" / "published_suite.py").read_text()
    assert "value_set=list(catalog.RISK_CATEGORIES)" in source
    assert published_suite.catalog is catalog
