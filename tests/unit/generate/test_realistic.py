"""The realistic profile: three well-formed files whose balances, payments and delinquency hang
together, reproducible per seed and independent of how customers are chunked, plus labels.csv:
the injected anomalies that posted."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from credit_risk.contract import CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS
from credit_risk.generate.realistic import (
    ANOMALY_MIN_HISTORY,
    ANOMALY_TYPES,
    CATEGORIES,
    CHANNELS,
    LABEL_COLUMNS,
    REGIONS,
    TIERS,
    TRANSACTION_TYPES,
    generate_realistic,
)
from credit_risk.months import month_range

FILES = ("customers.csv", "statements.csv", "transactions.csv")
LABELS = "labels.csv"
ALL_FILES = (*FILES, LABELS)
SMALL = {"customers": 50, "months": 6, "start": "2024-09", "seed": 7}
# Many anomalies on few customers, so labels (and declined anomalies) show in a fast test.
LABELLED = {"customers": 120, "months": 7, "start": "2024-03", "seed": 5, "anomaly_rate": 0.3}
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def _read(directory: Path, name: str) -> pd.DataFrame:
    """Every column as text, exactly as written."""
    return pd.read_csv(directory / name, dtype=str, keep_default_na=False)


def _cents(values: pd.Series) -> pd.Series:
    """Parse 2-decimal money text into exact integer cents."""
    return values.str.replace(".", "", regex=False).astype(np.int64)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("small")
    generate_realistic(directory, chunk_size=1000, **SMALL)
    return directory


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> Path:
    """Large enough for delinquency and utilization to show their full range."""
    directory = tmp_path_factory.mktemp("portfolio")
    generate_realistic(directory, customers=500, months=12, seed=42)
    return directory


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("labelled")
    generate_realistic(directory, chunk_size=1000, **LABELLED)
    return directory


@pytest.fixture(scope="module")
def frames(small) -> dict[str, pd.DataFrame]:
    return {name: _read(small, name) for name in FILES}


def test_headers_are_exactly_the_contract(small):
    expected = (CUSTOMER_COLUMNS, STATEMENT_COLUMNS, TRANSACTION_COLUMNS, LABEL_COLUMNS)
    for name, columns in zip(ALL_FILES, expected, strict=True):
        first_line = (small / name).read_bytes().split(b"\n", 1)[0]
        assert first_line.decode("utf-8") == ",".join(columns)


def test_files_are_plain_utf8_with_unix_line_ends_and_no_quoting(labelled):
    for name in ALL_FILES:
        data = (labelled / name).read_bytes()
        text = data.decode("utf-8")
        assert b"\r" not in data and b'"' not in data
        assert text.endswith("\n")
        lines = text[:-1].split("\n")
        widths = {line.count(",") for line in lines}
        # No value contains a comma: every line has exactly the header's separators.
        assert widths == {lines[0].count(",")}


def test_returned_counts_match_the_files(tmp_path):
    counts = generate_realistic(tmp_path, chunk_size=1000, **LABELLED)
    assert set(counts) == set(ALL_FILES)
    for name in ALL_FILES:
        lines = (tmp_path / name).read_text(encoding="utf-8").count("\n")
        assert counts[name] == lines - 1
    assert counts["customers.csv"] == LABELLED["customers"]
    assert counts["statements.csv"] == LABELLED["customers"] * LABELLED["months"]
    assert counts[LABELS] > 0


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path, small):
    generate_realistic(tmp_path / "again", chunk_size=1000, **SMALL)
    generate_realistic(tmp_path / "other", chunk_size=1000, **{**SMALL, "seed": 8})
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (small / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (small / name).read_bytes()


def test_output_does_not_depend_on_chunk_size(tmp_path, small):
    generate_realistic(tmp_path, chunk_size=7, **SMALL)
    for name in ALL_FILES:
        assert (tmp_path / name).read_bytes() == (small / name).read_bytes()


def test_labelled_output_is_reproducible_and_does_not_depend_on_chunk_size(tmp_path, labelled):
    generate_realistic(tmp_path / "again", chunk_size=1000, **LABELLED)
    generate_realistic(tmp_path / "chunked", chunk_size=13, **LABELLED)
    generate_realistic(tmp_path / "other", chunk_size=1000, **{**LABELLED, "seed": 6})
    for name in ALL_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (labelled / name).read_bytes()
        assert (tmp_path / "chunked" / name).read_bytes() == (labelled / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (labelled / name).read_bytes()


def test_customers_are_numbered_sorted_and_opened_before_the_extract(frames):
    customers = frames["customers.csv"]
    expected_ids = [f"C{number:07d}" for number in range(1, SMALL["customers"] + 1)]
    assert customers["customer_id"].tolist() == expected_ids
    assert (customers["opened_date"] < f"{SMALL['start']}-01").all()
    assert customers["opened_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(customers["credit_tier"]) <= set(TIERS)
    assert set(customers["region"]) <= set(REGIONS)


def test_one_statement_per_customer_month_in_order(frames):
    statements = frames["statements.csv"]
    months = month_range(SMALL["start"], SMALL["months"])
    expected = [
        (f"C{number:07d}", month) for number in range(1, SMALL["customers"] + 1) for month in months
    ]
    pairs = zip(statements["customer_id"], statements["statement_month"], strict=True)
    assert list(pairs) == expected


def test_statement_values_follow_their_formats_and_rules(frames):
    statements = frames["statements.csv"]
    for column in ("credit_limit", "outstanding_balance", "payment_amount", "minimum_due"):
        assert statements[column].str.fullmatch(MONEY.pattern).all(), column
    assert statements["days_past_due"].str.fullmatch(r"\d+").all()
    balance = _cents(statements["outstanding_balance"])
    minimum = _cents(statements["minimum_due"])
    assert (_cents(statements["credit_limit"]) > 0).all()
    assert (_cents(statements["payment_amount"]) >= 0).all()
    assert (minimum[balance <= 0] == 0).all()
    assert (minimum <= balance.clip(lower=0)).all()
    assert (minimum[balance >= 2_500] >= 2_500).all()


def test_transactions_are_valid_sorted_and_inside_their_month(frames):
    transactions = frames["transactions.csv"]
    assert len(transactions) > 0
    assert transactions["transaction_id"].is_unique
    assert transactions["transaction_id"].str.fullmatch(r"T\d{17}").all()
    assert transactions["customer_id"].isin(frames["customers.csv"]["customer_id"]).all()
    assert transactions["amount"].str.fullmatch(MONEY.pattern).all()
    assert set(transactions["transaction_type"]) <= set(TRANSACTION_TYPES)
    assert set(transactions["merchant_category"]) <= set(CATEGORIES)
    assert set(transactions["channel"]) <= set(CHANNELS)
    dates = pd.to_datetime(transactions["transaction_date"], format="%Y-%m-%d")
    assert dates.dt.strftime("%Y-%m").isin(month_range(SMALL["start"], SMALL["months"])).all()
    # The id embeds the month and the customer, so dates can never wander out of theirs, and
    # ids grow with time, as a card system issues them: every month's after the month before's
    assert (transactions["transaction_id"].str[1:7] == dates.dt.strftime("%Y%m")).all()
    assert (transactions["transaction_id"].str[7:14] == transactions["customer_id"].str[1:]).all()
    by_month = transactions.groupby(dates.dt.strftime("%Y-%m"))["transaction_id"]
    assert (by_month.min().iloc[1:].to_numpy() > by_month.max().iloc[:-1].to_numpy()).all()
    order = ["customer_id", "transaction_date", "transaction_id"]
    assert transactions.equals(transactions.sort_values(order, ignore_index=True))


def test_refunds_are_negative_and_everything_else_positive(portfolio):
    transactions = _read(portfolio, "transactions.csv")
    amount = _cents(transactions["amount"])
    kind = transactions["transaction_type"]
    assert set(kind) == set(TRANSACTION_TYPES)
    assert (amount[kind == "refund"] < 0).all()
    assert (amount[kind != "refund"] > 0).all()
    cash = transactions[kind == "cash_advance"]
    assert (cash["channel"] == "atm").all() and (cash["merchant_category"] == "cash").all()
    assert (transactions.loc[kind != "cash_advance", "channel"] != "atm").all()


def _monthly_movements(directory: Path) -> pd.DataFrame:
    """Statements with opening balance and the month's transaction sums, in cents."""
    statements = _read(directory, "statements.csv")
    transactions = _read(directory, "transactions.csv")
    transactions["statement_month"] = transactions["transaction_date"].str[:7]
    transactions["cents"] = _cents(transactions["amount"])
    transactions["is_cash"] = transactions["transaction_type"] == "cash_advance"
    # The documented cash-advance fee: max(5.00, 3 % of the amount).
    cash_fee = np.maximum(500, np.rint(0.03 * transactions["cents"]))
    transactions["cash_fee"] = cash_fee.where(transactions["is_cash"], 0)
    sums = transactions.groupby(["customer_id", "statement_month"]).agg(
        moved=("cents", "sum"), cash_fees=("cash_fee", "sum"), cash_count=("is_cash", "sum")
    )
    frame = statements.join(sums, on=["customer_id", "statement_month"])
    frame[list(sums.columns)] = frame[list(sums.columns)].fillna(0)
    for column in ("outstanding_balance", "payment_amount", "minimum_due"):
        frame[column] = _cents(frame[column])
    by_customer = frame.groupby("customer_id")
    frame["opening"] = by_customer["outstanding_balance"].shift(1)
    frame["previous_minimum"] = by_customer["minimum_due"].shift(1)
    frame["previous_dpd"] = by_customer["days_past_due"].shift(1)
    frame["days_past_due"] = frame["days_past_due"].astype(np.int64)
    # The first month's opening balance predates the extract.
    return frame.dropna(subset=["opening"]).astype({"opening": np.int64})


