"""Spending-anomaly detectors on small hand-made frames: baselines, guards, each detector's
pattern and reason, the seed's 1.5x rule and the evaluation arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_risk.analytics.anomalies import (
    CASH_ADVANCE_JUMP,
    COMBINED,
    DETECTORS,
    LARGE_PURCHASE_BURST,
    SEED_RULE,
    SMALL_ONLINE_BURST,
    SPEND_ZSCORE,
    AnomalySettings,
    evaluation_table,
    format_evaluation,
    month_number,
    score_customer_months,
    seed_rule,
    trailing_stats,
)
from credit_risk.months import month_range

SETTINGS = AnomalySettings()
MONTHS = month_range("2024-01", 6)
TRANSACTION_COLUMNS = [
    "customer_id",
    "month",
    "transaction_date",
    "transaction_amount",
    "transaction_type",
    "channel",
]


def txn(
    customer: str, date: str, amount: float, kind: str = "purchase", channel: str = "pos"
) -> tuple:
    return (customer, date[:7], date, amount, kind, channel)


def frames(
    rows: list[tuple], months: list[str] = MONTHS, limit: float | None = 5000.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Published-like frames: every customer has every month; spend is the sum of its rows."""
    transactions = pd.DataFrame(rows, columns=TRANSACTION_COLUMNS)
    spend = transactions.groupby(["customer_id", "month"])["transaction_amount"].sum()
    customers = sorted(transactions["customer_id"].unique())
    grid = pd.DataFrame(
        [(customer, month) for customer in customers for month in months],
        columns=["customer_id", "month"],
    )
    keys = zip(grid["customer_id"], grid["month"], strict=True)
    grid["monthly_spend"] = [round(float(spend.get(key, 0.0)), 2) for key in keys]
    grid["rolling_6_month_avg"] = (
        grid.groupby("customer_id")["monthly_spend"]
        .transform(lambda s: s.rolling(6, min_periods=1).mean())
        .round(2)
    )
    grid["credit_limit"] = limit
    return grid, transactions


def routine(customer: str, months: list[str], amount: float = 50.0) -> list[tuple]:
    """Three ordinary purchases a month, spread over the month."""
    return [txn(customer, f"{month}-{day:02d}", amount) for month in months for day in (3, 12, 24)]


def row(scored: pd.DataFrame, customer: str, month: str) -> pd.Series:
    match = scored[(scored["customer_id"] == customer) & (scored["month"] == month)]
    assert len(match) == 1
    return match.iloc[0]


# --- baselines -------------------------------------------------------------------------------


def test_trailing_stats_see_only_earlier_rows_of_the_same_group():
    values = np.array([100.0, 200.0, 300.0, 10_000.0, 7.0, 9.0])
    groups = np.array(["a", "a", "a", "a", "b", "b"])
    count, mean, std = trailing_stats(values, groups, window=12)
    assert count.tolist() == [0, 1, 2, 3, 0, 1]
    assert np.isnan(mean[0]) and np.isnan(mean[4])
    assert mean[3] == pytest.approx(200.0)  # the 10,000 month is not its own baseline
    assert std[3] == pytest.approx(100.0)
    assert np.isnan(std[1])  # one prior month has no deviation
    assert mean[5] == pytest.approx(7.0)  # customer b never sees customer a


def test_trailing_stats_window_keeps_only_the_latest_prior_rows():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    count, mean, _ = trailing_stats(values, np.zeros(5), window=2)
    assert count.tolist() == [0, 1, 2, 2, 2]
    assert mean[4] == pytest.approx(3.5)


def test_baseline_excludes_the_current_month():
    rows = [*routine("C1", MONTHS[:5]), txn("C1", "2024-06-10", 4000.0)]
    scored = score_customer_months(*frames(rows), SETTINGS)
    spike = row(scored, "C1", "2024-06")
    assert spike["monthly_spend"] == pytest.approx(4000.0)
    assert spike["baseline_mean"] == pytest.approx(150.0)
    assert spike["baseline_std"] == pytest.approx(0.0)
    assert spike["history_months"] == 5


def test_month_number_is_consecutive_across_years():
    numbers = month_number(pd.Series(["2023-11", "2023-12", "2024-01"]))
    assert np.diff(numbers).tolist() == [1, 1]


