"""A second, independent synthetic card portfolio: the hold-out data the anomaly detectors are
scored on.

Why it exists: the detectors are developed against the main generator (``generate.realistic``),
so a detector measured only on that data may have learnt the generator rather than the
problem. This module was written separately, from the data contract alone (it imports only the
file names and the contract's value lists from ``realistic``, none of its spend model), with a
different spend model and its own anomaly recipes. **It is used only to report detector
quality (precision, recall), never to choose or tune thresholds**: a threshold picked on this
data would make it one more training set and its numbers optimistic again.

It writes the same three-file extract as ``generate.realistic`` (``customers.csv``,
``statements.csv``, ``transactions.csv``: same columns, formats, sort order, id scheme and
balance identity, docs/data_contract.md) plus ``labels.csv`` (``customer_id``, ``month``,
``anomaly_type``), and the same seed always gives the same bytes.

Spend model
    Each customer draws a transaction rate from a gamma distribution (mean about 15 attempted
    card transactions a month, shape 2.2: some customers make 4 a month, some 40), so the
    extract holds about 14 posted transactions per customer-month. Each customer uses a
    personal subset of two to seven of the nine purchase categories (grocery nearly always,
    travel rarely), with personal weights (gamma draws times a category preference). Amounts
    are lognormal per customer and category: a category median, times the customer's ticket
    level, times a customer-category factor, times the month's season and trend, with a
    category-specific spread; no purchase exceeds 25 % of the limit. About 1 % of purchases are
    refunded (fully or partly) a few days later. About one customer in ten draws cash (ATM
    channel, ``cash`` category, multiples of 20.00, at most 2,000.00) about once a month.
    Channels follow the category (utilities and online services online, fuel at the pump,
    dining mostly contactless, ...).

Seasonality and trend
    Every customer has their own December uplift of 30-60 % of spend, a November bump of a
    quarter to a half of it, a January dip of a quarter to a half of it and a small summer
    bump; half of the uplift raises the number of transactions, half the ticket size. Retail
    weights rise in November-December, travel in July-August and December. A slow per-customer
    trend (about +-1 % a month) moves ticket sizes.

Limits and balances
    Limits come from five tiers (2,000 to 50,000), chosen by underwriting from the credit tier
    and the customer's expected spend; a customer in good standing with some utilization gets
    the next tier now and then (about 1 % a month). Balances carry over: the closing balance is
    the opening balance plus purchases and cash advances, minus refunds and the payment, plus
    interest (1.5 / 2.0 / 2.5 % a month by tier on the unpaid part), a 35.00 late fee when the
    minimum was missed and the cash-advance fee (max(5.00, 3 %)). Payment styles are per
    customer: full payers, revolvers (each paying their own share of the balance, at least the
    minimum) and minimum payers; each month a customer may miss (rarely for prime, more often
    for subprime; a miss is likely to repeat), which makes ``days_past_due`` grow by the
    month's length until a payment reaches the minimum. Cards 30+ days past due are frozen
    (every charge declined), and a charge that would exceed the available credit is declined
    (skipped; later smaller charges may still post). Twelve unwritten months of aggregate
    spending run first, so the first statement already has settled balances. The issuer keeps
    room for the month's interest and fees when authorising (available credit = limit -
    (opening balance - payment) - interest - late fee, a cash advance costing its fee too), so
    only cards that were already full end a month above their limit. At the defaults about
    13 % of statements are High Risk (>= 80 % utilization), 6 % Medium, 2-3 % past due (each
    of the 30-59, 60-89 and 90+ buckets present), and the risk mix moves little month to month
    (the published suite's distribution checks pass).

Anomaly recipes (``anomaly_rate`` of the customer-months with at least 3 months of history,
at most one per customer-month; chosen kinds in shares 25 / 20 / 20 / 15 / 20 %)
    - ``spend_spike``: extra purchases in the customer's usual categories (by their own
      weights) over 3-10 consecutive days, so that the month's net spend is 4-8x the median of
      the customer's earlier normal months.
    - ``subtle_spike``: the same at 2.5-3x.
    - ``new_category_purchase``: one purchase of the larger of 5-20x the customer's median
      earlier purchase and 300.00-800.00, in a purchase category outside the customer's own
      subset that they have never used; capped by 25 % of the limit and the credit left, and
      made only when it is still at least 5x the usual ticket and 300.00.
    - ``small_online_burst``: 10-40 online charges of 0.50-15.00 (log-uniform) within 1-3
      consecutive days, mostly ``online_services`` (card testing).
    - ``cash_advance_switch``: a customer with at most one earlier cash advance takes 3-6 ATM
      withdrawals within a week totalling 0.6-1.6x their usual month's spend (at least
      60.00 each on average, each 40.00 up to the largest withdrawal the card allows); made
      only when at least 3 fit and they total at least half the usual month.

    An anomaly is only injected where it posts as a whole: the card must not be frozen, the
    month's ordinary charges must all have posted, and the anomaly must fit in the credit left
    (a spike is shrunk towards its smallest factor, a burst or cash run shortened, to fit).
    When the drawn kind cannot, the next kind (drawn by the remaining shares) is tried; when
    none can, the month gets nothing. So every label's pattern is in the written data, and no
    unlabelled part of an anomaly is. Which months are tried comes from a stream of its own,
    and each anomaly's numbers from a stream keyed on its customer-month, so these do not
    depend on the rate (what fits can: every anomaly moves the balance). At the defaults
    labels.csv holds about 2.7 % of the eligible customer-months, roughly 25 / 19 / 23 / 15 /
    18 % by kind.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from credit_risk.contract import CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS
from credit_risk.generate.realistic import (
    CATEGORIES,
    CHANNELS,
    CUSTOMERS_FILE,
    LABEL_COLUMNS,
    LABELS_FILE,
    REGIONS,
    STATEMENTS_FILE,
    TIERS,
    TRANSACTION_TYPES,
    TRANSACTIONS_FILE,
)
from credit_risk.months import month_range, parse_month

ANOMALY_KINDS = (
    "spend_spike",
    "subtle_spike",
    "new_category_purchase",
    "small_online_burst",
    "cash_advance_switch",
)
ANOMALY_SHARES = (0.25, 0.20, 0.20, 0.15, 0.20)
MIN_HISTORY = 3
"""Months of history before the first month that may get an anomaly."""
SPIKE_FACTOR = (4.05, 7.95)
SUBTLE_FACTOR = (2.55, 2.95)
NEW_CATEGORY_TICKETS = (5.0, 20.0)
NEW_CATEGORY_FLOOR_CENTS = 30_000
BURST_CHARGES = (10, 40)
BURST_CENTS = (50, 1_500)
CASH_SWITCH_WITHDRAWALS = (3, 6)
CASH_SWITCH_SHARE = (0.6, 1.6)
CASH_SWITCH_MIN_SHARE = 0.5
"""A cash switch is labelled only when its withdrawals total at least this share of the
customer's usual month."""