def test_balance_identity_leaves_sane_non_negative_interest_and_fees(portfolio):
    frame = _monthly_movements(portfolio)
    fees = (
        frame["outstanding_balance"] - frame["opening"] - frame["moved"] + frame["payment_amount"]
    )
    # Interest at the highest tier rate, the late fee and the cash-advance fees.
    bound = np.ceil(0.025 * frame["opening"].clip(lower=0)) + 3_500 + frame["cash_fees"]
    assert (fees >= 0).all()
    assert (fees <= bound).all()
    assert (fees > 0).mean() > 0.3  # revolvers pay interest ...
    paid_in_full = (frame["payment_amount"] >= frame["opening"]) & (frame["cash_count"] == 0)
    assert (fees[paid_in_full] == 0).all()  # ... transactors do not


def test_days_past_due_grow_with_missed_minimums_and_cure_on_payment(portfolio):
    frame = _monthly_movements(portfolio)
    missed = (frame["previous_minimum"] > 0) & (frame["payment_amount"] < frame["previous_minimum"])
    assert (frame.loc[~missed, "days_past_due"] == 0).all()
    assert (frame.loc[missed, "days_past_due"] > 0).all()
    repeat = missed & (frame["previous_dpd"].astype(np.int64) > 0)
    growth = frame.loc[repeat, "days_past_due"] - frame.loc[repeat, "previous_dpd"].astype(int)
    assert growth.between(28, 31).all()


