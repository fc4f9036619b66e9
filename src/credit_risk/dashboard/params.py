"""The query parameters every endpoint accepts, validated before any SQL runs.

Why here, as annotated types: FastAPI turns each constraint into a 422 with a message (and into
the OpenAPI schema) before a route runs, so a bad value never reaches the database. Sort columns
are whitelisted names mapped to SQL in ``queries``; nothing a client sends is ever pasted into a
statement.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BeforeValidator, StringConstraints

from credit_risk import catalog

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
CUSTOMER_ID_MAX_LENGTH = 32
"""The warehouse's ``customer_id`` is ``varchar(32)`` (docs/data_contract.md)."""
CUSTOMER_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""Any printable text: ids are bound parameters, so only control characters are refused."""

MAX_PAGE_ROWS = 500
MAX_EXPORT_ROWS = 100_000
MAX_OFFSET = 1_000_000


def _blank_is_absent(value: object) -> object:
    """``?category=`` (an HTML form's "all" option) means the same as leaving it out."""
    return None if isinstance(value, str) and not value.strip() else value


Blank = BeforeValidator(_blank_is_absent)

Category = Literal[catalog.RISK_CATEGORIES]  # type: ignore[valid-type]  # one list, in catalog
SortOrder = Literal["asc", "desc"]
AtRiskSort = Literal[
    "utilization_pct", "days_past_due", "monthly_spend", "probability", "customer_id"
]
AnomalySort = Literal[
    "score",
    "strength",
    "z_score",
    "monthly_spend",
    "baseline_mean",
    "baseline_std",
    "customer_id",
    "risk_category",
]

MonthText = Annotated[str, StringConstraints(pattern=MONTH_PATTERN)]
CustomerText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=CUSTOMER_ID_MAX_LENGTH, pattern=CUSTOMER_ID_PATTERN),
]

# Constraints sit on the inner type, so a blank value (made None by ``Blank``) skips them.
MonthParam = Annotated[
    MonthText | None,
    Blank,
    Query(description="Statement month YYYY-MM; must be published. Default: the latest."),
]
CategoryParam = Annotated[
    Category | None,
    Blank,
    Query(description="Only customers in this risk segment (that month)."),
]
CustomerPrefixParam = Annotated[
    CustomerText | None,
    Blank,
    Query(description="Only customers whose id starts with this text."),
]
CustomerIdParam = Annotated[CustomerText, Query(description="The customer's id, exactly.")]
OrderParam = Annotated[SortOrder, Query(description="Sort direction.")]
PageLimitParam = Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS, description="Rows per page.")]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]
ExportLimitParam = Annotated[
    int, Query(ge=1, le=MAX_EXPORT_ROWS, description="Most rows in the CSV file.")
]
SearchLimitParam = Annotated[int, Query(ge=1, le=50, description="Most matches returned.")]
TopLimitParam = Annotated[int, Query(ge=1, le=100, description="Customers in the ranking.")]
