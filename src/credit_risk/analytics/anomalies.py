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

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import sqlalchemy as sa
from scipy import stats

from credit_risk.months import add_months, validate_month
from credit_risk.settings import get_settings
from credit_risk.settings.anomalies import AnomalySettings
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.frames import read_frame
from credit_risk.warehouse.schema import create_tables

KEY = ["customer_id", "month"]
TABLE = "spend_anomalies"

SPEND_SPIKE = "spend_spike"
LARGE_PURCHASE = "large_purchase"
NEW_CATEGORY = "new_category"
SMALL_ONLINE_BURST = "small_online_burst"
CASH_ADVANCE_JUMP = "cash_advance_jump"
DETECTORS = (SPEND_SPIKE, LARGE_PURCHASE, NEW_CATEGORY, SMALL_ONLINE_BURST, CASH_ADVANCE_JUMP)
COMBINED = "combined"
SEED_RULE = "seed_rule_1_5x"
SEED_RULE_MULTIPLE = 1.5

TABLE_COLUMNS = [
    "customer_id",
    "month",
    "monthly_spend",
    "baseline_mean",
    "baseline_std",
    "z_score",
    "anomaly_score",
    "is_anomaly",
    "anomaly_reason",
    "history_months",
    "detectors",
    "model_version",
]
"""Columns written to spend_anomalies (``detected_at`` is set by the database)."""

TAIL_QUANTILE = 0.975
"""How heavy a month's tails are is read off this quantile of its robust z-scores: card spending
is heavy-tailed in some portfolios (a flight, a month of restraint, a frozen card) and close to
lognormal in others, and a fixed tail would either flag ordinary months of the first or miss
plain spikes of the second (see :class:`TailFit`)."""
TAIL_POINTS = 100
"""Points a month's tail fit needs beyond its quantile: with many values (a month's purchases)
the fit moves past ``TAIL_QUANTILE`` to the quantile that still has this many beyond it (about
a 10 % error on the quantile), so a source whose far tail is heavier than its near one (many
ordinary purchases 20-50x the usual basket) is measured where single large purchases are
judged; with few (a month's customers) it stays at ``TAIL_QUANTILE``."""
LARGE_LINE_Z = 1.0
"""A purchase counts as large for a customer from this robust z of its log size (about one in
five of their ordinary purchases is): ``large_purchase`` asks whether the month has more of them,
or more within a few days, than that rate allows."""
MIN_PORTFOLIO = 20
"""Eligible customers a month needs before its portfolio-wide figures (the seasonal uplift, the
typical spread) are learned from it; a smaller one uses no uplift and the spreads it has."""
MAX_SCORE = 12.0
"""Scores are capped here (a probability of about 1e-33): beyond it, rarer is not more useful."""
_MAD_TO_SD = 1.4826  # the MAD of a normal distribution times this is its standard deviation
_IQR_TO_SD = 1.349  # and its interquartile range divided by this


@dataclass(frozen=True)
class TailFit:
    """A Student t fitted to one month's robust z-scores across the portfolio: how rare a z is
    in *this* portfolio, not under a textbook normal.

    The scale is the z-scores' median absolute deviation about 0 (never tighter than a standard
    normal's: calibration may only make a detector more careful), the degrees of freedom those
    for which the t has the same ratio of a far quantile to its MAD as the month's z-scores
    (``TAIL_QUANTILE``, or further out when ``TAIL_POINTS`` values lie beyond). Anomalies
    are a few percent at most, so they barely move either figure.
    """

    spread: float = float(stats.norm.isf(0.25))
    degrees_of_freedom: float = 200.0

    def sf(self, z: pd.Series | np.ndarray) -> np.ndarray:
        """Upper tail probability of each z."""
        standard = (
            np.asarray(z, dtype=float) / self.spread * stats.t.isf(0.25, self.degrees_of_freedom)
        )
        return stats.t.sf(standard, self.degrees_of_freedom)


_FIT_DEGREES = np.geomspace(1.5, 200.0, 120)