def test_delinquency_reaches_at_least_thirty_days(portfolio):
    dpd = _read(portfolio, "statements.csv")["days_past_due"].astype(int)
    assert dpd.between(1, 29).any()
    assert dpd.between(30, 59).any()
    assert (dpd == 0).mean() > 0.8


def test_utilization_spans_low_medium_and_high(portfolio):
    statements = _read(portfolio, "statements.csv")
    utilization = _cents(statements["outstanding_balance"]) / _cents(statements["credit_limit"])
    high = (utilization >= 0.8).mean()
    medium = ((utilization >= 0.5) & (utilization < 0.8)).mean()
    low = (utilization < 0.5).mean()
    assert 0.10 < high < 0.45
    assert 0.10 < medium < 0.45
    assert 0.25 < low < 0.75


def test_some_months_have_no_transactions_and_the_average_is_a_few(portfolio):
    statements = _read(portfolio, "statements.csv")
    transactions = _read(portfolio, "transactions.csv")
    per_month = transactions.groupby(
        [transactions["customer_id"], transactions["transaction_date"].str[:7]]
    ).size()
    assert len(per_month) < len(statements)
    assert 3 <= len(transactions) / len(statements) <= 6


# --- injected anomalies and labels.csv ---------------------------------------------------------


@pytest.fixture(scope="module")
def labels(labelled) -> pd.DataFrame:
    return _read(labelled, LABELS)


