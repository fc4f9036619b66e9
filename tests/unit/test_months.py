"""Month arithmetic on 'YYYY-MM' strings."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_risk.months import InvalidMonthError, add_months, month_end, month_range, parse_month


@pytest.mark.parametrize(
    ("month", "count", "expected"),
    [
        ("2024-01", 1, "2024-02"),
        ("2024-12", 1, "2025-01"),
        ("2024-01", -1, "2023-12"),
        ("2024-03", -14, "2023-01"),
        ("2024-05", 0, "2024-05"),
    ],
)
def test_add_months(month, count, expected):
    assert add_months(month, count) == expected


@pytest.mark.parametrize("bad", ["2024-13", "2024-1", "24-01", "2024/01", "", "2024-00"])
def test_invalid_months_are_refused(bad):
    with pytest.raises(InvalidMonthError, match="YYYY-MM"):
        parse_month(bad)


def test_month_end_handles_leap_years():
    assert month_end("2024-02") == dt.date(2024, 2, 29)
    assert month_end("2023-02") == dt.date(2023, 2, 28)


def test_month_range_crosses_years():
    assert month_range("2024-11", 3) == ["2024-11", "2024-12", "2025-01"]
