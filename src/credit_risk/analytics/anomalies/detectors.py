"""The five detectors and the robust statistics they share.

Each detector turns a customer-month into a tail probability: how rare something at least as
extreme would be for *this* customer in *this* portfolio's month. Spreads are robust (median
and MAD, or quartiles) and shrunk toward the portfolio's for short histories, and tails are
fitted on the month's own values (:class:`TailFit`), because card spending is heavy-tailed in
some portfolios and close to lognormal in others. Money floors are stated in the customer's own
usual spending. :mod:`.scoring` combines the probabilities into one score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from credit_risk.analytics.anomalies.baselines import _COUNT_COLUMNS, first_month
from credit_risk.settings.anomalies import AnomalySettings

SPEND_SPIKE = "spend_spike"
LARGE_PURCHASE = "large_purchase"
NEW_CATEGORY = "new_category"
SMALL_ONLINE_BURST = "small_online_burst"
CASH_ADVANCE_JUMP = "cash_advance_jump"
DETECTORS = (SPEND_SPIKE, LARGE_PURCHASE, NEW_CATEGORY, SMALL_ONLINE_BURST, CASH_ADVANCE_JUMP)

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
