"""The hold-out simulation's state: the calendar, the customers and their draws, candidate and
posted transactions, accounts and each customer's history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Calendar:
    months: list[str]
    month_of_year: np.ndarray  # 0..11
    days: np.ndarray
    yyyymm: np.ndarray
    first_day: np.ndarray  # datetime64[D]


@dataclass
class _Customers:
    tier: np.ndarray
    region: np.ndarray
    opened: np.ndarray
    due_day: np.ndarray
    style: np.ndarray
    pay_share: np.ndarray
    miss_base: np.ndarray
    rate: np.ndarray
    season: np.ndarray  # customer x calendar month: spend multiplier
    trend: np.ndarray
    subset: np.ndarray  # customer x purchase category: used at all
    cdf: np.ndarray  # customer x calendar month x category: cumulative weights
    weights: np.ndarray  # customer x category (no season)
    category_factor: np.ndarray
    ticket: np.ndarray
    limit: np.ndarray  # cents, at the start
    expected_spend: np.ndarray  # cents a month, before season
    cash_rate: np.ndarray
    cash_median: np.ndarray


@dataclass
class _Candidates:
    """Ordinary transactions the customers attempt, sorted by month, customer, day, key."""

    month: np.ndarray
    customer: np.ndarray
    day: np.ndarray
    key: np.ndarray
    amount: np.ndarray  # cents, positive; capped by the month's limit when authorised
    kind: np.ndarray  # _PURCHASE or _CASH
    category: np.ndarray  # index into CATEGORIES
    channel: np.ndarray
    refund_day: np.ndarray  # 0: no refund
    refund_share: np.ndarray
    bounds: np.ndarray  # month m is rows bounds[m]:bounds[m + 1]


@dataclass
class _Posted:
    customer: np.ndarray
    month: np.ndarray
    day: np.ndarray
    key: np.ndarray
    amount: np.ndarray
    kind: np.ndarray
    category: np.ndarray
    channel: np.ndarray


@dataclass
class _Accounts:
    limit: np.ndarray
    closing: np.ndarray
    payment: np.ndarray
    minimum_due: np.ndarray
    days_past_due: np.ndarray


def _pick(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Index drawn from cumulative weights (the last row axis), one per uniform."""
    return np.minimum((uniform[..., None] * cdf[..., -1:] >= cdf).sum(axis=-1), cdf.shape[-1] - 1)


@dataclass
class _History:
    """What the anomaly recipes need to know about a customer's earlier months."""

    spend: np.ndarray  # customer x month: net spend, cents
    anomalous: np.ndarray  # customer x month
    used: np.ndarray  # customer x category: ever posted
    cash_count: np.ndarray  # customer: cash advances posted so far
    purchases: list[tuple[np.ndarray, np.ndarray]]  # per month: (customer, cents) of normal months


def _concat(parts: list[_Posted]) -> _Posted:
    names = _Posted.__dataclass_fields__
    return _Posted(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in names})
