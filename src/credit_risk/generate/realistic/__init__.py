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

from credit_risk.generate.realistic.anomalies import (
    ANOMALY_MIN_HISTORY,
    ANOMALY_TYPES,
)
from credit_risk.generate.realistic.parameters import (
    CATEGORIES,
    CHANNELS,
    CUSTOMERS_FILE,
    LABEL_COLUMNS,
    LABELS_FILE,
    MAX_CUSTOMERS,
    REGIONS,
    STATEMENTS_FILE,
    TIERS,
    TRANSACTION_TYPES,
    TRANSACTIONS_FILE,
)
from credit_risk.generate.realistic.state import (
    SimulatedChunk,
)
from credit_risk.generate.realistic.writer import (
    generate_realistic,
    simulate_chunk,
)

__all__ = [
    "ANOMALY_MIN_HISTORY",
    "ANOMALY_TYPES",
    "CATEGORIES",
    "CHANNELS",
    "CUSTOMERS_FILE",
    "LABELS_FILE",
    "LABEL_COLUMNS",
    "MAX_CUSTOMERS",
    "REGIONS",
    "STATEMENTS_FILE",
    "TIERS",
    "TRANSACTIONS_FILE",
    "TRANSACTION_TYPES",
    "SimulatedChunk",
    "generate_realistic",
    "simulate_chunk",
]