# --- guards ----------------------------------------------------------------------------------


def test_too_little_history_is_never_flagged_and_says_so():
    # A spike and a card-testing burst in month 3 (two prior months): nothing may fire.
    burst = [txn("C1", "2024-03-05", 3.0, channel="online") for _ in range(25)]
    rows = [*routine("C1", MONTHS[:2]), txn("C1", "2024-03-10", 4900.0), *burst]
    scored = score_customer_months(*frames(rows, MONTHS[:3]), SETTINGS)
    assert not scored[list(DETECTORS)].any().any()
    assert not scored["is_anomaly"].any()
    last = row(scored, "C1", "2024-03")
    assert last["anomaly_reason"] == "insufficient history: 2 prior months, 3 needed"
    assert pd.isna(last["detectors"])


def test_zero_deviation_gives_a_finite_z_and_no_flag_on_an_ordinary_month():
    scored = score_customer_months(*frames(routine("C1", MONTHS)), SETTINGS)
    ordinary = row(scored, "C1", "2024-06")
    assert ordinary["baseline_std"] == 0.0
    assert ordinary["z_score"] == 0.0
    assert not ordinary["is_anomaly"]
    assert pd.isna(ordinary["anomaly_reason"])


def test_zero_deviation_uses_the_floor_so_a_small_change_is_not_infinite():
    rows = routine("C1", MONTHS[:5]) + [txn("C1", f"2024-06-{d:02d}", 60.0) for d in (3, 12, 24)]
    scored = score_customer_months(*frames(rows), SETTINGS)
    month = row(scored, "C1", "2024-06")
    # std 0 -> floor max(25 % of 150, 25.00) = 37.50; (180 - 150) / 37.5 = 0.8
    assert month["z_score"] == pytest.approx(0.8)
    assert not month["is_anomaly"]


def test_a_customer_who_never_spent_gets_the_money_floor():
    rows = [txn("C1", "2024-06-10", 20.0), txn("C2", "2024-01-02", 1.0)]
    scored = score_customer_months(*frames(rows), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month["baseline_mean"] == 0.0 and month["baseline_std"] == 0.0
    assert month["z_score"] == pytest.approx(20.0 / SETTINGS.std_floor_amount)
    assert not month["is_anomaly"]


# --- detectors: each fires on its pattern and says why ----------------------------------------


def test_spend_zscore_fires_on_a_spend_spike_and_reports_it():
    rows = [*routine("C1", MONTHS[:5]), txn("C1", "2024-06-10", 4000.0)]
    scored = score_customer_months(*frames(rows), SETTINGS)
    spike = row(scored, "C1", "2024-06")
    assert spike[SPEND_ZSCORE] and spike["is_anomaly"]
    # (4000 - 150) / max(0, 37.50, 25.00)
    assert spike["z_score"] == pytest.approx(102.67, abs=0.01)
    assert "spend 102.7 sd above the prior 5-month mean (150.00)" in spike["anomaly_reason"]
    assert SPEND_ZSCORE in spike["detectors"].split(",")


def test_spend_zscore_needs_the_excess_to_matter_against_the_limit():
    # z is huge, but 1,000 above the baseline is only 10 % of a 10,000 limit.
    rows = [*routine("C1", MONTHS[:5]), txn("C1", "2024-06-10", 1150.0)]
    scored = score_customer_months(*frames(rows, limit=10_000.0), SETTINGS)
    assert row(scored, "C1", "2024-06")["z_score"] > 20
    assert not row(scored, "C1", "2024-06")[SPEND_ZSCORE]


def test_large_purchase_burst_fires_on_big_purchases_close_together():
    big = [txn("C1", f"2024-06-{day:02d}", 900.0) for day in (14, 15, 16)]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + big), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month[LARGE_PURCHASE_BURST]
    # large = max(3 x median 50.00, 5 % of 5,000) = 250.00
    assert (
        "3 large purchases (2,700.00) within 3 days; large is 250.00 or more"
        in month["anomaly_reason"]
    )


def test_large_purchase_burst_ignores_the_same_purchases_spread_over_the_month():
    big = [txn("C1", f"2024-06-{day:02d}", 900.0) for day in (2, 15, 28)]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + big), SETTINGS)
    assert not row(scored, "C1", "2024-06")[LARGE_PURCHASE_BURST]


