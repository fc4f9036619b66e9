"""Spending-anomaly detectors on small hand-made portfolios: baselines and their robust spreads,
the seasonal allowance, each detector's pattern and reason, the alert rate, the seed's 1.5x rule
and the evaluation arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_risk.analytics.anomalies import (
    CASH_ADVANCE_JUMP,
    COMBINED,
    DETECTORS,
    LARGE_PURCHASE,
    MIN_PORTFOLIO,
    NEW_CATEGORY,
    SEED_RULE,
    SMALL_ONLINE_BURST,
    SPEND_SPIKE,
    AnomalySettings,
    densest_window,
    evaluation_table,
    format_evaluation,
    score_customer_months,
    seed_rule,
    select_alerts,
    table_rows,
    ticket_quartiles,
    window_aggregates,
)
from credit_risk.months import month_range

SETTINGS = AnomalySettings()
MONTHS = month_range("2024-01", 6)
LAST = MONTHS[-1]
TRANSACTION_COLUMNS = [
    "customer_id",
    "month",
    "transaction_date",
    "transaction_amount",
    "transaction_type",
    "merchant_category",
    "channel",
]
CATEGORIES = ("grocery", "dining", "fuel")


def txn(
    customer: str,
    date: str,
    amount: float,
    kind: str = "purchase",
    channel: str = "pos",
    category: str | None = "grocery",
) -> tuple:
    if kind == "cash_advance":
        category = "cash"
    return (customer, date[:7], date, amount, kind, category, channel)


def routine(
    customer: str, months: list[str] = MONTHS, amount: float = 50.0, wobble: float = 0.15
) -> list[tuple]:
    """Six ordinary purchases a month in three categories, each month a little different."""
    seed = sum(map(ord, customer))
    rows = []
    for number, month in enumerate(months):
        factor = 1 + wobble * np.sin(seed + 1.7 * number)
        for index, day in enumerate((2, 6, 11, 16, 21, 26)):
            size = round(amount * factor * (0.6 + 0.16 * index), 2)
            rows.append(txn(customer, f"{month}-{day:02d}", size, category=CATEGORIES[index % 3]))
    return rows


def crowd(count: int = 40, months: list[str] = MONTHS) -> list[tuple]:
    """An ordinary portfolio around the customers a test is about."""
    return [
        row
        for number in range(count)
        for row in routine(f"P{number:03d}", months, amount=30 + 3 * number)
    ]


def frames(
    rows: list[tuple], months: list[str] = MONTHS, limit: float | None = 5000.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Published-like frames: every customer has every month; spend is the sum of purchases."""
    transactions = pd.DataFrame(rows, columns=TRANSACTION_COLUMNS)
    purchases = transactions[transactions["transaction_type"] == "purchase"]
    spend = purchases.groupby(["customer_id", "month"])["transaction_amount"].sum()
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


def scored_month(rows: list[tuple], month: str = LAST, settings=SETTINGS, **kwargs):
    return score_customer_months(*frames(rows, **kwargs), settings, only_month=month)


def row(scored: pd.DataFrame, customer: str, month: str = LAST) -> pd.Series:
    match = scored[(scored["customer_id"] == customer) & (scored["month"] == month)]
    assert len(match) == 1
    return match.iloc[0]


# --- baselines -------------------------------------------------------------------------------


def test_ticket_quartiles_are_nearest_rank_and_the_median_the_middle():
    amounts = pd.Series([10.0, 40.0, 20.0, 30.0, 50.0, 60.0, 70.0, 80.0])
    frame = ticket_quartiles(pd.Series(["A"] * 8), amounts).iloc[0]
    assert frame["purchases"] == 8
    assert frame["ticket_q1"] == 20.0  # ceil(8 / 4) = 2nd smallest
    assert frame["ticket_median"] == 45.0  # mean of the 4th and 5th
    assert frame["ticket_q3"] == 60.0  # ceil(24 / 4) = 6th
    single = ticket_quartiles(pd.Series(["B"]), pd.Series([7.0])).iloc[0]
    assert single["ticket_q1"] == single["ticket_median"] == single["ticket_q3"] == 7.0


