"""One chunk of customers, month by month: profiles, latent stress paths, candidate transactions
(with the injected anomalies), then the accounts that authorise them and carry the balances."""

from __future__ import annotations

import calendar

import numpy as np

from credit_risk.generate.realistic.accounts import _comfort, _run_accounts
from credit_risk.generate.realistic.anomalies import _NOT_INJECTED, _anomaly_transactions, _merge
from credit_risk.generate.realistic.frames import (
    _customers_frame,
    _labels_frame,
    _statements_frame,
    _transactions_frame,
)
from credit_risk.generate.realistic.parameters import (
    _AMOUNT_SPREAD,
    _ANOMALY_UNIFORMS,
    _ATM_CHANNEL,
    _CASH_CATEGORY,
    _CASH_FEE_FLOOR_CENTS,
    _CASH_FEE_SHARE,
    _CASH_MEDIAN_DOLLARS,
    _CASH_SHARE_BASE,
    _CASH_SHARE_STRESSED,
    _CASH_SPREAD,
    _CASH_STRESS_CENTRE,
    _CASH_STRESS_SLOPE,
    _CATEGORY_CDF,
    _CATEGORY_MEDIAN_DOLLARS,
    _CATEGORY_U,
    _CHANNEL_CDF,
    _CHANNEL_U,
    _DAY_U,
    _DUE_DAY_COUNT,
    _DUE_DAY_FIRST,
    _INITIAL_UTIL_NOISE,
    _LIMIT_CDF,
    _LIMITS_CENTS,
    _MAX_ACCOUNT_AGE_DAYS,
    _MAX_BASKET_SHARE,
    _MAX_CASH_NOTES,
    _MAX_TRANSACTIONS_PER_MONTH,
    _MEAN_TRANSACTIONS,
    _MONTHLY_RATE,
    _MONTHLY_UNIFORMS,
    _PAYMENT_CUTS,
    _PAYMENT_NOISE,
    _REFERENCE_LIMIT_CENTS,
    _REFUND_SHARE,
    _REGION_CDF,
    _RESTRAINT_U,
    _REVOLVER_UTIL_OFFSET,
    _SEASON_ACTIVITY,
    _SHOCK_PROBABILITY,
    _SHOCK_SIZE,
    _SHOCK_U,
    _SPEND_AT_REFERENCE,
    _SPEND_LIMIT_ELASTICITY,
    _SPEND_SPREAD,
    _STATIC_NORMALS,
    _STATIC_UNIFORMS,
    _STRESS_INNOVATION,
    _STRESS_MEAN,
    _STRESS_PERSISTENCE,
    _STRESS_SPEND_ELASTICITY,
    _STRESS_SPREAD,
    _TIER_CDF,
    _TRANSACTION_RATE_SPREAD,
    _TRANSACTOR_UTIL,
    _TRANSACTOR_UTIL_SPREAD,
    _TXN_UNIFORMS,
    _TYPE_U,
    CASH_ADVANCE,
    FULL,
    PURCHASE,
    REFUND,
)
from credit_risk.generate.realistic.state import (
    SimulatedChunk,
    _Calendar,
    _customer_rng,
    _Draws,
    _pick,
    _Profile,
    _sigmoid,
    _Transactions,
)
from credit_risk.months import month_range, parse_month


def _check_rate(anomaly_rate: float) -> None:
    """A share of customer-months: anything outside 0..1 is a caller's mistake."""
    if not 0.0 <= anomaly_rate <= 1.0:
        raise ValueError(f"anomaly_rate must be between 0 and 1, got {anomaly_rate}")


def _calendar(start: str, months: int) -> _Calendar:
    """Per-month facts of the extract window."""
    names = month_range(start, months)
    parts = [parse_month(name) for name in names]
    return _Calendar(
        months=names,
        month_of_year=np.array([mon - 1 for _, mon in parts]),
        days=np.array([calendar.monthrange(year, mon)[1] for year, mon in parts]),
        first_day=np.array([f"{name}-01" for name in names], dtype="datetime64[D]"),
        yyyymm=np.array([year * 100 + mon for year, mon in parts], dtype=np.int64),
    )


def _simulate(
    seed: int,
    first: int,
    count: int,
    cal: _Calendar,
    anomaly_rate: float,
    mean_transactions: float = _MEAN_TRANSACTIONS,
) -> SimulatedChunk:
    """Draw, derive, run the accounts and shape the four tables for one chunk."""
    draws = _draw_chunk(seed, first, count, cal, mean_transactions)
    profile = _profile(draws, cal)
    txns = _candidate_transactions(draws, profile, cal, _MEAN_TRANSACTIONS / mean_transactions)
    injected = _anomaly_transactions(seed, first, draws, profile, cal, anomaly_rate, txns)
    txns = _merge(txns, injected, len(cal.months))
    accounts = _run_accounts(profile, draws.monthly_u, txns, cal)
    numbers = np.arange(first + 1, first + count + 1, dtype=np.int64)
    return SimulatedChunk(
        customers=_customers_frame(numbers, profile),
        statements=_statements_frame(numbers, profile, accounts, cal),
        transactions=_transactions_frame(numbers, txns, accounts.accepted, cal),
        stress=profile.stress,
        behaviour=accounts.behaviour,
        interest_and_fees=accounts.interest_and_fees,
        labels=_labels_frame(numbers, txns, accounts.accepted, cal),
    )