MAX_CUSTOMERS = 9_999_999
_MAX_MONTHS = 1_200
_PURCHASE, _CASH, _REFUND = (TRANSACTION_TYPES.index(name) for name in TRANSACTION_TYPES)
_CASH_CATEGORY = CATEGORIES.index("cash")
_ATM = CHANNELS.index("atm")
_ONLINE = CHANNELS.index("online")
_PURCHASE_CATEGORIES = np.array([i for i, name in enumerate(CATEGORIES) if name != "cash"])

_TAG_NORMAL = 0x484F4C44  # "HOLD": the ordinary behaviour
_TAG_SELECT = 0x53454C45  # "SELE": which customer-months get an anomaly
_TAG_ANOMALY = 0x414E4F4D  # "ANOM": each anomaly's own numbers

# --- customers ---------------------------------------------------------------------------------
_TIER_SHARES = np.array([0.50, 0.32, 0.18])
_MONTHLY_RATE = np.array([0.015, 0.020, 0.025])  # the contract's interest rate per tier
_LIMIT_TIERS = np.array([2_000, 5_000, 10_000, 25_000, 50_000], dtype=np.int64) * 100
# Which limit tiers underwriting grants per credit tier (rows as TIERS).
_ALLOWED_LIMITS = np.array(
    [
        [False, True, True, True, True],
        [True, True, True, True, False],
        [True, True, True, False, False],
    ]
)
_TARGET_SHARE = (np.log(0.09), 0.5)  # lognormal monthly spend / limit the issuer aims for
_MAX_SPEND_SHARE = 0.30
_LIMIT_RAISE_PROBABILITY = 0.01
# Payment styles: full payer, revolver, minimum payer (rows as TIERS).
_STYLE_SHARES = np.array([[0.65, 0.30, 0.05], [0.45, 0.45, 0.10], [0.25, 0.55, 0.20]])
_FULL, _REVOLVE, _MINIMUM = 0, 1, 2
_PAY_SHARE = (0.05, 0.25)
_REVOLVER_PAYS_ALL = 0.08
_MISS_BASE = np.array([0.004, 0.012, 0.035])
_MISS_AGAIN = 0.5
_PARTIAL_WHEN_MISSED = 0.35
_LATE_FEE = 3_500
_MIN_DUE_FLOOR = 2_500
_MIN_DUE_SHARE = 0.02
_CASH_FEE_SHARE, _CASH_FEE_FLOOR = 0.03, 500
_FROZEN_FROM_DPD = 30
_BURN_IN_MONTHS = 12

# --- spending ----------------------------------------------------------------------------------
_RATE_MEAN, _RATE_SHAPE, _RATE_MAX = 15.0, 2.2, 120.0
_TICKET_SPREAD = 0.45
_CATEGORY_FACTOR_SPREAD = 0.35
# Per purchase category: how likely a customer uses it, how much they prefer it, its median
# ticket (dollars), its spread, and channel shares (pos, online, atm, contactless).
_CATEGORY_TABLE = {
    "grocery": (0.95, 1.00, 42.0, 0.50, {"pos": 0.50, "online": 0.05, "contactless": 0.45}),
    "fuel": (0.60, 0.55, 48.0, 0.35, {"pos": 0.55, "contactless": 0.45}),
    "travel": (0.25, 0.20, 210.0, 0.80, {"pos": 0.20, "online": 0.80}),
    "dining": (0.70, 0.70, 26.0, 0.55, {"pos": 0.40, "online": 0.05, "contactless": 0.55}),
    "retail": (0.75, 0.60, 58.0, 0.70, {"pos": 0.40, "online": 0.35, "contactless": 0.25}),
    "utilities": (0.50, 0.25, 85.0, 0.30, {"online": 1.00}),
    "online_services": (0.60, 0.45, 14.0, 0.60, {"online": 1.00}),
    "health": (0.40, 0.25, 45.0, 0.60, {"pos": 0.60, "online": 0.10, "contactless": 0.30}),
    "entertainment": (0.45, 0.35, 30.0, 0.60, {"pos": 0.30, "online": 0.50, "contactless": 0.20}),
}
_MIN_CATEGORIES, _MAX_CATEGORIES = 2, 7
_MIN_PURCHASE = 50
_MAX_PURCHASE_SHARE = 0.25
_REFUND_PROBABILITY = 0.012
_FULL_REFUND = 0.7
_CASH_USER_SHARE = np.array([0.06, 0.10, 0.16])
_CASH_RATE = (0.4, 1.6)
_CASH_MEDIAN = (np.log(14_000), 0.5)
_CASH_NOTE, _MAX_CASH = 2_000, 200_000

# Season per calendar month (Jan..Dec), in units of the customer's December uplift; November
# and January are scaled per customer.
_SEASON_SHAPE = np.array([0.0, -0.1, 0.0, 0.0, 0.03, 0.05, 0.08, 0.06, 0.0, 0.02, 0.0, 1.0])
_DECEMBER_UPLIFT = (0.30, 0.60)
_NOVEMBER_SHARE = (0.25, 0.50)
_JANUARY_SHARE = (0.25, 0.50)
_SEASON_COUNT_ELASTICITY = 0.5  # the rest of the uplift is in ticket size
_TREND_SPREAD = 0.008
_CATEGORY_SEASON = {
    "retail": {11: 1.3, 12: 1.7},
    "travel": {7: 1.4, 8: 1.4, 12: 1.3},
    "entertainment": {12: 1.3},
    "utilities": {1: 1.2, 2: 1.2},
}
_BURST_CATEGORIES = (("online_services", 0.6), ("entertainment", 0.2), ("retail", 0.2))