def test_window_aggregates_see_only_the_window_before_the_month():
    rows = [
        txn("C1", "2023-01-10", 999.0, category="travel"),  # 17 months earlier: outside
        *routine("C1"),
        txn("C1", f"{LAST}-20", 5000.0, category="travel"),  # the month itself
        txn("C1", f"{LAST}-21", 3.0, channel="online"),
    ]
    _, transactions = frames(rows, months=["2023-01", *MONTHS])
    aggregates = window_aggregates(transactions, LAST, SETTINGS)
    tickets = aggregates["tickets"].set_index("customer_id").loc["C1"]
    assert tickets["purchases"] == 6 * (len(MONTHS) - 1)
    assert set(aggregates["categories"]["merchant_category"]) == set(CATEGORIES)
    counts = aggregates["counts"].set_index(["customer_id", "month"])
    assert counts.loc[("C1", LAST), "small_online_count"] == 1


def test_small_card_not_present_charges_stay_out_of_the_usual_ticket():
    burst = [txn("C1", "2024-03-05", 2.0, channel="online") for _ in range(30)]
    _, transactions = frames(routine("C1") + burst)
    tickets = window_aggregates(transactions, LAST, SETTINGS)["tickets"].iloc[0]
    assert tickets["ticket_median"] > 30  # the 30 charges of 2.00 did not drag it down


def test_the_usual_month_is_the_median_of_prior_months_with_spending():
    rows = [*routine("C1", MONTHS[:2]), *routine("C1", MONTHS[3:5], amount=80.0)]
    rows += [*crowd(), txn("C1", f"{LAST}-10", 90.0)]
    month = row(scored_month(rows), "C1")
    prior = [sum(r[3] for r in rows if r[0] == "C1" and r[1] == m) for m in MONTHS[:5]]
    active = sorted(value for value in prior if value > 0)  # March was empty
    assert month["history_months"] == 5 and month["active_months"] == 4
    assert month["usual_spend"] == pytest.approx(np.median(active))
    assert month["monthly_spend"] == pytest.approx(90.0)


def test_a_spike_does_not_raise_its_own_baseline():
    ordinary = [*routine("C1"), *crowd(), txn("C1", f"{LAST}-10", 90.0)]
    spiked = [*routine("C1"), *crowd(), txn("C1", f"{LAST}-10", 4000.0)]
    before, spike = row(scored_month(ordinary), "C1"), row(scored_month(spiked), "C1")
    assert spike["usual_spend"] == before["usual_spend"]
    assert spike["spend_scale"] == before["spend_scale"]


def test_months_the_limit_held_back_do_not_define_the_usual_month():
    # C1 spends 300 a month, but for three months its card was full: charges declined, 40 spent
    rows = [*routine("C1", MONTHS[:2], amount=50.0), *routine("C1", MONTHS[2:-1], amount=7.0)]
    rows += [*crowd(), *routine("C1", [LAST], amount=50.0)]
    customer_months, transactions = frames(rows)
    full = (customer_months["customer_id"] == "C1") & customer_months["month"].isin(MONTHS[2:-1])
    customer_months["utilization_pct"] = np.where(full, 99.5, 30.0)
    back = row(score_customer_months(customer_months, transactions, SETTINGS), "C1")
    assert back["active_months"] == 2 and not back["is_anomaly"]
    # the same months with room on the card are its usual month: back to 300 is a spike
    customer_months["utilization_pct"] = 30.0
    spike = row(score_customer_months(customer_months, transactions, SETTINGS), "C1")
    assert spike["active_months"] == 5 and spike["usual_spend"] < back["usual_spend"]
    assert spike["z_score"] > back["z_score"] + 1


# --- guards ----------------------------------------------------------------------------------


