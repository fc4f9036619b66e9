"""The portfolio's parameters: tiers and limits, the stress process, payment behaviour, fees,
spend and transaction models, categories and channels, and the layout of each customer's random
stream (changing it changes every extract)."""

from __future__ import annotations

import numpy as np

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