def _month_index(months: pd.Series, start: str) -> pd.Series:
    year, month = int(start[:4]), int(start[5:])
    return (months.str[:4].astype(int) - year) * 12 + months.str[5:].astype(int) - month


def test_labels_name_real_customer_months_after_the_minimum_history(labelled, labels):
    assert len(labels) > 0
    statements = _read(labelled, "statements.csv")
    pairs = set(zip(statements["customer_id"], statements["statement_month"], strict=True))
    assert set(zip(labels["customer_id"], labels["month"], strict=True)) <= pairs
    assert (_month_index(labels["month"], LABELLED["start"]) >= ANOMALY_MIN_HISTORY).all()
    assert set(labels["anomaly_type"]) == set(ANOMALY_TYPES)
    # One anomaly per customer-month, in the order of the other files.
    assert not labels.duplicated(["customer_id", "month"]).any()
    assert labels.equals(labels.sort_values(["customer_id", "month"], ignore_index=True))


def _posted_patterns(directory: Path, labels: pd.DataFrame) -> pd.DataFrame:
    """Per customer-month: what each anomaly type leaves in transactions.csv, against the
    customer's ordinary months (those without a label)."""
    transactions = _read(directory, "transactions.csv")
    transactions["month"] = transactions["transaction_date"].str[:7]
    transactions["cents"] = _cents(transactions["amount"])
    purchase = transactions["transaction_type"] == "purchase"
    transactions["tiny_online"] = purchase & (transactions["channel"] == "online")
    transactions["tiny_online"] &= transactions["cents"] < 1_000
    transactions["spend"] = transactions["cents"].where(purchase, 0)
    transactions["largest"] = transactions["cents"].where(purchase)
    transactions["cash"] = transactions["transaction_type"] == "cash_advance"
    grouped = transactions.groupby(["customer_id", "month"])
    months = grouped.agg(
        tiny_online=("tiny_online", "sum"),
        spend=("spend", "sum"),
        largest=("largest", "max"),
        cash=("cash", "sum"),
    )
    labelled_cells = pd.MultiIndex.from_frame(labels[["customer_id", "month"]])
    ordinary = months[~months.index.isin(labelled_cells)]
    usual_month = ordinary.groupby(level="customer_id")["spend"].median()
    baskets = transactions[
        purchase
        & ~pd.MultiIndex.from_frame(transactions[["customer_id", "month"]]).isin(labelled_cells)
    ]
    usual_basket = baskets.groupby("customer_id")["cents"].median()
    customers = months.index.get_level_values("customer_id")
    months["spend_ratio"] = months["spend"] / customers.map(usual_month).to_numpy()
    months["largest_ratio"] = months["largest"] / customers.map(usual_basket).to_numpy()
    return months


