"""The injected anomalies, the ground truth of ``labels.csv``: spend spikes (clear and subtle),
large purchases, small online bursts and cash-advance jumps, each sized in the customer's own
usual spending, drawn from a stream of its own so the normal data never changes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from credit_risk.generate.realistic.parameters import (
    _ANOMALY_TYPE_U,
    _ATM_CHANNEL,
    _CASH_CATEGORY,
    _CASH_FEE_FLOOR_CENTS,
    _CASH_FEE_SHARE,
    _CHANNEL_CDF,
    _MAX_BASKET_SHARE,
    _MAX_CASH_NOTES,
    _SELECT_U,
    CASH_ADVANCE,
    CATEGORIES,
    CHANNELS,
    PURCHASE,
)
from credit_risk.generate.realistic.state import _Calendar, _Draws, _pick, _Profile, _Transactions

# --- injected anomalies: the ground truth of labels.csv -----------------------------------------
SPEND_SPIKE, SMALL_ONLINE_BURST, CASH_ADVANCE_JUMP, SUBTLE_SPIKE, LARGE_PURCHASE = range(5)
ANOMALY_TYPES = (
    "spend_spike",
    "small_online_burst",
    "cash_advance_jump",
    "subtle_spike",
    "large_purchase",
)
_ANOMALY_TYPE_CDF = np.cumsum([0.28, 0.16, 0.16, 0.20, 0.20])
_ANOMALY_TYPE_CDF[-1] = 1.0
ANOMALY_MIN_HISTORY = 3  # months of normal history before the first injected anomaly
_NOT_INJECTED = -1
# Spend spike: a few big-ticket purchases within days (a splurge, or a taken-over card), adding
# 3..7 times the customer's usual month, so the month is about 4..8x usual: for small spenders
# far below any share of the limit, for big ones above it.
_SPIKE_PURCHASES = (2, 5)
_SPIKE_EXTRA_USUAL = (3.0, 7.0)
_SPIKE_CATEGORIES = np.array([CATEGORIES.index("travel"), CATEGORIES.index("retail")])
_SPIKE_WINDOW_DAYS = 3
# Subtle spike: the month's usual spending plus 1.5..2x more, spread over the month in
# ordinary categories (a month about 2.5..3x usual): hard on purpose.
_SUBTLE_PURCHASES = (3, 6)
_SUBTLE_EXTRA_USUAL = (1.5, 2.0)
_SUBTLE_CATEGORIES = np.array(
    [CATEGORIES.index(name) for name in ("grocery", "dining", "retail", "entertainment")]
)
# Large purchase: one purchase of 8..25 of the customer's usual baskets.
_LARGE_BASKETS = (8.0, 25.0)
_LARGE_CATEGORIES = np.array(
    [CATEGORIES.index(name) for name in ("travel", "retail", "health", "entertainment")]
)
# Small online burst: card testing, many tiny online charges within a day or two.
_BURST_TRANSACTIONS = (15, 40)
_BURST_CENTS = (100, 999)
_BURST_CATEGORIES = np.array([CATEGORIES.index("online_services"), CATEGORIES.index("retail")])
_BURST_WINDOW_DAYS = 2
# Cash-advance jump: several ATM withdrawals within a week, where one is usual at most.
_CASH_JUMP_WITHDRAWALS = (3, 5)
_CASH_JUMP_CAP_SHARE = (0.2, 0.5)  # of the largest withdrawal the card allows
_CASH_JUMP_WINDOW_DAYS = 7
_ONLINE_CHANNEL = CHANNELS.index("online")
# Fewest posted transactions for an anomaly to count (the smallest one each type injects).
_LABEL_MIN_POSTED = np.array(
    [
        _SPIKE_PURCHASES[0],
        _BURST_TRANSACTIONS[0],
        _CASH_JUMP_WITHDRAWALS[0],
        _SUBTLE_PURCHASES[0],
        1,
    ],
    dtype=np.int64,
)


def _anomaly_rng(seed: int, index: int, month: int) -> np.random.Generator:
    """The stream of one injected anomaly: child ``month`` of the customer's seed sequence.

    A stream per customer-month, rather than more draws from the customer's own stream, keeps
    every anomaly independent of the others: a higher ``anomaly_rate`` only adds anomalies and
    never reshapes the ones a lower rate injected, and the normal behaviour is drawn exactly as
    without anomalies.
    """
    key = np.random.SeedSequence(seed, spawn_key=(index, month))
    return np.random.Generator(np.random.PCG64(key))


def _anomaly_transactions(
    seed: int,
    first: int,
    draws: _Draws,
    profile: _Profile,
    cal: _Calendar,
    rate: float,
    normal: _Transactions,
) -> _Transactions:
    """Candidate transactions of the chunk's injected anomalies, at most one per customer-month.

    Only months with ``ANOMALY_MIN_HISTORY`` months before them in the extract are eligible: a
    detector needs that much history to see that the month is unusual. Injected transactions are
    never skipped by restraint (the anomaly is precisely the customer, or a fraudster, not
    holding back), but the issuer authorises them like any other charge.
    """
    months = len(cal.months)
    eligible = np.arange(months) >= ANOMALY_MIN_HISTORY
    selected = (draws.anomaly_u[:, _SELECT_U, :] < rate) & eligible
    customers, month_index = np.nonzero(selected)  # customer-major, then month
    kinds = _pick(_ANOMALY_TYPE_CDF, draws.anomaly_u[customers, _ANOMALY_TYPE_U, month_index])
    basket, usual = _usual_spend(normal, len(profile.limit), months)
    parts = [
        _one_anomaly(
            _anomaly_rng(seed, first + c, m),
            k,
            _Usual(limit=int(profile.limit[c]), basket=basket[c], month=usual[c]),
            cal.days[m],
        )
        for c, m, k in zip(customers.tolist(), month_index.tolist(), kinds.tolist(), strict=True)
    ]
    sizes = np.array([part[0].size for part in parts], dtype=np.int64)
    day, kind, category, channel, amount = (
        np.concatenate([part[i] for part in parts]).astype(np.int64)
        if parts
        else np.empty(0, dtype=np.int64)
        for i in range(5)
    )
    fee = np.where(
        kind == CASH_ADVANCE,
        np.maximum(_CASH_FEE_FLOOR_CENTS, np.rint(_CASH_FEE_SHARE * amount)),
        0,
    ).astype(np.int64)
    return _Transactions(
        customer=np.repeat(customers, sizes),
        month=np.repeat(month_index, sizes),
        day=day,
        kind=kind,
        category=category,
        channel=channel,
        amount=amount,
        fee=fee,
        restraint_u=np.ones(day.size),
        anomaly=np.repeat(kinds, sizes),
    )


@dataclass(frozen=True)
class _Usual:
    """What is ordinary for one customer, in cents: the yardstick of their injected anomaly."""

    limit: int
    basket: float  # a typical purchase
    month: float  # a typical month of purchases


def _usual_spend(txns: _Transactions, customers: int, months: int) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's median purchase and median month of purchases (cents), from their
    normal candidate transactions: what an anomaly's size is stated against."""
    purchase = txns.kind == PURCHASE
    basket = pd.Series(txns.amount[purchase]).groupby(txns.customer[purchase]).median()
    cells = (
        pd.Series(txns.amount[purchase])
        .groupby([txns.customer[purchase], txns.month[purchase]])
        .sum()
    )
    spend = np.zeros((customers, months))
    spend[cells.index.get_level_values(0), cells.index.get_level_values(1)] = cells.to_numpy()
    typical_basket = basket.reindex(range(customers)).fillna(basket.median()).to_numpy()
    return typical_basket, np.maximum(np.median(spend, axis=1), typical_basket)


