"""The hold-out portfolio's parameters: limit tiers, payment styles, fees, the spend model (rates,
tickets, categories), seasonality and the anomaly recipes' sizes (see the package docstring)."""

from __future__ import annotations

import numpy as np

from credit_risk.generate.realistic import (
    CATEGORIES,
    CHANNELS,
    TRANSACTION_TYPES,
)

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