def test_large_means_large_for_this_customer():
    # Someone whose median basket is 900.00 buys three of them in a row: nothing unusual.
    habit = routine("C1", MONTHS[:5], amount=900.0)
    june = [txn("C1", f"2024-06-{day:02d}", 900.0) for day in (14, 15, 16)]
    scored = score_customer_months(*frames(habit + june, limit=25_000.0), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month["large_threshold"] == pytest.approx(2700.0)
    assert not month[LARGE_PURCHASE_BURST]


def test_small_online_burst_fires_on_card_testing_and_reports_the_usual():
    burst = [txn("C1", "2024-06-09", 2.5, channel="online") for _ in range(20)]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + burst), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month[SMALL_ONLINE_BURST]
    assert "20 small online transactions vs 0.0 usual" in month["anomaly_reason"]
    assert not month[LARGE_PURCHASE_BURST] and not month[CASH_ADVANCE_JUMP]


def test_small_online_burst_respects_a_customers_habit():
    habit = [
        txn("C1", f"{month}-{day:02d}", 4.0, channel="online")
        for month in MONTHS
        for day in range(1, 11)
    ]
    extra = [txn("C1", "2024-06-20", 4.0, channel="online") for _ in range(5)]
    scored = score_customer_months(*frames(habit + extra), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month["small_online_count"] == 15 and month["usual_small_online_count"] == 10
    assert not month[SMALL_ONLINE_BURST]


def test_small_online_burst_ignores_in_store_and_larger_purchases():
    pos = [txn("C1", "2024-06-09", 2.5, channel="contactless") for _ in range(20)]
    larger = [txn("C1", "2024-06-09", 25.0, channel="online") for _ in range(20)]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + pos + larger), SETTINGS)
    assert row(scored, "C1", "2024-06")["small_online_count"] == 0


def test_cash_advance_jump_fires_and_reports_amount_and_count():
    cash = [txn("C1", f"2024-06-{day:02d}", 500.0, "cash_advance", "atm") for day in (3, 5, 7)]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + cash), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month[CASH_ADVANCE_JUMP]
    assert "cash advances 1,500.00 (3) vs 0.00 (0.0) usual" in month["anomaly_reason"]


def test_cash_advance_jump_is_quiet_for_a_customer_who_always_draws_cash():
    cash = [
        txn("C1", f"{month}-{day:02d}", 500.0, "cash_advance", "atm")
        for month in MONTHS
        for day in (3, 5, 7)
    ]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + cash), SETTINGS)
    assert not row(scored, "C1", "2024-06")[CASH_ADVANCE_JUMP]