def test_only_anomalies_that_posted_are_labelled(labelled, labels):
    patterns = _posted_patterns(labelled, labels).reindex(
        pd.MultiIndex.from_frame(labels[["customer_id", "month"]])
    )
    kind = labels["anomaly_type"].to_numpy()
    burst = patterns[kind == "small_online_burst"]
    cash = patterns[kind == "cash_advance_jump"]
    assert (burst["tiny_online"] >= 15).all()
    assert (cash["cash"] >= 3).all()
    # Sizes are stated in the customer's own usual spending (a limit can cut a spike short).
    spike = patterns.loc[kind == "spend_spike", "spend_ratio"]
    subtle = patterns.loc[kind == "subtle_spike", "spend_ratio"]
    assert spike.median() >= 4 and (spike >= 2).mean() >= 0.9
    assert 2 <= subtle.median() <= 3.5 and subtle.median() < spike.median()
    assert patterns.loc[kind == "large_purchase", "largest_ratio"].median() >= 6


def test_some_anomalies_are_declined_and_left_unlabelled(tmp_path, labelled, labels):
    # At the same seed a rate of 1 tries every eligible month; many cards cannot take them.
    counts = generate_realistic(tmp_path, chunk_size=1000, **{**LABELLED, "anomaly_rate": 1.0})
    eligible = LABELLED["customers"] * (LABELLED["months"] - ANOMALY_MIN_HISTORY)
    assert 0.5 * eligible < counts[LABELS] < eligible


def test_labelled_share_is_close_to_the_rate_minus_declines(tmp_path):
    rate = 0.1
    counts = generate_realistic(
        tmp_path, customers=400, months=8, seed=11, anomaly_rate=rate, chunk_size=1000
    )
    eligible = 400 * (8 - ANOMALY_MIN_HISTORY)
    share = counts[LABELS] / eligible
    # Roughly a third of the attempts are declined (full or frozen cards): see data_contract.md.
    assert 0.5 * rate <= share <= rate


def test_rate_zero_injects_nothing(tmp_path):
    counts = generate_realistic(tmp_path, chunk_size=1000, **{**LABELLED, "anomaly_rate": 0.0})
    assert counts[LABELS] == 0
    assert (tmp_path / LABELS).read_text() == ",".join(LABEL_COLUMNS) + "\n"
    patterns = _posted_patterns(tmp_path, pd.read_csv(tmp_path / LABELS, dtype=str))
    assert patterns["tiny_online"].max() < 15  # no card testing without injection


def test_anomalies_keep_the_balance_identity_and_the_contract(labelled):
    frame = _monthly_movements(labelled)
    fees = (
        frame["outstanding_balance"] - frame["opening"] - frame["moved"] + frame["payment_amount"]
    )
    bound = np.ceil(0.025 * frame["opening"].clip(lower=0)) + 3_500 + frame["cash_fees"]
    assert (fees >= 0).all() and (fees <= bound).all()
    transactions = _read(labelled, "transactions.csv")
    limits = _read(labelled, "statements.csv").groupby("customer_id")["credit_limit"].first()
    cents = _cents(transactions["amount"])
    limit = _cents(transactions["customer_id"].map(limits))
    kind = transactions["transaction_type"]
    assert (cents[kind == "purchase"] <= 0.25 * limit[kind == "purchase"]).all()
    cash = cents[kind == "cash_advance"]
    assert ((cash % 2_000 == 0) & (cash <= 200_000)).all()
    assert transactions["transaction_id"].is_unique


def test_an_empty_portfolio_still_writes_every_header(tmp_path):
    counts = generate_realistic(tmp_path, customers=0, months=3)
    assert counts == dict.fromkeys(ALL_FILES, 0)
    assert (tmp_path / "customers.csv").read_text() == ",".join(CUSTOMER_COLUMNS) + "\n"
    assert (tmp_path / LABELS).read_text() == ",".join(LABEL_COLUMNS) + "\n"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": -1},
        {"months": 0},
        {"seed": -1},
        {"chunk_size": 0},
        {"start": "2024-13"},
        {"customers": 10_000_000},
        {"anomaly_rate": -0.01},
        {"anomaly_rate": 1.5},
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_realistic(tmp_path, **kwargs)
