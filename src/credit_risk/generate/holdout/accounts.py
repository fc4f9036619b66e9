"""Balances and authorisation: payments by style, interest and late fees, cash-advance fees, the
close of a month, the burn-in months before the first statement, and the room left on a card."""

from __future__ import annotations

import numpy as np

from credit_risk.generate.holdout.parameters import (
    _BURN_IN_MONTHS,
    _CASH_FEE_FLOOR,
    _CASH_FEE_SHARE,
    _CASH_NOTE,
    _FROZEN_FROM_DPD,
    _FULL,
    _LATE_FEE,
    _MAX_CASH,
    _MAX_PURCHASE_SHARE,
    _MIN_DUE_FLOOR,
    _MIN_DUE_SHARE,
    _MISS_AGAIN,
    _MONTHLY_RATE,
    _PARTIAL_WHEN_MISSED,
    _REVOLVE,
    _REVOLVER_PAYS_ALL,
)
from credit_risk.generate.holdout.state import _Calendar, _Customers


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
