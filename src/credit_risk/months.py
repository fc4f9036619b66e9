"""Calendar-month arithmetic on ``'YYYY-MM'`` strings, the partition key of the warehouse."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class InvalidMonthError(ValueError):
    """A month string is not of the form YYYY-MM."""


def parse_month(value: str) -> tuple[int, int]:
    """Split ``'YYYY-MM'`` into (year, month), refusing anything else."""
    match = _MONTH_RE.match(value.strip())
    if not match:
        raise InvalidMonthError(f"month {value!r} is not of the form YYYY-MM (for example 2024-03)")
    return int(match.group(1)), int(match.group(2))


def validate_month(value: str) -> str:
    """Return the month unchanged when it is a valid ``'YYYY-MM'``; raise otherwise."""
    parse_month(value)
    return value.strip()


def add_months(month: str, count: int) -> str:
    """Shift a month by ``count`` calendar months (negative goes back)."""
    year, mon = parse_month(month)
    index = year * 12 + (mon - 1) + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> int:
    """How many months from ``first`` up to, not including, ``last``."""
    (year_a, month_a), (year_b, month_b) = parse_month(first), parse_month(last)
    return (year_b - year_a) * 12 + (month_b - month_a)


def month_range(start: str, count: int) -> list[str]:
    """The ``count`` consecutive months beginning at ``start``."""
    return [add_months(start, offset) for offset in range(count)]


def month_end(month: str) -> dt.date:
    """The last calendar day of the month (statement dates in the legacy data are month ends)."""
    year, mon = parse_month(month)
    return dt.date(year, mon, calendar.monthrange(year, mon)[1])


def month_of(day: dt.date | dt.datetime) -> str:
    """The ``'YYYY-MM'`` a date falls in."""
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class MonthWindow:
    """The months a load accepts: from ``CREDIT_RISK_EARLIEST_MONTH`` to the month the load
    runs in. A statement or transaction dated later cannot be real (2099-06 from a typo, or
    9999-12 as a placeholder), and loading it would create and publish that month."""

    earliest: str
    latest: str

    def contains(self, month: str) -> bool:
        """Whether ``month`` (YYYY-MM) is inside the window."""
        return self.earliest <= month <= self.latest
