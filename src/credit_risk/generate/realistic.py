"""Realistic synthetic card extract: customers, their monthly statements and their transactions.

Why this exists: the monitor's risk views are only exercised by data with the texture of a real
portfolio — balances that carry over from month to month, seasonal spend, payments that slip into
delinquency and cure again. Independent random rows have none of that.

How it stays reproducible: every random number of a customer comes from that customer's own
stream, keyed on ``(seed, customer index)``. Customers are simulated in chunks so memory stays
bounded, and all work inside a chunk is element-wise per customer, so the bytes written depend on
the seed and the sizes only — never on ``chunk_size``.

Why a latent stress path: each customer carries a slowly moving financial-stress value per month
that drives how they pay, how much they spend and how often they draw cash. It is returned by
:func:`simulate_chunk` (but not written) so labels and injected anomalies can later be derived from
it without changing the three files.

Why injected anomalies: a spending-anomaly detector can only be measured against a ground truth.
A share of customer-months (``anomaly_rate``) gets one labelled anomaly on top of the customer's
normal behaviour: a spend spike of 4..8x the customer's usual month, a subtle one of 2.5..3x, one
large purchase of 8..25 usual baskets, a burst of small online transactions or a jump in cash
advances. Sizes are stated in the customer's own usual spending, so a spike is far below any share
of the credit limit for a small spender and above it for a big one. They go through the same
authorisation as everything else, so only what posted is labelled, and the labels go to
``labels.csv``, which the loader never reads.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from credit_risk.contract import CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS
from credit_risk.months import month_range, parse_month

CUSTOMERS_FILE = "customers.csv"
STATEMENTS_FILE = "statements.csv"
TRANSACTIONS_FILE = "transactions.csv"
LABELS_FILE = "labels.csv"

LABEL_COLUMNS = ("customer_id", "month", "anomaly_type")

MAX_CUSTOMERS = 9_999_999  # customer ids have 7 digits
_MAX_TRANSACTIONS_PER_MONTH = 9_999  # the sequence part of a transaction id has 4 digits

# --- customers -----------------------------------------------------------------------------------
TIERS = ("prime", "near_prime", "subprime")
_TIER_SHARES = np.array([0.45, 0.35, 0.20])
REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARES = np.array([0.22, 0.20, 0.18, 0.20, 0.20])
_LIMITS_CENTS = np.array([2_000, 5_000, 10_000, 25_000, 50_000], dtype=np.int64) * 100
# One row per tier: underwriting grants better tiers larger limits.
_LIMIT_SHARES = np.array(
    [
        [0.00, 0.10, 0.30, 0.40, 0.20],
        [0.10, 0.35, 0.40, 0.15, 0.00],
        [0.45, 0.40, 0.15, 0.00, 0.00],
    ]
)
_MONTHLY_RATE = np.array([0.015, 0.020, 0.025])  # APR of roughly 18 / 24 / 30 % per tier
_MAX_ACCOUNT_AGE_DAYS = 3650
_DUE_DAY_FIRST, _DUE_DAY_COUNT = 20, 8  # due day 20..27: first miss is 1..11 days late at month end

# --- latent financial stress: AR(1) around a per-customer mean, plus rare shocks (job loss) ------
_STRESS_MEAN = np.array([-1.0, 0.0, 0.9])  # per tier
_STRESS_SPREAD = 0.9  # between customers of one tier
_STRESS_PERSISTENCE = 0.8
_STRESS_INNOVATION = 0.45
_SHOCK_PROBABILITY = 0.01
_SHOCK_SIZE = 1.5

# --- payments: an ordered logit on stress picks full / partial / minimum / missed ----------------
FULL, PARTIAL, MINIMUM, MISSED = 0, 1, 2, 3
_PAYMENT_CUTS = np.array([-0.9, 0.9, 2.6])
_PAYMENT_NOISE = 0.3
_PARTIAL_SHARE_LOW, _PARTIAL_SHARE_SPAN = 0.02, 0.13  # of what is owed above the minimum
_OVERPAY_PROBABILITY = 0.02  # of full payers; the only way besides refunds to go into credit
_UNDERPAY_PROBABILITY = 0.35  # of missers: they pay something, but less than the minimum

# --- card terms -------------------------------------------------------------------------------
_MIN_DUE_SHARE = 0.02
_MIN_DUE_FLOOR_CENTS = 2_500
_LATE_FEE_CENTS = 3_500
_CASH_FEE_SHARE = 0.03
_CASH_FEE_FLOOR_CENTS = 500
_BLOCKED_FROM_DPD = 30  # issuers freeze a card once it is a full cycle behind

# --- spending restraint: above a stress-driven comfort utilization, customers skip purchases ----
_COMFORT_BIAS = -0.1
_COMFORT_STRESS = 1.0
_RESTRAINT_RANGE = 0.2  # utilization above comfort at which restraint is at its maximum
_MAX_RESTRAINT = 0.95  # essentials still get bought

# --- initial balance (the statement before the extract starts), near the steady state ---------
_TRANSACTOR_UTIL = 0.10  # median one-month spend share of a customer who pays in full
_REVOLVER_UTIL_OFFSET = 0.15  # revolvers sit a little above comfort, where restraint bites
_INITIAL_UTIL_NOISE = 0.10
_TRANSACTOR_UTIL_SPREAD = 0.5  # lognormal sigma of the transactors' spend share

# --- transactions ------------------------------------------------------------------------------
PURCHASE, CASH_ADVANCE, REFUND = 0, 1, 2
TRANSACTION_TYPES = ("purchase", "cash_advance", "refund")
CATEGORIES = (
    "grocery",
    "fuel",
    "travel",
    "dining",
    "retail",
    "utilities",
    "online_services",
    "health",
    "entertainment",
    "cash",
)
_CASH_CATEGORY = CATEGORIES.index("cash")
_CATEGORY_WEIGHTS = np.array([0.24, 0.12, 0.04, 0.16, 0.16, 0.07, 0.09, 0.05, 0.07])
_CATEGORY_MEDIAN_DOLLARS = np.array([45.0, 40.0, 300.0, 30.0, 60.0, 90.0, 15.0, 50.0, 35.0])
CHANNELS = ("pos", "online", "atm", "contactless")
_ATM_CHANNEL = CHANNELS.index("atm")
# One row per purchase category, columns as CHANNELS.
_CHANNEL_SHARES = np.array(
    [
        [0.45, 0.10, 0.00, 0.45],
        [0.60, 0.00, 0.00, 0.40],
        [0.15, 0.85, 0.00, 0.00],
        [0.45, 0.05, 0.00, 0.50],
        [0.40, 0.35, 0.00, 0.25],
        [0.05, 0.95, 0.00, 0.00],
        [0.00, 1.00, 0.00, 0.00],
        [0.60, 0.10, 0.00, 0.30],
        [0.30, 0.50, 0.00, 0.20],
    ]
)
# Activity by calendar month (Jan..Dec): a holiday peak, a summer bump, a January hangover.
_SEASON_ACTIVITY = np.array(
    [0.85, 0.85, 0.95, 0.97, 1.00, 1.05, 1.10, 1.08, 0.95, 0.98, 1.10, 1.30]
)
_MEAN_TRANSACTIONS = 5.5  # per customer-month before seasonality
_TRANSACTION_RATE_SPREAD = 0.45
_SPEND_SPREAD = 0.5
_SPEND_AT_REFERENCE = 5.0  # basket multiplier for a 10,000.00 limit
_REFERENCE_LIMIT_CENTS = 1_000_000
_SPEND_LIMIT_ELASTICITY = 0.6  # bigger limits, bigger baskets, but less than proportionally
_STRESS_SPEND_ELASTICITY = 0.15
_AMOUNT_SPREAD = 0.7
_MAX_BASKET_SHARE = 0.25  # of the limit: keeps the lognormal tail from absurd single purchases
_CASH_MEDIAN_DOLLARS = 150.0
_CASH_SPREAD = 0.6
_MAX_CASH_NOTES = 100  # 2,000.00: a typical daily ATM withdrawal cap
_REFUND_SHARE = 0.03
_CASH_SHARE_BASE, _CASH_SHARE_STRESSED = 0.01, 0.12
_CASH_STRESS_CENTRE, _CASH_STRESS_SLOPE = 1.5, 2.0

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

# --- layout of each customer's random stream; changing it changes every extract ----------------
_STATIC_UNIFORMS = 6  # tier, limit, region, opened, due day, revolving at start
_STATIC_NORMALS = 4  # stress mean, spend scale, transaction rate, initial utilization
_MONTHLY_UNIFORMS = 5  # payment behaviour, partial share, underpayment, overpayment, shock
_PAY_U, _PARTIAL_U, _UNDERPAY_U, _OVERPAY_U, _SHOCK_U = range(_MONTHLY_UNIFORMS)
_TXN_UNIFORMS = 5  # day, type, category, channel, restraint
_DAY_U, _TYPE_U, _CATEGORY_U, _CHANNEL_U, _RESTRAINT_U = range(_TXN_UNIFORMS)
# Drawn last, after the transactions, so the draws above stay what they were without anomalies.
_ANOMALY_UNIFORMS = 2  # per month: whether an anomaly is injected, and which type
_SELECT_U, _ANOMALY_TYPE_U = range(_ANOMALY_UNIFORMS)


def _seasonal_category_weights() -> np.ndarray:
    """Category weights per calendar month: summer and December travel, holiday retail."""
    weights = np.tile(_CATEGORY_WEIGHTS, (12, 1))
    travel, retail, fuel = CATEGORIES.index("travel"), CATEGORIES.index("retail"), 1
    utilities, entertainment = CATEGORIES.index("utilities"), CATEGORIES.index("entertainment")
    weights[[5, 6, 7], travel] *= 2.0
    weights[11, travel] *= 1.6
    weights[10, retail] *= 1.4
    weights[11, retail] *= 1.9
    weights[[5, 6, 7], fuel] *= 1.15
    weights[[0, 1, 11], utilities] *= 1.25
    weights[11, entertainment] *= 1.3
    return weights


def _cumulative(shares: np.ndarray) -> np.ndarray:
    """Row-normalised cumulative shares, for inverse-CDF picks from one uniform."""
    return np.cumsum(shares / shares.sum(axis=-1, keepdims=True), axis=-1)


_CATEGORY_CDF = _cumulative(_seasonal_category_weights())
_CHANNEL_CDF = _cumulative(_CHANNEL_SHARES)
_TIER_CDF = _cumulative(_TIER_SHARES)
_LIMIT_CDF = _cumulative(_LIMIT_SHARES)
_REGION_CDF = _cumulative(_REGION_SHARES)


@dataclass(frozen=True)
class _Calendar:
    """The extract's months as arrays, so per-month facts index like any other column."""

    months: list[str]
    month_of_year: np.ndarray  # 0..11
    days: np.ndarray
    first_day: np.ndarray  # datetime64[D]
    yyyymm: np.ndarray