def _category_arrays() -> tuple[np.ndarray, ...]:
    names = [CATEGORIES[i] for i in _PURCHASE_CATEGORIES]
    rows = [_CATEGORY_TABLE[name] for name in names]
    include = np.array([row[0] for row in rows])
    preference = np.array([row[1] for row in rows])
    median = np.array([row[2] for row in rows]) * 100
    spread = np.array([row[3] for row in rows])
    channels = np.array([[row[4].get(channel, 0.0) for channel in CHANNELS] for row in rows])
    season = np.ones((12, len(names)))
    for name, months in _CATEGORY_SEASON.items():
        for month, factor in months.items():
            season[month - 1, names.index(name)] = factor
    return include, preference, median, spread, np.cumsum(channels, axis=1), season


_INCLUDE, _PREFERENCE, _MEDIAN_CENTS, _SPREAD, _CHANNEL_CDF, _CATEGORY_SEASON_FACTOR = (
    _category_arrays()
)
_N_PURCHASE_CATEGORIES = len(_PURCHASE_CATEGORIES)


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


def generate_holdout(
    folder: Path,
    *,
    customers: int = 2000,
    months: int = 12,
    seed: int = 1,
    start: str = "2024-01",
    anomaly_rate: float = 0.03,
) -> dict[str, int]:
    """Write the hold-out extract (three files) and its labels.csv into ``folder``.

    Args:
        folder: Directory to write into; created when missing. Existing files are replaced.
        customers: Number of customers (ids C0000001 upwards).
        months: Number of statement months.
        seed: Non-negative seed; the same arguments give the same bytes.
        start: First statement month, YYYY-MM.
        anomaly_rate: Share of the customer-months after the first ``MIN_HISTORY`` that get an
            anomaly attempt; attempts that cannot post are not made (see the module docstring),
            so labels.csv holds a little less than this share.

    Returns:
        Data rows written (header excluded) per file name.

    Raises:
        ValueError: a size, the seed or the rate is out of range, or ``start`` is not YYYY-MM.
    """
    if not 0 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 0 and {MAX_CUSTOMERS}, got {customers}")
    if not 1 <= months <= _MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {_MAX_MONTHS}, got {months}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not 0.0 <= anomaly_rate <= 1.0:
        raise ValueError(f"anomaly_rate must be between 0 and 1, got {anomaly_rate}")
    cal = _calendar(start, months)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = _simulate(customers, cal, seed, anomaly_rate)
    names = (CUSTOMERS_FILE, STATEMENTS_FILE, TRANSACTIONS_FILE, LABELS_FILE)
    headers = (CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS, list(LABEL_COLUMNS))
    counts = {}
    for name, header, frame in zip(names, headers, frames, strict=True):
        _write_csv(frame, header, folder / name)
        counts[name] = len(frame)
    return counts


# --- simulation --------------------------------------------------------------------------------


def _calendar(start: str, months: int) -> _Calendar:
    names = month_range(start, months)
    parts = [parse_month(name) for name in names]
    return _Calendar(
        months=names,
        month_of_year=np.array([mon - 1 for _, mon in parts], dtype=np.int64),
        days=np.array([calendar.monthrange(year, mon)[1] for year, mon in parts], dtype=np.int64),
        yyyymm=np.array([year * 100 + mon for year, mon in parts], dtype=np.int64),
        first_day=np.array([f"{name}-01" for name in names], dtype="datetime64[D]"),
    )


def _simulate(
    count: int, cal: _Calendar, seed: int, anomaly_rate: float
) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng([seed, _TAG_NORMAL])
    people = _draw_customers(rng, count, cal)
    candidates = _draw_candidates(rng, people, cal)
    selected = np.random.default_rng([seed, _TAG_SELECT]).random((count, len(cal.months)))
    selected = selected < anomaly_rate
    selected[:, :MIN_HISTORY] = False
    accounts, posted, labels = _run_months(rng, people, candidates, cal, selected, seed)
    numbers = np.arange(1, count + 1, dtype=np.int64)
    return (
        _customers_frame(numbers, people),
        _statements_frame(numbers, accounts, cal),
        _transactions_frame(numbers, posted, cal),
        _labels_frame(numbers, labels, cal),
    )


