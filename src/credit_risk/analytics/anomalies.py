"""Spending anomalies per customer-month, from the published snapshot only.

What it flags: a customer-month whose spending is unusual *for that customer*. Four detectors,
each with a readable reason, and ``is_anomaly`` when any of them fires:

- ``spend_zscore``: monthly spend far above the customer's own baseline (the issue's z-score).
- ``large_purchase_burst``: several purchases that are large for the customer, within days.
- ``small_online_burst``: many tiny online charges (the pattern of card testing).
- ``cash_advance_jump``: several cash advances where the customer usually draws little cash.

Why baselines use prior months only: a month cannot be its own yardstick. The seed's Power BI
rule (spend > 1.5 x the 6-month average *including* the month) lets a spike inflate its own
average, and it has no notion of how much a customer's spend normally varies. Here the baseline
of month ``m`` is the trailing ``baseline_months`` months before ``m``, and a customer with fewer
than ``min_history`` of them is never flagged.

Why more than a z-score: monthly totals of card spend are heavy-tailed (a flight, a month of
restraint followed by a normal one), so on realistic data a z-score that catches most spikes also
flags several percent of ordinary months. The transaction-level detectors look at the shape of
the month instead (how many, how large, how close together, which type), which ordinary months
rarely have. ``benchmarks/anomaly_evaluation.py`` measures each detector against the generator's
labels, side by side with the seed's rule.

Why only published tables: they are the validated figures readers see, so every flag can be
explained with numbers on the dashboard, and the ground truth (``labels.csv``) can never leak in.

Thresholds are :class:`AnomalySettings`, read from ``CREDIT_RISK_ANOMALY_*`` environment
variables.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from credit_risk.months import add_months, validate_month
from credit_risk.settings import get_settings
from credit_risk.warehouse.db import Warehouse, connect
from credit_risk.warehouse.schema import create_tables

KEY = ["customer_id", "month"]
TABLE = "spend_anomalies"
MODEL_FAMILY = "sa1"
"""Bump when a detector changes meaning: it prefixes every model_version."""

SPEND_ZSCORE = "spend_zscore"
LARGE_PURCHASE_BURST = "large_purchase_burst"
SMALL_ONLINE_BURST = "small_online_burst"
CASH_ADVANCE_JUMP = "cash_advance_jump"
DETECTORS = (SPEND_ZSCORE, LARGE_PURCHASE_BURST, SMALL_ONLINE_BURST, CASH_ADVANCE_JUMP)
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
    "is_anomaly",
    "anomaly_reason",
    "history_months",
    "detectors",
    "model_version",
]
"""Columns written to spend_anomalies (``detected_at`` is set by the database)."""

_Z_LIMIT = 1e6  # keeps a z-score over a near-zero floor inside decimal(12, 2)
_MAX_DAY = 31


class AnomalySettings(BaseSettings):
    """Thresholds of the detectors, each read from ``CREDIT_RISK_ANOMALY_<FIELD>`` when the
    settings are made (so a job sees the values set when it runs); keyword arguments win.

    Attributes:
        min_history: Prior months a customer needs before any detector may flag them.
        baseline_months: Prior months in the trailing baseline (fewer early in the history).
        z_threshold: Spend z-score from which ``spend_zscore`` fires.
        std_floor_share: Smallest standard deviation used for the z-score, as a share of the
            absolute baseline mean: a customer whose few prior months happened to be alike
            would otherwise have a near-zero deviation and flag on any change.
        std_floor_amount: Smallest standard deviation in money, for baselines near zero.
        min_excess_share: Spend above the baseline mean ``spend_zscore`` also needs, as a share
            of the credit limit (ignored when the limit is unknown): a big z on small money is
            not worth an analyst's time.
        large_purchase_multiple: A purchase is large for the customer from this multiple of
            their median purchase over the baseline months ...
        large_purchase_limit_share: ... and never below this share of the credit limit.
        burst_window_days: Days within which the large purchases must fall.
        burst_min_purchases: Large purchases within the window from which
            ``large_purchase_burst`` fires.
        small_amount: A purchase up to this amount counts as small.
        small_online_min_count: Small online purchases in the month from which
            ``small_online_burst`` may fire ...
        small_online_multiple: ... if that is also this many times the usual monthly count.
        cash_min_count: Cash advances in the month from which ``cash_advance_jump`` may fire ...
        cash_min_extra_count: ... if that many more than the usual monthly count ...
        cash_min_extra_share: ... and the cash drawn exceeds the usual amount by this share of
            the credit limit (ignored when the limit is unknown).
    """

    model_config = SettingsConfigDict(
        env_prefix="CREDIT_RISK_ANOMALY_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    min_history: int = 3
    baseline_months: int = 12
    z_threshold: float = 4.0
    std_floor_share: float = 0.25
    std_floor_amount: float = 25.0
    min_excess_share: float = 0.6
    large_purchase_multiple: float = 3.0
    large_purchase_limit_share: float = 0.05
    burst_window_days: int = 3
    burst_min_purchases: int = 3
    small_amount: float = 10.0
    small_online_min_count: int = 10
    small_online_multiple: float = 3.0
    cash_min_count: int = 3
    cash_min_extra_count: float = 2.0
    cash_min_extra_share: float = 0.05

    @model_validator(mode="after")
    def _check(self) -> AnomalySettings:
        """Refuse thresholds under which a detector could not work."""
        if not 1 <= self.min_history <= self.baseline_months:
            raise ValueError(
                "anomaly min_history must be between 1 and baseline_months "
                f"(got {self.min_history} and {self.baseline_months})"
            )
        if self.burst_window_days < 1 or self.burst_window_days > _MAX_DAY:
            raise ValueError(f"anomaly burst_window_days must be 1..{_MAX_DAY}")
        if self.std_floor_amount <= 0:
            raise ValueError("anomaly std_floor_amount must be > 0 (it guards a zero std)")
        negative = [name for name in type(self).model_fields if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"anomaly thresholds must be >= 0: {', '.join(negative)}")
        return self

    @property
    def model_version(self) -> str:
        """``sa1-<hash of the thresholds>``: which settings produced a row."""
        digest = hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()
        return f"{MODEL_FAMILY}-{digest[:10]}"


# --- pure feature functions ------------------------------------------------------------------


def month_number(months: pd.Series) -> np.ndarray:
    """``YYYY-MM`` as consecutive integers, so calendar windows are integer ranges."""
    if months.empty:
        return np.zeros(0, dtype=np.int64)
    parts = months.astype(str).str.split("-", n=1, expand=True).astype(np.int64)
    return (parts[0] * 12 + parts[1] - 1).to_numpy()


def trailing_stats(
    values: np.ndarray, groups: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and sample std of the previous ``window`` rows of the same group.

    Rows must be sorted by group, then time; row ``i`` sees rows ``i - window .. i - 1`` of its
    group and never itself. Prefix sums keep it vectorized over millions of rows.

    Returns:
        ``(count, mean, std)``; mean is NaN without prior rows, std NaN with fewer than two.
    """
    n = values.size
    position = np.arange(n)
    starts = np.r_[True, groups[1:] != groups[:-1]] if n else np.zeros(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(starts, position, 0)) if n else position
    low = np.maximum(group_start, position - window)
    count = (position - low).astype(float)
    # Centred on each group's first value: the same variance, without the cancellation that
    # large equal amounts would otherwise cause in sum-of-squares arithmetic. The running sums
    # restart with each group, so a row's figures depend on its own group's rows only (the
    # same whether the frame holds one month's window or the whole history).
    centred = values - values[group_start] if n else values
    total = _group_prefix(centred, group_start, position) - _group_prefix(centred, group_start, low)
    squares = centred * centred
    total_sq = _group_prefix(squares, group_start, position) - _group_prefix(
        squares, group_start, low
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        centred_mean = np.where(count > 0, total / count, np.nan)
        variance = (total_sq - count * centred_mean * centred_mean) / (count - 1)
        std = np.where(count > 1, np.sqrt(np.clip(variance, 0.0, None)), np.nan)
    mean = centred_mean + (values[group_start] if n else 0.0)
    return count.astype(np.int64), mean, std


def _group_prefix(values: np.ndarray, group_start: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Sum of ``values[group_start[i] : upto[i]]`` for each row ``i``, summed within groups."""
    if not values.size:
        return values
    inclusive = pd.Series(values).groupby(group_start).cumsum().to_numpy()
    before = np.where(upto > 0, inclusive[np.maximum(upto - 1, 0)], 0.0)
    return np.where(upto > group_start, before, 0.0)


def monthly_transaction_counts(transactions: pd.DataFrame, small_amount: float) -> pd.DataFrame:
    """Per customer-month: small online purchases, and cash advances (count and amount).

    Args:
        transactions: Rows of ``published_transactions`` (``customer_id``, ``month``,
            ``transaction_amount``, ``transaction_type``, ``channel``).
        small_amount: Largest amount of a small purchase.
    """
    amount = transactions["transaction_amount"].astype(float)
    purchase = transactions["transaction_type"] == "purchase"
    small_online = (
        purchase & (transactions["channel"] == "online") & amount.between(0.01, small_amount)
    )
    cash = transactions["transaction_type"] == "cash_advance"
    parts = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"],
            "month": transactions["month"],
            "small_online_count": small_online.astype(np.int64),
            "cash_count": cash.astype(np.int64),
            "cash_amount": amount.where(cash, 0.0),
        }
    )
    return parts.groupby(KEY, sort=False).sum().reset_index()


def prior_median_purchase(
    transactions: pd.DataFrame, months: pd.Series, baseline_months: int
) -> pd.DataFrame:
    """Median purchase amount of each customer over the ``baseline_months`` before each month.

    Why a median: it is the customer's ordinary basket, untouched by their one flight a year.

    Args:
        transactions: Published transactions.
        months: The months (``YYYY-MM``) to compute the baseline for.
        baseline_months: Length of the trailing window, the month itself excluded.

    Returns:
        ``customer_id``, ``month``, ``median_purchase`` for every customer with a purchase in
        the window of that month.
    """
    purchases = transactions[transactions["transaction_type"] == "purchase"]
    number = month_number(purchases["month"])
    amount = purchases["transaction_amount"].astype(float).to_numpy()
    customer = purchases["customer_id"].to_numpy()
    results = [pd.DataFrame(columns=[*KEY, "median_purchase"])]
    for month in pd.unique(months.astype(str)):
        target = month_number(pd.Series([month]))[0]
        inside = (number < target) & (number >= target - baseline_months)
        median = pd.Series(amount[inside]).groupby(customer[inside]).median()
        results.append(
            pd.DataFrame(
                {"customer_id": median.index, "month": month, "median_purchase": median.values}
            )
        )
    return pd.concat(results, ignore_index=True).astype({"median_purchase": float})


def large_purchase_windows(
    transactions: pd.DataFrame, thresholds: pd.DataFrame, window_days: int
) -> pd.DataFrame:
    """The densest run of large purchases of each customer-month, within ``window_days`` days.

    Args:
        transactions: Published transactions with ``transaction_date``.
        thresholds: ``customer_id``, ``month``, ``large_threshold`` (NaN: nothing is large).
        window_days: Length of the sliding window, in calendar days inside the month.

    Returns:
        ``customer_id``, ``month``, ``large_count`` and ``large_amount`` of the window with the
        most large purchases (the larger amount on a tie), for customer-months that have any.
    """
    purchases = transactions[transactions["transaction_type"] == "purchase"]
    frame = purchases[[*KEY, "transaction_amount", "transaction_date"]].merge(
        thresholds, on=KEY, how="inner"
    )
    amount = frame["transaction_amount"].astype(float)
    frame = frame[amount >= frame["large_threshold"]]
    if frame.empty:
        return pd.DataFrame(columns=[*KEY, "large_count", "large_amount"])
    cells, cell = np.unique(
        frame["customer_id"].astype(str) + "|" + frame["month"].astype(str), return_inverse=True
    )
    day = pd.to_datetime(frame["transaction_date"]).dt.day.to_numpy() - 1
    counts = np.zeros((cells.size, _MAX_DAY + window_days))
    amounts = np.zeros_like(counts)
    np.add.at(counts, (cell, day), 1)
    np.add.at(amounts, (cell, day), frame["transaction_amount"].astype(float).to_numpy())
    window_counts = _sliding_sum(counts, window_days)
    window_amounts = _sliding_sum(amounts, window_days)
    best = np.lexsort((window_amounts, window_counts), axis=1)[:, -1]
    rows = np.arange(cells.size)
    customer, month = np.char.partition(cells.astype(str), "|")[:, [0, 2]].T
    return pd.DataFrame(
        {
            "customer_id": customer,
            "month": month,
            "large_count": window_counts[rows, best].astype(np.int64),
            "large_amount": window_amounts[rows, best],
        }
    )


def _sliding_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over columns ``d .. d + window - 1`` for each column ``d`` (rows independent)."""
    cumulative = np.concatenate([np.zeros((values.shape[0], 1)), values.cumsum(axis=1)], axis=1)
    return cumulative[:, window:] - cumulative[:, :-window]


def customer_month_features(
    customer_months: pd.DataFrame,
    transactions: pd.DataFrame,
    settings: AnomalySettings,
    *,
    counts: pd.DataFrame | None = None,
    medians: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Spend history and transaction features of every customer-month, with prior baselines.

    Args:
        customer_months: Rows of ``published_customer_month`` (``customer_id``, ``month``,
            ``monthly_spend``, ``credit_limit``; ``rolling_6_month_avg`` for the seed rule).
        transactions: Rows of ``published_transactions`` (``customer_id``, ``month``,
            ``transaction_date``, ``transaction_amount``, ``transaction_type``, ``channel``).
        settings: Thresholds (the windows and what counts as small or large).
        counts: The monthly counts of :func:`monthly_transaction_counts`, computed elsewhere
            (by the server); ``transactions`` then needs only the months to score.
        medians: The baselines of :func:`prior_median_purchase`, computed elsewhere.

    Returns:
        One row per customer-month, sorted by customer and month, with ``history_months``,
        ``baseline_mean``/``baseline_std`` of spend, the month's transaction counts and the
        usual (prior mean) of each, ``median_purchase``, ``large_threshold``, ``large_count``
        and ``large_amount``.
    """
    frame = customer_months.sort_values(KEY, ignore_index=True).copy()
    frame["monthly_spend"] = frame["monthly_spend"].astype(float)
    frame["credit_limit"] = pd.to_numeric(frame["credit_limit"], errors="coerce").astype(float)
    if counts is None:
        counts = monthly_transaction_counts(transactions, settings.small_amount)
    frame = frame.merge(counts, on=KEY, how="left")
    for column in ("small_online_count", "cash_count", "cash_amount"):
        frame[column] = frame[column].fillna(0)
    groups = frame["customer_id"].to_numpy()
    window = settings.baseline_months
    history, mean, std = trailing_stats(frame["monthly_spend"].to_numpy(), groups, window)
    frame["history_months"], frame["baseline_mean"], frame["baseline_std"] = history, mean, std
    for column in ("small_online_count", "cash_count", "cash_amount"):
        _, usual, _ = trailing_stats(frame[column].to_numpy(float), groups, window)
        frame[f"usual_{column}"] = np.nan_to_num(usual)
    if medians is None:
        medians = prior_median_purchase(transactions, frame["month"], window)
    frame = frame.merge(medians, on=KEY, how="left")
    frame["large_threshold"] = np.fmax(
        settings.large_purchase_multiple * frame["median_purchase"],
        settings.large_purchase_limit_share * frame["credit_limit"],
    )
    windows = large_purchase_windows(
        transactions, frame[[*KEY, "large_threshold"]], settings.burst_window_days
    )
    frame = frame.merge(windows, on=KEY, how="left")
    frame["large_count"] = frame["large_count"].fillna(0).astype(np.int64)
    frame["large_amount"] = frame["large_amount"].fillna(0.0).astype(float)
    return frame


# --- pure detectors --------------------------------------------------------------------------


def spend_zscore(frame: pd.DataFrame, settings: AnomalySettings) -> tuple[pd.Series, pd.Series]:
    """z of the month's spend against the prior baseline, with a floored deviation.

    Why a floor: three alike months give a deviation near zero, and a zero deviation would make
    any change infinitely unusual. The floor is the larger of ``std_floor_share`` of the mean
    and ``std_floor_amount``.

    Returns:
        ``(z_score, fired)``; z is NaN without a prior month.
    """
    mean = frame["baseline_mean"]
    floor = np.maximum(settings.std_floor_share * mean.abs(), settings.std_floor_amount)
    scale = np.fmax(frame["baseline_std"].fillna(0.0), floor)
    z = ((frame["monthly_spend"] - mean) / scale).clip(-_Z_LIMIT, _Z_LIMIT)
    excess = frame["monthly_spend"] - mean
    big_enough = (excess >= settings.min_excess_share * frame["credit_limit"]) | frame[
        "credit_limit"
    ].isna()
    return z, (z >= settings.z_threshold) & big_enough


def large_purchase_burst(frame: pd.DataFrame, settings: AnomalySettings) -> pd.Series:
    """Whether enough large purchases fell within the burst window."""
    return frame["large_count"] >= settings.burst_min_purchases


def small_online_burst(frame: pd.DataFrame, settings: AnomalySettings) -> pd.Series:
    """Whether the month has many small online purchases, and many more than usual."""
    count = frame["small_online_count"]
    return (count >= settings.small_online_min_count) & (
        count >= settings.small_online_multiple * frame["usual_small_online_count"]
    )


def cash_advance_jump(frame: pd.DataFrame, settings: AnomalySettings) -> pd.Series:
    """Whether the month has several cash advances, well above the usual count and amount."""
    count, usual = frame["cash_count"], frame["usual_cash_count"]
    extra_amount = frame["cash_amount"] - frame["usual_cash_amount"]
    enough_money = (extra_amount >= settings.cash_min_extra_share * frame["credit_limit"]) | frame[
        "credit_limit"
    ].isna()
    return (
        (count >= settings.cash_min_count)
        & (count - usual >= settings.cash_min_extra_count)
        & enough_money
    )


def seed_rule(frame: pd.DataFrame) -> pd.Series:
    """The seed's Power BI rule: spend > 1.5 x the 6-month average, the month itself included.

    ``rolling_6_month_avg`` is the published column: the mean of the months m-5..m that lie in
    the customer's history, so the rule reproduces the seed report exactly.
    """
    average = frame["rolling_6_month_avg"].astype(float)
    return frame["monthly_spend"].astype(float) > SEED_RULE_MULTIPLE * average


def _reasons(frame: pd.DataFrame, settings: AnomalySettings) -> dict[str, pd.Series]:
    """One readable reason per detector and row (used only where the detector fired)."""
    money = _money_text
    months = frame["history_months"].astype(int).astype(str)
    return {
        SPEND_ZSCORE: "spend "
        + frame["z_score"].map("{:.1f}".format)
        + " sd above the prior "
        + months
        + "-month mean ("
        + frame["baseline_mean"].map(money)
        + ")",
        LARGE_PURCHASE_BURST: frame["large_count"].astype(str)
        + " large purchases ("
        + frame["large_amount"].map(money)
        + f") within {settings.burst_window_days} days; large is "
        + frame["large_threshold"].map(money)
        + " or more",
        SMALL_ONLINE_BURST: frame["small_online_count"].astype(int).astype(str)
        + " small online transactions vs "
        + frame["usual_small_online_count"].map("{:.1f}".format)
        + " usual",
        CASH_ADVANCE_JUMP: "cash advances "
        + frame["cash_amount"].map(money)
        + " ("
        + frame["cash_count"].astype(int).astype(str)
        + ") vs "
        + frame["usual_cash_amount"].map(money)
        + " ("
        + frame["usual_cash_count"].map("{:.1f}".format)
        + ") usual",
    }


def _money_text(value: float) -> str:
    """1234.5 -> '1,234.50'."""
    return f"{value:,.2f}"


def score_customer_months(
    customer_months: pd.DataFrame,
    transactions: pd.DataFrame,
    settings: AnomalySettings | None = None,
    *,
    only_month: str | None = None,
    **aggregates: pd.DataFrame,
) -> pd.DataFrame:
    """Run every detector on every customer-month.

    Args:
        customer_months: Rows of ``published_customer_month`` (see
            :func:`customer_month_features`), all months a baseline may need.
        transactions: Rows of ``published_transactions`` for the same months.
        settings: Thresholds; ``AnomalySettings()`` when None.
        only_month: Score only this month's rows (the others are its baselines).
        aggregates: ``counts`` and ``medians`` computed by the server (see
            :func:`customer_month_features`).

    Returns:
        The features plus ``z_score``, one boolean column per detector (named as in
        ``DETECTORS``), ``is_anomaly``, ``detectors`` (comma-separated names of those that
        fired, or None), ``anomaly_reason`` (their reasons joined by ``; ``, "insufficient
        history ..." when the customer is too new, else None) and ``model_version``.
    """
    settings = settings or AnomalySettings()
    frame = customer_month_features(customer_months, transactions, settings, **aggregates)
    if only_month is not None:
        frame = frame[frame["month"] == only_month].reset_index(drop=True)
    frame["z_score"], frame[SPEND_ZSCORE] = spend_zscore(frame, settings)
    frame[LARGE_PURCHASE_BURST] = large_purchase_burst(frame, settings)
    frame[SMALL_ONLINE_BURST] = small_online_burst(frame, settings)
    frame[CASH_ADVANCE_JUMP] = cash_advance_jump(frame, settings)
    eligible = frame["history_months"] >= settings.min_history
    for name in DETECTORS:
        frame[name] = frame[name].fillna(False).astype(bool) & eligible
    frame["is_anomaly"] = frame[list(DETECTORS)].any(axis=1)
    frame["detectors"], frame["anomaly_reason"] = _explain(frame, settings, eligible)
    frame["model_version"] = settings.model_version
    return frame


def _explain(
    frame: pd.DataFrame, settings: AnomalySettings, eligible: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """The names and the reasons of the detectors that fired, row by row."""
    reasons = _reasons(frame, settings)
    names = pd.Series("", index=frame.index)
    texts = pd.Series("", index=frame.index)
    for name in DETECTORS:
        fired = frame[name]
        separator = np.where(names[fired] == "", "", ",")
        names[fired] = names[fired] + separator + name
        text_separator = np.where(texts[fired] == "", "", "; ")
        texts[fired] = texts[fired] + text_separator + reasons[name][fired]
    too_new = (
        "insufficient history: "
        + frame["history_months"].astype(str)
        + f" prior months, {settings.min_history} needed"
    )
    texts = texts.where(eligible, too_new)
    return names.replace("", None), texts.replace("", None)


# --- evaluation against labels ---------------------------------------------------------------


def evaluation_table(scored: pd.DataFrame, labels: pd.DataFrame, min_history: int) -> pd.DataFrame:
    """Precision, recall and F1 of each detector, the combination and the seed's rule.

    Every rule is scored on the same customer-months: those with at least ``min_history``
    prior months (the seed's rule included, although it would flag newer customers too).

    Args:
        scored: Output of :func:`score_customer_months` (with ``rolling_6_month_avg``).
        labels: ``customer_id``, ``month``, ``anomaly_type`` (labels.csv); several rows of one
            customer-month count once.
        min_history: Prior months that make a customer-month eligible.

    Returns:
        One row per rule: ``rule``, ``flagged``, ``true_positives``, ``precision``, ``recall``,
        ``f1``, then ``recall_<anomaly_type>`` for each type in the labels.
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
    return row


def format_evaluation(frame: pd.DataFrame) -> str:
    """The evaluation as a fixed-width text table, ratios with three decimals."""
    shown = frame.copy()
    for column in shown.columns:
        if column in ("precision", "recall", "f1") or column.startswith("recall_"):
            shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}")
    return shown.to_string(index=False)


# --- warehouse I/O -----------------------------------------------------------------------------

# money as doubles: float64 columns in pandas instead of a Decimal object per value
_CUSTOMER_MONTH_SQL = (
    "select customer_id, month, cast(monthly_spend as double) as monthly_spend, "
    "cast(rolling_6_month_avg as double) as rolling_6_month_avg, "
    "cast(credit_limit as double) as credit_limit from published_customer_month"
)
_TRANSACTION_SQL = (
    "select customer_id, month, transaction_date, "
    "cast(transaction_amount as double) as transaction_amount, transaction_type, channel "
    "from published_transactions"
)


def read_published(
    warehouse: Warehouse, first: str | None = None, last: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published customer-months and transactions of months ``first .. last`` (inclusive).

    Only published tables: never the raw loaded ones, never labels.
    """
    where, params = _month_filter(first, last)
    engine = warehouse.engine()
    try:
        with engine.connect() as conn:
            customer_months = pd.read_sql(sa.text(_CUSTOMER_MONTH_SQL + where), conn, params=params)
            transactions = pd.read_sql(sa.text(_TRANSACTION_SQL + where), conn, params=params)
    finally:
        engine.dispose()
    return customer_months, transactions


def _month_filter(first: str | None, last: str | None) -> tuple[str, dict[str, str]]:
    """A ``where`` clause on ``month`` (months are YYYY-MM text, which sorts by time)."""
    clauses, params = [], {}
    if first:
        clauses.append("month >= :first")
        params["first"] = first
    if last:
        clauses.append("month <= :last")
        params["last"] = last
    return (" where " + " and ".join(clauses) if clauses else ""), params


_SMALL_ONLINE_SQL = """
select customer_id, month, count(*) as small_online_count
from published_transactions
where
    month between :first and :last and transaction_type = 'purchase' and channel = 'online'
    and transaction_amount between 0.01 and :small_amount
group by customer_id, month
"""
"""The small online purchases of ``monthly_transaction_counts``, counted by the server; its
cash advances come with the customer-months (the build stores them)."""

_MEDIAN_SQL = """
select customer_id, cast(avg(transaction_amount) as double) as median_purchase
from (
    select
        customer_id,
        transaction_amount,
        row_number() over (partition by customer_id order by transaction_amount) as position,
        count(*) over (partition by customer_id) as purchases
    from published_transactions
    where month between :first and :last and transaction_type = 'purchase'
) as ranked
where position in (floor((purchases + 1) / 2), floor(purchases / 2) + 1)
group by customer_id
"""
"""Each customer's median purchase over ``first`` .. ``last`` (the middle one, or the mean of
the middle two), as ``prior_median_purchase``: window functions both MySQL 8 and MariaDB have."""


def read_month(
    warehouse: Warehouse, month: str, settings: AnomalySettings
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """What scoring ``month`` needs, and no more: the customer-months of the month and its
    baseline window, the month's own transactions, and the window's counts and median purchase
    summed up by the server (a year of transactions never reaches this process).
    """
    first = add_months(month, -settings.baseline_months)
    engine = warehouse.engine(temp_table_mb=get_settings().build_temp_table_mb)
    try:
        with engine.connect() as conn:
            window = {"first": first, "last": month}
            customer_months = pd.read_sql(
                sa.text(
                    _CUSTOMER_MONTH_SQL.replace(
                        " from ",
                        ", cash_advance_count, cast(cash_advance_amount as double) "
                        "as cash_advance_amount from ",
                        1,
                    )
                    + " where month between :first and :last"
                ),
                conn,
                params=window,
            )
            transactions = pd.read_sql(
                sa.text(_TRANSACTION_SQL + " where month = :month"), conn, params={"month": month}
            )
            small_online = pd.read_sql(
                sa.text(_SMALL_ONLINE_SQL),
                conn,
                params={**window, "small_amount": settings.small_amount},
            )
            medians = pd.read_sql(
                sa.text(_MEDIAN_SQL),
                conn,
                params={"first": first, "last": add_months(month, -1)},
            )
    finally:
        engine.dispose()
    counts = (
        customer_months[KEY]
        .assign(
            cash_count=customer_months.pop("cash_advance_count").astype(np.int64),
            cash_amount=customer_months.pop("cash_advance_amount").astype(float),
        )
        .merge(small_online, on=KEY, how="left")
        .fillna({"small_online_count": 0})
        .astype({"small_online_count": np.int64})
    )
    medians = medians.assign(month=month).astype({"median_purchase": float})
    return customer_months, transactions, {"counts": counts, "medians": medians}


def detect_anomalies(
    warehouse: Warehouse, month: str | None = None, settings: AnomalySettings | None = None
) -> pd.DataFrame:
    """Score the published data and replace ``month``'s rows of spend_anomalies.

    For one month it reads that month and the baseline months before it only, with the
    baseline's transactions summed up by the server (``read_month``), so its cost is a year's
    customer-months and one month's transactions, whatever the history. With ``month=None`` it
    scores and writes every published month. The delete and the inserts run in one database
    transaction, so a rerun gives the same rows and readers never see a half-written month.

    Returns:
        The rows written, with the ``TABLE_COLUMNS`` columns.
    """
    settings = settings or AnomalySettings()
    if month is None:
        customer_months, transactions = read_published(warehouse)
        scored = score_customer_months(customer_months, transactions, settings)
    else:
        month = validate_month(month)
        customer_months, transactions, aggregates = read_month(warehouse, month, settings)
        scored = score_customer_months(
            customer_months, transactions, settings, only_month=month, **aggregates
        )
    rows = table_rows(scored)
    write_spend_anomalies(warehouse, rows, month)
    return rows


def table_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """The scored frame reduced to spend_anomalies' columns, money rounded to cents."""
    rows = scored[TABLE_COLUMNS].copy()
    for column in ("monthly_spend", "baseline_mean", "baseline_std", "z_score"):
        rows[column] = rows[column].astype(float).round(2)
    return rows.reset_index(drop=True)


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
    """labels.csv as written by the realistic generator (all text)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def evaluate_anomalies(
    warehouse: Warehouse, labels_path: Path, settings: AnomalySettings | None = None
) -> pd.DataFrame:
    """Precision and recall of every detector against a labels.csv, on the published data.

    Scores every published month afresh (the same function that fills spend_anomalies) so the
    evaluation covers the whole history whatever months the table holds.
    """
    settings = settings or AnomalySettings()
    customer_months, transactions = read_published(warehouse)
    scored = score_customer_months(customer_months, transactions, settings)
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
    "seed_rule",
]
