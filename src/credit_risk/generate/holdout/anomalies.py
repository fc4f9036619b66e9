"""The hold-out's own anomaly recipes (spike, subtle spike, new-category purchase, small online
burst, cash-advance switch), injected only where they post as a whole."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from credit_risk.generate.holdout.accounts import _cash_fee, _max_withdrawal
from credit_risk.generate.holdout.parameters import (
    _ATM,
    _BURST_CATEGORIES,
    _CASH,
    _CASH_CATEGORY,
    _CASH_NOTE,
    _CHANNEL_CDF,
    _MAX_PURCHASE_SHARE,
    _MIN_PURCHASE,
    _ONLINE,
    _PURCHASE,
    _PURCHASE_CATEGORIES,
    _TAG_ANOMALY,
    ANOMALY_KINDS,
    ANOMALY_SHARES,
    BURST_CENTS,
    BURST_CHARGES,
    CASH_SWITCH_MIN_SHARE,
    CASH_SWITCH_SHARE,
    CASH_SWITCH_WITHDRAWALS,
    NEW_CATEGORY_FLOOR_CENTS,
    NEW_CATEGORY_TICKETS,
    SPIKE_FACTOR,
    SUBTLE_FACTOR,
)
from credit_risk.generate.holdout.state import _Calendar, _Customers, _History, _pick, _Posted
from credit_risk.generate.realistic import (
    CATEGORIES,
)

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