def _pick(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Index drawn from cumulative weights (the last row axis), one per uniform."""
    return np.minimum((uniform[..., None] * cdf[..., -1:] >= cdf).sum(axis=-1), cdf.shape[-1] - 1)


def _draw_customers(rng: np.random.Generator, count: int, cal: _Calendar) -> _Customers:
    tier = _pick(np.cumsum(_TIER_SHARES), rng.random(count))
    region = rng.integers(0, len(REGIONS), count)
    age_days = rng.integers(31, 3651, count)
    opened = cal.first_day[0] - age_days.astype("timedelta64[D]")
    due_day = rng.integers(20, 28, count)
    style = _pick(np.cumsum(_STYLE_SHARES, axis=1)[tier], rng.random(count))
    pay_share = rng.uniform(*_PAY_SHARE, count)
    miss_base = _MISS_BASE[tier] * np.exp(rng.normal(0.0, 0.5, count))
    rate = np.minimum(rng.gamma(_RATE_SHAPE, _RATE_MEAN / _RATE_SHAPE, count), _RATE_MAX)

    # Season: per customer December uplift, November and January as shares of it.
    uplift = rng.uniform(*_DECEMBER_UPLIFT, count)
    shape = np.tile(_SEASON_SHAPE, (count, 1))
    shape[:, 10] = rng.uniform(*_NOVEMBER_SHARE, count)
    shape[:, 0] = -rng.uniform(*_JANUARY_SHARE, count)
    season = 1.0 + uplift[:, None] * shape
    trend = rng.normal(0.0, _TREND_SPREAD, count)

    # Personal categories: the lowest scores are used, between 2 and 7 of them.
    score = rng.random((count, _N_PURCHASE_CATEGORIES)) / _INCLUDE
    rank = np.argsort(np.argsort(score, axis=1), axis=1)
    subset = ((score < 1.0) | (rank < _MIN_CATEGORIES)) & (rank < _MAX_CATEGORIES)
    weights = rng.gamma(1.5, 1.0, (count, _N_PURCHASE_CATEGORIES)) * _PREFERENCE * subset
    weights /= weights.sum(axis=1, keepdims=True)
    seasonal = weights[:, None, :] * _CATEGORY_SEASON_FACTOR[None, :, :]
    cdf = np.cumsum(seasonal, axis=2)
    category_factor = np.exp(rng.normal(0.0, _CATEGORY_FACTOR_SPREAD, weights.shape))
    ticket = np.exp(rng.normal(0.0, _TICKET_SPREAD, count))
    mean_ticket = (weights * _MEDIAN_CENTS * category_factor * np.exp(_SPREAD**2 / 2)).sum(axis=1)

    # Underwriting: the smallest allowed limit the expected spend is a target share of.
    expected = rate * ticket * mean_ticket
    target = np.clip(np.exp(rng.normal(*_TARGET_SHARE, count)), 0.025, _MAX_SPEND_SHARE)
    allowed = _ALLOWED_LIMITS[tier]
    big_enough = allowed & (_LIMIT_TIERS[None, :] >= (expected / target)[:, None])
    highest = np.where(allowed, np.arange(len(_LIMIT_TIERS)), -1).max(axis=1)
    choice = np.where(big_enough.any(axis=1), big_enough.argmax(axis=1), highest)
    bump = (rng.random(count) < 0.2) & (choice < highest)
    choice = choice + bump
    limit = _LIMIT_TIERS[choice]
    shrink = np.minimum(1.0, _MAX_SPEND_SHARE * limit / np.maximum(expected, 1.0))
    ticket *= shrink
    expected *= shrink

    cash_user = rng.random(count) < _CASH_USER_SHARE[tier]
    cash_rate = np.where(cash_user, rng.uniform(*_CASH_RATE, count), 0.0)
    cash_median = np.exp(rng.normal(*_CASH_MEDIAN, count))
    return _Customers(
        tier=tier,
        region=region,
        opened=opened,
        due_day=due_day,
        style=style,
        pay_share=pay_share,
        miss_base=miss_base,
        rate=rate,
        season=season,
        trend=trend,
        subset=subset,
        cdf=cdf,
        weights=weights,
        category_factor=category_factor,
        ticket=ticket,
        limit=limit,
        expected_spend=expected,
        cash_rate=cash_rate,
        cash_median=cash_median,
    )


def _draw_candidates(rng: np.random.Generator, people: _Customers, cal: _Calendar) -> _Candidates:
    count, months = people.rate.size, len(cal.months)
    season = people.season[:, cal.month_of_year]  # customer x extract month
    elapsed = np.arange(months)
    trend = np.exp(people.trend[:, None] * elapsed[None, :])
    lam = people.rate[:, None] * season**_SEASON_COUNT_ELASTICITY
    purchases = rng.poisson(lam)
    cash = rng.poisson(people.cash_rate[:, None] * season**0.3)
    total = purchases + cash
    # month-major so each month is one slice
    n_purchase = purchases.T.ravel()
    n_total = total.T.ravel()
    rows = int(n_total.sum())
    month = np.repeat(np.repeat(elapsed, count), n_total)
    customer = np.repeat(np.tile(np.arange(count), months), n_total)
    # within each customer-month the purchases come first, then the cash advances
    first = np.repeat(np.cumsum(n_total) - n_total, n_total)
    is_cash = (np.arange(rows) - first) >= np.repeat(n_purchase, n_total)
    kind = np.where(is_cash, _CASH, _PURCHASE)

    moy = cal.month_of_year[month]
    category_index = _pick(people.cdf[customer, moy], rng.random(rows))
    z = rng.normal(0.0, 1.0, rows)
    ticket_multiplier = (season ** (1 - _SEASON_COUNT_ELASTICITY) * trend)[customer, month]
    purchase_cents = (
        _MEDIAN_CENTS[category_index]
        * people.ticket[customer]
        * people.category_factor[customer, category_index]
        * ticket_multiplier
        * np.exp(_SPREAD[category_index] * z)
    )
    cash_cents = people.cash_median[customer] * np.exp(0.4 * z)
    cash_cents = np.maximum(np.rint(cash_cents / _CASH_NOTE), 1) * _CASH_NOTE
    amount = np.where(is_cash, cash_cents, np.maximum(np.rint(purchase_cents), _MIN_PURCHASE))
    channel = _pick(_CHANNEL_CDF[category_index], rng.random(rows))
    days = cal.days[month]
    day = (rng.random(rows) * days).astype(np.int64) + 1
    key = rng.random(rows)
    refunded = (~is_cash) & (rng.random(rows) < _REFUND_PROBABILITY)
    refund_day = day + rng.integers(1, 11, rows)
    refund_day = np.where(refunded & (refund_day <= days), refund_day, 0)
    refund_share = np.where(rng.random(rows) < _FULL_REFUND, 1.0, rng.uniform(0.2, 0.9, rows))

    order = np.lexsort((key, day, customer, month))
    bounds = np.searchsorted(month[order], np.arange(months + 1))
    return _Candidates(
        month=month[order],
        customer=customer[order],
        day=day[order],
        key=key[order],
        amount=amount[order].astype(np.int64),
        kind=kind[order],
        category=np.where(is_cash, _CASH_CATEGORY, _PURCHASE_CATEGORIES[category_index])[order],
        channel=np.where(is_cash, _ATM, channel)[order],
        refund_day=refund_day[order],
        refund_share=refund_share[order],
        bounds=bounds,
    )


def _max_purchase(limit: np.ndarray) -> np.ndarray:
    return (limit * _MAX_PURCHASE_SHARE).astype(np.int64)


def _max_withdrawal(limit: np.ndarray) -> np.ndarray:
    allowed = np.minimum(_MAX_CASH, (limit * _MAX_PURCHASE_SHARE).astype(np.int64))
    return allowed // _CASH_NOTE * _CASH_NOTE


def _payments(
    rng: np.random.Generator,
    people: _Customers,
    opening: np.ndarray,
    minimum_due: np.ndarray,
    dpd: np.ndarray,
) -> np.ndarray:
    """What each customer pays this month against the previous statement."""
    count = opening.size
    u_miss, u_all, u_partial, u_share = (rng.random(count) for _ in range(4))
    noise = np.exp(rng.normal(0.0, 0.25, count))
    owed = (opening > 0) & (minimum_due > 0)
    miss = owed & (u_miss < np.where(dpd > 0, _MISS_AGAIN, people.miss_base))
    revolve = np.maximum(minimum_due, np.rint(people.pay_share * opening * noise))
    revolve = np.where(u_all < _REVOLVER_PAYS_ALL, opening, revolve)
    pay = np.select(
        [people.style == _FULL, people.style == _REVOLVE], [opening, revolve], minimum_due
    )
    partial = np.rint(minimum_due * (0.1 + 0.8 * u_share))
    pay = np.where(miss, np.where(u_partial < _PARTIAL_WHEN_MISSED, partial, 0), pay)
    return np.where(opening > 0, np.clip(pay, 0, np.maximum(opening, 0)), 0).astype(np.int64)


def _interest_and_late_fee(
    people: _Customers, opening: np.ndarray, previous_minimum: np.ndarray, payment: np.ndarray
) -> np.ndarray:
    """The month's interest (on the unpaid part of a positive opening balance) and late fee
    (payment below the previous minimum due): known once the payment is."""
    unpaid = opening - payment
    interest = np.where(
        (opening > 0) & (unpaid > 0), np.rint(_MONTHLY_RATE[people.tier] * unpaid), 0
    )
    return (interest + np.where(payment < previous_minimum, _LATE_FEE, 0)).astype(np.int64)


def _cash_fee(cents: np.ndarray) -> np.ndarray:
    return np.maximum(_CASH_FEE_FLOOR, np.rint(_CASH_FEE_SHARE * cents)).astype(np.int64)


def _close(
    people: _Customers,
    opening: np.ndarray,
    previous_minimum: np.ndarray,
    previous_dpd: np.ndarray,
    payment: np.ndarray,
    moved: np.ndarray,
    cash_fees: np.ndarray,
    days_in_month: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closing balance, minimum due and days past due of the month (the contract's rules)."""
    short = payment < previous_minimum
    fees = _interest_and_late_fee(people, opening, previous_minimum, payment) + cash_fees
    closing = opening + moved + fees - payment
    minimum = np.minimum(
        closing, np.maximum(_MIN_DUE_FLOOR, np.rint(_MIN_DUE_SHARE * closing) + fees)
    )
    minimum = np.where(closing > 0, minimum, 0).astype(np.int64)
    first_miss = days_in_month - people.due_day
    dpd = np.where(short, np.where(previous_dpd > 0, previous_dpd + days_in_month, first_miss), 0)
    return closing.astype(np.int64), minimum, dpd.astype(np.int64)


def _burn_in(
    rng: np.random.Generator, people: _Customers, cal: _Calendar
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balances, minimum due and days past due at the end of the month before the extract,
    after a year of aggregate spending from a rough steady state."""
    count = people.rate.size
    limit = people.limit.astype(np.float64)
    share = people.expected_spend / limit
    revolver_level = np.minimum(share / np.maximum(people.pay_share - 0.02, 0.02), 1.0)
    level = np.select(
        [people.style == _FULL, people.style == _REVOLVE],
        [share, revolver_level],
        rng.uniform(0.6, 0.95, count),
    )
    closing = np.rint(limit * level * rng.uniform(0.6, 1.1, count)).astype(np.int64)
    minimum = np.where(
        closing > 0, np.minimum(closing, np.maximum(_MIN_DUE_FLOOR, np.rint(0.02 * closing))), 0
    ).astype(np.int64)
    dpd = np.zeros(count, dtype=np.int64)
    first_moy = int(cal.month_of_year[0])
    for back in range(_BURN_IN_MONTHS, 0, -1):
        moy = (first_moy - back) % 12
        payment = _payments(rng, people, closing, minimum, dpd)
        available = people.limit - (closing - payment)
        available -= _interest_and_late_fee(people, closing, minimum, payment)
        wanted = people.expected_spend * people.season[:, moy] * np.exp(rng.normal(0, 0.25, count))
        spend = np.where(dpd >= _FROZEN_FROM_DPD, 0, np.clip(np.rint(wanted), 0, available))
        closing, minimum, dpd = _close(
            people, closing, minimum, dpd, payment, spend.astype(np.int64), 0, 30
        )
    return closing, minimum, dpd


def _authorise(
    customer: np.ndarray, amount: np.ndarray, available: np.ndarray, frozen: np.ndarray
) -> np.ndarray:
    """Which charges post: in order, each if it fits in what is left of the available credit
    (a declined charge is skipped; a later smaller one may still post). Rows are sorted by
    customer, then time."""
    count = available.size
    posted = ~frozen[customer]
    wanted = np.bincount(customer[posted], amount[posted], minlength=count)
    tight = (wanted > available) & ~frozen
    rows = np.flatnonzero(tight[customer])
    if rows.size == 0:
        return posted
    group_start = np.r_[0, np.flatnonzero(np.diff(customer[rows])) + 1]
    sizes = np.diff(np.r_[group_start, rows.size])
    position = np.arange(rows.size) - np.repeat(group_start, sizes)
    by_position = rows[np.argsort(position, kind="stable")]
    edges = np.r_[0, np.cumsum(np.bincount(position))]
    used = np.zeros(count, dtype=np.int64)
    for k in range(edges.size - 1):
        batch = by_position[edges[k] : edges[k + 1]]
        who = customer[batch]
        fits = used[who] + amount[batch] <= available[who]
        posted[batch] = fits
        used[who[fits]] += amount[batch[fits]]
    return posted


@dataclass
class _History:
    """What the anomaly recipes need to know about a customer's earlier months."""

    spend: np.ndarray  # customer x month: net spend, cents
    anomalous: np.ndarray  # customer x month
    used: np.ndarray  # customer x category: ever posted
    cash_count: np.ndarray  # customer: cash advances posted so far
    purchases: list[tuple[np.ndarray, np.ndarray]]  # per month: (customer, cents) of normal months


def _run_months(
    rng: np.random.Generator,
    people: _Customers,
    candidates: _Candidates,
    cal: _Calendar,
    selected: np.ndarray,
    seed: int,
) -> tuple[_Accounts, _Posted, pd.DataFrame]:
    count, months = people.rate.size, len(cal.months)
    closing, minimum, dpd = _burn_in(rng, people, cal)
    limit = people.limit.copy()
    shape = (count, months)
    accounts = _Accounts(*(np.zeros(shape, dtype=np.int64) for _ in range(5)))
    history = _History(
        spend=np.zeros(shape, dtype=np.int64),
        anomalous=np.zeros(shape, dtype=bool),
        used=np.zeros((count, len(CATEGORIES)), dtype=bool),
        cash_count=np.zeros(count, dtype=np.int64),
        purchases=[],
    )
    posted_parts: list[_Posted] = []
    labels: list[tuple[int, int, int]] = []
    for m in range(months):
        raise_limit = (
            (dpd == 0)
            & (closing >= 0.3 * limit)
            & (limit < _LIMIT_TIERS[-1])
            & (rng.random(count) < _LIMIT_RAISE_PROBABILITY)
        )
        limit = np.where(
            raise_limit,
            _LIMIT_TIERS[
                np.minimum(np.searchsorted(_LIMIT_TIERS, limit) + 1, _LIMIT_TIERS.size - 1)
            ],
            limit,
        )
        payment = _payments(rng, people, closing, minimum, dpd)
        frozen = dpd >= _FROZEN_FROM_DPD
        # The issuer keeps room for the month's interest and fees: only a card that is already
        # full (or frozen) ends a month above its limit.
        available = (
            limit - (closing - payment) - _interest_and_late_fee(people, closing, minimum, payment)
        )

        rows = slice(candidates.bounds[m], candidates.bounds[m + 1])
        who = candidates.customer[rows]
        kind = candidates.kind[rows]
        cap = np.where(kind == _CASH, _max_withdrawal(limit)[who], _max_purchase(limit)[who])
        amount = np.minimum(candidates.amount[rows], cap)
        keep = amount >= np.where(kind == _CASH, _CASH_NOTE, _MIN_PURCHASE)
        cost = np.where(kind == _CASH, amount + _cash_fee(amount), amount)
        posted = _authorise(who, np.where(keep, cost, 0), available, frozen) & keep
        charged = np.bincount(who[posted], cost[posted], minlength=count).astype(np.int64)
        declined = np.bincount(who[~posted], minlength=count) > 0

        part = _Posted(
            customer=who[posted],
            month=np.full(int(posted.sum()), m),
            day=candidates.day[rows][posted],
            key=candidates.key[rows][posted],
            amount=amount[posted],
            kind=kind[posted],
            category=candidates.category[rows][posted],
            channel=candidates.channel[rows][posted],
        )
        refund_day = candidates.refund_day[rows][posted]
        refunds = refund_day > 0
        refund = _Posted(
            customer=part.customer[refunds],
            month=part.month[refunds],
            day=refund_day[refunds],
            key=part.key[refunds],
            amount=-np.maximum(
                np.rint(part.amount[refunds] * candidates.refund_share[rows][posted][refunds]), 1
            ).astype(np.int64),
            kind=np.full(int(refunds.sum()), _REFUND),
            category=part.category[refunds],
            channel=part.channel[refunds],
        )
        normal = _concat([part, refund])
        net = np.bincount(normal.customer, normal.amount, minlength=count).astype(np.int64)

        eligible = selected[:, m] & ~frozen & ~declined
        injected = _inject(
            people, cal, m, np.flatnonzero(eligible), limit, available - charged, net, history, seed
        )
        for customer, kind_index, _ in injected:
            labels.append((customer, m, kind_index))
            history.anomalous[customer, m] = True
        month_posted = _concat([normal, *(txns for _, _, txns in injected)])

        moved = np.bincount(month_posted.customer, month_posted.amount, minlength=count)
        is_cash = month_posted.kind == _CASH
        fee = _cash_fee(month_posted.amount[is_cash])
        cash_fees = np.bincount(month_posted.customer[is_cash], fee, minlength=count)
        previous_minimum, previous_dpd, opening = minimum, dpd, closing
        closing, minimum, dpd = _close(
            people,
            opening,
            previous_minimum,
            previous_dpd,
            payment,
            moved.astype(np.int64),
            cash_fees.astype(np.int64),
            int(cal.days[m]),
        )
        accounts.limit[:, m] = limit
        accounts.closing[:, m] = closing
        accounts.payment[:, m] = payment
        accounts.minimum_due[:, m] = minimum
        accounts.days_past_due[:, m] = dpd

        history.spend[:, m] = moved
        history.used[month_posted.customer, month_posted.category] = True
        history.cash_count += np.bincount(month_posted.customer[is_cash], minlength=count)
        normal_month = ~history.anomalous[part.customer, m] & (part.kind == _PURCHASE)
        history.purchases.append((part.customer[normal_month], part.amount[normal_month]))
        posted_parts.append(month_posted)
    label_frame = pd.DataFrame(labels, columns=["customer", "month", "kind"])
    return accounts, _concat(posted_parts), label_frame


def _concat(parts: list[_Posted]) -> _Posted:
    names = _Posted.__dataclass_fields__
    return _Posted(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in names})


# --- anomalies ---------------------------------------------------------------------------------


def _usual(history: _History, customers: np.ndarray, month: int) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's usual month (median net spend of earlier normal months) and usual
    ticket (median of the purchases of those months; NaN without any)."""
    spend = history.spend[customers, :month].astype(np.float64)
    spend[history.anomalous[customers, :month]] = np.nan
    usual_month = np.nanmedian(spend, axis=1)
    lookup = np.full(history.spend.shape[0], -1, dtype=np.int64)
    lookup[customers] = np.arange(customers.size)
    who = np.concatenate([c for c, _ in history.purchases[:month]])
    cents = np.concatenate([a for _, a in history.purchases[:month]])
    mine = lookup[who] >= 0
    frame = pd.DataFrame({"row": lookup[who[mine]], "cents": cents[mine]})
    ticket = frame.groupby("row")["cents"].median().reindex(range(customers.size)).to_numpy()
    return usual_month, ticket


def _inject(
    people: _Customers,
    cal: _Calendar,
    month: int,
    customers: np.ndarray,
    limit: np.ndarray,
    headroom: np.ndarray,
    net: np.ndarray,
    history: _History,
    seed: int,
) -> list[tuple[int, int, _Posted]]:
    """The anomalies injected this month: (customer, kind index, their transactions)."""
    if customers.size == 0:
        return []
    usual_month, ticket = _usual(history, customers, month)
    days = int(cal.days[month])
    shares = np.array(ANOMALY_SHARES)
    out = []
    for row, customer in enumerate(customers):
        rng = np.random.default_rng([seed, _TAG_ANOMALY, int(customer), month])
        order = rng.choice(len(ANOMALY_KINDS), size=len(ANOMALY_KINDS), replace=False, p=shares)
        context = _Context(
            rng=rng,
            customer=int(customer),
            month=month,
            days=days,
            limit=int(limit[customer]),
            headroom=int(headroom[customer]),
            net=int(net[customer]),
            usual_month=float(usual_month[row]),
            ticket=float(ticket[row]),
            weights=people.weights[customer],
            new_categories=~history.used[customer, _PURCHASE_CATEGORIES] & ~people.subset[customer],
            cash_count=int(history.cash_count[customer]),
        )
        for kind_index in order:
            txns = _RECIPES[kind_index](context)
            if txns is not None:
                out.append((int(customer), int(kind_index), txns))
                break
    return out


@dataclass
class _Context:
    rng: np.random.Generator
    customer: int
    month: int
    days: int
    limit: int
    headroom: int  # credit left after the month's ordinary charges
    net: int  # the month's ordinary net spend
    usual_month: float
    ticket: float
    weights: np.ndarray
    new_categories: np.ndarray  # over the purchase categories
    cash_count: int

    def transactions(
        self, day: np.ndarray, cents: np.ndarray, kind: int, category: np.ndarray, channel
    ) -> _Posted:
        size = cents.size
        return _Posted(
            customer=np.full(size, self.customer),
            month=np.full(size, self.month),
            day=np.asarray(day, dtype=np.int64),
            key=self.rng.random(size),
            amount=np.asarray(cents, dtype=np.int64),
            kind=np.full(size, kind),
            category=np.broadcast_to(np.asarray(category), (size,)).copy(),
            channel=np.broadcast_to(np.asarray(channel), (size,)).copy(),
        )

    def window(self, size: int, low: int, high: int) -> np.ndarray:
        """``size`` days within ``low``-``high`` consecutive days of the month."""
        width = min(int(self.rng.integers(low, high + 1)), self.days)
        first = int(self.rng.integers(1, self.days - width + 2))
        return first + self.rng.integers(0, width, size)


def _spike(context: _Context, factor: tuple[float, float]) -> _Posted | None:
    usual = context.usual_month
    if not usual >= 5_000:  # NaN too: no usual month to be a multiple of
        return None
    rng = context.rng
    low, high = factor
    most = (context.net + 0.999 * context.headroom) / usual
    if most < low:
        return None
    chosen = rng.uniform(low, min(high, most))
    extra = int(np.rint(chosen * usual)) - context.net
    if extra <= 0:
        return None
    cap = int(context.limit * _MAX_PURCHASE_SHARE)
    piece = (context.ticket if context.ticket == context.ticket else usual / 10) * rng.uniform(
        1.5, 4
    )
    pieces = int(np.clip(np.ceil(extra / max(piece, 1_000)), 2, 40))
    pieces = max(pieces, int(np.ceil(extra * 1.9 / cap)))
    if pieces > 80:
        return None
    weight = rng.uniform(0.7, 1.3, pieces)
    cents = np.floor(weight / weight.sum() * extra).astype(np.int64)
    cents[np.argmin(cents)] += extra - cents.sum()
    if cents.min() < _MIN_PURCHASE or cents.max() > cap:
        return None
    category_index = _pick(np.cumsum(context.weights), rng.random(pieces))
    channel = _pick(_CHANNEL_CDF[category_index], rng.random(pieces))
    day = context.window(pieces, 3, 10)
    return context.transactions(
        day, cents, _PURCHASE, _PURCHASE_CATEGORIES[category_index], channel
    )


def _new_category(context: _Context) -> _Posted | None:
    ticket = context.ticket
    choices = np.flatnonzero(context.new_categories)
    if not ticket > 0 or choices.size == 0:
        return None
    rng = context.rng
    floor = max(NEW_CATEGORY_TICKETS[0] * ticket, NEW_CATEGORY_FLOOR_CENTS)
    wanted = max(rng.uniform(*NEW_CATEGORY_TICKETS) * ticket, rng.uniform(30_000, 80_000))
    cents = int(np.rint(min(wanted, context.limit * _MAX_PURCHASE_SHARE, context.headroom)))
    if cents < floor:
        return None
    category_index = int(rng.choice(choices))
    channel = _pick(_CHANNEL_CDF[category_index], rng.random(1))
    return context.transactions(
        rng.integers(1, context.days + 1, 1),
        np.array([cents]),
        _PURCHASE,
        _PURCHASE_CATEGORIES[category_index],
        channel,
    )


def _burst(context: _Context) -> _Posted | None:
    rng = context.rng
    size = int(rng.integers(BURST_CHARGES[0], BURST_CHARGES[1] + 1))
    low, high = np.log(BURST_CENTS[0]), np.log(BURST_CENTS[1])
    cents = np.rint(np.exp(rng.uniform(low, high, size))).astype(np.int64)
    fits = np.cumsum(cents) <= context.headroom
    if fits.sum() < BURST_CHARGES[0]:
        return None
    cents = cents[fits]
    names, shares = zip(*_BURST_CATEGORIES, strict=True)
    category = np.array([CATEGORIES.index(name) for name in names])
    chosen = category[_pick(np.cumsum(shares), rng.random(cents.size))]
    return context.transactions(context.window(cents.size, 1, 3), cents, _PURCHASE, chosen, _ONLINE)


def _cash_switch(context: _Context) -> _Posted | None:
    usual = context.usual_month
    if context.cash_count > 1 or not usual >= 0:
        return None
    rng = context.rng
    largest = int(_max_withdrawal(np.array([context.limit]))[0])
    size = int(rng.integers(CASH_SWITCH_WITHDRAWALS[0], CASH_SWITCH_WITHDRAWALS[1] + 1))
    total = max(rng.uniform(*CASH_SWITCH_SHARE) * usual, size * 6_000)
    each = total / size * rng.uniform(0.75, 1.25, size)
    cents = np.clip(np.rint(each / _CASH_NOTE) * _CASH_NOTE, 2 * _CASH_NOTE, largest)
    cents = cents.astype(np.int64)
    cents = cents[np.cumsum(cents + _cash_fee(cents)) <= context.headroom]
    if cents.size < CASH_SWITCH_WITHDRAWALS[0] or cents.sum() < CASH_SWITCH_MIN_SHARE * usual:
        return None
    return context.transactions(
        context.window(cents.size, 2, 7), cents, _CASH, _CASH_CATEGORY, _ATM
    )


_RECIPES = (
    lambda context: _spike(context, SPIKE_FACTOR),
    lambda context: _spike(context, SUBTLE_FACTOR),
    _new_category,
    _burst,
    _cash_switch,
)


# --- output ------------------------------------------------------------------------------------
# Values are formatted by arrow from integers (exact, and fast on millions of rows) and written
# without quoting: no value of the contract ever needs it.


def _text(numbers: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded ids such as C0000001."""
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(_text(numbers), width, "0"), "")