def _one_anomaly(
    rng: np.random.Generator, anomaly: int, usual: _Usual, days: int
) -> tuple[np.ndarray, ...]:
    """Day, type, category, channel and amount (cents) of one anomaly's transactions."""
    largest = np.rint(_MAX_BASKET_SHARE * usual.limit)
    if anomaly in (SPEND_SPIKE, SUBTLE_SPIKE):
        subtle = anomaly == SUBTLE_SPIKE
        counts, extra = (
            (_SUBTLE_PURCHASES, _SUBTLE_EXTRA_USUAL)
            if subtle
            else (_SPIKE_PURCHASES, _SPIKE_EXTRA_USUAL)
        )
        count = int(rng.integers(counts[0], counts[1] + 1))
        total = rng.uniform(*extra) * usual.month
        day = (
            rng.integers(1, days + 1, count)
            if subtle
            else _window_days(rng, count, days, _SPIKE_WINDOW_DAYS)
        )
        pool = _SUBTLE_CATEGORIES if subtle else _SPIKE_CATEGORIES
        category = pool[rng.integers(0, pool.size, count)]
        channel = _pick(_CHANNEL_CDF[category], rng.random(count))
        shares = rng.dirichlet(np.full(count, 4.0))
        amount = np.clip(np.rint(shares * total), 100, largest)
        return day, np.full(count, PURCHASE), category, channel, amount
    if anomaly == LARGE_PURCHASE:
        day = rng.integers(1, days + 1, 1)
        category = _LARGE_CATEGORIES[rng.integers(0, _LARGE_CATEGORIES.size, 1)]
        channel = _pick(_CHANNEL_CDF[category], rng.random(1))
        amount = np.clip(np.rint(rng.uniform(*_LARGE_BASKETS, 1) * usual.basket), 100, largest)
        return day, np.full(1, PURCHASE), category, channel, amount
    if anomaly == SMALL_ONLINE_BURST:
        count = int(rng.integers(_BURST_TRANSACTIONS[0], _BURST_TRANSACTIONS[1] + 1))
        day = _window_days(rng, count, days, _BURST_WINDOW_DAYS)
        category = _BURST_CATEGORIES[rng.integers(0, _BURST_CATEGORIES.size, count)]
        amount = rng.integers(_BURST_CENTS[0], _BURST_CENTS[1] + 1, count)
        return day, np.full(count, PURCHASE), category, np.full(count, _ONLINE_CHANNEL), amount
    count = int(rng.integers(_CASH_JUMP_WITHDRAWALS[0], _CASH_JUMP_WITHDRAWALS[1] + 1))
    day = _window_days(rng, count, days, _CASH_JUMP_WINDOW_DAYS)
    most_notes = min(_MAX_CASH_NOTES, int(_MAX_BASKET_SHARE * usual.limit) // 2_000)
    notes = np.maximum(1, np.rint(rng.uniform(*_CASH_JUMP_CAP_SHARE, count) * most_notes))
    cash = np.full(count, _CASH_CATEGORY)
    return day, np.full(count, CASH_ADVANCE), cash, np.full(count, _ATM_CHANNEL), 2_000 * notes


def _window_days(rng: np.random.Generator, count: int, days: int, window: int) -> np.ndarray:
    """``count`` days of the month inside one window of ``window`` consecutive days."""
    start = int(rng.integers(1, days - window + 2))
    return start + rng.integers(0, window, count)


def _merge(txns: _Transactions, injected: _Transactions, months: int) -> _Transactions:
    """Normal and injected candidates in one set, sorted by customer, month, day, then source.

    The sort is stable and injected rows come last, so without anomalies nothing moves and the
    extract is byte for byte the one written before anomalies existed.
    """
    if injected.customer.size == 0:
        return txns
    fields = _Transactions.__dataclass_fields__
    merged = {
        name: np.concatenate([getattr(txns, name), getattr(injected, name)]) for name in fields
    }
    order = np.lexsort((merged["day"], merged["customer"] * months + merged["month"]))
    return _Transactions(**{name: values[order] for name, values in merged.items()})
