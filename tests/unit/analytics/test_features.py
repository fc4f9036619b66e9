"""Features and labels of the next-month high-risk model, on hand-made customer-months.

The leakage tests are the point: a feature of month m may only use months m and earlier, and the
label of m only month m + 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from credit_risk.analytics.features import (
    FEATURES,
    FULL,
    KEY,
    MINIMUM,
    MISSED,
    PARTIAL,
    build_features,
    label_next_month,
)
from credit_risk.months import add_months, month_range

NO_TRANSACTIONS = pd.DataFrame(
    {"customer_id": [], "month": [], "transaction_amount": [], "transaction_type": []}
)


def statement(
    month: str,
    *,
    customer: str = "C1",
    limit: float = 1000.0,
    balance: float = 0.0,
    payment: float = 0.0,
    minimum: float = 25.0,
    dpd: int = 0,
    spend: float = 0.0,
    avg3: float | None = None,
    avg6: float | None = None,
    has_statement: bool = True,
) -> dict:
    """One published_customer_month row; utilization follows from balance and limit."""
    return {
        "customer_id": customer,
        "month": month,
        "monthly_spend": spend,
        "rolling_3_month_avg": spend if avg3 is None else avg3,
        "rolling_6_month_avg": spend if avg6 is None else avg6,
        "credit_limit": limit if has_statement else None,
        "outstanding_balance": balance if has_statement else None,
        "utilization_pct": round(balance * 100 / limit, 2) if has_statement else None,
        "payment_amount": payment if has_statement else None,
        "minimum_due": minimum if has_statement else None,
        "days_past_due": dpd if has_statement else None,
        "has_statement": has_statement,
    }


def transactions(*rows: tuple[str, str, float, str]) -> pd.DataFrame:
    """published_transactions rows from (customer, month, amount, type)."""
    return pd.DataFrame(
        list(rows), columns=["customer_id", "month", "transaction_amount", "transaction_type"]
    )


def features_of(rows: list[dict], txns: pd.DataFrame = NO_TRANSACTIONS) -> pd.DataFrame:
    """build_features indexed by (customer_id, month) for easy lookups."""
    return build_features(pd.DataFrame(rows), txns).set_index(KEY)


def test_one_row_per_customer_month_with_a_statement_in_feature_order():
    rows = [
        statement("2024-01"),
        statement("2024-02", has_statement=False),
        statement("2024-03"),
        statement("2024-02", customer="C2"),
    ]
    result = build_features(pd.DataFrame(rows), NO_TRANSACTIONS)
    assert list(result.columns) == [*KEY, *FEATURES]
    assert list(zip(result["customer_id"], result["month"], strict=True)) == [
        ("C1", "2024-01"),
        ("C1", "2024-03"),
        ("C2", "2024-02"),
    ]
    assert len(set(FEATURES)) == len(FEATURES)


def test_utilization_level_trend_and_persistence():
    balances = [500, 600, 900, 850, 950]
    rows = [
        statement(month, balance=b)
        for month, b in zip(month_range("2024-01", 5), balances, strict=True)
    ]
    row = features_of(rows).loc[("C1", "2024-05")]
    assert row["utilization"] == pytest.approx(0.95)
    assert row["utilization_change_1m"] == pytest.approx(0.10)
    assert row["utilization_change_3m"] == pytest.approx(0.95 - 0.60)
    assert row["utilization_mean_3m"] == pytest.approx((0.90 + 0.85 + 0.95) / 3)
    assert row["months_high_utilization_6m"] == 3


def test_a_first_statement_has_no_trend_and_no_payment_history():
    row = features_of([statement("2024-01", balance=400, payment=0)]).loc[("C1", "2024-01")]
    for name in (
        "utilization_change_1m",
        "utilization_change_3m",
        "payment_to_minimum",
        "payment_to_balance",
        "payment_behaviour",
        "payment_behaviour_mean_3m",
    ):
        assert math.isnan(row[name]), name
    assert row["utilization"] == pytest.approx(0.4)
    assert row["history_months"] == 1
    assert row["missed_payments_6m"] == 0
    assert row["months_delinquent_6m"] == 0


def test_a_gap_is_a_missing_calendar_month_not_the_previous_row():
    rows = [
        statement("2024-01", balance=100, minimum=25),
        statement("2024-02", balance=200, minimum=25),
        statement("2024-04", balance=700, payment=50),  # 2024-03 was never delivered
    ]
    row = features_of(rows).loc[("C1", "2024-04")]
    assert math.isnan(row["utilization_change_1m"])
    assert row["utilization_change_3m"] == pytest.approx(0.7 - 0.1)
    # the payment settles the 2024-03 statement, which is unknown
    assert math.isnan(row["payment_to_minimum"])
    assert row["history_months"] == 3


def test_spend_against_the_limit_and_the_rolling_averages():
    rows = [
        statement("2024-01", spend=300, avg3=200, avg6=150),
        statement("2024-02", spend=300, avg3=0.5, avg6=20),
    ]
    features = features_of(rows)
    first = features.loc[("C1", "2024-01")]
    assert first["spend_to_limit"] == pytest.approx(0.3)
    assert first["spend_vs_3m_avg"] == pytest.approx(1.5)
    assert first["spend_vs_6m_avg"] == pytest.approx(2.0)
    second = features.loc[("C1", "2024-02")]
    assert math.isnan(second["spend_vs_3m_avg"])  # an average under 1.00 says nothing
    assert second["spend_vs_6m_avg"] == 10.0  # capped: 15x is just "much more than usual"


def test_payment_ratios_compare_with_the_previous_statement():
    rows = [
        statement("2024-01", balance=1000, minimum=50),
        statement("2024-02", balance=950, payment=100, minimum=40),
    ]
    row = features_of(rows).loc[("C1", "2024-02")]
    assert row["payment_to_minimum"] == pytest.approx(2.0)
    assert row["payment_to_balance"] == pytest.approx(0.1)
    assert row["payment_behaviour"] == PARTIAL


@pytest.mark.parametrize(
    ("previous_balance", "payment", "behaviour"),
    [
        (1000, 1000, FULL),
        (1000, 1200, FULL),
        (1000, 100, PARTIAL),
        (1000, 50, MINIMUM),
        (1000, 20, MISSED),
        (1000, 0, MISSED),
        (0, 0, None),  # nothing was owed: no behaviour to read
        (-30, 0, None),  # in credit
    ],
)
def test_payment_behaviour_is_read_back_from_the_statements(previous_balance, payment, behaviour):
    rows = [
        statement("2024-01", balance=previous_balance, minimum=50 if previous_balance > 0 else 0),
        statement("2024-02", balance=500, payment=payment),
    ]
    value = features_of(rows).loc[("C1", "2024-02"), "payment_behaviour"]
    if behaviour is None:
        assert math.isnan(value)
    else:
        assert value == behaviour


def test_delinquency_history_counts_the_last_3_and_6_calendar_months():
    dpds = [0, 5, 36, 0, 0, 0, 10]
    payments = [0, 0, 0, 100, 100, 100, 0]
    rows = [
        statement(month, balance=500, minimum=50, dpd=dpd, payment=paid)
        for month, dpd, paid in zip(month_range("2024-01", 7), dpds, payments, strict=True)
    ]
    features = features_of(rows)
    row = features.loc[("C1", "2024-07")]
    assert row["days_past_due"] == 10
    assert row["max_days_past_due_6m"] == 36  # 2024-02..2024-07
    assert row["months_delinquent_3m"] == 1
    assert row["months_delinquent_6m"] == 3
    assert row["missed_payments_6m"] == 3  # 2024-02, 2024-03, 2024-07 (2024-01 is outside)
    assert row["payment_behaviour_mean_3m"] == pytest.approx((PARTIAL + PARTIAL + MISSED) / 3)
    assert features.loc[("C1", "2024-03"), "max_days_past_due_6m"] == 36


def test_cash_advance_features_count_size_share_and_recurrence():
    rows = [statement(month) for month in month_range("2024-01", 4)]
    txns = transactions(
        ("C1", "2024-01", 200.0, "cash_advance"),
        ("C1", "2024-02", 100.0, "purchase"),
        ("C1", "2024-02", 200.0, "purchase"),
        ("C1", "2024-02", 300.0, "cash_advance"),
        ("C1", "2024-02", -50.0, "refund"),
        ("C1", "2024-04", 80.0, "purchase"),
    )
    features = features_of(rows, txns)
    february = features.loc[("C1", "2024-02")]
    assert february["cash_advance_count"] == 1
    assert february["cash_advance_to_limit"] == pytest.approx(0.3)
    assert february["cash_advance_share"] == pytest.approx(0.5)  # of charges, refunds aside
    assert february["transaction_count"] == 4
    assert february["cash_advance_months_3m"] == 2
    march = features.loc[("C1", "2024-03")]  # no transactions at all: zero, not unknown
    assert march["cash_advance_count"] == 0
    assert march["cash_advance_share"] == 0
    assert march["transaction_count"] == 0
    assert march["cash_advance_months_3m"] == 2
    assert features.loc[("C1", "2024-04"), "cash_advance_months_3m"] == 1


def test_context_features():
    rows = [statement("2024-01", limit=5000), statement("2024-02", limit=5000)]
    row = features_of(rows).loc[("C1", "2024-02")]
    assert row["log_credit_limit"] == pytest.approx(math.log1p(5000))
    assert row["history_months"] == 2


# --- leakage ---------------------------------------------------------------------------------


def _portfolio(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few customers over 8 months with every column moving, and their transactions."""
    rng = np.random.default_rng(seed)
    rows, txns = [], []
    for customer in ("C1", "C2", "C3"):
        for month in month_range("2024-01", 8):
            rows.append(
                statement(
                    month,
                    customer=customer,
                    balance=float(rng.integers(0, 1100)),
                    payment=float(rng.integers(0, 300)),
                    minimum=float(rng.integers(25, 60)),
                    dpd=int(rng.choice([0, 0, 12, 40])),
                    spend=float(rng.integers(0, 500)),
                    avg3=float(rng.integers(50, 400)),
                    avg6=float(rng.integers(50, 400)),
                )
            )
            for kind in rng.choice(["purchase", "cash_advance", "refund"], size=3):
                txns.append((customer, month, float(rng.integers(1, 300)), str(kind)))
    return pd.DataFrame(rows), transactions(*txns)


