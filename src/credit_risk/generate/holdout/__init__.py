"""A second, independent synthetic card portfolio: the hold-out data the anomaly detectors are
scored on.

Why it exists: the detectors are developed against the main generator (``generate.realistic``),
so a detector measured only on that data may have learnt the generator rather than the
problem. This module was written separately, from the data contract alone (it imports only the
file names and the contract's value lists from ``realistic``, none of its spend model), with a
different spend model and its own anomaly recipes. **It is used only to report detector
quality (precision, recall), never to choose or tune thresholds**: a threshold picked on this
data would make it one more training set and its numbers optimistic again.

It writes the same three-file extract as ``generate.realistic`` (``customers.csv``,
``statements.csv``, ``transactions.csv``: same columns, formats, sort order, id scheme and
balance identity, docs/data_contract.md) plus ``labels.csv`` (``customer_id``, ``month``,
``anomaly_type``), and the same seed always gives the same bytes.

Spend model
    Each customer draws a transaction rate from a gamma distribution (mean about 15 attempted
    card transactions a month, shape 2.2: some customers make 4 a month, some 40), so the
    extract holds about 14 posted transactions per customer-month. Each customer uses a
    personal subset of two to seven of the nine purchase categories (grocery nearly always,
    travel rarely), with personal weights (gamma draws times a category preference). Amounts
    are lognormal per customer and category: a category median, times the customer's ticket
    level, times a customer-category factor, times the month's season and trend, with a
    category-specific spread; no purchase exceeds 25 % of the limit. About 1 % of purchases are
    refunded (fully or partly) a few days later. About one customer in ten draws cash (ATM
    channel, ``cash`` category, multiples of 20.00, at most 2,000.00) about once a month.
    Channels follow the category (utilities and online services online, fuel at the pump,
    dining mostly contactless, ...).

Seasonality and trend
    Every customer has their own December uplift of 30-60 % of spend, a November bump of a
    quarter to a half of it, a January dip of a quarter to a half of it and a small summer
    bump; half of the uplift raises the number of transactions, half the ticket size. Retail
    weights rise in November-December, travel in July-August and December. A slow per-customer
    trend (about +-1 % a month) moves ticket sizes.

Limits and balances
    Limits come from five tiers (2,000 to 50,000), chosen by underwriting from the credit tier
    and the customer's expected spend; a customer in good standing with some utilization gets
    the next tier now and then (about 1 % a month). Balances carry over: the closing balance is
    the opening balance plus purchases and cash advances, minus refunds and the payment, plus
    interest (1.5 / 2.0 / 2.5 % a month by tier on the unpaid part), a 35.00 late fee when the
    minimum was missed and the cash-advance fee (max(5.00, 3 %)). Payment styles are per
    customer: full payers, revolvers (each paying their own share of the balance, at least the
    minimum) and minimum payers; each month a customer may miss (rarely for prime, more often
    for subprime; a miss is likely to repeat), which makes ``days_past_due`` grow by the
    month's length until a payment reaches the minimum. Cards 30+ days past due are frozen
    (every charge declined), and a charge that would exceed the available credit is declined
    (skipped; later smaller charges may still post). Twelve unwritten months of aggregate
    spending run first, so the first statement already has settled balances. The issuer keeps
    room for the month's interest and fees when authorising (available credit = limit -
    (opening balance - payment) - interest - late fee, a cash advance costing its fee too), so
    only cards that were already full end a month above their limit. At the defaults about
    13 % of statements are High Risk (>= 80 % utilization), 6 % Medium, 2-3 % past due (each
    of the 30-59, 60-89 and 90+ buckets present), and the risk mix moves little month to month
    (the published suite's distribution checks pass).

Anomaly recipes (``anomaly_rate`` of the customer-months with at least 3 months of history,
at most one per customer-month; chosen kinds in shares 25 / 20 / 20 / 15 / 20 %)
    - ``spend_spike``: extra purchases in the customer's usual categories (by their own
      weights) over 3-10 consecutive days, so that the month's net spend is 4-8x the median of
      the customer's earlier normal months.
    - ``subtle_spike``: the same at 2.5-3x.
    - ``new_category_purchase``: one purchase of the larger of 5-20x the customer's median
      earlier purchase and 300.00-800.00, in a purchase category outside the customer's own
      subset that they have never used; capped by 25 % of the limit and the credit left, and
      made only when it is still at least 5x the usual ticket and 300.00.
    - ``small_online_burst``: 10-40 online charges of 0.50-15.00 (log-uniform) within 1-3
      consecutive days, mostly ``online_services`` (card testing).
    - ``cash_advance_switch``: a customer with at most one earlier cash advance takes 3-6 ATM
      withdrawals within a week totalling 0.6-1.6x their usual month's spend (at least
      60.00 each on average, each 40.00 up to the largest withdrawal the card allows); made
      only when at least 3 fit and they total at least half the usual month.

    An anomaly is only injected where it posts as a whole: the card must not be frozen, the
    month's ordinary charges must all have posted, and the anomaly must fit in the credit left
    (a spike is shrunk towards its smallest factor, a burst or cash run shortened, to fit).
    When the drawn kind cannot, the next kind (drawn by the remaining shares) is tried; when
    none can, the month gets nothing. So every label's pattern is in the written data, and no
    unlabelled part of an anomaly is. Which months are tried comes from a stream of its own,
    and each anomaly's numbers from a stream keyed on its customer-month, so these do not
    depend on the rate (what fits can: every anomaly moves the balance). At the defaults
    labels.csv holds about 2.7 % of the eligible customer-months, roughly 25 / 19 / 23 / 15 /
    18 % by kind.
"""

from __future__ import annotations

from credit_risk.generate.holdout.parameters import (
    ANOMALY_KINDS,
    ANOMALY_SHARES,
    BURST_CENTS,
    BURST_CHARGES,
    CASH_SWITCH_MIN_SHARE,
    CASH_SWITCH_SHARE,
    CASH_SWITCH_WITHDRAWALS,
    MAX_CUSTOMERS,
    MIN_HISTORY,
    NEW_CATEGORY_FLOOR_CENTS,
    NEW_CATEGORY_TICKETS,
    SPIKE_FACTOR,
    SUBTLE_FACTOR,
)
from credit_risk.generate.holdout.writer import (
    generate_holdout,
)

__all__ = [
    "ANOMALY_KINDS",
    "ANOMALY_SHARES",
    "BURST_CENTS",
    "BURST_CHARGES",
    "CASH_SWITCH_MIN_SHARE",
    "CASH_SWITCH_SHARE",
    "CASH_SWITCH_WITHDRAWALS",
    "MAX_CUSTOMERS",
    "MIN_HISTORY",
    "NEW_CATEGORY_FLOOR_CENTS",
    "NEW_CATEGORY_TICKETS",
    "SPIKE_FACTOR",
    "SUBTLE_FACTOR",
    "generate_holdout",
]
