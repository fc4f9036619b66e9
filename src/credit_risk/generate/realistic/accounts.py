"""Balances month by month: authorisation against the credit left, payments by each
customer's style and stress, minimum due, fees, interest, days past due and frozen cards."""

from __future__ import annotations

import numpy as np

from credit_risk.generate.realistic.parameters import (
    _BLOCKED_FROM_DPD,
    _COMFORT_BIAS,
    _COMFORT_STRESS,
    _LATE_FEE_CENTS,
    _MAX_RESTRAINT,
    _MIN_DUE_FLOOR_CENTS,
    _MIN_DUE_SHARE,
    _OVERPAY_PROBABILITY,
    _OVERPAY_U,
    _PARTIAL_SHARE_LOW,
    _PARTIAL_SHARE_SPAN,
    _PARTIAL_U,
    _PAY_U,
    _PAYMENT_CUTS,
    _PAYMENT_NOISE,
    _RESTRAINT_RANGE,
    _UNDERPAY_PROBABILITY,
    _UNDERPAY_U,
    FULL,
    MINIMUM,
    PARTIAL,
    REFUND,
)
from credit_risk.generate.realistic.state import (
    _Accounts,
    _Calendar,
    _Profile,
    _sigmoid,
    _Transactions,
)


def _grouped_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting at each new value of the sorted ``groups``."""
    if values.size == 0:
        return values.copy()
    total = np.cumsum(values)
    starts = np.r_[True, groups[1:] != groups[:-1]]
    before_group = (total - values)[starts]
    return total - before_group[np.cumsum(starts) - 1]


def _minimum_due(balance: np.ndarray, charged: np.ndarray) -> np.ndarray:
    """max(25.00, 2 % of the balance + this month's interest and fees), capped at the balance."""
    due = np.maximum(_MIN_DUE_FLOOR_CENTS, np.rint(_MIN_DUE_SHARE * balance) + charged)
    return np.where(balance > 0, np.minimum(due, balance), 0).astype(np.int64)


def _payment_behaviour(stress: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Ordered logit: the more stressed, the further from a full payment."""
    clipped = np.clip(uniform, 1e-12, 1 - 1e-12)
    latent = stress + _PAYMENT_NOISE * np.log(clipped / (1 - clipped))
    return np.searchsorted(_PAYMENT_CUTS, latent)


def _payment_amount(
    behaviour: np.ndarray, balance: np.ndarray, minimum: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Cents paid this month against last month's statement.

    Args:
        behaviour: FULL, PARTIAL, MINIMUM or MISSED per customer.
        balance: Last month's closing balance.
        minimum: Last month's minimum due.
        u: This month's monthly uniforms, shape (customers, _MONTHLY_UNIFORMS).
    """
    partial_share = _PARTIAL_SHARE_LOW + _PARTIAL_SHARE_SPAN * u[:, _PARTIAL_U]
    partial = minimum + np.rint(partial_share * (balance - minimum)).astype(np.int64)
    over_u, under_u = u[:, _OVERPAY_U], u[:, _UNDERPAY_U]
    # Reuse the uniform below its threshold as the size, so no extra draw is needed.
    extra = np.floor(500 + 19_500 * over_u / _OVERPAY_PROBABILITY).astype(np.int64)
    full = balance + np.where(over_u < _OVERPAY_PROBABILITY, extra, 0)
    short = np.floor(0.9 * minimum * under_u / _UNDERPAY_PROBABILITY).astype(np.int64)
    missed = np.where(under_u < _UNDERPAY_PROBABILITY, short, 0)
    paid = np.select(
        [behaviour == FULL, behaviour == PARTIAL, behaviour == MINIMUM],
        [full, partial, minimum],
        missed,
    )
    return np.where(balance > 0, paid, 0).astype(np.int64)


def _restraint(stress: np.ndarray, utilization: np.ndarray) -> np.ndarray:
    """Share of intended charges a customer skips this month.

    Without it every revolver would spend up to the limit; real ones cut back once the debt they
    carry passes the utilization they are comfortable with, and stress raises that comfort level, so
    stressed customers settle high while calmer revolvers settle in the middle.
    """
    return np.clip((utilization - _comfort(stress)) / _RESTRAINT_RANGE, 0.0, _MAX_RESTRAINT)


def _comfort(stress: np.ndarray) -> np.ndarray:
    """Utilization a revolver is comfortable carrying; stress pushes it toward the limit."""
    return _sigmoid(_COMFORT_BIAS + _COMFORT_STRESS * stress)


def _authorise(
    txns: _Transactions, rows: np.ndarray, headroom: np.ndarray, restraint: np.ndarray
) -> np.ndarray:
    """Keep a month's transactions that the customer makes and the issuer approves.

    Refunds always post. Charges the customer skips (restraint) never reach the issuer; the
    rest (with their cash fee) are approved in date order as a prefix: once one would exceed
    the headroom, the later ones of that month are declined too, which keeps this vectorized.
    """
    customer = txns.customer[rows]
    is_refund = txns.kind[rows] == REFUND
    attempted = ~is_refund & (txns.restraint_u[rows] >= restraint[customer])
    charge = np.where(attempted, txns.amount[rows] + txns.fee[rows], 0)
    used = _grouped_cumsum(charge, customer)
    return is_refund | (attempted & (used <= headroom[customer]))


def _per_customer(customer: np.ndarray, cents: np.ndarray, size: int) -> np.ndarray:
    """Sum integer cents per customer (exact: float64 holds these sums without rounding)."""
    return np.rint(np.bincount(customer, weights=cents, minlength=size)).astype(np.int64)


def _run_accounts(
    profile: _Profile, monthly_u: np.ndarray, txns: _Transactions, cal: _Calendar
) -> _Accounts:
    """Roll every account of the chunk forward month by month, all customers at once.

    closing = opening + purchases + cash advances + refunds + interest_and_fees - payment,
    in integer cents so the identity holds exactly in the written files.
    """
    n_customers, months = profile.stress.shape
    shape = (n_customers, months)
    closing = np.empty(shape, dtype=np.int64)
    payments, minimums, dpds, charged = (np.empty(shape, dtype=np.int64) for _ in range(4))
    behaviours = np.empty(shape, dtype=np.int64)
    accepted = np.zeros(txns.customer.size, dtype=bool)
    balance = profile.initial_balance
    minimum = _minimum_due(balance, np.rint(profile.rate * balance))
    dpd = np.zeros(n_customers, dtype=np.int64)
    rows_by_month = np.argsort(txns.month, kind="stable")
    bounds = np.searchsorted(txns.month[rows_by_month], np.arange(months + 1))
    for m in range(months):
        behaviour = _payment_behaviour(profile.stress[:, m], monthly_u[:, _PAY_U, m])
        payment = _payment_amount(behaviour, balance, minimum, monthly_u[:, :, m])
        revolving = (balance > 0) & (payment < balance)
        interest = np.where(revolving, np.rint(profile.rate * (balance - payment)), 0)
        delinquent = (minimum > 0) & (payment < minimum)
        late_fee = np.where(delinquent, _LATE_FEE_CENTS, 0)
        headroom = profile.limit - balance + payment - interest - late_fee
        headroom = np.where(dpd >= _BLOCKED_FROM_DPD, -1, headroom)
        # Debt carried past the payment, not the statement balance: transactors feel no pressure.
        carried = np.maximum(balance - payment, 0) / profile.limit
        restraint = _restraint(profile.stress[:, m], carried)
        rows = rows_by_month[bounds[m] : bounds[m + 1]]
        ok = _authorise(txns, rows, headroom, restraint)
        accepted[rows] = ok
        kept = rows[ok]
        spent = _per_customer(txns.customer[kept], txns.amount[kept], n_customers)
        cash_fees = _per_customer(txns.customer[kept], txns.fee[kept], n_customers)
        fees = (interest + late_fee + cash_fees).astype(np.int64)
        balance = balance + spent + fees - payment
        minimum = _minimum_due(balance, fees)
        dpd = _days_past_due(dpd, delinquent, cal.days[m], profile.due_day)
        closing[:, m], payments[:, m], minimums[:, m] = balance, payment, minimum
        dpds[:, m], charged[:, m], behaviours[:, m] = dpd, fees, behaviour
    return _Accounts(
        closing=closing,
        payment=payments,
        minimum_due=minimums,
        days_past_due=dpds,
        behaviour=behaviours,
        interest_and_fees=charged,
        accepted=accepted,
    )


def _days_past_due(
    previous: np.ndarray, delinquent: np.ndarray, days_in_month: int, due_day: np.ndarray
) -> np.ndarray:
    """Days past due at month end: a cured account is 0; each further miss adds the month.

    The first miss counts from the due day, so it lands in 1-29; later misses reach 30-59,
    60-89 and 90+ in turn.
    """
    first_miss = days_in_month - due_day
    return np.where(delinquent, np.where(previous > 0, previous + days_in_month, first_miss), 0)
