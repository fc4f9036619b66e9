"""Spending anomalies per customer-month, from the published snapshot only.

What it flags: a customer-month that is unusual *for that customer*. Five detectors look at the
month against the customer's own prior months, each giving the probability of seeing something
at least as extreme if the month were ordinary:

- ``spend_spike``: monthly spend against the customer's usual month, as a robust z-score of log
  spend (median and MAD of the prior months, the spread shrunk toward the portfolio's for short
  histories), after the calendar month's portfolio-wide uplift (a December peak is not an
  anomaly, whatever the source's seasonality: the uplift is learned from the month itself).
- ``large_purchase``: the month's largest purchase against the customer's usual ticket (median
  and quartile spread of their prior purchases, in logs), for the number of purchases made.
- ``new_category``: a large purchase in a merchant category the customer has not used in the
  baseline window; how rare a new category is comes from the portfolio's month.
- ``small_online_burst``: many small card-not-present charges against the customer's usual count
  (a Poisson tail with the usual rate shrunk toward the portfolio's): the pattern of card testing.
- ``cash_advance_jump``: more cash advances than the customer's usual count, worth a share of
  their usual spending.

Why one score: the detectors' tail probabilities share one scale, so the month's strongest
evidence decides. ``anomaly_score`` is the standard-normal quantile of the smallest probability
(Bonferroni-corrected for five detectors): 3.0 means "as rare as a 3-sigma event". Money floors
are stated in the customer's own usual spending, never in the credit limit (a 60 %-of-limit rule
cannot see a spike of a customer who spends 5 % of it).

Why a target alert rate: analysts review a fixed share of customers, and a threshold fitted to one
data source's score distribution does not carry over to another. A month flags its highest scores
up to ``target_alert_rate`` of its eligible customer-months, and never a score below
``min_score``: a quiet month flags fewer, a month of mass card testing no more than the team can
review (the rest stay in the table with their scores and reasons, sorted next).

Why baselines use prior months only: a month cannot be its own yardstick (the seed's Power BI
rule, spend > 1.5 x the 6-month average *including* the month, lets a spike inflate its own
average). A customer with fewer than ``min_history`` prior months is never flagged.

Why only published tables: they are the validated figures readers see, so every flag can be
explained with numbers on the dashboard, and the ground truth (``labels.csv``) can never leak in.

How it is measured: ``benchmarks/anomaly_evaluation.py`` reports precision and recall per kind on
the main generator and on ``generate.holdout``, a source written independently of these
detectors and never used to choose their settings.

Settings are :class:`AnomalySettings`, read from ``CREDIT_RISK_ANOMALY_*`` environment variables.
"""

from __future__ import annotations

from credit_risk.analytics.anomalies.baselines import (
    KEY,
    first_month,
    profile_aggregates,
    read_month,
    ticket_quartiles,
    window_aggregates,
)
from credit_risk.analytics.anomalies.detectors import (
    CASH_ADVANCE_JUMP,
    DETECTORS,
    LARGE_LINE_Z,
    LARGE_PURCHASE,
    MAX_SCORE,
    MIN_PORTFOLIO,
    NEW_CATEGORY,
    SMALL_ONLINE_BURST,
    SPEND_SPIKE,
    TAIL_POINTS,
    TAIL_QUANTILE,
    TailFit,
    densest_window,
    fit_tail,
    relative_volatility,
    shrunk_spread,
)
from credit_risk.analytics.anomalies.evaluation import (
    COMBINED,
    SEED_RULE,
    SEED_RULE_MULTIPLE,
    evaluation_table,
    format_evaluation,
    read_labels,
    seed_rule,
)
from credit_risk.analytics.anomalies.job import (
    TABLE,
    detect_anomalies,
    evaluate_anomalies,
    published_months,
    score_published_month,
    table_rows,
    write_spend_anomalies,
)
from credit_risk.analytics.anomalies.scoring import (
    TABLE_COLUMNS,
    score_customer_months,
    score_month,
    select_alerts,
)
from credit_risk.settings.anomalies import AnomalySettings

__all__ = [
    "CASH_ADVANCE_JUMP",
    "COMBINED",
    "DETECTORS",
    "KEY",
    "LARGE_LINE_Z",
    "LARGE_PURCHASE",
    "MAX_SCORE",
    "MIN_PORTFOLIO",
    "NEW_CATEGORY",
    "SEED_RULE",
    "SEED_RULE_MULTIPLE",
    "SMALL_ONLINE_BURST",
    "SPEND_SPIKE",
    "TABLE",
    "TABLE_COLUMNS",
    "TAIL_POINTS",
    "TAIL_QUANTILE",
    "AnomalySettings",
    "TailFit",
    "densest_window",
    "detect_anomalies",
    "evaluate_anomalies",
    "evaluation_table",
    "first_month",
    "fit_tail",
    "format_evaluation",
    "profile_aggregates",
    "published_months",
    "read_labels",
    "read_month",
    "relative_volatility",
    "score_customer_months",
    "score_month",
    "score_published_month",
    "seed_rule",
    "select_alerts",
    "shrunk_spread",
    "table_rows",
    "ticket_quartiles",
    "window_aggregates",
    "write_spend_anomalies",
]
