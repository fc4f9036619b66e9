"""The simulation's state, chunk by chunk: the calendar, each customer's draws and profile, the
candidate transactions and the accounts they post to; and the helpers every stage shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def _customer_rng(seed: int, index: int) -> np.random.Generator:
    """The customer's own stream: the same as ``SeedSequence(seed).spawn(n)[index]``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


def _pick(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Inverse-CDF choice; ``cdf`` is one row per value of ``uniform`` or one shared row."""
    index = (uniform[:, None] >= np.atleast_2d(cdf)).sum(axis=1)
    # Guard against a last cumulative share of 0.9999999 after float rounding.
    return np.minimum(index, cdf.shape[-1] - 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))