def test_too_little_history_is_never_flagged_and_says_so():
    burst = [txn("C1", "2024-03-05", 3.0, channel="online") for _ in range(25)]
    rows = [*routine("C1", MONTHS[:2]), txn("C1", "2024-03-10", 4900.0), *burst]
    scored = score_customer_months(*frames(rows, MONTHS[:3]), SETTINGS)
    assert not scored[list(DETECTORS)].any().any()
    assert not scored["is_anomaly"].any()
    last = row(scored, "C1", "2024-03")
    assert last["anomaly_reason"] == "insufficient history: 2 prior months, 3 needed"
    assert pd.isna(last["detectors"]) and pd.isna(last["anomaly_score"])


def test_a_steady_customer_gets_a_finite_score_and_no_flag():
    scored = scored_month(routine("C1", wobble=0.0) + crowd())
    ordinary = row(scored, "C1")
    assert ordinary["log_spread"] == 0.0  # five identical months ...
    assert ordinary["spend_scale"] > 0.0  # ... borrow the portfolio's spread
    assert np.isfinite(ordinary["z_score"]) and abs(ordinary["z_score"]) < 1
    assert not ordinary["is_anomaly"] and pd.isna(ordinary["anomaly_reason"])


def test_an_ordinary_portfolio_flags_nobody():
    scored = score_customer_months(*frames(crowd()), SETTINGS)
    eligible = scored[scored["history_months"] >= SETTINGS.min_history]
    assert not eligible.empty and not eligible["is_anomaly"].any()
    assert (eligible["anomaly_score"] < SETTINGS.min_score).all()


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
    assert len(table_rows(scored)) == len(MONTHS)


# --- spend: robust z against the customer's own months, after the season ------------------------


def test_a_spend_spike_fires_and_says_how_many_times_usual():
    rows = [*routine("C1"), *crowd(), txn("C1", f"{LAST}-10", 1500.0, category="dining")]
    spike = row(scored_month(rows), "C1")
    assert spike["is_anomaly"] and spike[SPEND_SPIKE]
    assert spike["detectors"].split(",")[0] == SPEND_SPIKE
    ratio = (spike["monthly_spend"] + SETTINGS.spend_offset) / (
        spike["usual_spend"] + SETTINGS.spend_offset
    )
    assert (
        f"spend {ratio:.1f}x usual (median {spike['usual_spend']:,.2f}" in spike["anomaly_reason"]
    )


def test_a_portfolio_wide_december_peak_is_not_an_anomaly_but_a_spike_on_top_is():
    months = month_range("2024-07", 6)  # July .. December
    december = months[-1]
    rows = []
    for number in range(40):
        customer = f"P{number:03d}"
        for row_ in routine(customer, months, amount=40 + 2 * number):
            boost = 1.8 if row_[1] == december else 1.0
            rows.append((*row_[:3], round(row_[3] * boost, 2), *row_[4:]))
    spiker = [
        (*r[:3], round(r[3] * (8.0 if r[1] == december else 1.0), 2), *r[4:])
        for r in routine("C1", months)
    ]
    scored = scored_month(rows + spiker, month=december, months=months)
    crowd_rows = scored[scored["customer_id"].str.startswith("P")]
    assert not crowd_rows["is_anomaly"].any()
    assert crowd_rows["season_uplift"].iloc[0] == pytest.approx(np.log(1.8), abs=0.1)
    spike = row(scored, "C1", december)
    season = np.exp(spike["season_uplift"])
    assert spike[SPEND_SPIKE] and f"season {season:.2f}x" in spike["anomaly_reason"]


def test_the_season_is_not_learned_from_a_handful_of_customers():
    rows = [*routine("C1"), txn("C1", f"{LAST}-10", 1500.0)]
    month = row(scored_month(rows), "C1")
    assert MIN_PORTFOLIO > 1 and month["season_uplift"] == 0.0  # or the spike would explain itself
    assert month[SPEND_SPIKE]