@dataclass(frozen=True)
class _Draws:
    """Every random number of a chunk, drawn customer by customer from their own streams."""

    static_u: np.ndarray  # (customers, _STATIC_UNIFORMS)
    static_z: np.ndarray  # (customers, _STATIC_NORMALS)
    monthly_u: np.ndarray  # (customers, _MONTHLY_UNIFORMS, months)
    stress_z: np.ndarray  # (customers, months + 1): the pre-extract state, then innovations
    counts: np.ndarray  # (customers, months) candidate transactions
    txn_u: np.ndarray  # (transactions, _TXN_UNIFORMS), customer-major then month
    txn_z: np.ndarray  # (transactions,)
    anomaly_u: np.ndarray  # (customers, _ANOMALY_UNIFORMS, months)


@dataclass(frozen=True)
class _Profile:
    """Per-customer traits and the latent stress path, derived from the draws."""

    tier: np.ndarray
    region: np.ndarray
    limit: np.ndarray  # cents
    rate: np.ndarray  # monthly interest rate
    opened: np.ndarray  # datetime64[D]
    due_day: np.ndarray
    spend_scale: np.ndarray
    stress: np.ndarray  # (customers, months)
    initial_balance: np.ndarray  # cents, closing balance of the month before the extract


@dataclass(frozen=True)
class _Transactions:
    """Candidate transactions of a chunk, sorted by customer, month, day, draw order."""

    customer: np.ndarray  # chunk-local index
    month: np.ndarray  # extract month index
    day: np.ndarray
    kind: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    amount: np.ndarray  # cents, refunds negative
    fee: np.ndarray  # cents charged on top (cash advances)
    restraint_u: np.ndarray  # uniform deciding whether a restrained customer skips it
    anomaly: np.ndarray  # injected anomaly type, or _NOT_INJECTED for normal behaviour


