"""One month's scores: the detectors' probabilities combined into one ``anomaly_score``, the
flags chosen by the target alert rate, and the reasons in words.

``anomaly_score`` is the standard-normal quantile of the smallest probability, corrected for
the five detectors (3.0: as rare as a 3-sigma event), so the month's strongest evidence
decides; :func:`select_alerts` flags the highest scores, never below ``min_score``, at most
``target_alert_rate`` of the month's eligible customer-months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from credit_risk.analytics.anomalies.baselines import KEY, window_aggregates
from credit_risk.analytics.anomalies.detectors import (
    CASH_ADVANCE_JUMP,
    DETECTORS,
    LARGE_PURCHASE,
    MAX_SCORE,
    NEW_CATEGORY,
    SMALL_ONLINE_BURST,
    SPEND_SPIKE,
    _count_features,
    _count_probability,
    _large_purchase_probability,
    _new_category_probability,
    _purchase_features,
    _spend_features,
    _spend_probability,
)
from credit_risk.settings.anomalies import AnomalySettings

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
