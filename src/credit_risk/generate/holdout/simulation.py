"""The portfolio month by month: customers drawn, candidate transactions, authorisation,
anomalies injected, balances closed."""

from __future__ import annotations

import calendar

import numpy as np
import pandas as pd

from credit_risk.generate.holdout.accounts import (
    _authorise,
    _burn_in,
    _cash_fee,
    _close,
    _interest_and_late_fee,
    _max_purchase,
    _max_withdrawal,
    _payments,
)
from credit_risk.generate.holdout.anomalies import _inject
from credit_risk.generate.holdout.frames import (
    _customers_frame,
    _labels_frame,
    _statements_frame,
    _transactions_frame,
)
from credit_risk.generate.holdout.parameters import (
    _ALLOWED_LIMITS,
    _ATM,
    _CASH,
    _CASH_CATEGORY,
    _CASH_MEDIAN,
    _CASH_NOTE,
    _CASH_RATE,
    _CASH_USER_SHARE,
    _CATEGORY_FACTOR_SPREAD,
    _CATEGORY_SEASON_FACTOR,
    _CHANNEL_CDF,
    _DECEMBER_UPLIFT,
    _FROZEN_FROM_DPD,
    _FULL_REFUND,
    _INCLUDE,
    _JANUARY_SHARE,
    _LIMIT_RAISE_PROBABILITY,
    _LIMIT_TIERS,
    _MAX_CATEGORIES,
    _MAX_SPEND_SHARE,
    _MEDIAN_CENTS,
    _MIN_CATEGORIES,
    _MIN_PURCHASE,
    _MISS_BASE,
    _N_PURCHASE_CATEGORIES,
    _NOVEMBER_SHARE,
    _PAY_SHARE,
    _PREFERENCE,
    _PURCHASE,
    _PURCHASE_CATEGORIES,
    _RATE_MAX,
    _RATE_MEAN,
    _RATE_SHAPE,
    _REFUND,
    _REFUND_PROBABILITY,
    _SEASON_COUNT_ELASTICITY,
    _SEASON_SHAPE,
    _SPREAD,
    _STYLE_SHARES,
    _TAG_NORMAL,
    _TAG_SELECT,
    _TARGET_SHARE,
    _TICKET_SPREAD,
    _TIER_SHARES,
    _TREND_SPREAD,
    MIN_HISTORY,
)
from credit_risk.generate.holdout.state import (
    _Accounts,
    _Calendar,
    _Candidates,
    _concat,
    _Customers,
    _History,
    _pick,
    _Posted,
)
from credit_risk.generate.realistic import (
    CATEGORIES,
    REGIONS,
)
from credit_risk.months import month_range, parse_month

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