def test_several_detectors_list_every_reason():
    burst = [txn("C1", "2024-06-09", 2.5, channel="online") for _ in range(20)]
    cash = [txn("C1", f"2024-06-{day:02d}", 500.0, "cash_advance", "atm") for day in (3, 5, 7)]
    scored = score_customer_months(*frames(routine("C1", MONTHS) + burst + cash), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month["detectors"] == f"{SMALL_ONLINE_BURST},{CASH_ADVANCE_JUMP}"
    assert month["anomaly_reason"].count("; ") == 1


def test_unknown_limit_drops_only_the_limit_conditions():
    rows = [*routine("C1", MONTHS[:5]), txn("C1", "2024-06-10", 1150.0)]
    scored = score_customer_months(*frames(rows, limit=None), SETTINGS)
    month = row(scored, "C1", "2024-06")
    assert month[SPEND_ZSCORE]  # z alone decides
    assert month["large_threshold"] == pytest.approx(150.0)  # 3 x median, no limit floor


def test_thresholds_are_parameters():
    rows = [*routine("C1", MONTHS[:5]), txn("C1", "2024-06-10", 4000.0)]
    strict = AnomalySettings(z_threshold=200.0)
    assert not row(score_customer_months(*frames(rows), strict), "C1", "2024-06")["is_anomaly"]


def test_no_transactions_at_all_still_scores_every_month():
    grid = pd.DataFrame(
        {
            "customer_id": "C1",
            "month": MONTHS,
            "monthly_spend": 0.0,
            "rolling_6_month_avg": 0.0,
            "credit_limit": 5000.0,
        }
    )
    empty = pd.DataFrame(columns=TRANSACTION_COLUMNS)
    scored = score_customer_months(grid, empty, SETTINGS)
    assert len(scored) == len(MONTHS) and not scored["is_anomaly"].any()


# --- the seed's rule -------------------------------------------------------------------------


def test_seed_rule_is_spend_above_1_5_times_the_six_month_average_including_the_month():
    spend = [100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 180.0, 160.0]
    frame = pd.DataFrame({"monthly_spend": spend})
    # The published average: months m-5..m that exist, the month itself included.
    frame["rolling_6_month_avg"] = frame["monthly_spend"].rolling(6, min_periods=1).mean()
    flags = seed_rule(frame).tolist()
    # 180 > 1.5 x 113.33 = 170; 160 > 1.5 x 123.33 = 185 is false; a first month never fires.
    assert flags == [False] * 6 + [True, False]


def test_seed_rule_matches_an_independent_computation(tmp_path):
    rng = np.random.default_rng(3)
    spend = rng.lognormal(5, 1, size=(40, 9)).round(2)
    rows = []
    for index, series in enumerate(spend):
        for number, value in enumerate(series):
            window = series[max(0, number - 5) : number + 1]
            rows.append((f"C{index}", value, round(window.mean(), 2)))
    frame = pd.DataFrame(rows, columns=["customer_id", "monthly_spend", "rolling_6_month_avg"])
    expected = [value > 1.5 * average for _, value, average in rows]
    assert seed_rule(frame).tolist() == expected


# --- evaluation ------------------------------------------------------------------------------


def test_evaluation_counts_only_eligible_months_and_reports_every_rule():
    months = month_range("2024-01", 5)
    burst = [txn("C1", "2024-05-09", 2.5, channel="online") for _ in range(20)]
    cash = [txn("C2", f"2024-05-{day:02d}", 500.0, "cash_advance", "atm") for day in (3, 5, 7)]
    rows = routine("C1", months) + routine("C2", months) + routine("C3", months) + burst + cash
    scored = score_customer_months(*frames(rows, months), SETTINGS)
    labels = pd.DataFrame(
        [
            ("C1", "2024-05", "small_online_burst"),
            ("C3", "2024-04", "spend_spike"),  # missed by every rule
            ("C3", "2024-02", "spend_spike"),  # too early: not eligible, not counted
        ],
        columns=["customer_id", "month", "anomaly_type"],
    )
    table = evaluation_table(scored, labels, SETTINGS.min_history).set_index("rule")
    assert list(table.index) == [*DETECTORS, COMBINED, SEED_RULE]
    combined = table.loc[COMBINED]
    assert combined["flagged"] == 2 and combined["true_positives"] == 1
    assert combined["precision"] == pytest.approx(0.5)
    assert combined["recall"] == pytest.approx(0.5)
    assert combined["recall_small_online_burst"] == 1.0
    assert combined["recall_spend_spike"] == 0.0
    assert np.isnan(table.loc[SPEND_ZSCORE, "precision"])  # flagged nothing
    text = format_evaluation(table.reset_index())
    assert COMBINED in text and "0.500" in text


# --- settings --------------------------------------------------------------------------------


def test_settings_come_from_environment_variables(monkeypatch):
    defaults = AnomalySettings()
    monkeypatch.setenv("CREDIT_RISK_ANOMALY_Z_THRESHOLD", "5.5")
    monkeypatch.setenv("CREDIT_RISK_ANOMALY_MIN_HISTORY", "4")
    settings = AnomalySettings()
    assert settings.z_threshold == 5.5 and settings.min_history == 4
    assert settings.model_version != defaults.model_version
    assert settings.model_version.startswith("sa1-")


@pytest.mark.parametrize(
    "environ",
    [
        {"CREDIT_RISK_ANOMALY_MIN_HISTORY": "0"},
        {"CREDIT_RISK_ANOMALY_MIN_HISTORY": "13"},  # more than the baseline window
        {"CREDIT_RISK_ANOMALY_STD_FLOOR_AMOUNT": "0"},
        {"CREDIT_RISK_ANOMALY_Z_THRESHOLD": "-1"},
    ],
)
def test_unworkable_settings_are_refused(monkeypatch, environ):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="anomaly"):
        AnomalySettings()