@dataclass(frozen=True)
class _Accounts:
    """Month-by-month account state of a chunk, each array shaped (customers, months)."""

    closing: np.ndarray
    payment: np.ndarray
    minimum_due: np.ndarray
    days_past_due: np.ndarray
    behaviour: np.ndarray
    interest_and_fees: np.ndarray
    accepted: np.ndarray  # (transactions,) which candidates were authorised


@dataclass(frozen=True)
class SimulatedChunk:
    """One chunk's three files plus the latent state a later labelling step will need.

    Attributes:
        customers: Rows of customers.csv.
        statements: Rows of statements.csv.
        transactions: Rows of transactions.csv.
        stress: Latent financial stress, shape (customers, months); higher is worse.
        behaviour: Payment behaviour per customer-month (FULL, PARTIAL, MINIMUM, MISSED).
        interest_and_fees: Cents charged per customer-month (interest, late and cash fees).
        labels: Rows of labels.csv: the injected anomalies that posted.
    """

    customers: pd.DataFrame
    statements: pd.DataFrame
    transactions: pd.DataFrame
    stress: np.ndarray
    behaviour: np.ndarray
    interest_and_fees: np.ndarray
    labels: pd.DataFrame


def generate_realistic(
    out_dir: Path,
    *,
    customers: int = 2000,
    months: int = 12,
    start: str = "2024-01",
    seed: int = 42,
    chunk_size: int = 5000,
    anomaly_rate: float = 0.02,
    transactions_per_month: float = _MEAN_TRANSACTIONS,
) -> dict[str, int]:
    """Write the three extract files and labels.csv into out_dir; return row counts.

    Customers are simulated ``chunk_size`` at a time and appended, so memory stays bounded for
    large portfolios; the output bytes do not depend on ``chunk_size``.

    Args:
        out_dir: Directory to write into; created when missing. Existing files are replaced.
        customers: Number of customers (ids C0000001 upwards).
        months: Number of statement months.
        start: First statement month, YYYY-MM.
        seed: Non-negative seed; the same seed and sizes give the same bytes.
        chunk_size: Customers simulated per batch.
        anomaly_rate: Share of eligible customer-months (month index >= ANOMALY_MIN_HISTORY)
            where an anomaly is injected; 0 writes the extract without any, and an empty
            labels.csv. Anomalies the card declines are not labelled, so labels.csv holds less
            than this share (about 0.65-0.75 of it for the default portfolio; see
            docs/data_contract.md).
        transactions_per_month: Mean card transactions a customer attempts in a month, before
            seasonality and declines (the default gives about 3.9 authorised). A denser
            portfolio gets smaller baskets in proportion, so a customer's monthly spend, and
            with it the risk mix, stays the same; only the number of rows changes.

    Returns:
        Data rows written (header excluded) per file name.

    Raises:
        ValueError: When a size, the seed or the rate is out of range, or ``start`` is not
            YYYY-MM.
    """
    _check_arguments(customers, months, seed, chunk_size)
    _check_rate(anomaly_rate)
    if not 0 < transactions_per_month <= 1_000:
        raise ValueError(
            f"transactions_per_month must be in (0, 1000], got {transactions_per_month}"
        )
    cal = _calendar(start, months)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = (CUSTOMERS_FILE, STATEMENTS_FILE, TRANSACTIONS_FILE, LABELS_FILE)
    columns = (CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS, LABEL_COLUMNS)
    for name, header in zip(names, columns, strict=True):
        # Header first, so an empty portfolio still yields well-formed files.
        (out_dir / name).write_text(",".join(header) + "\n", encoding="utf-8")
    rows = dict.fromkeys(names, 0)
    for first in range(0, customers, chunk_size):
        chunk = _simulate(
            seed,
            first,
            min(chunk_size, customers - first),
            cal,
            anomaly_rate,
            transactions_per_month,
        )
        frames = (chunk.customers, chunk.statements, chunk.transactions, chunk.labels)
        for name, frame in zip(names, frames, strict=True):
            _append_csv(frame, out_dir / name)
            rows[name] += len(frame)
    return rows