def _draw_chunk(
    seed: int, first: int, count: int, cal: _Calendar, mean_transactions: float
) -> _Draws:
    """Draw every random number of the chunk, a handful of vector calls per customer.

    The layout is fixed per customer (statics, then monthly values, then transactions), so a
    customer's numbers never depend on which other customers share the chunk.
    """
    months = len(cal.months)
    season = _SEASON_ACTIVITY[cal.month_of_year]
    n_uniform = _STATIC_UNIFORMS + _MONTHLY_UNIFORMS * months
    n_normal = _STATIC_NORMALS + months + 1
    static_u = np.empty((count, _STATIC_UNIFORMS))
    monthly_u = np.empty((count, _MONTHLY_UNIFORMS, months))
    static_z = np.empty((count, _STATIC_NORMALS))
    stress_z = np.empty((count, months + 1))
    counts = np.empty((count, months), dtype=np.int64)
    anomaly_u = np.empty((count, _ANOMALY_UNIFORMS, months))
    txn_u, txn_z = [], []
    # Mean-preserving lognormal: the portfolio average stays at _MEAN_TRANSACTIONS.
    rate_shift = -0.5 * _TRANSACTION_RATE_SPREAD**2
    for local in range(count):
        rng = _customer_rng(seed, first + local)
        uniforms = rng.random(n_uniform)
        normals = rng.standard_normal(n_normal)
        static_u[local] = uniforms[:_STATIC_UNIFORMS]
        monthly_u[local] = uniforms[_STATIC_UNIFORMS:].reshape(_MONTHLY_UNIFORMS, months)
        static_z[local] = normals[:_STATIC_NORMALS]
        stress_z[local] = normals[_STATIC_NORMALS:]
        rate = mean_transactions * np.exp(_TRANSACTION_RATE_SPREAD * normals[2] + rate_shift)
        monthly = np.minimum(rng.poisson(rate * season), _MAX_TRANSACTIONS_PER_MONTH)
        counts[local] = monthly
        total = int(monthly.sum())
        txn_u.append(rng.random((total, _TXN_UNIFORMS)))
        txn_z.append(rng.standard_normal(total))
        anomaly_u[local] = rng.random((_ANOMALY_UNIFORMS, months))
    return _Draws(
        static_u=static_u,
        static_z=static_z,
        monthly_u=monthly_u,
        stress_z=stress_z,
        counts=counts,
        txn_u=np.concatenate(txn_u) if txn_u else np.empty((0, _TXN_UNIFORMS)),
        txn_z=np.concatenate(txn_z) if txn_z else np.empty(0),
        anomaly_u=anomaly_u,
    )


def _profile(draws: _Draws, cal: _Calendar) -> _Profile:
    """Turn a chunk's static draws into customer traits, stress paths and opening balances."""
    u, z = draws.static_u, draws.static_z
    tier = _pick(_TIER_CDF, u[:, 0])
    limit = _LIMITS_CENTS[_pick(_LIMIT_CDF[tier], u[:, 1])]
    age = (1 + np.floor(u[:, 3] * _MAX_ACCOUNT_AGE_DAYS)).astype(np.int64)
    # Opened at least a day before the first statement month begins.
    opened = cal.first_day[0] - age.astype("timedelta64[D]")
    before, stress = _stress_paths(tier, z[:, 0], draws.stress_z, draws.monthly_u[:, _SHOCK_U])
    relative_limit = limit / _REFERENCE_LIMIT_CENTS
    spend_scale = (
        _SPEND_AT_REFERENCE
        * relative_limit**_SPEND_LIMIT_ELASTICITY
        * np.exp(_SPEND_SPREAD * z[:, 1] - 0.5 * _SPEND_SPREAD**2)
    )
    utilization = _initial_utilization(before, u[:, 5], z[:, 3])
    return _Profile(
        tier=tier,
        region=_pick(_REGION_CDF, u[:, 2]),
        limit=limit,
        rate=_MONTHLY_RATE[tier],
        opened=opened,
        due_day=_DUE_DAY_FIRST + np.floor(u[:, 4] * _DUE_DAY_COUNT).astype(np.int64),
        spend_scale=spend_scale,
        stress=stress,
        initial_balance=np.rint(utilization * limit).astype(np.int64),
    )