def _scramble_after(frame: pd.DataFrame, txns: pd.DataFrame, month: str):
    """Change every figure of every month after ``month``, and add transactions there."""
    frame, txns = frame.copy(), txns.copy()
    later = frame["month"] > month
    for column in ("monthly_spend", "outstanding_balance", "payment_amount", "minimum_due"):
        frame.loc[later, column] = frame.loc[later, column] * 3 + 7
    frame.loc[later, "utilization_pct"] = 99.0
    frame.loc[later, "days_past_due"] = 95
    frame.loc[later, "credit_limit"] = 123.0
    txns.loc[txns["month"] > month, "transaction_amount"] *= 5
    extra = transactions(*[("C1", add_months(month, 1), 999.0, "cash_advance")] * 4)
    return frame, pd.concat([txns, extra], ignore_index=True)


@pytest.mark.parametrize("cut", ["2024-01", "2024-03", "2024-05", "2024-07"])
def test_no_feature_of_a_month_uses_a_later_month(cut):
    frame, txns = _portfolio()
    before = build_features(frame, txns)
    changed = build_features(*_scramble_after(frame, txns, cut))
    truncated = build_features(frame[frame["month"] <= cut], txns[txns["month"] <= cut])
    upto = before[before["month"] <= cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(changed[changed["month"] <= cut].reset_index(drop=True), upto)
    pd.testing.assert_frame_equal(truncated, upto)
    # and the later months did change, so the comparison had something to catch
    assert not before[before["month"] > cut].equals(changed[changed["month"] > cut])


def test_the_label_of_a_month_comes_from_the_next_month_only():
    rows = [statement(month, balance=100) for month in month_range("2024-01", 4)]
    frame = pd.DataFrame(rows)
    assert label_next_month(frame).tolist()[:3] == [0.0, 0.0, 0.0]

    next_high = frame.copy()
    next_high.loc[next_high["month"] == "2024-03", "utilization_pct"] = 95.0
    labels = label_next_month(next_high)
    assert labels.tolist()[:3] == [0.0, 1.0, 0.0]  # only 2024-02 looks at 2024-03

    this_month_high = frame.copy()
    this_month_high.loc[this_month_high["month"] == "2024-02", "days_past_due"] = 60
    assert label_next_month(this_month_high).iloc[1] == 0.0  # 2024-02's own state is not its label


@pytest.mark.parametrize(
    ("utilization", "dpd", "label"),
    [(85.0, 0, 1.0), (80.0, 0, 1.0), (79.99, 0, 0.0), (10.0, 30, 1.0), (10.0, 29, 0.0)],
)
def test_label_is_high_utilization_or_30_days_past_due_next_month(utilization, dpd, label):
    frame = pd.DataFrame([statement("2024-01"), statement("2024-02", dpd=dpd)])
    frame.loc[1, "utilization_pct"] = utilization
    assert label_next_month(frame).iloc[0] == label


def test_label_is_unknown_without_a_next_statement():
    rows = [
        statement("2024-01"),
        statement("2024-02", has_statement=False),
        statement("2024-03"),
        statement("2024-05"),  # 2024-04 missing
    ]
    labels = label_next_month(pd.DataFrame(rows))
    # 2024-01: next has no statement; 2024-03: next is missing; 2024-05: nothing after it
    assert labels.isna().tolist() == [True, False, True, True]


def test_label_is_aligned_with_the_input_rows_whatever_their_order():
    rows = [
        statement("2024-02", customer="C1", balance=900),
        statement("2024-01", customer="C2"),
        statement("2024-01", customer="C1"),
        statement("2024-02", customer="C2", balance=10),
    ]
    frame = pd.DataFrame(rows, index=[10, 20, 30, 40])
    labels = label_next_month(frame)
    assert labels.index.tolist() == [10, 20, 30, 40]
    assert labels.loc[30] == 1.0
    assert labels.loc[20] == 0.0
    assert labels[[10, 40]].isna().all()