def simulate_chunk(
    seed: int,
    first: int,
    count: int,
    *,
    months: int = 12,
    start: str = "2024-01",
    anomaly_rate: float = 0.02,
) -> SimulatedChunk:
    """Simulate customers ``first .. first + count - 1`` (0-based) without writing anything.

    Exposed so a later step (labels, injected anomalies) can reuse the latent state of exactly
    the customers that :func:`generate_realistic` writes.
    """
    if first < 0 or count < 0:
        raise ValueError(f"first and count must be non-negative, got {first} and {count}")
    _check_arguments(first + count, months, seed, max(count, 1))
    _check_rate(anomaly_rate)
    return _simulate(seed, first, count, _calendar(start, months), anomaly_rate)


def _check_arguments(customers: int, months: int, seed: int, chunk_size: int) -> None:
    """Refuse sizes the id formats or the random streams cannot represent."""
    if not 0 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 0 and {MAX_CUSTOMERS}, got {customers}")
    if not 1 <= months <= 1200:
        raise ValueError(f"months must be between 1 and 1200, got {months}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")


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


def _customer_rng(seed: int, index: int) -> np.random.Generator:
    """The customer's own stream: the same as ``SeedSequence(seed).spawn(n)[index]``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


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


def _pick(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Inverse-CDF choice; ``cdf`` is one row per value of ``uniform`` or one shared row."""
    index = (uniform[:, None] >= np.atleast_2d(cdf)).sum(axis=1)
    # Guard against a last cumulative share of 0.9999999 after float rounding.
    return np.minimum(index, cdf.shape[-1] - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


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


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded ids such as C0000001, vectorized."""
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(str), width))


def _money(cents: np.ndarray) -> np.ndarray:
    """Cents as text with exactly two decimals, e.g. -1234.50.

    Formatted from integers rather than floats: exact by construction, and far faster than
    pandas' per-value float formatting on a million rows.
    """
    magnitude = np.abs(cents)
    whole = (magnitude // 100).astype(str)
    fraction = np.strings.zfill((magnitude % 100).astype(str), 2)
    text = np.strings.add(np.strings.add(whole, "."), fraction)
    return np.where(cents < 0, np.strings.add("-", text), text)


def _customers_frame(numbers: np.ndarray, profile: _Profile) -> pd.DataFrame:
    """Rows of customers.csv."""
    return pd.DataFrame(
        {
            "customer_id": _ids("C", numbers, 7),
            "opened_date": np.datetime_as_string(profile.opened, unit="D"),
            "credit_tier": np.array(TIERS)[profile.tier],
            "region": np.array(REGIONS)[profile.region],
        }
    )


def _statements_frame(
    numbers: np.ndarray, profile: _Profile, accounts: _Accounts, cal: _Calendar
) -> pd.DataFrame:
    """Rows of statements.csv, customer-major then month."""
    months = len(cal.months)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(_ids("C", numbers, 7), months),
            "statement_month": np.tile(np.array(cal.months), numbers.size),
            "credit_limit": _money(np.repeat(profile.limit, months)),
            "outstanding_balance": _money(accounts.closing.ravel()),
            "payment_amount": _money(accounts.payment.ravel()),
            "minimum_due": _money(accounts.minimum_due.ravel()),
            "days_past_due": accounts.days_past_due.ravel(),
        }
    )


def _transactions_frame(
    numbers: np.ndarray, txns: _Transactions, accepted: np.ndarray, cal: _Calendar
) -> pd.DataFrame:
    """Rows of transactions.csv: authorised transactions, numbered within customer-month."""
    customer, month = txns.customer[accepted], txns.month[accepted]
    number = numbers[customer]
    # Already sorted by customer, month, day; number them 1.. in that order after declines.
    sequence = _grouped_cumsum(np.ones(customer.size, dtype=np.int64), number * 10_000 + month)
    # T + statement YYYYMM (6) + customer (7 digits) + sequence (4): unique, chunk-free, and
    # issued in time order like a card system's: each month's ids follow the month before's.
    id_number = (cal.yyyymm[month] * 10_000_000 + number) * 10_000 + sequence
    dates = cal.first_day[month] + (txns.day[accepted] - 1).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "transaction_id": _ids("T", id_number, 17),
            "customer_id": _ids("C", number, 7),
            "transaction_date": np.datetime_as_string(dates, unit="D"),
            "amount": _money(txns.amount[accepted]),
            "transaction_type": np.array(TRANSACTION_TYPES)[txns.kind[accepted]],
            "merchant_category": np.array(CATEGORIES)[txns.category[accepted]],
            "channel": np.array(CHANNELS)[txns.channel[accepted]],
        }
    )


def _labels_frame(
    numbers: np.ndarray, txns: _Transactions, accepted: np.ndarray, cal: _Calendar
) -> pd.DataFrame:
    """Rows of labels.csv: injected anomalies of which enough posted to be one.

    A declined anomaly never reached the files, so it is not an anomaly of the data. When the
    limit cut one short (approval is a prefix in date order), it counts only if what posted is
    still an anomaly of its type: at least the fewest transactions that type ever injects.
    """
    injected = txns.anomaly != _NOT_INJECTED
    parts = pd.DataFrame(
        {
            "customer": txns.customer[injected],
            "month": txns.month[injected],
            "anomaly": txns.anomaly[injected],
            "posted": accepted[injected].astype(np.int64),
        }
    )
    posted = parts.groupby(["customer", "month", "anomaly"], sort=True)["posted"].sum()
    kept = posted.reset_index()
    kept = kept[kept["posted"].to_numpy() >= _LABEL_MIN_POSTED[kept["anomaly"].to_numpy()]]
    if kept.empty:  # the id formatting cannot take an empty array
        return pd.DataFrame(columns=list(LABEL_COLUMNS))
    return pd.DataFrame(
        {
            "customer_id": _ids("C", numbers[kept["customer"].to_numpy(np.int64)], 7),
            "month": np.array(cal.months)[kept["month"].to_numpy(np.int64)],
            "anomaly_type": np.array(ANOMALY_TYPES)[kept["anomaly"].to_numpy(np.int64)],
        }
    )


def _append_csv(frame: pd.DataFrame, path: Path) -> None:
    """Append rows without header; values are pre-formatted, so pandas only joins them."""
    if frame.empty:
        return
    frame.to_csv(path, mode="a", header=False, index=False, lineterminator="\n", encoding="utf-8")