def _initial_utilization(stress: np.ndarray, uniform: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Balance / limit of the statement before the extract, close to where the dynamics settle.

    Starting everyone at the same utilization would make the first months drift visibly toward
    the steady state; instead a customer starts as a revolver with the probability of not paying
    in full at their stress, parked near their comfort utilization, else as a transactor.
    """
    pays_in_full = _sigmoid((_PAYMENT_CUTS[FULL] - stress) / _PAYMENT_NOISE)
    revolver = np.clip(
        _comfort(stress) + _REVOLVER_UTIL_OFFSET + _INITIAL_UTIL_NOISE * normal, 0.02, 1.0
    )
    transactor = np.minimum(_TRANSACTOR_UTIL * np.exp(_TRANSACTOR_UTIL_SPREAD * normal), 0.5)
    return np.where(uniform < pays_in_full, transactor, revolver)


def _stress_paths(
    tier: np.ndarray, z_mean: np.ndarray, stress_z: np.ndarray, shock_u: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """AR(1) stress around a per-customer mean, started from its stationary distribution.

    Returns:
        The state just before the extract (drives the opening balance) and the path over the
        extract's months, shape (customers, months).
    """
    mean = _STRESS_MEAN[tier] + _STRESS_SPREAD * z_mean
    stationary_sd = _STRESS_INNOVATION / np.sqrt(1.0 - _STRESS_PERSISTENCE**2)
    state = mean + stationary_sd * stress_z[:, 0]
    before = state
    path = np.empty_like(stress_z[:, 1:])
    for month in range(path.shape[1]):
        shock = _SHOCK_SIZE * (shock_u[:, month] < _SHOCK_PROBABILITY)
        state = (
            mean
            + _STRESS_PERSISTENCE * (state - mean)
            + _STRESS_INNOVATION * stress_z[:, month + 1]
            + shock
        )
        path[:, month] = state
    return before, path


def _candidate_transactions(
    draws: _Draws, profile: _Profile, cal: _Calendar, basket_scale: float = 1.0
) -> _Transactions:
    """Shape the drawn transactions; authorisation against the limit happens later, by month."""
    n_customers, months = draws.counts.shape
    per_cell = draws.counts.ravel()
    customer = np.repeat(np.repeat(np.arange(n_customers), months), per_cell)
    month = np.repeat(np.tile(np.arange(months), n_customers), per_cell)
    u, z = draws.txn_u, draws.txn_z
    stress = profile.stress[customer, month]
    day = (u[:, _DAY_U] * cal.days[month]).astype(np.int64) + 1
    kind = _transaction_kind(u[:, _TYPE_U], stress)
    category = _pick(_CATEGORY_CDF[cal.month_of_year[month]], u[:, _CATEGORY_U])
    channel = _pick(_CHANNEL_CDF[category], u[:, _CHANNEL_U])
    is_cash = kind == CASH_ADVANCE
    category = np.where(is_cash, _CASH_CATEGORY, category)
    channel = np.where(is_cash, _ATM_CHANNEL, channel)
    amount = _transaction_amount(
        kind,
        category,
        basket_scale * profile.spend_scale[customer],
        profile.limit[customer],
        stress,
        z,
    )
    fee = np.where(
        is_cash, np.maximum(_CASH_FEE_FLOOR_CENTS, np.rint(_CASH_FEE_SHARE * amount)), 0
    ).astype(np.int64)
    order = np.lexsort((day, customer * months + month))
    return _Transactions(
        customer=customer[order],
        month=month[order],
        day=day[order],
        kind=kind[order],
        category=category[order],
        channel=channel[order],
        amount=amount[order],
        fee=fee[order],
        restraint_u=u[order, _RESTRAINT_U],
        anomaly=np.full(order.size, _NOT_INJECTED, dtype=np.int64),
    )


def _transaction_kind(uniform: np.ndarray, stress: np.ndarray) -> np.ndarray:
    """Refund, cash advance or purchase; stressed customers turn to cash advances."""
    cash_share = _CASH_SHARE_BASE + _CASH_SHARE_STRESSED * _sigmoid(
        _CASH_STRESS_SLOPE * (stress - _CASH_STRESS_CENTRE)
    )
    return np.where(
        uniform < _REFUND_SHARE,
        REFUND,
        np.where(uniform < _REFUND_SHARE + cash_share, CASH_ADVANCE, PURCHASE),
    )


def _transaction_amount(
    kind: np.ndarray,
    category: np.ndarray,
    scale: np.ndarray,
    limit: np.ndarray,
    stress: np.ndarray,
    z: np.ndarray,
) -> np.ndarray:
    """Amounts in cents: lognormal baskets per category, ATM cash in multiples of 20."""
    scale = scale * np.exp(_STRESS_SPEND_ELASTICITY * stress)
    median = _CATEGORY_MEDIAN_DOLLARS[np.minimum(category, len(_CATEGORY_MEDIAN_DOLLARS) - 1)]
    basket = np.rint(100 * median * scale * np.exp(_AMOUNT_SPREAD * z))
    basket = np.clip(basket, 100, np.rint(_MAX_BASKET_SHARE * limit))
    notes = np.rint(_CASH_MEDIAN_DOLLARS * scale * np.exp(_CASH_SPREAD * z) / 20)
    most_notes = np.minimum(_MAX_CASH_NOTES, _MAX_BASKET_SHARE * limit // 2_000)
    notes = np.clip(notes, 1, most_notes)
    amount = np.select([kind == CASH_ADVANCE, kind == REFUND], [2_000 * notes, -basket], basket)
    return amount.astype(np.int64)