def fit_tail(z: pd.Series | np.ndarray) -> TailFit:
    """The :class:`TailFit` of a month's z-scores (the default, a normal, for too few)."""
    values = np.asarray(z, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < MIN_PORTFOLIO:
        return TailFit()
    spread = max(float(np.median(np.abs(values))), TailFit.spread)
    quantile = max(TAIL_QUANTILE, 1.0 - TAIL_POINTS / values.size)
    ratios = stats.t.isf(1 - quantile, _FIT_DEGREES) / stats.t.isf(0.25, _FIT_DEGREES)
    ratio = max(float(np.quantile(values, quantile)), 0.0) / spread
    # the ratios fall as the degrees of freedom grow: interpolate on the reversed grid
    degrees = float(np.interp(ratio, ratios[::-1], _FIT_DEGREES[::-1]))
    return TailFit(spread=spread, degrees_of_freedom=degrees)


# --- window aggregates: what a month's scoring needs from its baseline window -------------------

_COUNT_COLUMNS = ["small_online_count", "cash_count", "cash_amount"]


def window_aggregates(
    transactions: pd.DataFrame, month: str, settings: AnomalySettings
) -> dict[str, pd.DataFrame]:
    """The baseline window's transaction aggregates of ``month``, computed in memory.

    The same figures as :func:`profile_aggregates` reads from the purchase profiles; tests and
    the in-memory path use this one.

    Args:
        transactions: Published transactions of at least the window (``customer_id``,
            ``month``, ``transaction_amount``, ``transaction_type``, ``merchant_category``,
            ``channel``).
        month: The month to score.
        settings: The window length and what counts as small.

    Returns:
        ``counts``: per customer-month of the window and the month, small online charges and
        cash advances (count, amount); ``tickets``: per customer, the prior purchases' count,
        lower quartile, median and upper quartile; ``categories``: the (customer, merchant
        category) pairs of prior purchases.
    """
    first, last = add_months(month, -settings.baseline_months), add_months(month, -1)
    inside = transactions[transactions["month"].between(first, month)]
    amount = inside["transaction_amount"].astype(float)
    purchase = inside["transaction_type"] == "purchase"
    small_online = (
        purchase & (inside["channel"] == "online") & amount.between(0.01, settings.small_amount)
    )
    cash = inside["transaction_type"] == "cash_advance"
    counts = (
        pd.DataFrame(
            {
                "customer_id": inside["customer_id"],
                "month": inside["month"],
                "small_online_count": small_online.astype(np.int64),
                "cash_count": cash.astype(np.int64),
                "cash_amount": amount.where(cash, 0.0),
            }
        )
        .groupby(KEY, sort=False)
        .sum()
        .reset_index()
    )
    prior = purchase & (inside["month"] <= last) & (amount > 0)
    # The usual ticket leaves out small card-not-present charges: one burst of card testing
    # would otherwise make every later purchase look huge.
    ticket = inside[prior & ~small_online]
    used = inside[prior & inside["merchant_category"].notna()]
    return {
        "counts": counts,
        "tickets": ticket_quartiles(ticket["customer_id"], ticket["transaction_amount"]),
        "categories": used[["customer_id", "merchant_category"]].drop_duplicates(ignore_index=True),
    }


def ticket_quartiles(customers: pd.Series, amounts: pd.Series) -> pd.DataFrame:
    """Per customer: purchases, and the lower quartile, median and upper quartile of amounts.

    Quartiles are the nearest-rank ones (the ``ceil(n/4)``-th and ``ceil(3n/4)``-th smallest),
    the median the middle value or the mean of the middle two: definitions the SQL of
    :func:`profile_aggregates` reads with the same definitions.
    """
    codes, names = pd.factorize(customers, sort=True)
    return _quartiles_by_code(codes, amounts.astype(float).to_numpy(), names)


def _quartiles_by_code(codes: np.ndarray, amounts: np.ndarray, names) -> pd.DataFrame:
    """``ticket_quartiles`` of amounts labelled by customer code (an index into ``names``):
    one sort of the codes and amounts, then each statistic is read at its rank."""
    order = np.lexsort((amounts, codes))
    codes, amounts = codes[order], amounts[order]
    del order
    n = np.bincount(codes, minlength=len(names))
    present = np.flatnonzero(n)
    n = n[present]
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    q1 = amounts[start + np.maximum(1, np.ceil(n / 4).astype(np.int64)) - 1]
    q3 = amounts[start + np.maximum(1, np.ceil(3 * n / 4).astype(np.int64)) - 1]
    median = (amounts[start + (n + 1) // 2 - 1] + amounts[start + n // 2]) / 2
    return pd.DataFrame(
        {
            "customer_id": np.asarray(names)[present],
            "purchases": n.astype(np.int64),
            "ticket_q1": q1,
            "ticket_median": median,
            "ticket_q3": q3,
        }
    )


# --- scoring one month -----------------------------------------------------------------------


def score_month(
    customer_months: pd.DataFrame,
    transactions: pd.DataFrame,
    month: str,
    settings: AnomalySettings,
    *,
    counts: pd.DataFrame,
    tickets: pd.DataFrame,
    categories: pd.DataFrame,
) -> pd.DataFrame:
    """Score every customer of ``month`` against their own baseline window.

    Args:
        customer_months: Rows of ``published_customer_month`` of the month and its window
            (``customer_id``, ``month``, ``monthly_spend``; ``rolling_6_month_avg`` for the seed
            rule).
        transactions: The month's published transactions (earlier rows are ignored).
        month: The month to score.
        settings: The detectors' settings.
        counts, tickets, categories: The window's aggregates (:func:`window_aggregates`).

    Returns:
        One row per customer of the month: the features, ``z_score``, one tail probability
        ``p_<detector>`` and one boolean per detector, ``anomaly_score``, ``is_anomaly``,
        ``detectors`` (the detectors that fired, strongest first), ``anomaly_reason``, and
        ``model_version``.
    """
    frame = _spend_features(customer_months, month, settings)
    frame = frame.merge(_count_features(counts, month, settings), on="customer_id", how="left")
    own = transactions[transactions["month"] == month]
    eligible_customers = frame.loc[frame["history_months"] >= settings.min_history, "customer_id"]
    purchases, ticket_tail = _purchase_features(
        own, tickets, categories, eligible_customers, settings
    )
    frame = frame.merge(purchases, on="customer_id", how="left")
    frame["ticket_tail_degrees"] = ticket_tail.degrees_of_freedom
    eligible = frame["history_months"] >= settings.min_history
    frame["p_" + SPEND_SPIKE] = _spend_probability(frame, eligible, settings)
    frame["p_" + LARGE_PURCHASE] = _large_purchase_probability(frame, settings, ticket_tail)
    frame["p_" + NEW_CATEGORY] = _new_category_probability(frame, eligible, settings, ticket_tail)
    frame["p_" + SMALL_ONLINE_BURST] = _count_probability(
        frame,
        "small_online",
        settings.small_online_min_count,
        np.ones(len(frame), dtype=bool),
        settings.count_prior_months,
    )
    cash_enough = frame["cash_amount"] >= settings.cash_usual_share * frame["usual_spend"]
    frame["p_" + CASH_ADVANCE_JUMP] = _count_probability(
        frame, "cash", settings.cash_min_count, cash_enough.to_numpy(), settings.count_prior_months
    )
    probabilities = frame[["p_" + name for name in DETECTORS]].to_numpy(float)
    probabilities[~eligible.to_numpy()] = 1.0
    smallest = np.clip(probabilities.min(axis=1) * len(DETECTORS), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        score = np.clip(stats.norm.isf(smallest), 0.0, MAX_SCORE)
    frame["anomaly_score"] = np.where(eligible, score, np.nan)
    frame["is_anomaly"] = select_alerts(frame["customer_id"], smallest, eligible, settings)
    # A detector "fired" on a flagged month when it alone reaches the minimum score.
    corrected = np.clip(probabilities * len(DETECTORS), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        detector_scores = np.clip(stats.norm.isf(corrected), 0.0, MAX_SCORE)
    for index, name in enumerate(DETECTORS):
        frame[name] = frame["is_anomaly"] & (detector_scores[:, index] >= settings.min_score)
    frame["detectors"], frame["anomaly_reason"] = _explain(
        frame, detector_scores, eligible, settings.min_history
    )
    frame["model_version"] = settings.model_version
    return frame


def select_alerts(
    customers: pd.Series, probability: np.ndarray, eligible: pd.Series, settings: AnomalySettings
) -> np.ndarray:
    """Which customer-months of one month are flagged: those scoring at least ``min_score``,
    the most improbable first, at most ``target_alert_rate`` of the eligible ones (the count
    rounded up, so a small portfolio may still flag one).

    Ranked on the uncorrected probability, not the capped score, then on the customer id, so
    the same data always flags the same customers, however many reach the cap.
    """
    eligible = eligible.to_numpy(bool)
    with np.errstate(divide="ignore"):
        score = np.clip(stats.norm.isf(probability), 0.0, MAX_SCORE)
    candidates = np.flatnonzero(eligible & (score >= settings.min_score))
    allowed = int(np.ceil(settings.target_alert_rate * eligible.sum()))
    order = np.lexsort((customers.to_numpy()[candidates].astype(str), probability[candidates]))
    flagged = np.zeros(eligible.size, dtype=bool)
    flagged[candidates[order[:allowed]]] = True
    return flagged


def _spend_features(
    customer_months: pd.DataFrame, month: str, settings: AnomalySettings
) -> pd.DataFrame:
    """The month's customers with their usual spend (median of prior months with spending),
    its spread and the spend z-score after the month's portfolio-wide uplift."""
    window = customer_months[customer_months["month"].between(first_month(month, settings), month)]
    window = window.assign(
        monthly_spend=window["monthly_spend"].astype(float),
        log_spend=np.log(
            window["monthly_spend"].astype(float).clip(lower=0) + settings.spend_offset
        ),
    )
    current = window[window["month"] == month].drop(columns="log_spend")
    current = current.sort_values("customer_id", ignore_index=True)
    history = window[window["month"] < month].groupby("customer_id").size().rename("history_months")
    # The usual month is one with spending: a card left unused for months (or frozen over its
    # limit) and then used again is a return, not a spike against zero. Nor does a month that
    # closed with the card full count: the limit held its spending back (charges declined),
    # and the month after a payment or a higher limit would look like a spike against it.
    constrained = (
        window["utilization_pct"].astype(float) >= settings.constrained_utilization_pct
        if "utilization_pct" in window
        else pd.Series(False, index=window.index)
    )
    prior = window[(window["month"] < month) & (window["monthly_spend"] > 0) & ~constrained]
    grouped = prior.groupby("customer_id")
    centre = grouped["log_spend"].median().rename("log_usual")
    spread = (
        (prior["log_spend"] - grouped["log_spend"].transform("median"))
        .abs()
        .groupby(prior["customer_id"])
        .median()
        .mul(_MAD_TO_SD)
        .rename("log_spread")
    )
    usual = grouped["monthly_spend"].median().rename("usual_spend")
    money_spread = (
        (prior["monthly_spend"] - grouped["monthly_spend"].transform("median"))
        .abs()
        .groupby(prior["customer_id"])
        .median()
        .mul(_MAD_TO_SD)
        .rename("usual_spread")
    )
    active = grouped.size().rename("active_months")
    frame = current.merge(
        pd.concat([centre, spread, usual, money_spread, active, history], axis=1),
        left_on="customer_id",
        right_index=True,
        how="left",
    )
    frame["history_months"] = frame["history_months"].fillna(0).astype(np.int64)
    frame["active_months"] = frame["active_months"].fillna(0).astype(np.int64)
    eligible = frame["active_months"] >= settings.min_history
    log_spend = np.log(frame["monthly_spend"].clip(lower=0) + settings.spend_offset)
    deviation = log_spend - frame["log_usual"]
    learned = int(eligible.sum()) >= MIN_PORTFOLIO
    frame["season_uplift"] = float(deviation[eligible].median()) if learned else 0.0
    frame["relative_volatility"] = relative_volatility(
        frame["log_spread"], frame["active_months"], eligible, settings.shrinkage_months
    )
    surprise = (deviation - frame["season_uplift"]) / frame["relative_volatility"]
    # The portfolio's spread of a month around the customer's usual one, measured out of
    # sample on the month itself: a median of three months sits on one of them, so in-sample
    # deviations understate how far the next month strays.
    portfolio = float(surprise[eligible].abs().median() * _MAD_TO_SD) if learned else np.nan
    if not np.isfinite(portfolio) or portfolio <= 0:
        portfolio = float(frame.loc[eligible, "log_spread"].median()) if eligible.any() else 0.0
    frame["spend_scale"] = np.maximum(
        np.nan_to_num(portfolio) * frame["relative_volatility"], settings.min_log_spread
    )
    frame["z_score"] = (deviation - frame["season_uplift"]) / frame["spend_scale"]
    frame["spend_ratio"] = (frame["monthly_spend"] + settings.spend_offset) / (
        frame["usual_spend"] + settings.spend_offset
    )
    return frame


def relative_volatility(
    spread: pd.Series, months: pd.Series, eligible: pd.Series, prior_months: float
) -> np.ndarray:
    """How volatile each customer's months are next to the portfolio's typical customer: the
    ratio of their spread to the median spread, shrunk toward 1 (in logs) with the weight of
    ``prior_months`` months against their own (three alike months prove little)."""
    reference = float(spread[eligible].median()) if eligible.any() else np.nan
    if not np.isfinite(reference) or reference <= 0:
        return np.ones(len(spread))
    own = np.log(np.maximum(spread.fillna(reference).to_numpy(float), reference / 4) / reference)
    weight = months.to_numpy(float) / (months.to_numpy(float) + prior_months)
    return np.exp(weight * own)


def first_month(month: str, settings: AnomalySettings) -> str:
    """The first month of ``month``'s baseline window."""
    return add_months(month, -settings.baseline_months)


def shrunk_spread(
    own: pd.Series, weight: pd.Series, portfolio: float, prior_weight: float
) -> np.ndarray:
    """A customer's spread pulled toward the portfolio's: the variance-weighted mean of both,
    the customer's weighing as many months (or purchases) as they have."""
    own_weight = weight.astype(float).to_numpy()
    total = own_weight + prior_weight
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (own_weight * own.to_numpy(float) ** 2 + prior_weight * portfolio**2) / total
    return np.sqrt(np.where(total > 0, variance, portfolio**2))


def _count_features(counts: pd.DataFrame, month: str, settings: AnomalySettings) -> pd.DataFrame:
    """Per customer: the month's small online charges and cash advances, and their usual (mean
    of the prior months of the window; months without any count as zero)."""
    current = counts[counts["month"] == month].drop(columns="month")
    prior = counts[counts["month"] < month]
    usual = prior.groupby("customer_id")[_COUNT_COLUMNS].sum()
    frame = current.set_index("customer_id").join(usual.add_prefix("prior_"), how="outer")
    return frame.fillna(0.0).rename_axis("customer_id").reset_index()


def _purchase_features(
    own: pd.DataFrame,
    tickets: pd.DataFrame,
    categories: pd.DataFrame,
    eligible_customers: pd.Series,
    settings: AnomalySettings,
) -> tuple[pd.DataFrame, TailFit]:
    """Per customer: the month's largest purchase against their usual ticket, and their largest
    purchase in a category not used in the window; and the tail of the month's ticket z-scores
    (every purchase of an eligible customer)."""
    purchases = own[(own["transaction_type"] == "purchase")].copy()
    purchases["amount"] = purchases["transaction_amount"].astype(float)
    purchases = purchases[purchases["amount"] > 0]
    tickets = tickets.copy()
    tickets["log_median"] = np.log(tickets["ticket_median"])
    tickets["log_ticket_spread"] = (
        np.log(tickets["ticket_q3"]) - np.log(tickets["ticket_q1"])
    ) / _IQR_TO_SD
    known = tickets["purchases"] >= 4
    portfolio = float(tickets.loc[known, "log_ticket_spread"].median()) if known.any() else 1.0
    tickets["ticket_scale"] = np.maximum(
        shrunk_spread(
            tickets["log_ticket_spread"].where(known, portfolio),
            tickets["purchases"],
            portfolio,
            settings.shrinkage_purchases,
        ),
        settings.min_log_spread,
    )
    purchases = purchases.merge(
        tickets[["customer_id", "purchases", "ticket_median", "log_median", "ticket_scale"]],
        on="customer_id",
        how="left",
    )
    purchases["ticket_z"] = (np.log(purchases["amount"]) - purchases["log_median"]) / purchases[
        "ticket_scale"
    ]
    used = categories.assign(used=True)
    purchases = purchases.merge(used, on=["customer_id", "merchant_category"], how="left")
    purchases["is_new"] = purchases["used"].isna() & purchases["merchant_category"].notna()
    month_purchases = purchases.groupby("customer_id").size().rename("month_purchases")
    small = (purchases["channel"] == "online") & (purchases["amount"] <= settings.small_amount)
    ticket_count = (~small).groupby(purchases["customer_id"]).sum().rename("ticket_count")
    large = purchases["ticket_z"].ge(LARGE_LINE_Z)
    large_count = large.groupby(purchases["customer_id"]).sum().rename("large_count")
    large_window = densest_window(
        purchases.loc[large, "customer_id"],
        pd.to_datetime(purchases.loc[large, "transaction_date"]).dt.day,
        settings.burst_window_days,
    ).rename("large_in_window")
    largest = (
        purchases.sort_values(["customer_id", "ticket_z"], ascending=[True, False])
        .drop_duplicates("customer_id")
        .set_index("customer_id")[["amount", "ticket_z", "ticket_median", "purchases"]]
        .rename(columns={"amount": "largest_amount", "ticket_z": "largest_z"})
    )
    new = purchases[purchases["is_new"]]
    new_largest = (
        new.sort_values(["customer_id", "ticket_z"], ascending=[True, False])
        .drop_duplicates("customer_id")
        .set_index("customer_id")[["amount", "ticket_z", "merchant_category"]]
        .rename(
            columns={
                "amount": "new_amount",
                "ticket_z": "new_z",
                "merchant_category": "new_category_name",
            }
        )
    )
    new_count = new.groupby("customer_id").size().rename("new_purchases")
    result = pd.concat(
        [month_purchases, ticket_count, large_count, large_window, largest, new_largest, new_count],
        axis=1,
    )
    result = result.rename_axis("customer_id").reset_index()
    numbers = [
        column for column in result.columns if column not in ("customer_id", "new_category_name")
    ]
    result[numbers] = result[numbers].apply(pd.to_numeric, errors="coerce").astype(float)
    counts = (
        "month_purchases",
        "ticket_count",
        "new_purchases",
        "purchases",
        "large_count",
        "large_in_window",
    )
    tail = fit_tail(purchases.loc[purchases["customer_id"].isin(eligible_customers), "ticket_z"])
    return result.fillna(dict.fromkeys(counts, 0)), tail


def densest_window(customers: pd.Series, days: pd.Series, window: int) -> pd.Series:
    """Per customer: the most events within any ``window`` consecutive days of the month."""
    if customers.empty:
        return pd.Series(dtype=float)
    frame = pd.DataFrame({"customer_id": customers.to_numpy(), "day": days.to_numpy(np.int64)})
    frame = frame.sort_values(["customer_id", "day"], ignore_index=True)
    code = pd.factorize(frame["customer_id"])[0].astype(np.int64)
    key = code * 100 + frame["day"].to_numpy()
    inside = np.searchsorted(key, key + window - 1, side="right") - np.arange(key.size)
    return pd.Series(inside, index=frame["customer_id"]).groupby(level=0).max()


def _spend_probability(
    frame: pd.DataFrame, eligible: pd.Series, settings: AnomalySettings
) -> np.ndarray:
    """Tail probability of the month's spend, where the excess is worth a look."""
    seasonal_usual = (frame["usual_spend"] + settings.spend_offset) * np.exp(
        frame["season_uplift"]
    ) - settings.spend_offset
    excess = frame["monthly_spend"] - seasonal_usual
    worth = (
        (excess >= settings.min_excess_of_usual * seasonal_usual.clip(lower=0))
        & (excess >= settings.min_excess_amount)
        & eligible
        & (frame["active_months"] >= settings.min_history)
    )
    tail = fit_tail(frame.loc[eligible, "z_score"])
    frame["spend_tail_degrees"] = tail.degrees_of_freedom
    money = tail.sf(frame["z_score"].fillna(0.0))
    # Spend rises through bigger baskets or through more of them: the number of purchases
    # against the usual number, on a variance-stabilised (Anscombe) scale, after the month's
    # portfolio-wide uplift, its tail fitted on the portfolio like the money's.
    usual = frame["purchases"].fillna(0) / frame["active_months"].clip(lower=1)
    frame["usual_purchases"] = usual
    count_z = 2 * (np.sqrt(frame["ticket_count"].fillna(0) + 0.375) - np.sqrt(usual + 0.375))
    learned = int(eligible.sum()) >= MIN_PORTFOLIO
    count_z = count_z - (float(count_z[eligible].median()) if learned else 0.0)
    frame["purchase_count_z"] = count_z
    counted = fit_tail(count_z[eligible]).sf(count_z)
    # A spree raises both at once: Fisher's combination of the two, beside each alone (three
    # tests, hence the factor 3). The two are correlated in ordinary months, which makes the
    # combination a little bold; each tail is calibrated on the month, which keeps it in check.
    with np.errstate(divide="ignore"):
        both = stats.chi2.sf(-2 * (np.log(money) + np.log(counted)), 4)
    p = 3 * np.minimum(np.minimum(money, counted), both)
    return np.where(worth, np.clip(p, 0.0, 1.0), 1.0)


def _large_purchase_probability(
    frame: pd.DataFrame, settings: AnomalySettings, tail: TailFit
) -> np.ndarray:
    """Tail probability of the month's largest purchase among the month's purchases, or of
    the number of large ones (a splurge of several), whichever is smaller."""
    worth = frame["largest_amount"] >= np.maximum(
        settings.large_purchase_usual_share * frame["usual_spend"], settings.min_purchase_amount
    )
    worth &= frame["purchases"] >= 1
    purchases = frame["month_purchases"].clip(lower=1)
    single = tail.sf(frame["largest_z"].fillna(-np.inf)) * purchases
    expected = purchases * float(tail.sf(np.array([LARGE_LINE_Z]))[0])
    several = stats.poisson.sf(frame["large_count"].fillna(0) - 1, expected)
    several = np.where(frame["large_count"].fillna(0) >= 2, several, 1.0)
    # Several within days (a splurge, or a taken-over card): one test per window of the month.
    windows = 31 / settings.burst_window_days
    in_window = frame["large_in_window"].fillna(0)
    close = windows * stats.poisson.sf(in_window - 1, expected / windows)
    close = np.where(in_window >= 2, close, 1.0)
    smallest = np.minimum(np.minimum(single, several), close)
    return np.where(worth, np.clip(smallest, 0.0, 1.0), 1.0)


def _new_category_probability(
    frame: pd.DataFrame, eligible: pd.Series, settings: AnomalySettings, tail: TailFit
) -> np.ndarray:
    """Probability of a purchase this large in a category the customer has not used: the
    portfolio's share of eligible customers with any new-category purchase this month, times
    the purchase's size tail among the customer's new-category purchases."""
    history = frame["purchases"] >= settings.new_category_min_purchases
    has_new = (frame["new_purchases"] > 0) & history & eligible
    base = max(float(has_new.sum()), 1.0) / max(float((history & eligible).sum()), 1.0)
    worth = has_new & (
        frame["new_amount"]
        >= np.maximum(
            settings.new_category_usual_share * frame["usual_spend"], settings.min_purchase_amount
        )
    )
    size = tail.sf(frame["new_z"].fillna(-np.inf)) * frame["new_purchases"].clip(lower=1)
    return np.where(worth, np.clip(base * size, 0.0, 1.0), 1.0)


def _count_probability(
    frame: pd.DataFrame, prefix: str, min_count: int, worth: np.ndarray, prior_months: float
) -> np.ndarray:
    """Poisson tail of the month's count given the customer's usual rate, shrunk toward the
    portfolio's (``count_prior_months`` months of it)."""
    count = frame[f"{prefix}_count"].fillna(0).to_numpy(float)
    prior = frame[f"prior_{prefix}_count"].fillna(0).to_numpy(float)
    months = frame["history_months"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        own_rate = np.where(months > 0, prior / months, 0.0)
    eligible = months > 0
    portfolio = float(own_rate[eligible].mean()) if eligible.any() else 0.0
    rate = (prior + prior_months * portfolio) / (months + prior_months)
    frame[f"usual_{prefix}_count"] = rate
    fires = (count >= min_count) & worth
    tail = stats.poisson.sf(count - 1, np.maximum(rate, 1e-6))
    return np.where(fires, tail, 1.0)


def seed_rule(frame: pd.DataFrame) -> pd.Series:
    """The seed's Power BI rule: spend > 1.5 x the 6-month average, the month itself included.

    ``rolling_6_month_avg`` is the published column: the mean of the months m-5..m that lie in
    the customer's history, so the rule reproduces the seed report exactly.
    """
    average = frame["rolling_6_month_avg"].astype(float)
    return frame["monthly_spend"].astype(float) > SEED_RULE_MULTIPLE * average


def _money_text(value: float) -> str:
    """1234.5 -> '1,234.50'."""
    return f"{value:,.2f}"


def _reasons(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """One reason per detector and row, saying what was unusual (used where it fired)."""
    money = _money_text
    months = frame["history_months"].astype(int).astype(str)
    season = np.exp(frame["season_uplift"].astype(float))
    return {
        SPEND_SPIKE: "spend "
        + frame["spend_ratio"].map("{:.1f}".format)
        + "x usual (median "
        + frame["usual_spend"].fillna(0).map(money)
        + ", season "
        + season.map("{:.2f}".format)
        + "x; "
        + frame["ticket_count"].fillna(0).astype(int).astype(str)
        + " purchases, usually "
        + frame["usual_purchases"].fillna(0).map("{:.1f}".format)
        + ")",
        LARGE_PURCHASE: "purchase of "
        + frame["largest_amount"].fillna(0).map(money)
        + ", "
        + (frame["largest_amount"] / frame["ticket_median"]).fillna(0).map("{:.1f}".format)
        + "x the usual purchase (median "
        + frame["ticket_median"].fillna(0).map(money)
        + ")",
        NEW_CATEGORY: "purchase of "
        + frame["new_amount"].fillna(0).map(money)
        + " in "
        + frame["new_category_name"].fillna("?").astype(str)
        + ", a category not used in "
        + months
        + " months",
        SMALL_ONLINE_BURST: frame["small_online_count"].fillna(0).astype(int).astype(str)
        + " small online charges (usual "
        + frame["usual_small_online_count"].map("{:.1f}".format)
        + " a month)",
        CASH_ADVANCE_JUMP: frame["cash_count"].fillna(0).astype(int).astype(str)
        + " cash advances of "
        + frame["cash_amount"].fillna(0).map(money)
        + " (usual "
        + frame["usual_cash_count"].map("{:.1f}".format)
        + " a month)",
    }


def _explain(
    frame: pd.DataFrame, detector_scores: np.ndarray, eligible: pd.Series, min_history: int
) -> tuple[pd.Series, pd.Series]:
    """The detectors that fired (strongest first) and their reasons, row by row."""
    reasons = _reasons(frame)
    fired = frame[list(DETECTORS)].to_numpy(bool)
    order = np.argsort(-detector_scores, axis=1, kind="stable")
    names, texts = [], []
    for row, ranking in enumerate(order):
        chosen = [DETECTORS[i] for i in ranking if fired[row, i]]
        names.append(",".join(chosen) or None)
        texts.append("; ".join(reasons[name].iat[row] for name in chosen) or None)
    names_series = pd.Series(names, index=frame.index, dtype=object)
    text_series = pd.Series(texts, index=frame.index, dtype=object)
    too_new = (
        "insufficient history: "
        + frame["history_months"].astype(str)
        + f" prior months, {min_history} needed"
    )
    return names_series, text_series.where(eligible, too_new)


def score_customer_months(
    customer_months: pd.DataFrame,
    transactions: pd.DataFrame,
    settings: AnomalySettings | None = None,
    *,
    only_month: str | None = None,
) -> pd.DataFrame:
    """Score every month of in-memory published frames (or ``only_month``), month by month.

    The same :func:`score_month` the warehouse path runs, with the window aggregates computed
    by :func:`window_aggregates` instead of the purchase profiles.
    """
    settings = settings or AnomalySettings()
    months = sorted(customer_months["month"].astype(str).unique())
    if only_month is not None:
        months = [only_month]
    parts = [
        score_month(
            customer_months,
            transactions,
            month,
            settings,
            **window_aggregates(transactions, month, settings),
        )
        for month in months
    ]
    if not parts:
        return pd.DataFrame(columns=[*TABLE_COLUMNS, *DETECTORS])
    return pd.concat(parts, ignore_index=True).sort_values(KEY, ignore_index=True)


# --- evaluation against labels ---------------------------------------------------------------


def evaluation_table(scored: pd.DataFrame, labels: pd.DataFrame, min_history: int) -> pd.DataFrame:
    """Precision, recall and F1 of each detector, the combination and the seed's rule.

    Every rule is scored on the same customer-months: those with at least ``min_history``
    prior months (the seed's rule included, although it would flag newer customers too).
    A detector's precision counts any labelled month as a hit, its recall every label.

    Args:
        scored: Output of :func:`score_customer_months` (with ``rolling_6_month_avg``).
        labels: ``customer_id``, ``month``, ``anomaly_type`` (labels.csv); several rows of one
            customer-month count once.
        min_history: Prior months that make a customer-month eligible.

    Returns:
        One row per rule: ``rule``, ``flagged``, ``true_positives``, ``precision``, ``recall``,
        ``f1``, then ``recall_<anomaly_type>`` for each type in the labels, and
        ``december_normal_flagged`` (share of unlabelled Decembers flagged).
    """
    eligible = scored[scored["history_months"] >= min_history].copy()
    truth = labels.drop_duplicates(KEY).merge(eligible[KEY], on=KEY, how="inner")
    eligible = eligible.merge(truth, on=KEY, how="left")
    actual = eligible["anomaly_type"].notna()
    rules = {name: eligible[name] for name in DETECTORS}
    rules[COMBINED] = eligible["is_anomaly"]
    rules[SEED_RULE] = seed_rule(eligible)
    types = sorted(truth["anomaly_type"].unique())
    rows = [
        _metrics(name, flags.astype(bool), actual, eligible, types) for name, flags in rules.items()
    ]
    return pd.DataFrame(rows)


def _metrics(
    name: str, flagged: pd.Series, actual: pd.Series, frame: pd.DataFrame, types: list[str]
) -> dict[str, Any]:
    """Counts and ratios of one rule (ratios are NaN when undefined)."""
    hits = int((flagged & actual).sum())
    precision = hits / flagged.sum() if flagged.sum() else float("nan")
    recall = hits / actual.sum() if actual.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    row: dict[str, Any] = {
        "rule": name,
        "flagged": int(flagged.sum()),
        "true_positives": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
    for kind in types:
        of_kind = frame["anomaly_type"] == kind
        row[f"recall_{kind}"] = (flagged & of_kind).sum() / of_kind.sum()
    december = frame["month"].astype(str).str.endswith("-12") & ~actual
    row["december_normal_flagged"] = (
        (flagged & december).sum() / december.sum() if december.any() else float("nan")
    )
    return row


def format_evaluation(frame: pd.DataFrame) -> str:
    """The evaluation as a fixed-width text table, ratios with three decimals."""
    shown = frame.copy()
    for column in shown.columns:
        if column in ("precision", "recall", "f1", "december_normal_flagged") or column.startswith(
            "recall_"
        ):
            shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}")
    return shown.to_string(index=False)


# --- warehouse I/O -----------------------------------------------------------------------------

# money as doubles: float64 columns in pandas instead of a Decimal object per value
_CUSTOMER_MONTH_SQL = """
select
    customer_id, month, cast(monthly_spend as double) as monthly_spend,
    cast(rolling_6_month_avg as double) as rolling_6_month_avg,
    cast(credit_limit as double) as credit_limit,
    cast(utilization_pct as double) as utilization_pct, cash_advance_count,
    cast(cash_advance_amount as double) as cash_advance_amount
from published_customer_month
where month between :first and :last
"""
_TRANSACTION_SQL = """
select
    customer_id, month, transaction_date, cast(transaction_amount as double) as transaction_amount,
    transaction_type, merchant_category, channel
from published_transactions
where month = :month
"""
_PROFILE_SQL = """
select customer_id, month, purchases, online_amounts, other_amounts, categories
from published_purchase_profile
where month between :first and :last
"""
"""The window's purchases, one row per customer-month (``published_purchase_profile``, built
with each month): the small online charges, ticket quartiles and categories of
``window_aggregates`` come from these, never from a year of transactions."""


def read_month(
    warehouse: Warehouse, month: str, settings: AnomalySettings
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What scoring ``month`` needs, and no more: the customer-months of the month and its
    baseline window, the month's own transactions, and the window's counts, ticket quartiles
    and categories from the window's purchase profiles (one row per customer-month, built with
    each month: a year of transactions is never read).
    """
    first = first_month(month, settings)
    engine = warehouse.engine(temp_table_mb=get_settings().build_temp_table_mb)
    try:
        with engine.connect() as conn:
            customer_months = read_frame(conn, _CUSTOMER_MONTH_SQL, {"first": first, "last": month})
            transactions = read_frame(conn, _TRANSACTION_SQL, {"month": month})
            profiles = read_frame(conn, _PROFILE_SQL, {"first": first, "last": month})
    finally:
        engine.dispose()
    aggregates = profile_aggregates(profiles, month, settings)
    counts = (
        customer_months[KEY]
        .assign(
            cash_count=customer_months.pop("cash_advance_count").astype(np.int64),
            cash_amount=customer_months.pop("cash_advance_amount").astype(float),
        )
        .merge(aggregates.pop("small_online"), on=KEY, how="left")
        .fillna({"small_online_count": 0})
        .astype({"small_online_count": np.int64})
    )
    return customer_months, transactions, {"counts": counts, **aggregates}


_PARSE_ROWS = 100_000
"""Profiles parsed per Arrow call: Arrow's intermediate strings of a whole year (~9M amounts
at 100,000 customers) would add ~300 MB to the task's peak; a slice's are a few MB."""


def _split_amounts(lists: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, amount) of every amount in comma-separated lists (NULL holds none)."""
    values = pa.array(lists, type=pa.large_string(), from_pandas=True)
    rows, amounts = [np.zeros(0, np.int32)], [np.zeros(0, np.float64)]
    for start in range(0, len(values), _PARSE_ROWS):
        parts = pc.split_pattern(values.slice(start, _PARSE_ROWS), ",")
        parents = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
        rows.append((parents + start).astype(np.int32))
        amounts.append(pc.cast(pc.list_flatten(parts), pa.float64()).to_numpy(zero_copy_only=False))
    del values
    pa.default_memory_pool().release_unused()
    return np.concatenate(rows), np.concatenate(amounts)


def profile_aggregates(
    profiles: pd.DataFrame, month: str, settings: AnomalySettings
) -> dict[str, pd.DataFrame]:
    """``window_aggregates``' small online counts, ticket quartiles and categories, from the
    purchase profiles of the window and ``month`` (``published_purchase_profile`` rows).

    Raises:
        ValueError: A profile's lists hold fewer amounts than its purchases (a list cut by
            the server's ``group_concat_max_len``): rebuild that month.
    """
    last = add_months(month, -1)
    online_rows, online = _split_amounts(profiles["online_amounts"])
    other_rows, other = _split_amounts(profiles["other_amounts"])
    listed = np.bincount(online_rows, minlength=len(profiles)) + np.bincount(
        other_rows, minlength=len(profiles)
    )
    cut = listed != profiles["purchases"].to_numpy(np.int64)
    if cut.any():
        first_cut = profiles.loc[cut, KEY].iloc[0]
        raise ValueError(
            f"published_purchase_profile of {first_cut['month']} lists fewer amounts than "
            f"purchases (customer {first_cut['customer_id']}): rebuild that month with "
            "`credit-risk build --full` on a server that allows longer group_concat results"
        )
    del listed, cut
    small = (online >= 0.01) & (online <= settings.small_amount)
    small_online = profiles[KEY].assign(
        small_online_count=np.bincount(online_rows[small], minlength=len(profiles))
    )
    small_online = small_online[small_online["small_online_count"] > 0]
    prior = (profiles["month"] <= last).to_numpy()
    codes, customers = pd.factorize(profiles["customer_id"], sort=True)
    codes = codes.astype(np.int32)
    # Filter each list before joining them: at 100,000 customers a year holds ~9M amounts,
    # and every extra copy of them is ~100 MB of the task's peak.
    keep_online = ~small & prior[online_rows]
    keep_other = prior[other_rows]
    ticket_codes = np.concatenate([codes[online_rows[keep_online]], codes[other_rows[keep_other]]])
    ticket_amounts = np.concatenate([online[keep_online], other[keep_other]])
    del online_rows, online, other_rows, other, small, keep_online, keep_other
    tickets = _quartiles_by_code(ticket_codes, ticket_amounts, customers)
    del ticket_codes, ticket_amounts
    category_rows, category_codes, category_names = _split_categories(profiles["categories"])
    keep = prior[category_rows]
    pairs = np.unique(
        codes[category_rows[keep]].astype(np.int64) * len(category_names) + category_codes[keep]
    )
    categories = pd.DataFrame(
        {
            "customer_id": np.asarray(customers)[pairs // max(len(category_names), 1)],
            "merchant_category": np.asarray(category_names, dtype=object)[
                pairs % max(len(category_names), 1)
            ],
        }
    ).astype({"customer_id": "str", "merchant_category": "str"})
    return {"small_online": small_online, "tickets": tickets, "categories": categories}


def _split_categories(arrays: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(row position, category code) of every category in JSON arrays (NULL holds none), and
    the categories the codes stand for. Parsed by Arrow's JSON reader, a slice of rows at a
    time: a Python list per customer-month would weigh more than the profiles themselves."""
    present = np.flatnonzero(arrays.notna().to_numpy())
    options = pajson.ParseOptions(explicit_schema=pa.schema([("c", pa.list_(pa.string()))]))
    rows, names, codes = [np.zeros(0, np.int32)], {}, [np.zeros(0, np.int32)]
    for start in range(0, len(present), _PARSE_ROWS):
        chosen = present[start : start + _PARSE_ROWS]
        lines = "\n".join(f'{{"c":{value}}}' for value in arrays.iloc[chosen])
        parsed = pajson.read_json(io.BytesIO(lines.encode("utf-8")), parse_options=options)
        parsed = parsed.column("c").combine_chunks()
        rows.append(chosen[pc.list_parent_indices(parsed).to_numpy(zero_copy_only=False)])
        encoded = pc.dictionary_encode(pc.list_flatten(parsed))
        # one code per category across slices: each slice's dictionary mapped to the whole's
        local = [names.setdefault(name, len(names)) for name in encoded.dictionary.to_pylist()]
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        codes.append(np.asarray(local, dtype=np.int32)[indices] if len(local) else indices)
    pa.default_memory_pool().release_unused()
    return (
        np.concatenate(rows).astype(np.int32),
        np.concatenate(codes).astype(np.int64),
        list(names),
    )


def published_months(warehouse: Warehouse) -> list[str]:
    """Every month of the published snapshot, oldest first."""
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("select distinct month from published_customer_month order by month")
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def score_published_month(
    warehouse: Warehouse, month: str, settings: AnomalySettings
) -> pd.DataFrame:
    """Score one published month from its window's customer-months and purchase profiles."""
    customer_months, transactions, aggregates = read_month(warehouse, month, settings)
    return score_month(customer_months, transactions, month, settings, **aggregates)


def detect_anomalies(
    warehouse: Warehouse, month: str | None = None, settings: AnomalySettings | None = None
) -> pd.DataFrame:
    """Score the published data and replace ``month``'s rows of spend_anomalies.

    For one month it reads that month and the baseline months before it only, with the
    baseline's purchases read from their profiles (``read_month``), so its cost is a year's
    customer-months and one month's transactions, whatever the history. With ``month=None`` it
    scores every published month the same way, one at a time. The delete and the inserts run
    in one database transaction, so a rerun gives the same rows and readers never see a
    half-written month.

    Returns:
        The rows written, with the ``TABLE_COLUMNS`` columns.
    """
    settings = settings or AnomalySettings()
    months = published_months(warehouse) if month is None else [validate_month(month)]
    parts = [score_published_month(warehouse, each, settings) for each in months]
    scored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TABLE_COLUMNS)
    rows = table_rows(scored)
    write_spend_anomalies(warehouse, rows, month)
    return rows


def table_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored frame reduced to spend_anomalies' columns, money rounded to cents; the
    columns mean what the table's SQL says (the usual month is the prior months' median)."""
    rows = scored.rename(columns={"usual_spend": "baseline_mean", "usual_spread": "baseline_std"})
    rows = rows[TABLE_COLUMNS].copy()
    for column in ("monthly_spend", "baseline_mean", "baseline_std", "z_score", "anomaly_score"):
        rows[column] = pd.to_numeric(rows[column], errors="coerce").astype(float).round(2)
    rows["z_score"] = rows["z_score"].clip(-1e6, 1e6)
    return rows.sort_values(KEY, ignore_index=True)


def write_spend_anomalies(warehouse: Warehouse, rows: pd.DataFrame, month: str | None) -> None:
    """Replace ``month`` (every month when None) of spend_anomalies with ``rows``, atomically."""
    values = [
        tuple(None if _is_missing(value) else _plain(value) for value in record)
        for record in rows[TABLE_COLUMNS].itertuples(index=False, name=None)
    ]
    placeholders = ", ".join(["%s"] * len(TABLE_COLUMNS))
    insert = f"insert into {TABLE} ({', '.join(TABLE_COLUMNS)}) values ({placeholders})"
    with connect(warehouse) as conn:
        cursor = conn.cursor()
        create_tables(cursor, [TABLE])  # DDL commits on its own: before the transaction
        if month is None:
            cursor.execute(f"delete from {TABLE}")
        else:
            cursor.execute(f"delete from {TABLE} where month = %s", (month,))
        if values:
            cursor.executemany(insert, values)
        conn.commit()


def _is_missing(value: object) -> bool:
    """NaN, None and pandas' NA all become SQL NULL."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _plain(value: object) -> object:
    """numpy scalars as Python values, which the driver knows how to quote."""
    return value.item() if isinstance(value, np.generic) else value


def read_labels(path: Path) -> pd.DataFrame:
    """labels.csv as written by the generators (all text)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def evaluate_anomalies(
    warehouse: Warehouse, labels_path: Path, settings: AnomalySettings | None = None
) -> pd.DataFrame:
    """Precision and recall of every detector against a labels.csv, on the published data.

    Scores every published month afresh (the same function that fills spend_anomalies) so the
    evaluation covers the whole history whatever months the table holds.
    """
    settings = settings or AnomalySettings()
    scored = pd.concat(
        [
            score_published_month(warehouse, month, settings)
            for month in published_months(warehouse)
        ],
        ignore_index=True,
    )
    return evaluation_table(scored, read_labels(Path(labels_path)), settings.min_history)


__all__ = [
    "COMBINED",
    "DETECTORS",
    "SEED_RULE",
    "AnomalySettings",
    "detect_anomalies",
    "evaluate_anomalies",
    "evaluation_table",
    "format_evaluation",
    "score_customer_months",
    "score_month",
    "seed_rule",
    "select_alerts",
    "window_aggregates",
]