def test_money_floors_are_in_the_customers_own_usual_spend():
    # 6x usual, but 50.00 above a usual month of 10.00 is not worth an analyst's time.
    rows = [*routine("C1", amount=1.6), *crowd(), txn("C1", f"{LAST}-10", 50.0)]
    small = row(scored_month(rows), "C1")
    assert small["monthly_spend"] > 5 * small["usual_spend"]
    assert small["p_" + SPEND_SPIKE] == 1.0 and not small["is_anomaly"]
    assert small["p_" + LARGE_PURCHASE] == 1.0  # nor is one purchase of 50.00
    # +60 % on 2,000.00 is a lot of money but an ordinary month for this customer.
    rows = [*routine("C2", amount=330.0), *crowd(), txn("C2", f"{LAST}-10", 1200.0)]
    assert row(scored_month(rows), "C2")["p_" + SPEND_SPIKE] == 1.0


# --- purchases: size against the usual ticket, and categories never used ------------------------


def test_one_large_purchase_fires_and_reports_the_usual_ticket():
    rows = [*routine("C1"), *crowd(), txn("C1", f"{LAST}-20", 6000.0, category="grocery")]
    month = row(scored_month(rows), "C1")
    assert month[LARGE_PURCHASE]
    assert "purchase of 6,000.00" in month["anomaly_reason"]
    assert f"(median {month['ticket_median']:,.2f})" in month["anomaly_reason"]


def test_several_large_purchases_within_days_are_a_splurge():
    big = [txn("C1", f"{LAST}-{day:02d}", 240.0, category="dining") for day in (14, 15, 16)]
    spread = [txn("C2", f"{LAST}-{day:02d}", 240.0, category="dining") for day in (2, 15, 28)]
    rows = [*routine("C1"), *routine("C2"), *crowd(), *big, *spread]
    scored = scored_month(rows)
    close, apart = row(scored, "C1"), row(scored, "C2")
    assert close["large_in_window"] == 3 and apart["large_in_window"] == 1
    assert close["p_" + LARGE_PURCHASE] < apart["p_" + LARGE_PURCHASE] / 3


def test_densest_window_counts_events_within_the_days():
    customers = pd.Series(["A", "A", "A", "A", "B"])
    days = pd.Series([1, 10, 11, 12, 30])
    assert densest_window(customers, days, 3).to_dict() == {"A": 3, "B": 1}
    assert densest_window(customers, days, 1).to_dict() == {"A": 1, "B": 1}


def test_a_purchase_in_a_category_never_used_is_new_and_says_so():
    new = txn("C1", f"{LAST}-20", 400.0, category="travel")
    old = txn("C2", f"{LAST}-20", 400.0, category="grocery")
    rows = [*routine("C1"), *routine("C2"), *crowd(), new, old]
    scored = scored_month(rows)
    first_time, habit = row(scored, "C1"), row(scored, "C2")
    assert first_time[NEW_CATEGORY] and first_time["is_anomaly"]
    assert (
        "purchase of 400.00 in travel, a category not used in 5 months"
        in first_time["anomaly_reason"]
    )
    assert habit["p_" + NEW_CATEGORY] == 1.0
    assert habit["anomaly_score"] < first_time["anomaly_score"]


def test_a_small_purchase_in_a_new_category_is_not_worth_a_flag():
    rows = [*routine("C1"), *crowd(), txn("C1", f"{LAST}-20", 12.0, category="health")]
    month = row(scored_month(rows), "C1")
    assert month["new_purchases"] == 1 and month["p_" + NEW_CATEGORY] == 1.0


# --- counts: small online charges and cash advances against the usual rate --------------------


def test_small_online_burst_fires_on_card_testing_and_reports_the_usual():
    burst = [txn("C1", f"{LAST}-09", 2.5, channel="online") for _ in range(20)]
    month = row(scored_month(routine("C1") + crowd() + burst), "C1")
    assert month[SMALL_ONLINE_BURST] and month["detectors"].split(",")[0] == SMALL_ONLINE_BURST
    assert "20 small online charges (usual 0.0 a month)" in month["anomaly_reason"]
    assert not month[CASH_ADVANCE_JUMP]


def test_small_online_burst_respects_a_customers_habit():
    habit = [
        txn("C1", f"{month}-{day:02d}", 4.0, channel="online")
        for month in MONTHS
        for day in range(1, 11)
    ]
    extra = [txn("C1", f"{LAST}-20", 4.0, channel="online") for _ in range(3)]
    month = row(scored_month(routine("C1") + crowd() + habit + extra), "C1")
    assert month["small_online_count"] == 13
    assert month["usual_small_online_count"] == pytest.approx(10 * 5 / 7, rel=0.05)
    assert not month[SMALL_ONLINE_BURST]