def _money(cents: np.ndarray) -> pa.Array:
    """Whole cents as text with two decimals, e.g. -1234.50."""
    cents = np.asarray(cents, dtype=np.int64)
    magnitude = np.abs(cents)
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    fraction = pc.utf8_lpad(_text(magnitude % 100), 2, "0")
    return pc.binary_join_element_wise(sign, _text(magnitude // 100), ".", fraction, "")


def _names(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(values, pa.string()), pa.array(np.asarray(index, dtype=np.int64)))


def _dates(days: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(days.astype("datetime64[D]")), pa.string())


def _customers_frame(numbers: np.ndarray, people: _Customers) -> pa.Table:
    return pa.table(
        {
            "customer_id": _ids("C", numbers, 7),
            "opened_date": _dates(people.opened),
            "credit_tier": _names(TIERS, people.tier),
            "region": _names(REGIONS, people.region),
        }
    )


def _statements_frame(numbers: np.ndarray, accounts: _Accounts, cal: _Calendar) -> pa.Table:
    months = len(cal.months)
    return pa.table(
        {
            "customer_id": _ids("C", np.repeat(numbers, months), 7),
            "statement_month": _names(tuple(cal.months), np.tile(np.arange(months), numbers.size)),
            "credit_limit": _money(accounts.limit.ravel()),
            "outstanding_balance": _money(accounts.closing.ravel()),
            "payment_amount": _money(accounts.payment.ravel()),
            "minimum_due": _money(accounts.minimum_due.ravel()),
            "days_past_due": _text(accounts.days_past_due.ravel()),
        }
    )


def _transactions_frame(numbers: np.ndarray, posted: _Posted, cal: _Calendar) -> pa.Table:
    """Sorted by customer, date and id; ids number each customer-month 1.. in date order:
    T + YYYYMM + customer number (7 digits) + sequence (4 digits)."""
    order = np.lexsort((posted.key, posted.day, posted.month, posted.customer))
    customer, month = posted.customer[order], posted.month[order]
    group = customer * len(cal.months) + month
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0]) if group.size else group
    sizes = np.diff(np.r_[starts, group.size])
    sequence = np.arange(group.size) - np.repeat(starts, sizes) + 1
    number = numbers[customer]
    id_number = (cal.yyyymm[month] * 10_000_000 + number) * 10_000 + sequence
    dates = cal.first_day[month] + (posted.day[order] - 1).astype("timedelta64[D]")
    return pa.table(
        {
            "transaction_id": _ids("T", id_number, 17),
            "customer_id": _ids("C", number, 7),
            "transaction_date": _dates(dates),
            "amount": _money(posted.amount[order]),
            "transaction_type": _names(TRANSACTION_TYPES, posted.kind[order]),
            "merchant_category": _names(CATEGORIES, posted.category[order]),
            "channel": _names(CHANNELS, posted.channel[order]),
        }
    )


def _labels_frame(numbers: np.ndarray, labels: pd.DataFrame, cal: _Calendar) -> pa.Table:
    labels = labels.sort_values(["customer", "month"])
    return pa.table(
        {
            "customer_id": _ids("C", numbers[labels["customer"].to_numpy(np.int64)], 7),
            "month": _names(tuple(cal.months), labels["month"].to_numpy(np.int64)),
            "anomaly_type": _names(ANOMALY_KINDS, labels["kind"].to_numpy(np.int64)),
        }
    )


def _write_csv(table: pa.Table, header: list[str], path: Path) -> None:
    """The header, then the rows: comma-separated, ``\\n`` line ends, nothing quoted."""
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none", eol="\n")
    pacsv.write_csv(table.select(header), path, options)
