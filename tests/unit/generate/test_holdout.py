"""The hold-out generator: a reproducible three-file extract that the data contract loads
without quarantining anything, whose balances hang together, with about 14 transactions per
customer-month and a December peak, and whose labels.csv names anomalies that really have the
shape of their recipe in the written data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_risk.contract import CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS
from credit_risk.extract import prepare_extract
from credit_risk.generate.holdout import ANOMALY_KINDS, MIN_HISTORY, generate_holdout
from credit_risk.generate.realistic import CATEGORIES, CHANNELS, LABEL_COLUMNS, TRANSACTION_TYPES
from credit_risk.months import MonthWindow, month_range
from credit_risk.pipeline import slice_month

FILES = ("customers.csv", "statements.csv", "transactions.csv")
LABELS = "labels.csv"
ALL_FILES = (*FILES, LABELS)
FULL = {"customers": 2000, "months": 12, "seed": 1, "start": "2024-01"}
SMALL = {"customers": 150, "months": 7, "seed": 3, "start": "2024-09", "anomaly_rate": 0.2}


def _read(directory: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(directory / name, dtype=str, keep_default_na=False)


def _cents(values: pd.Series) -> pd.Series:
    return values.str.replace(".", "", regex=False).astype(np.int64)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("holdout_full")
    generate_holdout(directory, **FULL)
    return directory


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("holdout_small")
    generate_holdout(directory, **SMALL)
    return directory


@pytest.fixture(scope="module")
def frames(full) -> dict[str, pd.DataFrame]:
    found = {name: _read(full, name) for name in ALL_FILES}
    transactions = found["transactions.csv"]
    transactions["month"] = transactions["transaction_date"].str[:7]
    transactions["day"] = transactions["transaction_date"].str[8:].astype(int)
    transactions["cents"] = _cents(transactions["amount"])
    return found


@pytest.fixture(scope="module")
def spend(frames) -> pd.DataFrame:
    """Net spend per customer-month (0 for a month without transactions), customer x month."""
    statements, transactions = frames["statements.csv"], frames["transactions.csv"]
    sums = transactions.groupby(["customer_id", "month"])["cents"].sum()
    index = pd.MultiIndex.from_frame(statements[["customer_id", "statement_month"]])
    return sums.reindex(index, fill_value=0).unstack()


# --- format, determinism, contract ------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path, small):
    generate_holdout(tmp_path / "again", **SMALL)
    generate_holdout(tmp_path / "other", **{**SMALL, "seed": 4})
    for name in ALL_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (small / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (small / name).read_bytes()


def test_files_have_the_contract_header_unix_lines_and_no_quoting(small):
    expected = (CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS, list(LABEL_COLUMNS))
    for name, columns in zip(ALL_FILES, expected, strict=True):
        data = (small / name).read_bytes()
        assert b"\r" not in data and b'"' not in data and data.endswith(b"\n")
        lines = data.decode("utf-8")[:-1].split("\n")
        assert lines[0] == ",".join(columns)
        assert {line.count(",") for line in lines} == {len(columns) - 1}


def test_returned_counts_match_the_files(tmp_path):
    counts = generate_holdout(tmp_path, **SMALL)
    assert set(counts) == set(ALL_FILES)
    for name in ALL_FILES:
        assert counts[name] == (tmp_path / name).read_text().count("\n") - 1
    assert counts["statements.csv"] == SMALL["customers"] * SMALL["months"]


def test_every_row_passes_the_contract_and_nothing_is_quarantined(full, frames):
    months = month_range(FULL["start"], FULL["months"])
    prepared = prepare_extract(full, None, set(), MonthWindow("2000-01", months[-1]))
    assert prepared.quarantine.empty
    assert prepared.partition_months == months
    assert len(prepared.customers) == FULL["customers"]
    assert len(prepared.statements) == len(frames["statements.csv"])
    assert len(prepared.transactions) == len(frames["transactions.csv"])


def test_a_monthly_drop_passes_the_contract_too(tmp_path, small):
    # The month cut out as the DAG's monthly load receives it quarantines nothing either.
    month = month_range(SMALL["start"], SMALL["months"])[-1]
    drop = slice_month(small, month, tmp_path / "drop")
    prepared = prepare_extract(drop, month, set(), MonthWindow("2000-01", month))
    assert prepared.quarantine.empty
    assert prepared.partition_months == [month]
    assert len(prepared.statements) == SMALL["customers"]


def test_rows_are_sorted_with_ids_in_time_order(frames):
    statements, transactions = frames["statements.csv"], frames["transactions.csv"]
    assert statements.equals(
        statements.sort_values(["customer_id", "statement_month"], ignore_index=True)
    )
    order = ["customer_id", "transaction_date", "transaction_id"]
    assert transactions[order].equals(transactions[order].sort_values(order, ignore_index=True))
    assert transactions["transaction_id"].is_unique
    ids = transactions["transaction_id"]
    assert (ids.str[1:7] == transactions["month"].str.replace("-", "")).all()
    assert (ids.str[7:14] == transactions["customer_id"].str[1:]).all()
    by_month = transactions.groupby("month")["transaction_id"]
    assert (by_month.min().iloc[1:].to_numpy() > by_month.max().iloc[:-1].to_numpy()).all()


def test_transaction_values_follow_the_contract(frames):
    transactions = frames["transactions.csv"]
    limits = frames["statements.csv"].set_index(["customer_id", "statement_month"])["credit_limit"]
    limit = _cents(
        pd.Series(
            limits.reindex(pd.MultiIndex.from_frame(transactions[["customer_id", "month"]])).values
        )
    )
    cents, kind = transactions["cents"], transactions["transaction_type"]
    assert set(kind) == set(TRANSACTION_TYPES)
    assert set(transactions["merchant_category"]) == set(CATEGORIES)
    assert set(transactions["channel"]) == set(CHANNELS)
    assert (cents[kind == "refund"] < 0).all() and (cents[kind != "refund"] > 0).all()
    is_cash = kind == "cash_advance"
    assert ((transactions["merchant_category"] == "cash") == is_cash).all()
    assert ((transactions["channel"] == "atm") == is_cash).all()
    assert ((cents[is_cash] % 2_000 == 0) & (cents[is_cash] <= 200_000)).all()
    purchase = (kind == "purchase").to_numpy()
    assert (cents[purchase].to_numpy() <= 0.25 * limit[purchase].to_numpy()).all()


def _movements(frames) -> pd.DataFrame:
    statements = frames["statements.csv"].copy()
    transactions = frames["transactions.csv"]
    is_cash = transactions["transaction_type"] == "cash_advance"
    fee = np.maximum(500, np.rint(0.03 * transactions["cents"])).where(is_cash, 0)
    sums = (
        transactions.assign(fee=fee)
        .groupby(["customer_id", "month"])
        .agg(moved=("cents", "sum"), cash_fees=("fee", "sum"))
    )
    frame = statements.join(sums, on=["customer_id", "statement_month"]).fillna(
        {"moved": 0, "cash_fees": 0}
    )
    for column in ("credit_limit", "outstanding_balance", "payment_amount", "minimum_due"):
        frame[column] = _cents(frame[column])
    frame["days_past_due"] = frame["days_past_due"].astype(np.int64)
    grouped = frame.groupby("customer_id")
    frame["opening"] = grouped["outstanding_balance"].shift(1)
    frame["previous_minimum"] = grouped["minimum_due"].shift(1)
    frame["previous_dpd"] = grouped["days_past_due"].shift(1)
    return frame


def test_balances_carry_over_with_sane_interest_and_fees(frames):
    frame = _movements(frames)
    balance, minimum = frame["outstanding_balance"], frame["minimum_due"]
    assert (frame["payment_amount"] >= 0).all() and (frame["credit_limit"] > 0).all()
    assert (minimum[balance <= 0] == 0).all() and (minimum <= balance.clip(lower=0)).all()
    assert (minimum[balance >= 2_500] >= 2_500).all()
    frame = frame.dropna(subset=["opening"])
    fees = (
        frame["outstanding_balance"] - frame["opening"] - frame["moved"] + frame["payment_amount"]
    )
    bound = np.ceil(0.025 * frame["opening"].clip(lower=0)) + 3_500 + frame["cash_fees"]
    assert (fees >= 0).all() and (fees <= bound).all()
    paid_in_full = (frame["payment_amount"] >= frame["opening"]) & (frame["cash_fees"] == 0)
    assert (fees[paid_in_full] == 0).all()
    assert (fees > 0).mean() > 0.1  # revolvers pay interest
    # Payment styles: full payers, revolvers, minimum payers and misses all occur.
    owed = frame[frame["opening"] > 0]
    assert (owed["payment_amount"] == owed["opening"]).mean() > 0.2
    assert (owed["payment_amount"] == owed["previous_minimum"]).mean() > 0.02
    assert (owed["payment_amount"] < owed["previous_minimum"]).mean() > 0.003


def test_days_past_due_follow_missed_minimums(frames):
    frame = _movements(frames).dropna(subset=["opening"])
    missed = frame["payment_amount"] < frame["previous_minimum"]
    assert (frame.loc[~missed, "days_past_due"] == 0).all()
    assert (frame.loc[missed, "days_past_due"] > 0).all()
    repeat = missed & (frame["previous_dpd"] > 0)
    growth = frame.loc[repeat, "days_past_due"] - frame.loc[repeat, "previous_dpd"]
    assert growth.between(28, 31).all()
    assert frame["days_past_due"].between(30, 59).any()


def test_limits_come_from_tiers_and_sometimes_rise(frames):
    statements = frames["statements.csv"]
    limits = _cents(statements["credit_limit"])
    assert set(limits) <= {200_000, 500_000, 1_000_000, 2_500_000, 5_000_000}
    per_customer = limits.groupby(statements["customer_id"])
    assert (per_customer.diff().dropna() >= 0).all()  # limits only ever go up
    assert (per_customer.nunique() > 1).any()


# --- density and seasonality -------------------------------------------------------------------


def test_about_fourteen_transactions_per_customer_month_and_a_wide_spread(frames):
    statements, transactions = frames["statements.csv"], frames["transactions.csv"]
    assert 10 <= len(transactions) / len(statements) <= 18
    per_customer = transactions.groupby("customer_id").size() / FULL["months"]
    assert per_customer.quantile(0.05) < 5 and per_customer.quantile(0.95) > 30
    kind = transactions["transaction_type"]
    assert 0.002 < (kind == "refund").mean() < 0.03
    cash_users = transactions.loc[kind == "cash_advance", "customer_id"].nunique()
    assert 0.03 < cash_users / FULL["customers"] < 0.5  # a minority draws cash


def test_december_spend_is_above_the_yearly_average(spend):
    by_month = spend.sum()
    assert by_month["2024-12"] > 1.2 * by_month.mean()
    assert by_month["2024-11"] > by_month.mean() > by_month["2024-01"]


def test_risk_mix_is_stable_enough_for_the_published_gates(frames):
    # The published suite's month-over-month checks: High Risk share within 5 points, the
    # utilization mix (12 buckets of 10 %, half a row added to each) within a PSI of 0.25.
    statements = frames["statements.csv"]
    utilization = _cents(statements["outstanding_balance"]) / _cents(statements["credit_limit"])
    bucket = np.clip(np.floor(utilization * 10), -1, 10)
    table = pd.crosstab(bucket, statements["statement_month"]) + 0.5
    shares = table / table.sum()
    psi = ((shares - shares.shift(axis=1)) * np.log(shares / shares.shift(axis=1))).sum()
    assert psi.iloc[1:].max() < 0.1
    high = (utilization >= 0.8).groupby(statements["statement_month"]).mean()
    assert high.diff().abs().max() < 0.03
    assert 0.03 < high.mean() < 0.4


# --- labels and the anomaly recipes ------------------------------------------------------------


def test_labels_name_customer_months_of_the_extract_after_the_history(frames):
    labels, statements = frames[LABELS], frames["statements.csv"]
    pairs = set(zip(statements["customer_id"], statements["statement_month"], strict=True))
    assert set(zip(labels["customer_id"], labels["month"], strict=True)) <= pairs
    assert not labels.duplicated(["customer_id", "month"]).any()
    assert labels.equals(labels.sort_values(["customer_id", "month"], ignore_index=True))
    assert (labels["month"] >= month_range(FULL["start"], FULL["months"])[MIN_HISTORY]).all()
    counts = labels["anomaly_type"].value_counts()
    assert set(counts.index) == set(ANOMALY_KINDS)
    assert (counts >= 40).all()
    eligible = FULL["customers"] * (FULL["months"] - MIN_HISTORY)
    assert 0.015 < len(labels) / eligible < 0.035  # a little under the 3 % tried, by declines


def test_rate_zero_labels_nothing(tmp_path):
    counts = generate_holdout(tmp_path, **{**SMALL, "anomaly_rate": 0.0})
    assert counts[LABELS] == 0
    assert (tmp_path / LABELS).read_text() == ",".join(LABEL_COLUMNS) + "\n"


class _Cases:
    """Each labelled customer-month with what came before it (earlier unlabelled months)."""

    def __init__(self, frames, spend: pd.DataFrame) -> None:
        self.labels = frames[LABELS]
        transactions = frames["transactions.csv"]
        labelled = transactions["customer_id"].isin(self.labels["customer_id"])
        self.by_customer = dict(tuple(transactions[labelled].groupby("customer_id")))
        self.spend = spend
        self.labelled = set(zip(self.labels["customer_id"], self.labels["month"], strict=True))

    def of(self, kind: str):
        for customer, month in self.labels.loc[
            self.labels["anomaly_type"] == kind, ["customer_id", "month"]
        ].itertuples(index=False):
            rows = self.by_customer[customer]
            normal_before = [
                earlier
                for earlier in self.spend.columns
                if earlier < month and (customer, earlier) not in self.labelled
            ]
            usual = float(np.median(self.spend.loc[customer, normal_before]))
            yield rows[rows["month"] == month], rows[rows["month"] < month], normal_before, usual


@pytest.fixture(scope="module")
def cases(frames, spend) -> _Cases:
    return _Cases(frames, spend)


def test_spend_spikes_are_four_to_eight_times_the_usual_month(cases):
    ratios = [month["cents"].sum() / usual for month, _, _, usual in cases.of("spend_spike")]
    assert len(ratios) > 0
    assert min(ratios) >= 4.0 and max(ratios) <= 8.0


def test_subtle_spikes_are_two_and_a_half_to_three_times_the_usual_month(cases):
    ratios = [month["cents"].sum() / usual for month, _, _, usual in cases.of("subtle_spike")]
    assert len(ratios) > 0
    assert min(ratios) >= 2.5 and max(ratios) <= 3.0


def test_new_category_purchase_is_large_and_in_a_category_never_used_before(cases):
    seen = 0
    for month, before, normal_months, _ in cases.of("new_category_purchase"):
        purchases = month[month["transaction_type"] == "purchase"]
        new = purchases[~purchases["merchant_category"].isin(set(before["merchant_category"]))]
        assert len(new) >= 1
        prior = before[
            (before["transaction_type"] == "purchase") & before["month"].isin(normal_months)
        ]
        ticket = prior["cents"].median()
        assert new["cents"].max() >= max(5 * ticket, 30_000)
        seen += 1
    assert seen > 0


def test_small_online_burst_is_many_small_online_charges_within_a_few_days(cases):
    seen = 0
    for month, _, _, _ in cases.of("small_online_burst"):
        small = month[
            (month["transaction_type"] == "purchase")
            & (month["channel"] == "online")
            & (month["cents"] <= 1_500)
        ]
        per_day = np.bincount(small["day"], minlength=34)
        in_three_days = np.convolve(per_day, np.ones(3, dtype=int), mode="valid")
        assert in_three_days.max() >= 10
        seen += 1
    assert seen > 0


def test_cash_advance_switch_is_several_withdrawals_by_a_customer_who_rarely_draws_cash(cases):
    seen = 0
    for month, before, _, usual in cases.of("cash_advance_switch"):
        cash = month[month["transaction_type"] == "cash_advance"]
        assert len(cash) >= 3
        assert cash["day"].max() - cash["day"].min() <= 6
        assert (before["transaction_type"] == "cash_advance").sum() <= 1
        assert cash["cents"].sum() >= 0.5 * usual
        seen += 1
    assert seen > 0


def test_an_empty_portfolio_still_writes_every_header(tmp_path):
    counts = generate_holdout(tmp_path, customers=0, months=3)
    assert counts == dict.fromkeys(ALL_FILES, 0)
    assert (tmp_path / "customers.csv").read_text() == ",".join(CUSTOMER_COLUMNS) + "\n"
    assert (tmp_path / LABELS).read_text() == ",".join(LABEL_COLUMNS) + "\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": -1},
        {"months": 0},
        {"seed": -1},
        {"start": "2024-13"},
        {"anomaly_rate": -0.01},
        {"anomaly_rate": 1.5},
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_holdout(tmp_path, **kwargs)