def test_small_online_burst_ignores_in_store_and_larger_purchases():
    pos = [txn("C1", f"{LAST}-09", 2.5, channel="contactless") for _ in range(20)]
    larger = [txn("C1", f"{LAST}-09", 25.0, channel="online") for _ in range(20)]
    month = row(scored_month(routine("C1") + crowd() + pos + larger), "C1")
    assert month["small_online_count"] == 0


def test_cash_advance_jump_fires_and_reports_amount_and_count():
    cash = [txn("C1", f"{LAST}-{day:02d}", 200.0, "cash_advance", "atm") for day in (3, 5, 7)]
    month = row(scored_month(routine("C1") + crowd() + cash), "C1")
    assert month[CASH_ADVANCE_JUMP]
    assert "3 cash advances of 600.00 (usual 0.0 a month)" in month["anomaly_reason"]


def test_cash_advance_jump_is_quiet_for_a_customer_who_always_draws_cash():
    cash = [
        txn("C1", f"{month}-{day:02d}", 200.0, "cash_advance", "atm")
        for month in MONTHS
        for day in (3, 5, 7)
    ]
    month = row(scored_month(routine("C1") + crowd() + cash), "C1")
    assert not month[CASH_ADVANCE_JUMP]


# --- one score, the strongest reason first, and the alert rate ---------------------------------


def test_several_detectors_list_every_reason_strongest_first():
    burst = [txn("C1", f"{LAST}-09", 2.5, channel="online") for _ in range(30)]
    cash = [txn("C1", f"{LAST}-{day:02d}", 200.0, "cash_advance", "atm") for day in (3, 5, 7)]
    month = row(scored_month(routine("C1") + crowd() + burst + cash), "C1")
    names = month["detectors"].split(",")
    assert names[:2] == [SMALL_ONLINE_BURST, CASH_ADVANCE_JUMP]
    assert month["anomaly_reason"].index("small online") < month["anomaly_reason"].index("cash")


def test_the_target_alert_rate_caps_a_month_highest_scores_first():
    rows = crowd(60)  # each with one small online charge a month
    rows += [txn(f"P{n:03d}", f"{m}-04", 5.0, channel="online") for n in range(60) for m in MONTHS]
    for number, size in enumerate((10, 12, 14, 16, 18, 20)):
        customer = f"C{number}"
        rows += routine(customer)
        rows += [txn(customer, f"{LAST}-09", 2.0, channel="online") for _ in range(size)]
    scored = scored_month(rows, settings=AnomalySettings(target_alert_rate=0.03))
    flagged = scored[scored["is_anomaly"]]
    assert (scored.loc[scored["is_anomaly"], list(DETECTORS)].any(axis=1)).all()
    # ceil(3 % of 66 eligible customers) = 2, the two largest bursts
    assert sorted(flagged["customer_id"]) == ["C4", "C5"]
    unflagged = row(scored, "C0")
    assert unflagged["anomaly_score"] >= SETTINGS.min_score and not unflagged["is_anomaly"]


def test_alerts_never_go_below_the_minimum_score_and_ties_break_by_customer():
    customers = pd.Series([f"C{n}" for n in range(8)])
    everyone = pd.Series([True] * 8)
    quiet = np.full(8, 0.5)
    assert not select_alerts(customers, quiet, everyone, SETTINGS).any()
    tied = np.array([1e-40] * 4 + [0.5] * 4)  # four alike at the top, room for one
    flagged = select_alerts(customers, tied, everyone, AnomalySettings(target_alert_rate=0.1))
    assert flagged.tolist() == [True] + [False] * 7
    too_new = pd.Series([False] * 8)
    assert not select_alerts(customers, tied, too_new, SETTINGS).any()


def test_alert_rate_bounds_allow_one_row_of_rounding():
    low, high = AnomalySettings(target_alert_rate=0.02).alert_rate_bounds(200)
    assert (low, high) == (0.0, pytest.approx(0.025))


def test_table_rows_carry_the_score_and_the_usual_month():
    burst = [txn("C1", f"{LAST}-09", 2.5, channel="online") for _ in range(20)]
    rows = table_rows(scored_month(routine("C1") + crowd() + burst))
    flagged = rows[rows["is_anomaly"]].iloc[0]
    assert flagged["customer_id"] == "C1" and flagged["anomaly_score"] > SETTINGS.min_score
    assert flagged["baseline_mean"] > 0 and flagged["model_version"].startswith("sa3-")


# --- the seed's rule -------------------------------------------------------------------------


def test_seed_rule_is_spend_above_1_5_times_the_six_month_average_including_the_month():
    spend = [100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 180.0, 160.0]
    frame = pd.DataFrame({"monthly_spend": spend})
    # The published average: months m-5..m that exist, the month itself included.
    frame["rolling_6_month_avg"] = frame["monthly_spend"].rolling(6, min_periods=1).mean()
    flags = seed_rule(frame).tolist()
    # 180 > 1.5 x 113.33 = 170; 160 > 1.5 x 123.33 = 185 is false; a first month never fires.
    assert flags == [False] * 6 + [True, False]


def test_seed_rule_matches_an_independent_computation():
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
    burst = [txn("C1", f"{LAST}-09", 2.5, channel="online") for _ in range(20)]
    cash = [txn("C2", f"{LAST}-{day:02d}", 200.0, "cash_advance", "atm") for day in (3, 5, 7)]
    rows = routine("C1") + routine("C2") + routine("C3") + crowd() + burst + cash
    scored = score_customer_months(*frames(rows), SETTINGS)
    labels = pd.DataFrame(
        [
            ("C1", LAST, "small_online_burst"),
            ("C3", "2024-05", "spend_spike"),  # missed by every rule
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
    assert np.isnan(table.loc[NEW_CATEGORY, "precision"])  # flagged nothing
    assert np.isnan(combined["december_normal_flagged"])  # no December in the data
    text = format_evaluation(table.reset_index())
    assert COMBINED in text and "0.500" in text


def test_evaluation_reports_the_share_of_normal_decembers_flagged():
    months = month_range("2024-07", 6)
    burst = [txn("C1", "2024-12-09", 2.5, channel="online") for _ in range(20)]
    rows = routine("C1", months) + crowd(months=months) + burst
    scored = score_customer_months(*frames(rows, months), SETTINGS)
    table = evaluation_table(
        scored, pd.DataFrame(columns=["customer_id", "month", "anomaly_type"]), 3
    )
    combined = table.set_index("rule").loc[COMBINED]
    assert combined["december_normal_flagged"] == pytest.approx(1 / 41)


# --- settings --------------------------------------------------------------------------------


def test_settings_come_from_environment_variables(monkeypatch):
    defaults = AnomalySettings()
    monkeypatch.setenv("CREDIT_RISK_ANOMALY_TARGET_ALERT_RATE", "0.01")
    monkeypatch.setenv("CREDIT_RISK_ANOMALY_MIN_HISTORY", "4")
    settings = AnomalySettings()
    assert settings.target_alert_rate == 0.01 and settings.min_history == 4
    assert settings.model_version != defaults.model_version
    assert settings.model_version.startswith("sa3-")


@pytest.mark.parametrize(
    "environ",
    [
        {"CREDIT_RISK_ANOMALY_MIN_HISTORY": "0"},
        {"CREDIT_RISK_ANOMALY_MIN_HISTORY": "13"},  # more than the baseline window
        {"CREDIT_RISK_ANOMALY_TARGET_ALERT_RATE": "0"},
        {"CREDIT_RISK_ANOMALY_SPEND_OFFSET": "0"},
        {"CREDIT_RISK_ANOMALY_MIN_SCORE": "-1"},
    ],
)
def test_unworkable_settings_are_refused(monkeypatch, environ):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match="anomaly"):
        AnomalySettings()
